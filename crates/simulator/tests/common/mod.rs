//! Helpers shared by the simulator's Modbus tests: bounded waits and reads that must be answered.

use std::time::Duration;

use tokio_modbus::prelude::*;

/// Every network wait in these tests ends within this.
pub const WAIT: Duration = Duration::from_secs(5);

pub async fn within<F: Future>(future: F) -> F::Output {
    tokio::time::timeout(WAIT, future)
        .await
        .expect("the simulator answered within the test's wait")
}

/// Reads holding registers that the simulator must answer.
pub async fn read_holding(ctx: &mut client::Context, address: u16, count: u16) -> Vec<u16> {
    within(ctx.read_holding_registers(address, count))
        .await
        .unwrap()
        .unwrap()
}

/// Reads input registers that the simulator must answer.
pub async fn read_input(ctx: &mut client::Context, address: u16, count: u16) -> Vec<u16> {
    within(ctx.read_input_registers(address, count))
        .await
        .unwrap()
        .unwrap()
}
