//! A map with many mistakes reports every one of them at once, like a compiler, each with its
//! file, line and column, in file order.

use device_maps::{MapError, load_file};

#[test]
fn ten_mistakes_are_ten_errors_each_with_its_line() {
    let path = std::path::Path::new("tests/fixtures/ten-mistakes.yaml");
    let err = load_file(path).expect_err("the fixture is broken on purpose");
    let text = std::fs::read_to_string(path).expect("fixture");
    // The lines the fixture marks with `# N`.
    let marked: Vec<usize> = text
        .lines()
        .enumerate()
        .filter(|(_, l)| {
            l.rsplit_once("# ").is_some_and(|(_, tail)| {
                tail.split(' ')
                    .next()
                    .is_some_and(|n| n.parse::<u32>().is_ok())
            })
        })
        .map(|(i, _)| i + 1)
        .collect();
    assert_eq!(marked.len(), 10);
    let mistakes = err.mistakes();
    let lines: Vec<usize> = mistakes
        .iter()
        .map(|m| m.location().expect("a location").0)
        .collect();
    assert_eq!(lines, marked, "{err}");
    for m in &mistakes {
        assert!(matches!(m, MapError::Invalid { .. }), "{m}");
        assert!(
            m.to_string()
                .starts_with("tests/fixtures/ten-mistakes.yaml:"),
            "{m}"
        );
    }
    insta::assert_snapshot!(err.to_string());
}

#[test]
fn one_mistake_is_reported_as_itself() {
    let text = "manufacturer: Demo\nmodel: Meter\nconnection: {unit_ids: {meter: 1}, address_base: 0}\nregisters:\n  - {name: v, address: 0, table: input, type: uint17, example: 1}\n";
    let err = device_maps::parse_map("demo", text).expect_err("broken");
    assert!(matches!(err, MapError::Invalid { .. }), "{err}");
    assert_eq!(err.mistakes().len(), 1);
}

#[test]
fn the_report_is_capped() {
    let mut text = String::from(
        "manufacturer: Demo\nmodel: Meter\nconnection: {unit_ids: {meter: 1}, address_base: 0}\nregisters:\n",
    );
    for i in 0..30 {
        text.push_str(&format!(
            "  - {{name: r{i}, address: {i}, table: input, type: uint17, example: 1}}\n"
        ));
    }
    let err = device_maps::parse_map("demo", &text).expect_err("broken");
    let MapError::Several {
        errors, omitted, ..
    } = &err
    else {
        panic!("{err}");
    };
    assert_eq!(errors.len(), 20);
    assert_eq!(*omitted, 10);
    assert!(
        err.to_string()
            .starts_with("demo: 30 mistakes (10 more not shown):"),
        "{err}"
    );
}

/// Found by the map_loader fuzzer (a quote opened before a flow mapping swallows 200 lines
/// into one key): the error points at the quote, quotes only the start of the key, still lists
/// the allowed keys, and the typo search skips a key that long instead of comparing it with
/// every allowed key (the fuzzer's timeout; the test below keeps the message, the unit test
/// of `suggest` the shortcut).
#[test]
fn a_run_on_quote_gives_a_short_error_at_the_quote() {
    let path = std::path::Path::new("tests/fixtures/run-on-quote.yaml");
    let err = load_file(path).expect_err("broken by the fuzzer");
    let MapError::Syntax {
        line,
        column,
        summary,
        ..
    } = &err
    else {
        panic!("not a syntax error: {err}");
    };
    assert_eq!((*line, *column), (169, 5), "{err}");
    assert!(
        summary.len() < 600,
        "{} characters: {summary}",
        summary.len()
    );
    assert!(
        summary.contains("characters; check that every quote and bracket"),
        "{summary}"
    );
    assert!(
        summary.ends_with("(allowed: name, title, address, table, unit_id, type, count, order, scale, offset, unit, enum, flags, sentinels, valid, format, kind, access, write, group, key, phase, role, description, example)"),
        "{summary}"
    );
}
