//! `evctl read`: plan the fewest requests for the selected registers, read them, print them.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use device_maps::{Missing, ReadPlan, Snapshot};
use modbus_core::Value;

use crate::cli::ReadArgs;
use crate::device::Device;
use crate::report::{SharedError, Usage};
use crate::target::{Env, Target};

pub async fn run(env: &Env, args: &ReadArgs) -> anyhow::Result<ExitCode> {
    let mut target = env.target(&args.connect)?;
    // A SunSpec map's registers are those of the device's chain: a name its example chain
    // lacks is only an error once the chain is known.
    let first = match plan(&target, &args.registers) {
        Err(e) if target.map.sunspec.is_none() => return Err(e),
        first => first,
    };
    let device = Device::open(&mut target, args.simulated).await?;
    let walked = device.walk_sunspec(&mut target).await?;
    let plan = match first {
        Ok(plan) if !walked => plan,
        _ => plan(&target, &args.registers)?,
    };
    let snapshot = plan.execute(&mut device.io()).await;
    check_device(&snapshot, &target)?;
    let options = render_options(&target, args.nested);
    let text = outputs::render(
        &snapshot,
        &target.map,
        crate::commands::output_format(args.format),
        &options,
    );
    if let Some(warning) = word_order_warning(&snapshot, &target) {
        eprintln!("warning: {warning}");
    }
    let failure = failures(&snapshot, &target, plan.requests().len());
    match failure {
        // Nothing could be read: the error says why, and there is nothing worth printing.
        Some((failed, err)) if failed == plan.requests().len() => Err(err),
        Some((_, err)) => {
            crate::commands::print(&text)?;
            Err(err)
        }
        None => {
            crate::commands::print(&text)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// The read plan for a selection of register and group names (empty: every readable register).
pub fn plan(target: &Target, names: &[String]) -> anyhow::Result<ReadPlan> {
    let selection = target
        .map
        .select(names)
        .with_context(|| Usage(format!("cannot read {}", target.map.id)))?;
    target
        .map
        .plan_read_with(&selection, &target.units, target.verify)
        .with_context(|| Usage(format!("cannot plan a read of {}", target.map.id)))
}

/// A device that failed its map's checks is an error, and none of its values are printed.
/// A read whose check could not be done (its request failed while others were answered) is
/// an error too: what was read cannot be trusted.
pub fn check_device(snapshot: &Snapshot, target: &Target) -> anyhow::Result<()> {
    if let Some(mismatch) = &snapshot.mismatch {
        return Err(anyhow::Error::new(mismatch.clone())
            .context(format!("refusing to show values read from {target}")));
    }
    let unverified = snapshot.readings.iter().find_map(|r| match &r.value {
        Err(Missing::Unverified { register }) => Some(register.clone()),
        _ => None,
    });
    let Some(register) = unverified else {
        return Ok(());
    };
    let cause = snapshot.readings.iter().find_map(|r| match &r.value {
        Err(Missing::ReadFailed(err)) => Some(Arc::clone(err)),
        _ => None,
    });
    let top = format!(
        "cannot check that {target} is a {} {}: the request carrying `{register}` failed, so no \
         value read from it is shown",
        target.map.manufacturer, target.map.model
    );
    Err(match cause {
        Some(err) => anyhow::Error::new(SharedError(err)).context(top),
        None => anyhow::anyhow!(top),
    })
}

pub fn render_options(target: &Target, nested: bool) -> outputs::Options {
    outputs::Options {
        device: Some(target.name.clone()),
        nested,
        ..outputs::Options::default()
    }
}

/// How many requests failed, and an error naming the device and carrying the first failure.
pub fn failures(
    snapshot: &Snapshot,
    target: &Target,
    requests: usize,
) -> Option<(usize, anyhow::Error)> {
    let mut distinct: Vec<Arc<dyn std::error::Error + Send + Sync>> = Vec::new();
    for reading in &snapshot.readings {
        if let Err(Missing::ReadFailed(err)) = &reading.value
            && !distinct.iter().any(|e| Arc::ptr_eq(e, err))
        {
            distinct.push(Arc::clone(err));
        }
    }
    // The cause, not a request skipped because of it (map order is not request order).
    let first = distinct
        .iter()
        .find(|e| {
            !matches!(
                e.downcast_ref::<service::IoError>(),
                Some(service::IoError::Skipped { .. })
            )
        })
        .or(distinct.first())?;
    let failed = distinct.len();
    let top = if failed >= requests {
        format!("cannot read {target}")
    } else {
        let missing: Vec<&str> = snapshot
            .readings
            .iter()
            .filter(|r| matches!(r.value, Err(Missing::ReadFailed(_))))
            .map(|r| r.name.as_str())
            .collect();
        let mut names = missing
            .iter()
            .take(4)
            .copied()
            .collect::<Vec<_>>()
            .join(", ");
        if missing.len() > 4 {
            names.push_str(&format!(" and {} more", missing.len() - 4));
        }
        format!("{failed} of {requests} requests to {target} failed; {names} are shown as missing")
    };
    Some((
        failed,
        anyhow::Error::new(SharedError(Arc::clone(first))).context(top),
    ))
}

/// Floats spread over several registers that decode to absurd magnitudes usually mean the device
/// orders its words differently from the map. Says so once, naming the first such register.
pub fn word_order_warning(snapshot: &Snapshot, target: &Target) -> Option<String> {
    let odd: Vec<(&str, f64)> = snapshot
        .readings
        .iter()
        .filter_map(|reading| {
            let r = target.map.register(&reading.name)?;
            let float = r.register_type.data_type().is_some_and(|t| t.is_float());
            match reading.value {
                Ok(Value::Float(f))
                    if float && r.count >= 2 && f != 0.0 && !(1e-12..=1e12).contains(&f.abs()) =>
                {
                    Some((reading.name.as_str(), f))
                }
                _ => None,
            }
        })
        .collect();
    let (name, value) = *odd.first()?;
    let order = target
        .map
        .register(name)
        .map(|r| r.order.to_string())
        .unwrap_or_default();
    Some(format!(
        "{} float value(s) look implausible ({name} = {value:e}): if the device is healthy, it may \
         order its words differently from the map ({order}); try `order: CDAB` (or ABCD) in a copy \
         of the map in a --maps folder",
        odd.len()
    ))
}
