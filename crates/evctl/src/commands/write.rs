//! `evctl write` and `evctl call`: checked writes, with `--dry-run` and read-back.
//!
//! Every value is parsed and checked against the map (access, range, enumeration, step) before
//! a connection is opened; a refused value is a usage error (exit 2) that lists what is
//! allowed. `--dry-run` prints the exact requests and sends nothing, not even a read. Checks
//! that depend on the device (a maximum that is another register's value) are done by reading
//! that register first, and still before any write.

use std::fmt::Write as _;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use device_maps::{ExecuteError, WritePlan};

use crate::cli::{CallArgs, WriteArgs};
use crate::device::Device;
use crate::report::Usage;
use crate::target::{Env, Target};

pub async fn run(env: &Env, args: &WriteArgs) -> anyhow::Result<ExitCode> {
    let target = env.target(&args.connect)?;
    let replan = |target: &Target| {
        target
            .map
            .plan_writes(&args.assignments, &target.units)
            .with_context(|| Usage(format!("cannot write {}", target.map.id)))
    };
    let plan = first_plan(&target, &replan, args.dry_run)?;
    execute(
        target,
        plan,
        &replan,
        args.dry_run,
        args.simulated,
        args.confirm_within,
    )
    .await
}

pub async fn call(env: &Env, args: &CallArgs) -> anyhow::Result<ExitCode> {
    let target = env.target(&args.connect)?;
    let replan = |target: &Target| {
        target
            .map
            .plan_action(&args.action, &args.params, &target.units)
            .with_context(|| Usage(format!("cannot run {} on {}", args.action, target.map.id)))
    };
    let plan = first_plan(&target, &replan, args.dry_run)?;
    execute(
        target,
        plan,
        &replan,
        args.dry_run,
        args.simulated,
        args.confirm_within,
    )
    .await
}

/// The plan from the map as loaded. A SunSpec map's registers depend on the chain the device
/// announces, so a register its example chain lacks is planned again after the walk (a dry run
/// has no device to walk, and fails here).
fn first_plan(
    target: &Target,
    replan: &dyn Fn(&Target) -> anyhow::Result<WritePlan>,
    dry_run: bool,
) -> anyhow::Result<Option<WritePlan>> {
    match replan(target) {
        Ok(plan) => Ok(Some(plan)),
        Err(_) if target.map.sunspec.is_some() && !dry_run => Ok(None),
        Err(e) => Err(e),
    }
}

async fn execute(
    mut target: Target,
    plan: Option<WritePlan>,
    replan: &dyn Fn(&Target) -> anyhow::Result<WritePlan>,
    dry_run: bool,
    simulated: bool,
    confirm_within: Option<Duration>,
) -> anyhow::Result<ExitCode> {
    if dry_run {
        let plan = plan.context("nothing to plan")?;
        let resolved = plan
            .resolve(None)
            .with_context(|| Usage(format!("cannot write {}", target.map.id)))?;
        let mut out = String::new();
        let _ = writeln!(
            out,
            "dry run: {} request(s) to {target}; nothing sent",
            resolved.requests.len()
        );
        for request in &resolved.requests {
            let _ = writeln!(out, "  {}  # {}", request, request.register);
        }
        for note in &resolved.unchecked {
            let _ = writeln!(out, "  not checked without the device: {note}");
        }
        if target.verify && plan.verifies() {
            let registers: Vec<&str> = target
                .map
                .checks
                .iter()
                .map(|c| c.register.as_str())
                .collect();
            let _ = writeln!(
                out,
                "  not checked without the device: the map's checks of the device ({})",
                registers.join(", ")
            );
        }
        crate::commands::print(&out)?;
        return Ok(ExitCode::SUCCESS);
    }
    let device = Device::open(&mut target, simulated).await?;
    // A SunSpec map's addresses are the device's: planned again for the chain it announces.
    let walked = device.walk_sunspec(&mut target).await?;
    let plan = match plan {
        Some(plan) if !walked => plan,
        _ => replan(&target)?,
    };
    let plan = if target.verify {
        plan
    } else {
        plan.without_verification()
    };
    let mut confirm = target.map.connection.write_confirm;
    if let Some(within) = confirm_within.or(target.confirm_within) {
        confirm.within = within;
    }
    let report = match plan
        .execute_confirming(&mut device.io(), confirm, tokio::time::sleep)
        .await
    {
        Ok(report) => report,
        Err(ExecuteError::Invalid(err)) => {
            return Err(anyhow::Error::new(err)
                .context(Usage(format!("refused before writing to {target}"))));
        }
        Err(ExecuteError::Plan(err)) => {
            return Err(anyhow::Error::new(err)
                .context(Usage(format!("cannot plan the checks for {target}"))));
        }
        Err(ExecuteError::Mismatch(mismatch)) => {
            return Err(
                anyhow::Error::new(mismatch).context(format!("nothing was written to {target}"))
            );
        }
        Err(err @ ExecuteError::Unverified { .. }) => {
            return Err(anyhow::Error::new(err).context(format!("cannot write to {target}")));
        }
        Err(err @ ExecuteError::Write { .. }) => {
            return Err(anyhow::Error::new(err).context(format!("cannot write to {target}")));
        }
    };
    let mut out = String::new();
    for request in &report.sent {
        let _ = writeln!(out, "sent {}  # {}", request, request.register);
    }
    // What each failed read-back showed last: `NAME (read VALUE, expected VALUE)`.
    let mut unconfirmed: Vec<String> = Vec::new();
    for c in &report.confirmations {
        let same = c.read_register == c.register;
        match &c.read {
            Ok(value) if c.confirmed => {
                let _ = writeln!(out, "confirmed {} = {value}", c.read_register);
            }
            // Another register shows what the device applies, which its own limits (the car,
            // the cable, load balancing) may hold below the value written: worth saying, not
            // a failure.
            Ok(value) if !same => {
                let _ = writeln!(
                    out,
                    "note: {} reads {value} after writing {} = {}; the device applies its own limits too",
                    c.read_register, c.register, c.expected
                );
            }
            Ok(value) => {
                let _ = writeln!(
                    out,
                    "NOT confirmed: {} reads {value}, expected {}",
                    c.read_register, c.expected
                );
                unconfirmed.push(format!(
                    "{} (read {value}, expected {})",
                    c.read_register, c.expected
                ));
            }
            Err(missing) => {
                let _ = writeln!(out, "NOT confirmed: {} {missing}", c.read_register);
                unconfirmed.push(format!("{} ({missing})", c.read_register));
            }
        }
    }
    crate::commands::print(&out)?;
    if unconfirmed.is_empty() {
        Ok(ExitCode::SUCCESS)
    } else {
        // The pauses read-back took (the window, unless every value showed before it ran out).
        let waited = report
            .confirmations
            .iter()
            .map(|c| c.waited)
            .max()
            .unwrap_or_default();
        Err(anyhow::anyhow!(
            "{target} accepted the write but reading back did not show the value written \
             within {}: {}",
            service::format_duration(waited),
            unconfirmed.join(", ")
        ))
    }
}
