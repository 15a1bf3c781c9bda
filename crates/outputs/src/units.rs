//! Physical units: the base unit a Prometheus metric is named after, and the factor to get there.
//!
//! Maps keep the units their datasheets print (`kW`, `Wh`, `mA`, `ms`, ...). Prometheus asks for
//! base units in metric names (`_watts`, `_joules`, `_seconds`), so a value is multiplied by the
//! factor found here before it is exposed. Units without a sensible base (a count of phases,
//! `VAh`) keep their own name.

/// How a map unit is exposed in Prometheus.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BaseUnit {
    /// Suffix of the metric name, without the leading underscore; empty for none.
    pub suffix: &'static str,
    /// Multiply a value in the map's unit by this to get the base unit.
    pub factor: f64,
}

/// The Prometheus base unit of a map unit. Unknown units are turned into a name-safe suffix by
/// the caller; this function only knows the units it can convert.
pub fn base_unit(unit: &str) -> Option<BaseUnit> {
    let (suffix, factor) = match unit.trim() {
        "V" => ("volts", 1.0),
        "mV" => ("volts", 1e-3),
        "kV" => ("volts", 1e3),
        "A" => ("amperes", 1.0),
        "mA" => ("amperes", 1e-3),
        "W" => ("watts", 1.0),
        "kW" => ("watts", 1e3),
        "MW" => ("watts", 1e6),
        "VA" => ("volt_amperes", 1.0),
        "kVA" => ("volt_amperes", 1e3),
        "var" | "VAr" | "VAR" => ("volt_amperes_reactive", 1.0),
        "kvar" | "kVAr" | "kVAR" => ("volt_amperes_reactive", 1e3),
        "Wh" => ("joules", 3600.0),
        "kWh" => ("joules", 3.6e6),
        "MWh" => ("joules", 3.6e9),
        "J" => ("joules", 1.0),
        "VAh" => ("volt_ampere_hours", 1.0),
        "kVAh" => ("volt_ampere_hours", 1e3),
        "varh" | "VArh" | "VARh" => ("volt_ampere_reactive_hours", 1.0),
        "kvarh" | "kVArh" | "kVARh" => ("volt_ampere_reactive_hours", 1e3),
        "Hz" => ("hertz", 1.0),
        "degC" | "°C" | "C" => ("celsius", 1.0),
        "s" => ("seconds", 1.0),
        "ms" => ("seconds", 1e-3),
        "min" => ("seconds", 60.0),
        "h" => ("seconds", 3600.0),
        "%" => ("ratio", 0.01),
        "Ah" => ("ampere_hours", 1.0),
        _ => return None,
    };
    Some(BaseUnit { suffix, factor })
}

/// The base-unit suffix a word of a register name stands for, when the word is a unit:
/// `kwh` and `wh` are `joules`, `kw` is `watts`, `pct` is `ratio`, ... Register names often carry
/// their unit (GivTCP's `Battery_Capacity_kWh`); the metric name drops such a word before it
/// appends the base unit, so it never reads `_kwh_joules`. `word` is lower case.
pub(crate) fn unit_word_suffix(word: &str) -> Option<&'static str> {
    Some(match word {
        "wh" | "kwh" | "mwh" | "j" | "kj" | "joules" => "joules",
        "w" | "kw" | "mw" | "watts" => "watts",
        "v" | "mv" | "kv" | "volts" => "volts",
        "a" | "ma" | "amps" | "amperes" => "amperes",
        "va" | "kva" => "volt_amperes",
        "var" | "kvar" => "volt_amperes_reactive",
        "vah" | "kvah" => "volt_ampere_hours",
        "varh" | "kvarh" => "volt_ampere_reactive_hours",
        "ah" => "ampere_hours",
        "hz" | "hertz" => "hertz",
        "c" | "degc" | "celsius" => "celsius",
        "s" | "ms" | "sec" | "secs" | "min" | "mins" | "h" | "seconds" => "seconds",
        "pct" | "percent" | "ratio" => "ratio",
        _ => return None,
    })
}

/// The text shown after a number in human output: `degC` becomes `°C`, the rest stays.
pub fn display_unit(unit: &str) -> &str {
    match unit {
        "degC" => "°C",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn energy_goes_to_joules() {
        let kwh = base_unit("kWh").expect("known");
        assert_eq!(kwh.suffix, "joules");
        assert!((1.5 * kwh.factor - 5.4e6).abs() < 1e-6);
        assert_eq!(base_unit("Wh").map(|u| u.factor), Some(3600.0));
    }

    #[test]
    fn kilo_prefixes_scale_to_base() {
        assert_eq!(
            base_unit("kW"),
            Some(BaseUnit {
                suffix: "watts",
                factor: 1e3
            })
        );
        assert_eq!(
            base_unit("mA"),
            Some(BaseUnit {
                suffix: "amperes",
                factor: 1e-3
            })
        );
        assert_eq!(
            base_unit("ms"),
            Some(BaseUnit {
                suffix: "seconds",
                factor: 1e-3
            })
        );
    }

    #[test]
    fn unit_words_name_the_base_unit_of_their_map_unit() {
        // Every word stands for the base unit of the map unit it abbreviates.
        for (word, unit) in [
            ("kwh", "kWh"),
            ("wh", "Wh"),
            ("kw", "kW"),
            ("w", "W"),
            ("v", "V"),
            ("a", "A"),
            ("va", "VA"),
            ("var", "var"),
            ("hz", "Hz"),
            ("pct", "%"),
            ("percent", "%"),
            ("c", "degC"),
            ("degc", "degC"),
            ("s", "s"),
            ("ms", "ms"),
            ("ah", "Ah"),
            ("kvarh", "kvarh"),
        ] {
            assert_eq!(
                unit_word_suffix(word),
                base_unit(unit).map(|b| b.suffix),
                "{word}"
            );
        }
        assert_eq!(unit_word_suffix("energy"), None);
        assert_eq!(unit_word_suffix("kWh"), None, "words arrive in lower case");
    }

    #[test]
    fn unknown_units_are_not_guessed() {
        assert_eq!(base_unit("phases"), None);
        assert_eq!(base_unit(""), None);
    }
}
