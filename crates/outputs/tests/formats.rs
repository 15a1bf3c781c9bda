//! Every format over every shipped map, with values built by device-maps from the maps' own
//! examples (read through `MemoryDevice`, exactly as a device read is decoded), checked by real
//! parsers of the formats and pinned with insta snapshots.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use device_maps::modbus_core::Table;
use device_maps::{DeviceMap, MemoryDevice, Registry, Snapshot, block_on};
use outputs::{Format, Options};

/// A fixed read time, so snapshots are stable: 2026-11-20T23:00:00.250Z.
fn read_time() -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(1_795_215_600_250)
}

fn registry() -> Registry {
    Registry::built_in().expect("the shipped maps load")
}

fn map(id: &str) -> Arc<DeviceMap> {
    Arc::clone(registry().get(id).expect("a shipped map"))
}

/// A full read of `device`, which holds `map`'s registers.
fn read(map: &Arc<DeviceMap>, device: &mut MemoryDevice, unit: Option<&str>) -> Snapshot {
    let mut units = map.units();
    if let Some(unit) = unit {
        units.apply(unit).expect("a valid unit");
    }
    let selection = map.select::<&str>(&[]).expect("select all");
    let plan = map.plan_read(&selection, &units).expect("plannable");
    let mut snapshot = block_on(plan.execute(device));
    snapshot.started_at = read_time();
    snapshot.finished_at = read_time();
    snapshot
}

/// A full read of a device that holds `map`'s example values.
fn example_snapshot(map: &Arc<DeviceMap>) -> Snapshot {
    read(map, &mut MemoryDevice::with_examples(map), None)
}

const SHIPPED: &[&str] = &[
    "alfen-eve",
    "vestel-evc04",
    "schneider-pm8000",
    "eastron-sdm630",
    "sunspec-inverter",
];

fn every_map() -> Vec<Arc<DeviceMap>> {
    registry().maps().cloned().collect()
}

#[test]
fn snapshots_of_every_format_for_the_seed_maps() {
    for id in SHIPPED {
        let map = map(id);
        let snapshot = example_snapshot(&map);
        assert!(
            snapshot.missing().next().is_none(),
            "{id}: an example did not decode"
        );
        let options = Options::default();
        let nested = Options {
            nested: true,
            ..Options::default()
        };
        insta::assert_snapshot!(
            format!("{id}.human"),
            outputs::human(&snapshot, &map, &options)
        );
        insta::assert_snapshot!(
            format!("{id}.json"),
            outputs::json(&snapshot, &map, &options)
        );
        insta::assert_snapshot!(
            format!("{id}.nested.json"),
            outputs::json(&snapshot, &map, &nested)
        );
        insta::assert_snapshot!(
            format!("{id}.prom"),
            outputs::prometheus(&snapshot, &map, &options)
        );
        insta::assert_snapshot!(
            format!("{id}.influx"),
            outputs::influx(&snapshot, &map, &options)
        );
    }
}

#[test]
fn render_dispatches_to_each_format() {
    let map = map("vestel-evc04");
    let snapshot = example_snapshot(&map);
    let options = Options {
        device: Some("garage".into()),
        ..Options::default()
    };
    assert_eq!(
        outputs::render(&snapshot, &map, Format::Human, &options),
        outputs::human(&snapshot, &map, &options)
    );
    assert_eq!(
        outputs::render(&snapshot, &map, Format::Json, &options),
        outputs::json(&snapshot, &map, &options)
    );
    assert_eq!(
        outputs::render(&snapshot, &map, Format::Prometheus, &options),
        outputs::prometheus(&snapshot, &map, &options)
    );
    assert_eq!(
        outputs::render(&snapshot, &map, Format::Influx, &options),
        outputs::influx(&snapshot, &map, &options)
    );
}

// ---------------------------------------------------------------------------------------------
// Prometheus: two real parsers.

/// Parses with openmetrics-parser's Prometheus grammar (strict: names, escaping, numbers, one
/// TYPE per family) and returns the number of samples.
fn strict_prometheus(text: &str) -> usize {
    let exposition = openmetrics_parser::prometheus::parse_prometheus(text)
        .unwrap_or_else(|e| panic!("not valid Prometheus text: {e:?}\n{text}"));
    exposition
        .families
        .values()
        .map(|f| f.iter_samples().count())
        .sum()
}

#[test]
fn prometheus_of_every_shipped_map_parses() {
    for map in every_map() {
        let snapshot = example_snapshot(&map);
        let options = Options {
            device: Some("site \"A\"\\1".into()),
            ..Options::default()
        };
        let text = outputs::prometheus(&snapshot, &map, &options);
        let sample_lines = text
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
            .count();
        assert!(sample_lines > 0, "{}: no samples", map.id);
        assert_eq!(strict_prometheus(&text), sample_lines, "{}", map.id);

        // prometheus-parse, the crate most Rust scrapers use, reads the same samples.
        let lines = text.lines().map(|l| Ok(l.to_owned()));
        let scrape = prometheus_parse::Scrape::parse(lines).expect("prometheus-parse reads it");
        assert_eq!(scrape.samples.len(), sample_lines, "{}", map.id);
        for line in text.lines() {
            let info = prometheus_parse::LineInfo::parse(line);
            assert_ne!(
                info,
                prometheus_parse::LineInfo::Ignored,
                "{}: {line}",
                map.id
            );
        }
        // Every family has HELP and TYPE before its samples, and names are valid.
        let mut described: Vec<&str> = Vec::new();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let name = rest.split(' ').next().unwrap_or_default();
                assert!(valid_metric_name(name), "{name}");
                described.push(name);
            } else if !line.starts_with('#') {
                let name = line.split(['{', ' ']).next().unwrap_or_default();
                assert!(described.contains(&name), "{}: {name} has no TYPE", map.id);
            }
        }
    }
}

/// Base-unit suffixes of metric names, longest first so `volt_amperes_reactive` wins over
/// `volt_amperes`.
const BASE_SUFFIXES: &[&str] = &[
    "volt_ampere_reactive_hours",
    "volt_amperes_reactive",
    "volt_ampere_hours",
    "volt_amperes",
    "ampere_hours",
    "amperes",
    "joules",
    "watts",
    "volts",
    "hertz",
    "celsius",
    "seconds",
    "ratio",
];

/// Words that abbreviate a unit in a register name, as they reach a metric name (lower case).
/// Written here independently of the renderer, as a second opinion.
const UNIT_WORDS: &[&str] = &[
    "kwh", "wh", "mwh", "kw", "w", "mw", "v", "mv", "kv", "a", "ma", "va", "kva", "var", "kvar",
    "vah", "varh", "kvarh", "ah", "hz", "pct", "percent", "c", "degc", "s", "ms", "j",
];

/// Single letters that also name a phase (`ac_current_a`) or a namespace (Alfen's `c_`
/// station registers): they only count as a unit right before a suffix of the same unit.
const AMBIGUOUS_WORDS: &[&str] = &["a", "c", "s", "v", "w", "j"];

#[test]
fn prometheus_names_carry_one_unit_and_stay_unique() {
    for map in every_map() {
        let snapshot = example_snapshot(&map);
        let text = outputs::prometheus(&snapshot, &map, &Options::default());
        let exposition = openmetrics_parser::prometheus::parse_prometheus(&text)
            .unwrap_or_else(|e| panic!("{}: {e:?}", map.id));
        let prefix = format!("{}_", map.id.replace('-', "_"));
        for (name, family) in &exposition.families {
            let stem = name.strip_suffix("_total").unwrap_or(name);
            let stem = stem.strip_suffix("_info").unwrap_or(stem);
            let suffix = BASE_SUFFIXES
                .iter()
                .find(|s| stem.ends_with(&format!("_{s}")));
            let body = match suffix {
                Some(s) => &stem[..stem.len() - s.len() - 1],
                None => stem,
            };
            let body = body.strip_prefix(&prefix).unwrap_or(body);
            let phased = family.get_label_names().iter().any(|l| l == "phase");
            let words: Vec<&str> = body.split('_').collect();
            for (i, word) in words.iter().enumerate() {
                if !UNIT_WORDS.contains(word) {
                    continue;
                }
                if AMBIGUOUS_WORDS.contains(word) {
                    // A phase letter right before the unit of a phase-labelled metric, or a
                    // one-letter namespace, is not a unit.
                    let last = i + 1 == words.len();
                    let phase_letter = last && phased && matches!(*word, "a" | "c");
                    if !last || phase_letter || suffix.is_none() {
                        continue;
                    }
                }
                panic!(
                    "{}: metric `{name}` names a unit twice (`{word}` and `{}`)",
                    map.id,
                    suffix.copied().unwrap_or("no suffix")
                );
            }
        }

        // No two series share a name and label set.
        let mut series: Vec<&str> = text
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
            .filter_map(|l| l.rsplit_once(' ').map(|(s, _)| s))
            .collect();
        let count = series.len();
        series.sort_unstable();
        series.dedup();
        assert_eq!(series.len(), count, "{}: a series repeats", map.id);
    }
}

#[test]
fn givenergy_energy_metrics_name_joules_once() {
    let map = map("givenergy-hybrid");
    let text = outputs::prometheus(&example_snapshot(&map), &map, &Options::default());
    for name in [
        "givenergy_hybrid_battery_capacity_joules",
        "givenergy_hybrid_soc_joules",
        "givenergy_hybrid_battery_capacity_ampere_hours",
        "givenergy_hybrid_pv_energy_today_joules",
        "givenergy_hybrid_pv_energy_total_joules_total",
    ] {
        assert!(text.contains(&format!("# TYPE {name} ")), "{name}\n{text}");
    }
    assert!(!text.contains("kwh_joules"), "{text}");
}

fn valid_metric_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

#[test]
fn prometheus_uses_base_units_types_and_phase_labels() {
    let map = map("alfen-eve");
    let snapshot = example_snapshot(&map);
    let text = outputs::prometheus(&snapshot, &map, &Options::default());
    let exposition = openmetrics_parser::prometheus::parse_prometheus(&text).expect("valid");

    // Voltages fold into one metric with a phase label.
    let voltage = &exposition.families["alfen_eve_voltage_volts"];
    assert_eq!(
        voltage.family_type,
        openmetrics_parser::PrometheusType::Gauge
    );
    let phases: Vec<String> = voltage
        .iter_samples()
        .filter_map(|s| {
            s.get_labelset()
                .ok()
                .and_then(|l| l.get_label_value("phase").map(str::to_owned))
        })
        .collect();
    assert_eq!(phases, ["L1N", "L2N", "L3N", "L1L2", "L2L3", "L3L1"]);

    // Energy in Wh becomes a joules counter: 4562033.5 Wh = 16423320600 J.
    let energy = &exposition.families["alfen_eve_real_energy_delivered_sum_joules_total"];
    assert_eq!(
        energy.family_type,
        openmetrics_parser::PrometheusType::Counter
    );
    assert!(text.contains(
        "alfen_eve_real_energy_delivered_sum_joules_total{device=\"alfen-eve\",serial=\"ACE0287582\",unit=\"1\"} 16423320600\n"
    ));
    // Milliseconds become seconds; the station's values carry unit 200.
    assert!(text.contains("alfen_eve_c_uptime_seconds_total{device=\"alfen-eve\",serial=\"ACE0287582\",unit=\"200\"} 125689.398\n"));
    // Text is an info metric.
    assert!(text.contains("c_firmware_version=\"6.1.0-4159\""));

    // PM8000 powers in kW become watts.
    let pm = self::map("schneider-pm8000");
    let text = outputs::prometheus(&example_snapshot(&pm), &pm, &Options::default());
    assert!(
        text.contains("schneider_pm8000_active_power_total_watts{device=\"schneider-pm8000\",unit=\"1\"} 8490\n"),
        "{text}"
    );
}

// ---------------------------------------------------------------------------------------------
// InfluxDB line protocol: the InfluxDB project's own parser.

#[test]
fn influx_of_every_shipped_map_parses() {
    for map in every_map() {
        let snapshot = example_snapshot(&map);
        let options = Options {
            device: Some("garage, left=1".into()),
            measurement: Some("ev chargers,x".into()),
            ..Options::default()
        };
        let text = outputs::influx(&snapshot, &map, &options);
        let lines: Vec<_> = influxdb_line_protocol::parse_lines(&text)
            .collect::<Result<_, _>>()
            .unwrap_or_else(|e| panic!("{}: not line protocol: {e}\n{text}", map.id));
        assert_eq!(lines.len(), text.lines().count(), "{}", map.id);
        let fields: usize = lines.iter().map(|l| l.field_set.len()).sum();
        let present = snapshot
            .readings
            .iter()
            .filter(|r| r.value().is_some())
            .count();
        assert_eq!(fields, present, "{}: every value is a field", map.id);
        for line in &lines {
            assert_eq!(line.series.measurement.as_str(), "ev chargers,x");
            assert_eq!(
                line.tag_value("device").map(|t| t.as_str()),
                Some("garage, left=1")
            );
            assert_eq!(line.timestamp, Some(1_795_215_600_250_000_000));
        }
    }
}

#[test]
fn influx_types_integers_floats_and_text() {
    use influxdb_line_protocol::FieldValue;
    let map = map("vestel-evc04");
    let text = outputs::influx(&example_snapshot(&map), &map, &Options::default());
    let line = influxdb_line_protocol::parse_lines(&text)
        .next()
        .expect("one line")
        .expect("parses");
    assert_eq!(
        line.field_value("chargepoint_state"),
        Some(&FieldValue::I64(2))
    );
    assert_eq!(
        line.field_value("current_l1"),
        Some(&FieldValue::F64(15.23))
    );
    assert!(matches!(
        line.field_value("serial_number"),
        Some(FieldValue::String(s)) if s.as_str() == "VEST1234567890"
    ));
    assert_eq!(line.tag_value("unit").map(|t| t.as_str()), Some("255"));
    assert_eq!(
        line.tag_value("serial").map(|t| t.as_str()),
        Some("VEST1234567890")
    );
}

// ---------------------------------------------------------------------------------------------
// JSON.

/// The keys of the Alfen seed tool's `--json` output, in order, and whether each value is text.
fn seed_keys() -> Vec<(String, bool)> {
    include_str!("fixtures/alfen-seed-tool.json")
        .lines()
        .filter_map(|line| {
            let line = line.trim();
            let rest = line.strip_prefix('"')?;
            let (key, value) = rest.split_once("\": ")?;
            Some((key.to_owned(), value.starts_with('"')))
        })
        .collect()
}

#[test]
fn alfen_json_has_the_seed_tools_keys_in_order_and_value_types() {
    let map = map("alfen-eve");
    let text = outputs::json(&example_snapshot(&map), &map, &Options::default());
    let ours: Vec<(String, bool)> = text
        .lines()
        .filter_map(|line| {
            let rest = line.trim().strip_prefix('"')?;
            let (key, value) = rest.split_once("\": ")?;
            Some((key.to_owned(), value.starts_with('"')))
        })
        .collect();
    let seed = seed_keys();
    assert_eq!(seed.len(), 89);
    assert_eq!(ours, seed);
    // And it is JSON.
    let value: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
    assert_eq!(value["availability"], 1);
    assert_eq!(value["mode_3_state"], "C2");
    assert_eq!(
        value["voltage_phase_L1N"],
        serde_json::json!(f64::from(238.19_f32))
    );
}

#[test]
fn nested_json_follows_group_paths() {
    let map = map("alfen-eve");
    let nested = Options {
        nested: true,
        ..Options::default()
    };
    let text = outputs::json(&example_snapshot(&map), &map, &nested);
    let value: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
    assert_eq!(value["station"]["identity"]["c_name"], "ALF_1000");
    assert_eq!(
        value["socket"]["meter"]["energy"]["real_energy_delivered_sum"],
        4562033.5
    );

    let vestel = self::map("vestel-evc04");
    let text = outputs::json(&example_snapshot(&vestel), &vestel, &nested);
    let value: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
    let sections: Vec<&str> = value
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    for section in ["identity", "states", "electrical", "session", "limits"] {
        assert!(sections.contains(&section), "{section} in {sections:?}");
    }
}

#[test]
fn human_titles_do_not_repeat_the_unit() {
    for map in every_map() {
        let text = outputs::human(&example_snapshot(&map), &map, &Options::default());
        for line in text.lines() {
            let Some((title, value)) = line.split_once(':') else {
                continue;
            };
            let (Some(last), Some(unit)) = (
                title.split_whitespace().last(),
                value.split_whitespace().last(),
            ) else {
                continue;
            };
            // Phase letters (`Current A: 12.41 A`) are not units.
            if last.len() > 1 && last.eq_ignore_ascii_case(unit) {
                panic!("{}: `{line}` shows its unit twice", map.id);
            }
        }
    }
    let hybrid = map("givenergy-hybrid");
    let text = outputs::human(&example_snapshot(&hybrid), &hybrid, &Options::default());
    for line in [
        "PV Energy Today:",
        "SOC Energy:",
        "Battery Capacity:",
        "Battery Energy Capacity:",
    ] {
        assert!(text.lines().any(|l| l.starts_with(line)), "{line}\n{text}");
    }
    assert!(text.contains(" 4.38 kWh\n"), "{text}");
    let pm = map("schneider-pm8000");
    let text = outputs::human(&example_snapshot(&pm), &pm, &Options::default());
    assert!(text.contains("Current A:"), "{text}");
}

#[test]
fn whole_offsets_keep_integers_integers() {
    use influxdb_line_protocol::FieldValue;
    let map = map("givenergy-hybrid");
    let snapshot = example_snapshot(&map);
    let json: serde_json::Value =
        serde_json::from_str(&outputs::json(&snapshot, &map, &Options::default()))
            .expect("valid JSON");
    // uint16 + offset 2000: GivTCP's 2026, not 2026.0.
    assert!(
        json["System_Time_Year"].is_i64(),
        "{}",
        json["System_Time_Year"]
    );
    assert_eq!(json["System_Time_Year"], 2026);
    // A fractional scale stays a float even when the value is whole.
    assert!(json["Inverter_Output_Voltage"].is_f64());
    let influx = outputs::influx(&snapshot, &map, &Options::default());
    let line = influxdb_line_protocol::parse_lines(&influx)
        .next()
        .expect("a line")
        .expect("valid line protocol");
    let year = line
        .field_set
        .iter()
        .find(|(k, _)| k.as_str() == "System_Time_Year")
        .map(|(_, v)| v.clone());
    assert_eq!(year, Some(FieldValue::I64(2026)));
}

#[test]
fn json_prints_enum_labels_when_the_map_asks() -> Result<(), Box<dyn std::error::Error>> {
    let text = |json_enums: &str| {
        format!(
            r#"
manufacturer: Demo
model: Inverter
connection: {{unit_ids: {{inverter: 1}}, address_base: 0}}
defaults: {{table: input}}
registers:
  - {{name: Mode, address: 0, type: uint16, enum: {{1: Eco, 2: Timed Demand}}, group: Control,
     example: Eco}}
  - {{name: Battery_Type, address: 1, type: uint16, enum: {{0: Lead Acid, 1: Lithium}},
     sentinels: [0xFFFF], group: Details, example: 1}}
  - {{name: Status, address: 2, type: uint16, enum: {{0: Waiting, 1: Normal}}, group: Details,
     example: 1}}
  - {{name: Slot_Start, address: 3, type: uint16, format: hhmm, example: "23:30"}}
  - {{name: Power, address: 4, type: int16, unit: W, example: -250}}
{json_enums}
"#
        )
    };
    let read = |map: &Arc<DeviceMap>, status: u16| {
        let mut device = MemoryDevice::with_examples(map);
        device.set(1, Table::Input, 1, &[0xFFFF]); // Battery_Type: not available
        device.set(1, Table::Input, 2, &[status]);
        read(map, &mut device, None)
    };

    let labels = Arc::new(device_maps::parse_map(
        "demo",
        &text("output: {json_enums: label}"),
    )?);
    let flat = outputs::json(&read(&labels, 7), &labels, &Options::default());
    let value: serde_json::Value = serde_json::from_str(&flat)?;
    assert_eq!(value["Mode"], "Eco");
    assert_eq!(
        value["Battery_Type"],
        serde_json::Value::Null,
        "missing stays null"
    );
    assert_eq!(value["Status"], 7, "a value without a label stays a number");
    assert_eq!(value["Slot_Start"], "23:30");
    assert_eq!(value["Power"], -250);
    let nested = Options {
        nested: true,
        ..Options::default()
    };
    let text_nested = outputs::json(&read(&labels, 1), &labels, &nested);
    let value: serde_json::Value = serde_json::from_str(&text_nested)?;
    assert_eq!(value["Control"]["Mode"], "Eco");
    assert_eq!(value["Details"]["Status"], "Normal");
    assert_eq!(value["Details"]["Battery_Type"], serde_json::Value::Null);

    // The default, and `value` said out loud, keep the numbers.
    for output in ["", "output: {json_enums: value}"] {
        let values = Arc::new(device_maps::parse_map("demo", &text(output))?);
        let flat = outputs::json(&read(&values, 1), &values, &Options::default());
        let value: serde_json::Value = serde_json::from_str(&flat)?;
        assert_eq!(value["Mode"], 1, "{output}");
        assert_eq!(value["Status"], 1, "{output}");
        assert_eq!(value["Slot_Start"], "23:30", "{output}");
    }
    Ok(())
}

#[test]
fn givenergy_json_prints_labels_as_givtcp_does() {
    for id in ["givenergy-hybrid", "givenergy-ac", "givenergy-aio"] {
        let map = map(id);
        let snapshot = example_snapshot(&map);
        let flat: serde_json::Value =
            serde_json::from_str(&outputs::json(&snapshot, &map, &Options::default()))
                .expect("valid JSON");
        let modes = [
            "Unknown",
            "Eco",
            "Timed Demand",
            "Timed Export",
            "Eco (Paused)",
        ];
        let mode = flat["Mode"].as_str().unwrap_or_default();
        assert!(modes.contains(&mode), "{id}: {mode}");
        assert_eq!(flat["Battery_Type"], "Lithium", "{id}");
        let nested = Options {
            nested: true,
            ..Options::default()
        };
        let nested: serde_json::Value =
            serde_json::from_str(&outputs::json(&snapshot, &map, &nested)).expect("valid JSON");
        assert_eq!(nested["Control"]["Mode"], flat["Mode"], "{id}");
    }
    let hybrid = map("givenergy-hybrid");
    let flat = outputs::json(&example_snapshot(&hybrid), &hybrid, &Options::default());
    assert!(flat.contains("\"Mode\": \"Eco\""), "{flat}");
    // The Alfen and Vestel tools print numbers, and so do their maps.
    for id in ["alfen-eve", "vestel-evc04"] {
        assert_eq!(
            map(id).output.json_enums,
            device_maps::JsonEnums::Value,
            "{id}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Missing values, awkward text, a second socket.

/// An Alfen whose phase-to-phase voltages read 0xFFFF (NaN), whose meter type reads the 0xFFFF
/// sentinel, and whose socket table cannot be read at all for the status block.
fn alfen_with_gaps() -> (Arc<DeviceMap>, Snapshot) {
    let map = map("alfen-eve");
    let mut device = MemoryDevice::with_examples(&map);
    for address in 312..318 {
        device.set(1, Table::Holding, address, &[0xFFFF]);
    }
    device.set(1, Table::Holding, 305, &[0xFFFF]);
    device.set(
        200,
        Table::Holding,
        100,
        &[
            u16::from_be_bytes(*b"a\""),
            u16::from_be_bytes(*b"\\,"),
            u16::from_be_bytes(*b"= "),
            u16::from_be_bytes(*b"z\n"),
        ],
    );
    let snapshot = read(&map, &mut device, None);
    (map, snapshot)
}

#[test]
fn missing_values_are_null_na_or_absent_never_numbers() {
    let (map, snapshot) = alfen_with_gaps();
    let options = Options::default();

    let json: serde_json::Value =
        serde_json::from_str(&outputs::json(&snapshot, &map, &options)).expect("valid JSON");
    assert_eq!(json["voltage_phase_L1L2"], serde_json::Value::Null);
    assert_eq!(json["meter_type"], serde_json::Value::Null);
    assert_eq!(
        json["voltage_phase_L1N"],
        serde_json::json!(f64::from(238.19_f32))
    );

    let human = outputs::human(&snapshot, &map, &options);
    let line = human
        .lines()
        .find(|l| l.starts_with("Voltage Phase L1L2:"))
        .expect("line");
    assert!(line.ends_with(" n/a"), "{line}");
    let line = human
        .lines()
        .find(|l| l.starts_with("Meter Type:"))
        .expect("line");
    assert!(line.ends_with(" n/a"), "{line}");

    let prom = outputs::prometheus(&snapshot, &map, &options);
    assert!(!prom.contains("phase=\"L1L2\""));
    assert!(!prom.contains("alfen_eve_meter_type{"));
    strict_prometheus(&prom);

    let influx = outputs::influx(&snapshot, &map, &options);
    assert!(!influx.contains("voltage_phase_L1L2="));
    assert!(!influx.contains("meter_type="));
}

#[test]
fn awkward_text_survives_every_format() {
    let (map, snapshot) = alfen_with_gaps();
    let name = snapshot
        .value("c_name")
        .and_then(|v| v.as_str())
        .expect("text")
        .to_owned();
    assert_eq!(name, "a\"\\,= z\n");
    let options = Options::default();

    // Prometheus: the label value round-trips through a strict parser.
    let prom = outputs::prometheus(&snapshot, &map, &options);
    let exposition = openmetrics_parser::prometheus::parse_prometheus(&prom).expect("valid");
    let info = &exposition.families["alfen_eve_c_name_info"];
    let names: Vec<String> = info
        .iter_samples()
        .filter_map(|s| {
            s.get_labelset()
                .ok()?
                .get_label_value("c_name")
                .map(str::to_owned)
        })
        .collect();
    assert_eq!(names, std::slice::from_ref(&name));

    // Influx: the string field round-trips through InfluxDB's parser.
    let influx = outputs::influx(&snapshot, &map, &options);
    let station = influxdb_line_protocol::parse_lines(&influx)
        .map(|l| l.expect("parses"))
        .find(|l| l.tag_value("unit").map(|t| t.as_str()) == Some("200"))
        .expect("a station line");
    match station.field_value("c_name") {
        Some(influxdb_line_protocol::FieldValue::String(s)) => {
            assert_eq!(s.as_str(), "a\"\\,= z\\n");
        }
        other => panic!("c_name is {other:?}"),
    }

    // JSON: serde_json reads back the same text.
    let json: serde_json::Value =
        serde_json::from_str(&outputs::json(&snapshot, &map, &options)).expect("valid JSON");
    assert_eq!(json["c_name"], name.as_str());
}

#[test]
fn the_second_socket_is_labelled_with_its_unit() {
    let map = map("alfen-eve");
    let mut device = MemoryDevice::with_examples(&map);
    // Copy socket 1 to unit 2, as a dual station has it.
    for address in 300..1216 {
        if let Some(word) = device.get(1, Table::Holding, address) {
            device.set(2, Table::Holding, address, &[word]);
        }
    }
    let snapshot = read(&map, &mut device, Some("2"));
    let prom = outputs::prometheus(&snapshot, &map, &Options::default());
    assert!(prom.contains("alfen_eve_real_power_sum_watts{device=\"alfen-eve\",serial=\"ACE0287582\",unit=\"2\"} 11374.8\n"), "{prom}");
    let influx = outputs::influx(&snapshot, &map, &Options::default());
    assert!(influx.lines().any(|l| l.contains(",unit=2 ")));
}

#[test]
fn human_output_reads_like_the_seed_tools() {
    let map = map("alfen-eve");
    let human = outputs::human(&example_snapshot(&map), &map, &Options::default());
    let value_of = |title: &str| -> String {
        let line = human
            .lines()
            .find(|l| l.starts_with(&format!("{title}:")))
            .unwrap_or_else(|| panic!("no {title} in\n{human}"));
        line[title.len() + 1..].trim().to_owned()
    };
    assert_eq!(value_of("Availability"), "Operable");
    assert_eq!(value_of("Meter State"), "Initialised & Updated");
    assert_eq!(value_of("Meter Type"), "RTU");
    assert_eq!(value_of("Voltage Phase L1N"), "238.19 V");
    assert_eq!(value_of("Temperature"), "35.9375 °C");
    assert_eq!(
        value_of("Modbus Slave Received Setpoint Accounted For"),
        "Yes"
    );
    // Values line up in one column.
    let columns: Vec<usize> = human
        .lines()
        .skip(1)
        .filter(|l| l.contains(": "))
        .filter_map(|l| {
            l.find(':')
                .map(|c| c + l[c + 1..].len() - l[c + 1..].trim_start().len())
        })
        .collect();
    assert!(columns.windows(2).all(|w| w[0] == w[1]), "{human}");
}

#[test]
fn readings_the_map_does_not_declare_still_render_validly() {
    // An Alfen snapshot rendered with the Vestel map: no reading is found in the map, so every
    // format works from what the readings themselves carry.
    let alfen = map("alfen-eve");
    let vestel = map("vestel-evc04");
    let snapshot = example_snapshot(&alfen);
    let options = Options::default();
    let prom = outputs::prometheus(&snapshot, &vestel, &options);
    assert!(strict_prometheus(&prom) > 80, "{prom}");
    assert!(prom.contains("vestel_evc04_real_energy_delivered_sum_joules_total{"));
    let influx = outputs::influx(&snapshot, &vestel, &options);
    assert_eq!(
        influxdb_line_protocol::parse_lines(&influx)
            .filter(Result::is_ok)
            .count(),
        2
    );
    let human = outputs::human(&snapshot, &vestel, &options);
    assert!(human.contains("Voltage Phase L1N:"), "{human}");
    let json: serde_json::Value =
        serde_json::from_str(&outputs::json(&snapshot, &vestel, &options)).expect("valid JSON");
    assert_eq!(json["c_name"], "ALF_1000");
}

#[test]
fn options_name_the_device_serial_and_measurement() {
    let map = map("schneider-pm8000");
    let snapshot = example_snapshot(&map);
    let options = Options {
        device: Some("main meter".into()),
        serial: Some("PM8-0042".into()),
        measurement: Some("energy".into()),
        nested: false,
    };
    let prom = outputs::prometheus(&snapshot, &map, &options);
    assert!(prom.contains("{device=\"main meter\",serial=\"PM8-0042\",unit=\"1\",phase=\"L1\"}"));
    let influx = outputs::influx(&snapshot, &map, &options);
    assert!(
        influx.starts_with("energy,device=main\\ meter,serial=PM8-0042,unit=1 "),
        "{influx}"
    );
    let human = outputs::human(&snapshot, &map, &options);
    assert!(human.starts_with("main meter: Schneider Electric PowerLogic PM8000, read "));
}

/// The Mode 3 state is text ("A", "C2") with labels: people see `NotConnected, A` as the Alfen
/// tool prints it, JSON keeps the device's code.
#[test]
fn alfen_mode_3_state_prints_label_and_code_as_the_seed_tool() {
    let map = map("alfen-eve");
    let register = map.register("mode_3_state").expect("declared");
    let mut device = MemoryDevice::with_examples(&map);
    for (code, label) in [
        ("A", "NotConnected"),
        ("B1", "Connected"),
        ("C2", "Charging"),
        ("D2", "Charging"),
        ("E", "NotConnected"),
        ("F", "Error"),
        ("X9", ""),
    ] {
        let mut words = vec![0u16; usize::from(register.count)];
        for (k, b) in code.bytes().enumerate() {
            words[k / 2] |= u16::from(b) << if k % 2 == 0 { 8 } else { 0 };
        }
        device.set(1, Table::Holding, register.wire_address, &words);
        let snapshot = read(&map, &mut device, None);
        let human = outputs::human(&snapshot, &map, &Options::default());
        let line = human
            .lines()
            .find(|l| l.starts_with("Mode 3 state:"))
            .expect("a Mode 3 line");
        let shown = line["Mode 3 state:".len()..].trim();
        if label.is_empty() {
            assert_eq!(shown, code, "an unlabelled code shows as itself");
        } else {
            assert_eq!(shown, format!("{label}, {code}"));
        }
        let json: serde_json::Value =
            serde_json::from_str(&outputs::json(&snapshot, &map, &Options::default()))
                .expect("valid JSON");
        assert_eq!(json["mode_3_state"], code);
    }
}

/// `--nested` JSON of a GivEnergy map is GivTCP's runAll tree, computed values included.
#[test]
fn givenergy_nested_json_is_givtcps_run_all_tree() {
    for id in ["givenergy-hybrid", "givenergy-ac", "givenergy-aio"] {
        let map = map(id);
        let snapshot = example_snapshot(&map);
        assert_eq!(snapshot.missing().count(), 0, "{id}");
        let nested = Options {
            nested: true,
            ..Options::default()
        };
        let text = outputs::json(&snapshot, &map, &nested);
        let value: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
        let top: Vec<&str> = value
            .as_object()
            .expect("an object")
            .keys()
            .map(String::as_str)
            .collect();
        for key in [
            "Energy",
            "Power",
            "Invertor_Details",
            "Timeslots",
            "Control",
            "Battery_Details",
        ] {
            assert!(top.contains(&key), "{id}: {key} in {top:?}");
        }
        for group in ["Today", "Total"] {
            assert!(value["Energy"][group].is_object(), "{id}: Energy/{group}");
        }
        for flow in [
            "Battery_to_House",
            "Battery_to_Grid",
            "Grid_to_House",
            "Grid_to_Battery",
        ] {
            assert!(value["Power"]["Flows"][flow].is_number(), "{id}: {flow}");
        }
        for power in [
            "Import_Power",
            "Export_Power",
            "Charge_Power",
            "Discharge_Power",
            "Self_Consumption_Power",
        ] {
            assert!(value["Power"]["Power"][power].is_number(), "{id}: {power}");
        }
        // GivTCP prints the mode's label (`output: {json_enums: label}` in the map).
        assert!(value["Control"]["Mode"].is_string(), "{id}: Mode");
    }
    // The hybrid capture: 443 W discharging, 2 W exported, 371 W load.
    let map = map("givenergy-hybrid");
    let snapshot = example_snapshot(&map);
    let text = outputs::json(
        &snapshot,
        &map,
        &Options {
            nested: true,
            ..Options::default()
        },
    );
    let value: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
    assert_eq!(value["Power"]["Power"]["Discharge_Power"], 443);
    assert_eq!(value["Power"]["Flows"]["Battery_to_House"], 441);
    assert_eq!(value["Power"]["Flows"]["Battery_to_Grid"], 2);
    assert_eq!(value["Power"]["Flows"]["Solar_to_House"], 0);
    assert_eq!(value["Energy"]["Today"]["PV_Energy_Today_kWh"], 24.5);
    assert_eq!(value["Energy"]["Total"]["Load_Energy_Total_kWh"], 29026.6);
    assert_eq!(value["Control"]["Mode"], "Eco");
    // Battery leaves use GivTCP's keys within each battery's group; flat output keeps names.
    assert_eq!(value["Battery_Details"]["Battery_1"]["Battery_SOC"], 45);
    assert_eq!(value["Battery_Details"]["Battery_2"]["Battery_SOC"], 77);
    assert_eq!(
        value["Battery_Details"]["Battery_1"]["Battery_Cell_16_Voltage"],
        3.267
    );
    let flat: serde_json::Value =
        serde_json::from_str(&outputs::json(&snapshot, &map, &Options::default()))
            .expect("valid JSON");
    assert_eq!(flat["Battery_2_SOC"], 77);
    let human = outputs::human(&snapshot, &map, &Options::default());
    assert!(
        human
            .lines()
            .any(|l| l.starts_with("Mode:") && l.ends_with(" Eco")),
        "{human}"
    );
    let flows = human.find("== Power / Flows ==").expect("a flows section");
    let details = human
        .find("== Invertor Details ==")
        .expect("a details section");
    assert!(
        flows < details,
        "Power / Flows follows Power / Power:\n{human}"
    );
    insta::assert_snapshot!("givenergy-hybrid.nested.json", text);
}

/// A register's `phase:` is the Prometheus phase label, in preference to the name's.
#[test]
fn declared_phases_win_over_names() {
    let map = Arc::new(
        device_maps::parse_map(
            "meter",
            r#"
manufacturer: Demo
model: Meter
connection: {unit_ids: {meter: 1}, address_base: 0}
defaults: {table: input}
registers:
  - {name: voltage_a, phase: L1N, address: 0, type: uint16, unit: V, example: 231}
  - {name: voltage_b, phase: l2n, address: 1, type: uint16, unit: V, example: 232}
  - {name: grid_current, phase: L3, address: 2, type: uint16, unit: A, example: 5}
  - {name: current_c, address: 3, type: uint16, unit: A, example: 6}
"#,
        )
        .expect("loads"),
    );
    let snapshot = example_snapshot(&map);
    let prom = outputs::prometheus(&snapshot, &map, &Options::default());
    assert!(
        prom.contains("meter_voltage_volts{device=\"meter\",unit=\"1\",phase=\"L1N\"} 231"),
        "{prom}"
    );
    assert!(
        prom.contains("meter_voltage_volts{device=\"meter\",unit=\"1\",phase=\"L2N\"} 232"),
        "{prom}"
    );
    assert!(
        prom.contains("meter_grid_current_amperes{device=\"meter\",unit=\"1\",phase=\"L3\"} 5"),
        "{prom}"
    );
    assert!(
        prom.contains("phase=\"C\"} 6"),
        "without phase: the name decides: {prom}"
    );
}
