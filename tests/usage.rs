//! Usage and configuration errors exit 2 with a message that says what to do; help, version,
//! completions and the man page work without any device.

use crate::util::TestEnv;

#[test]
fn no_arguments_is_a_usage_error() {
    let env = TestEnv::new();
    let output = env.evctl().output().expect("run evctl");
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn unknown_flag_exits_2() {
    let env = TestEnv::new();
    crate::assert_evctl_snapshot!(&mut env.evctl().args(["read", "alfen-eve", "--colour"]));
}

#[test]
fn bad_duration_exits_2() {
    let env = TestEnv::new();
    crate::assert_evctl_snapshot!(&mut env.evctl().args([
        "poll",
        "alfen-eve",
        "--interval",
        "5 fortnights"
    ]));
}

#[test]
fn version_exits_0() {
    let env = TestEnv::new();
    crate::assert_evctl_snapshot!(&mut env.evctl().arg("--version"));
}

#[test]
fn completions_for_every_shell() {
    let env = TestEnv::new();
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let output = env
            .evctl()
            .args(["completions", shell])
            .output()
            .expect("run evctl");
        assert!(output.status.success(), "{shell}");
        let script = String::from_utf8_lossy(&output.stdout);
        assert!(
            script.contains("simulate"),
            "{shell} completion names the commands"
        );
    }
}

#[test]
fn man_page_is_roff() {
    let env = TestEnv::new();
    let output = env.evctl().arg("man").output().expect("run evctl");
    assert!(output.status.success());
    let page = String::from_utf8_lossy(&output.stdout);
    assert!(
        page.starts_with(".ie") || page.contains(".TH evctl"),
        "{page}"
    );
    let dir = env.path().join("man");
    let output = env
        .evctl()
        .args(["man", "--dir"])
        .arg(&dir)
        .output()
        .expect("run evctl");
    assert!(output.status.success());
    assert!(dir.join("evctl-read.1").is_file());
}

#[test]
fn missing_explicit_config_exits_2() {
    let env = TestEnv::new();
    crate::assert_evctl_snapshot!(&mut env.evctl().args(["--config", "nowhere.yaml", "list"]));
}

#[test]
fn config_typo_names_line_and_column() {
    let env = TestEnv::new();
    env.write(
        "site.yaml",
        "devices:\n  garage:\n    map: alfen-eve\n    hots: 127.0.0.1\n",
    );
    crate::assert_evctl_snapshot!(&mut env.evctl().args([
        "--config",
        "site.yaml",
        "read",
        "garage"
    ]));
}
