//! Network failures exit 1 with a message that names the device and says what to try.

use crate::util::TestEnv;

/// A loopback port nothing listens on: bind one, note it, close it.
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("address").port()
}

#[test]
fn unreachable_device_exits_1_with_a_hint() {
    let env = TestEnv::new();
    let port = closed_port().to_string();
    crate::assert_evctl_snapshot!(&mut env.evctl().args([
        "read",
        "alfen-eve",
        "--host",
        "127.0.0.1",
        "--port",
        &port,
        "--timeout",
        "500ms"
    ]));
}

#[test]
fn no_host_is_a_usage_error() {
    let env = TestEnv::new();
    crate::assert_evctl_snapshot!(&mut env.evctl().args(["read", "vestel-evc04"]));
}
