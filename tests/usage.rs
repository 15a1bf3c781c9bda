//! Usage and configuration errors exit 2 with a message that says what to do; help, version,
//! completions and the man page work without any device.

use crate::util::TestEnv;

#[test]
fn no_arguments_is_a_usage_error() {
    let env = TestEnv::new();
    let output = env.evctl().output().expect("run evctl");
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn unknown_flag_exits_2() {
    let env = TestEnv::new();
    crate::assert_evctl_snapshot!(&mut env.evctl().args(["read", "alfen-eve", "--colour"]));
}

#[test]
fn bad_duration_exits_2() {
    let env = TestEnv::new();
    crate::assert_evctl_snapshot!(&mut env.evctl().args([
        "poll",
        "alfen-eve",
        "--interval",
        "5 fortnights"
    ]));
}

#[test]
fn version_exits_0() {
    let env = TestEnv::new();
    crate::assert_evctl_snapshot!(&mut env.evctl().arg("--version"));
}

#[test]
fn completions_for_every_shell() {
    let env = TestEnv::new();
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let output = env
            .evctl()
            .args(["completions", shell])
            .output()
            .expect("run evctl");
        assert!(output.status.success(), "{shell}");
        let script = String::from_utf8_lossy(&output.stdout);
        assert!(
            script.contains("simulate"),
            "{shell} completion names the commands"
        );
    }
}

#[test]
fn man_page_is_roff() {
    let env = TestEnv::new();
    let output = env.evctl().arg("man").output().expect("run evctl");
    assert!(output.status.success());
    let page = String::from_utf8_lossy(&output.stdout);
    assert!(
        page.starts_with(".ie") || page.contains(".TH evctl"),
        "{page}"
    );
    let dir = env.path().join("man");
    let output = env
        .evctl()
        .args(["man", "--dir"])
        .arg(&dir)
        .output()
        .expect("run evctl");
    assert!(output.status.success());
    assert!(dir.join("evctl-read.1").is_file());
}

#[test]
fn missing_explicit_config_exits_2() {
    let env = TestEnv::new();
    crate::assert_evctl_snapshot!(&mut env.evctl().args(["--config", "nowhere.yaml", "list"]));
}

#[test]
fn config_typo_names_line_and_column() {
    let env = TestEnv::new();
    env.write(
        "site.yaml",
        "devices:\n  garage:\n    map: alfen-eve\n    hots: 127.0.0.1\n",
    );
    crate::assert_evctl_snapshot!(&mut env.evctl().args([
        "--config",
        "site.yaml",
        "read",
        "garage"
    ]));
}

/// Zero timeouts and intervals, port 0 and an empty host are usage errors, found before any
/// connection is made.
#[test]
fn bad_connection_values_exit_2_before_connecting() {
    let env = TestEnv::new();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.set_nonblocking(true).expect("non-blocking");
    let port = listener.local_addr().expect("address").port().to_string();
    let cases: [&[&str]; 6] = [
        &[
            "read",
            "alfen-eve",
            "--host",
            "127.0.0.1",
            "--port",
            &port,
            "--timeout",
            "0s",
        ],
        &["read", "alfen-eve", "--host", "127.0.0.1", "--port", "0"],
        &["read", "alfen-eve", "--host", "", "--port", &port],
        &[
            "write",
            "alfen-eve",
            "--host",
            " ",
            "--port",
            &port,
            "max_current=10",
        ],
        &[
            "poll",
            "alfen-eve",
            "--host",
            "127.0.0.1",
            "--port",
            &port,
            "--interval",
            "0s",
        ],
        &[
            "poll",
            "alfen-eve",
            "--host",
            "127.0.0.1",
            "--port",
            &port,
            "--interval",
            "0",
        ],
    ];
    for args in cases {
        let output = env.evctl().args(args).output().expect("run evctl");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(
            stderr.contains("error: invalid value"),
            "{args:?}: {stderr}"
        );
        match listener.accept() {
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            other => panic!("{args:?} connected to the device: {other:?}"),
        }
    }
}
