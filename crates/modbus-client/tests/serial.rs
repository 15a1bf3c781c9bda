//! Serial RTU: without hardware, only the failure path can be exercised; it must be a clean
//! connect error either way (feature on: the port does not exist; feature off: not built in).

use std::error::Error as _;
use std::time::Duration;

use modbus_client::{ClientOptions, Endpoint, Error, ModbusClient};
use modbus_core::Table;

#[tokio::test]
async fn a_missing_serial_port_is_a_connect_error() {
    let options = ClientOptions {
        retries: 1,
        backoff: Duration::from_millis(1),
        ..ClientOptions::default()
    };
    let client = ModbusClient::new(
        Endpoint::serial("/dev/evctl-test-no-such-port", 9600),
        options,
    );
    let err = tokio::time::timeout(
        Duration::from_secs(10),
        client.read(1, Table::Holding, 0, 1),
    )
    .await
    .expect("opening a serial port does not hang")
    .unwrap_err();
    assert!(matches!(err, Error::Connect { attempts: 2, .. }), "{err:?}");
    let source = err.source().map(ToString::to_string).unwrap_or_default();
    if cfg!(feature = "serial") {
        assert!(!source.contains("feature"), "{source}");
    } else {
        assert!(source.contains("`serial` feature"), "{source}");
    }
}
