//! `evctl poll`: read at an interval over one connection, until Ctrl-C (or `--count` reads).
//!
//! While it runs it keeps the map's heartbeats alive (Vestel's alive register, Alfen's setpoint
//! refresh for a value written with `--set`), lets the client reconnect after a drop, and shows
//! a value it could not read this time as the last value read, marked stale, never as a 0.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use anyhow::Context as _;
use device_maps::{DeviceMap, Heartbeat, Reading, Snapshot, Units};
use modbus_core::Value;
use tokio::time::MissedTickBehavior;

use crate::cli::{Format, PollArgs};
use crate::commands::read::{failures, plan, render_options};
use crate::device::Device;
use crate::report::{self, Usage};

pub async fn run(env: &crate::target::Env, args: &PollArgs) -> anyhow::Result<ExitCode> {
    let mut target = env.target(&args.connect)?;
    let read_plan = plan(&target, &args.registers)?;
    let interval = args
        .interval
        .or(target.interval)
        .unwrap_or(Duration::from_secs(10));
    if interval.is_zero() {
        return Err(report::usage("the poll interval must be more than 0"));
    }
    // Values to write once at the start (and keep alive through `refresh` heartbeats).
    let set_plan = if args.set.is_empty() {
        None
    } else {
        Some(
            target
                .map
                .plan_writes(&args.set, &target.units)
                .with_context(|| Usage(format!("cannot write {}", target.map.id)))?,
        )
    };
    let set_plan = set_plan.map(|plan| {
        if target.verify {
            plan
        } else {
            plan.without_verification()
        }
    });
    let mut device = Device::open(&mut target, args.simulated).await?;
    let (read_plan, set_plan) = if device.walk_sunspec(&mut target).await? {
        let set_plan = if args.set.is_empty() {
            None
        } else {
            let plan = target
                .map
                .plan_writes(&args.set, &target.units)
                .with_context(|| Usage(format!("cannot write {}", target.map.id)))?;
            Some(if target.verify {
                plan
            } else {
                plan.without_verification()
            })
        };
        (plan(&target, &args.registers)?, set_plan)
    } else {
        (read_plan, set_plan)
    };
    let map = Arc::clone(&target.map);
    let mut last_written: HashMap<String, Value> = HashMap::new();
    if let Some(set_plan) = &set_plan {
        let report = set_plan
            .execute(&mut device.io())
            .await
            .with_context(|| format!("cannot write to {target}"))?;
        for w in &set_plan.writes {
            last_written.insert(w.register.clone(), w.value.clone());
        }
        for request in &report.sent {
            eprintln!("sent {request}  # {}", request.register);
        }
    }
    let mut heartbeats = service::heartbeat::Schedule::new(&map);

    let options = render_options(&target, args.nested);
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut last_good: HashMap<String, Reading> = HashMap::new();
    let mut reads: u64 = 0;
    let mut failed_reads: u64 = 0;
    let ctrl_c = crate::commands::interrupted()?;
    tokio::pin!(ctrl_c);
    loop {
        let next_beat = heartbeats.next_due();
        tokio::select! {
            () = &mut ctrl_c => break,
            _ = ticker.tick() => {
                let snapshot = read_plan.execute(&mut device.io()).await;
                // A device that stops matching its map (another device took its address) ends
                // the poll: no value of it is printed. A check whose request failed withholds
                // this read's values (shown stale, from the last verified read) and goes on.
                if let Some(mismatch) = &snapshot.mismatch {
                    return Err(anyhow::Error::new(mismatch.clone())
                        .context(format!("refusing to show values read from {target}")));
                }
                let failure = failures(&snapshot, &target, read_plan.requests().len());
                let (snapshot, stale) = service::with_stale(snapshot, &mut last_good);
                let mut text = render(&snapshot, &stale, &map, args.format, &options);
                let stale = stale_since(&snapshot, &stale);
                if let Some((_, err)) = &failure {
                    failed_reads += 1;
                    eprint!("warning: {}", report::render(err).trim_start_matches("error: "));
                }
                if !stale.is_empty() {
                    let note = stale_note(&stale);
                    if args.format == Format::Human {
                        let _ = writeln!(text, "{note}");
                    } else {
                        eprintln!("warning: {note}");
                    }
                }
                crate::commands::print(&text)?;
                reads += 1;
                if args.count.is_some_and(|n| reads >= n) {
                    break;
                }
            }
            () = tokio::time::sleep_until(next_beat), if !heartbeats.is_empty() => {
                for beat in heartbeats.due() {
                    beat.sent(send_heartbeat(&map, &target.units, &beat.heartbeat, &mut device.client, &last_written, &last_good).await);
                }
            }
        }
    }
    drop(device);
    if failed_reads > 0 && failed_reads == reads {
        Err(anyhow::anyhow!(
            "every read of {target} failed ({reads} read(s))"
        ))
    } else {
        Ok(ExitCode::SUCCESS)
    }
}

/// Sends one heartbeat (service's, as `evctl serve` does), warns when it fails, and returns
/// the time until the next one.
async fn send_heartbeat(
    map: &Arc<DeviceMap>,
    units: &Units,
    heartbeat: &Heartbeat,
    client: &mut service::DeviceClient,
    last_written: &HashMap<String, Value>,
    last_good: &HashMap<String, Reading>,
) -> Duration {
    let (interval, outcome) =
        service::heartbeat::send(map, units, heartbeat, client, last_written, last_good).await;
    match outcome {
        Ok(requests) => {
            tracing::debug!(heartbeat = %heartbeat.name, requests, "heartbeat sent");
        }
        Err(err) => {
            let err = anyhow::Error::new(err);
            eprint!(
                "warning: {}",
                report::render(&err).trim_start_matches("error: ")
            );
        }
    }
    interval
}

/// When the oldest of the stale readings was read, for the note under the output.
/// One poll's output. Machine formats never pass a stale value off as fresh: InfluxDB and
/// Prometheus leave stale readings out (as `evctl serve`'s writer and /metrics do: the value was
/// exported when it was read), JSON keeps them and names them in a top-level `"stale"` array
/// (present only when some value is stale). Human output shows them with the stale note.
fn render(
    snapshot: &Snapshot,
    stale: &[String],
    map: &DeviceMap,
    format: Format,
    options: &outputs::Options,
) -> String {
    let output = crate::commands::output_format(format);
    match format {
        Format::Influx | Format::Prometheus if !stale.is_empty() => {
            let mut fresh = snapshot.clone();
            fresh.readings.retain(|r| !stale.contains(&r.name));
            outputs::render(&fresh, map, output, options)
        }
        Format::Json if !stale.is_empty() => {
            let text = outputs::render(snapshot, map, output, options);
            mark_stale(&text, stale)
        }
        _ => outputs::render(snapshot, map, output, options),
    }
}

/// Adds `"stale": [names]` as the last key of a rendered JSON object.
fn mark_stale(json: &str, stale: &[String]) -> String {
    let names = serde_json::Value::from(stale.to_vec()).to_string();
    let body = json.trim_end();
    match body.strip_suffix('}') {
        Some(open) if open.trim() == "{" => format!("{{\n  \"stale\": {names}\n}}\n"),
        Some(open) => format!("{},\n  \"stale\": {names}\n}}\n", open.trim_end()),
        None => json.to_owned(),
    }
}

fn stale_since(snapshot: &Snapshot, stale: &[String]) -> Vec<(String, SystemTime)> {
    stale
        .iter()
        .filter_map(|name| {
            let reading = snapshot.readings.iter().find(|r| &r.name == name)?;
            Some((name.clone(), reading.read_at.unwrap_or(snapshot.started_at)))
        })
        .collect()
}

fn stale_note(stale: &[(String, SystemTime)]) -> String {
    let oldest = stale
        .iter()
        .map(|(_, at)| *at)
        .min()
        .and_then(|t| t.elapsed().ok())
        .map(|d| format!("{:.0} s ago", d.as_secs_f64()))
        .unwrap_or_else(|| "earlier".to_owned());
    let names: Vec<&str> = stale.iter().map(|(n, _)| n.as_str()).collect();
    format!(
        "stale: {} value(s) from an earlier read ({oldest}), this read failed: {}",
        names.len(),
        names.join(", ")
    )
}
