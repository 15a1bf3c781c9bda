//! A site config with several mistakes reports them all, each with line and column.

use std::path::Path;

use service::{ConfigError, SiteConfig};

#[test]
fn every_mistake_of_a_site_config_is_reported_with_its_line() {
    let path = Path::new("tests/fixtures/site-with-mistakes.yaml");
    let text = std::fs::read_to_string(path).expect("fixture");
    let err = SiteConfig::parse(&text, path).expect_err("broken on purpose");
    let ConfigError::Several { mistakes, .. } = &err else {
        panic!("one error only: {err}");
    };
    let marked: Vec<usize> = text
        .lines()
        .enumerate()
        .filter(|(_, l)| l.contains("  # ") && !l.starts_with('#'))
        .map(|(i, _)| i + 1)
        .collect();
    let lines: Vec<usize> = mistakes.iter().map(|m| m.line).collect();
    assert_eq!(lines, marked, "{err}");
    insta::assert_snapshot!(err.to_string());
}

#[test]
fn a_single_mistake_keeps_the_readers_own_error() {
    let text = "devices:\n  garage: {map: alfen-eve, hots: x}\n";
    let err = SiteConfig::parse(text, Path::new("site.yaml")).expect_err("broken");
    assert!(matches!(err, ConfigError::Parse { .. }), "{err}");
}
