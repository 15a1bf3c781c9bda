//! Names: Prometheus metric and label names, and the phase hidden in a register name.
//!
//! Register names carry the phase they measure in many spellings (`voltage_phase_L1N`,
//! `current_l2`, `ac_current_a`, `current_N`, `voltage_ab`). Prometheus wants one metric per
//! quantity with the phase as a label, so [`split_phase`] finds the phase token and returns the
//! name without it. The renderer only folds registers together when the result is unambiguous.

/// A register name split into the quantity and the phase it measures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhaseSplit {
    /// The name with the phase (and a `phase` word before it) removed.
    pub quantity: String,
    /// The phase in upper case: `L1`, `L1N`, `L2L3`, `N`, `A`, `AB`, ...
    pub phase: String,
}

/// Phase tokens that may appear anywhere after the first word.
const LINE_PHASES: &[&str] = &[
    "l1", "l2", "l3", "l1n", "l2n", "l3n", "l1l2", "l2l3", "l3l1", "l1l3", "l2l1", "l3l2",
];

/// Phase tokens that only count as the last word (they are too short to trust elsewhere).
const LETTER_PHASES: &[&str] = &["a", "b", "c", "n", "ab", "bc", "ca", "an", "bn", "cn"];

/// Splits the phase out of a register name, or `None` when the name has no phase token.
///
/// ```text
/// voltage_phase_L1N -> voltage, L1N        current_l2 -> current, L2
/// ac_current_a      -> ac_current, A       current_N  -> current, N
/// power_factor_sum  -> None                frequency  -> None
/// ```
pub fn split_phase(name: &str) -> Option<PhaseSplit> {
    let words: Vec<&str> = name.split('_').collect();
    if words.len() < 2 {
        return None;
    }
    let last = words.len() - 1;
    let position = (1..words.len()).find(|&i| {
        let w = words[i].to_ascii_lowercase();
        LINE_PHASES.contains(&w.as_str()) || (i == last && LETTER_PHASES.contains(&w.as_str()))
    })?;
    let phase = words[position].to_ascii_uppercase();
    let mut rest: Vec<&str> = Vec::with_capacity(words.len());
    for (i, w) in words.iter().enumerate() {
        let is_phase_word = i + 1 == position && w.eq_ignore_ascii_case("phase") && i > 0;
        if i != position && !is_phase_word {
            rest.push(w);
        }
    }
    if rest.is_empty() {
        return None;
    }
    Some(PhaseSplit {
        quantity: rest.join("_"),
        phase,
    })
}

/// A valid Prometheus metric-name fragment: `[a-zA-Z0-9_]`, lower case, other characters become
/// `_`, runs of `_` collapse, and a leading digit gets a `_` before it.
pub fn metric_fragment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        let c = if c.is_ascii_alphanumeric() {
            c.to_ascii_lowercase()
        } else {
            '_'
        };
        if c == '_' && out.ends_with('_') {
            continue;
        }
        out.push(c);
    }
    let trimmed = out.trim_matches('_');
    let mut result = String::with_capacity(trimmed.len() + 1);
    if trimmed.starts_with(|c: char| c.is_ascii_digit()) {
        result.push('_');
    }
    result.push_str(trimmed);
    result
}

/// A valid Prometheus label name: like [`metric_fragment`] but case is kept, and names starting
/// with `__` (reserved) lose the extra underscores.
pub fn label_name(text: &str) -> String {
    let mut out: String = text
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    while out.starts_with("__") {
        out.remove(0);
    }
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, '_');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(name: &str) -> Option<(String, String)> {
        split_phase(name).map(|s| (s.quantity, s.phase))
    }

    fn some(q: &str, p: &str) -> Option<(String, String)> {
        Some((q.to_owned(), p.to_owned()))
    }

    #[test]
    fn alfen_names() {
        assert_eq!(split("voltage_phase_L1N"), some("voltage", "L1N"));
        assert_eq!(split("voltage_phase_L3L1"), some("voltage", "L3L1"));
        assert_eq!(split("current_N"), some("current", "N"));
        assert_eq!(
            split("real_energy_delivered_phase_L2"),
            some("real_energy_delivered", "L2")
        );
        assert_eq!(
            split("scn_max_current_phase_l3"),
            some("scn_max_current", "L3")
        );
        assert_eq!(split("real_power_sum"), None);
        assert_eq!(split("c_name"), None);
    }

    #[test]
    fn other_spellings() {
        assert_eq!(split("current_l1"), some("current", "L1"));
        assert_eq!(split("active_power_l2"), some("active_power", "L2"));
        assert_eq!(split("current_phase_a"), some("current", "A"));
        assert_eq!(split("voltage_ab"), some("voltage", "AB"));
        assert_eq!(split("import_l1"), some("import", "L1"));
        assert_eq!(split("temp_cabinet"), None);
        assert_eq!(split("a_b"), some("a", "B"));
        assert_eq!(split("l1"), None);
        assert_eq!(split("phase_l1"), some("phase", "L1"));
    }

    #[test]
    fn fragments_are_valid_metric_names() {
        assert_eq!(metric_fragment("alfen-eve"), "alfen_eve");
        assert_eq!(metric_fragment("voltage_phase_L1N"), "voltage_phase_l1n");
        assert_eq!(metric_fragment("3-phase meter"), "_3_phase_meter");
        assert_eq!(metric_fragment("--x--"), "x");
    }

    #[test]
    fn label_names_are_valid() {
        assert_eq!(label_name("c_name"), "c_name");
        assert_eq!(label_name("__x"), "_x");
        assert_eq!(label_name("9lives"), "_9lives");
        assert_eq!(label_name("a-b"), "a_b");
    }
}
