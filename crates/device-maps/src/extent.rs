//! The two `connection:` keys about what a device does beyond its registers: the whole
//! `blocks` it answers, and the read-back window of writes (`write_confirm`).
//!
//! The loader calls [`blocks`] and [`write_confirm`] and turns a [`Problem`] into a located
//! error, so these checks stay apart from the rest of the loader.

use std::time::Duration;

use modbus_core::Table;

use crate::load::parse_duration;
use crate::model::{Block, WriteConfirm};
use crate::raw::{RawBlock, RawWriteConfirm};

/// A check that failed: the YAML path at fault, what is wrong, and what is allowed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Problem {
    pub(crate) path: String,
    pub(crate) problem: String,
    pub(crate) allowed: &'static str,
}

/// Checks `connection.blocks`: known roles and tables, `from` not after `to`.
pub(crate) fn blocks(
    raw: &[RawBlock],
    roles: &[(String, u8)],
    main_unit: &str,
) -> Result<Vec<Block>, Problem> {
    let mut out = Vec::with_capacity(raw.len());
    for (i, b) in raw.iter().enumerate() {
        let unit = b.unit.clone().unwrap_or_else(|| main_unit.to_owned());
        if !roles.iter().any(|(role, _)| *role == unit) {
            return Err(Problem {
                path: format!("connection.blocks.{i}.unit"),
                problem: format!("`{unit}` is not a role of `connection.unit_ids`"),
                allowed: "a role named in `connection.unit_ids`",
            });
        }
        let table: Table = b.table.parse().map_err(|_| Problem {
            path: format!("connection.blocks.{i}.table"),
            problem: format!("unknown table `{}`", b.table),
            allowed: "holding, input, coil, discrete",
        })?;
        if b.from > b.to {
            return Err(Problem {
                path: format!("connection.blocks.{i}.to"),
                problem: format!("the block ends ({}) before it starts ({})", b.to, b.from),
                allowed: "`to` at or after `from` (both inclusive)",
            });
        }
        out.push(Block {
            unit,
            table,
            from: b.from,
            to: b.to,
        });
    }
    Ok(out)
}

/// Checks `connection.write_confirm`; a map without it gets [`WriteConfirm::DEFAULT`].
pub(crate) fn write_confirm(raw: Option<&RawWriteConfirm>) -> Result<WriteConfirm, Problem> {
    let Some(raw) = raw else {
        return Ok(WriteConfirm::DEFAULT);
    };
    let duration = |text: &Option<String>, key: &str, default: Duration| match text {
        None => Ok(default),
        Some(text) => parse_duration(text).ok_or_else(|| Problem {
            path: format!("connection.write_confirm.{key}"),
            problem: format!("`{text}` is not a duration"),
            allowed: "a duration such as 3s or 500ms",
        }),
    };
    let within = duration(&raw.within, "within", WriteConfirm::DEFAULT.within)?;
    let every = duration(&raw.every, "every", WriteConfirm::DEFAULT.every)?;
    if every.is_zero() {
        return Err(Problem {
            path: "connection.write_confirm.every".to_owned(),
            problem: "reading back with no pause between reads would flood the device".to_owned(),
            allowed: "a duration such as 250ms",
        });
    }
    Ok(WriteConfirm { within, every })
}
