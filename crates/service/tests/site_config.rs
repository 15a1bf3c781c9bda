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

#[test]
fn influx_urls_are_http_or_https_and_tls_goes_with_https() {
    let site = |influx: &str| {
        let text = format!("devices: {{}}\ninflux: {influx}\n");
        SiteConfig::parse(&text, Path::new("site.yaml"))
    };
    site("{url: 'https://influx.lan:8086', org: o, bucket: b, tls: {ca_file: /etc/ca.pem}}")
        .expect("https with a CA file");
    site("{url: 'https://influx.lan:8086', org: o, bucket: b}").expect("https, system roots");
    let ftp = site("{url: 'ftp://influx.lan', org: o, bucket: b}").expect_err("refused");
    assert!(ftp.to_string().contains("http:// or https://"), "{ftp}");
    let plain = site("{url: 'http://influx.lan:8086', org: o, bucket: b, tls: {ca_file: /ca.pem}}")
        .expect_err("refused");
    assert!(plain.to_string().contains("write https://"), "{plain}");
    let typo = site("{url: 'https://influx.lan', org: o, bucket: b, tls: {ca: /ca.pem}}")
        .expect_err("refused");
    let typo = service::error_chain(&typo);
    assert!(
        typo.contains("ca_file") && typo.contains("line 2 column 62"),
        "{typo}"
    );
}
