//! `evctl list`: every device map, built in and from user folders.

use std::fmt::Write as _;
use std::process::ExitCode;

use device_maps::Source;

use crate::cli::{ListArgs, ListFormat};
use crate::target::Env;

pub fn run(env: &Env, args: &ListArgs) -> anyhow::Result<ExitCode> {
    let (registry, warnings) = env.maps.registry()?;
    for warning in warnings {
        eprintln!("warning: {warning}");
    }
    let text = match args.format {
        ListFormat::Json => {
            let maps: Vec<serde_json::Value> = registry
                .maps()
                .map(|m| {
                    serde_json::json!({
                        "id": m.id,
                        "manufacturer": m.manufacturer,
                        "model": m.model,
                        "transport": m.connection.transport.name(),
                        "port": m.connection.port,
                        "registers": m.registers.len(),
                        "actions": m.actions.iter().map(|a| a.name.as_str()).collect::<Vec<_>>(),
                        "source": source_text(&m.source),
                        "extends": m.extends,
                    })
                })
                .collect();
            let mut text = serde_json::to_string_pretty(&maps)?;
            text.push('\n');
            text
        }
        ListFormat::Human => {
            let rows: Vec<[String; 5]> = registry
                .maps()
                .map(|m| {
                    [
                        m.id.clone(),
                        format!("{} {}", m.manufacturer, m.model),
                        m.connection.transport.name().to_owned(),
                        m.registers.len().to_string(),
                        source_text(&m.source),
                    ]
                })
                .collect();
            table(
                &["MAP", "DEVICE", "TRANSPORT", "REGISTERS", "SOURCE"],
                &rows,
            )
        }
    };
    crate::commands::print(&text)?;
    Ok(ExitCode::SUCCESS)
}

fn source_text(source: &Source) -> String {
    match source {
        Source::BuiltIn { .. } => "built in".to_owned(),
        Source::File(path) => path.display().to_string(),
        Source::Text(name) => name.clone(),
    }
}

/// Left-aligned columns separated by two spaces; the last column is not padded.
pub fn table<const N: usize>(header: &[&str; N], rows: &[[String; N]]) -> String {
    let mut widths = header.map(|h| h.chars().count());
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: &mut dyn Iterator<Item = &str>| {
        let mut text = String::new();
        for (i, cell) in cells.enumerate() {
            if i + 1 == N {
                text.push_str(cell);
            } else {
                let _ = write!(text, "{cell:<width$}  ", width = widths[i]);
            }
        }
        out.push_str(text.trim_end());
        out.push('\n');
    };
    line(&mut header.iter().copied());
    for row in rows {
        line(&mut row.iter().map(String::as_str));
    }
    out
}
