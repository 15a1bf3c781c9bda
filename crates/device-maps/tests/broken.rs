//! A broken map per file in `tests/broken/`, one mistake each: the error a newcomer sees,
//! with the line it points at, is snapshotted.

use std::error::Error as _;

use device_maps::load_file;

#[test]
fn broken_maps_explain_themselves() {
    insta::glob!("broken/*.yaml", |path| {
        let root = env!("CARGO_MANIFEST_DIR");
        let relative = path.strip_prefix(root).unwrap_or(path);
        let err = match load_file(relative) {
            Ok(_) => panic!("{} loaded, but it is broken on purpose", relative.display()),
            Err(e) => e,
        };
        let mut out = format!("error: {err}\n");
        let mut source = err.source();
        while let Some(cause) = source {
            out.push_str(&format!("  caused by: {cause}\n"));
            source = cause.source();
        }
        // Show the line the error points at, with a caret under the column.
        let (line, column) = err
            .location()
            .expect("a broken map error points into the file");
        let text = std::fs::read_to_string(path).expect("fixture is readable");
        let shown = text.lines().nth(line - 1).expect("the line exists");
        out.push_str(&format!(
            "\n{line:>3} | {shown}\n    | {}^\n",
            " ".repeat(column - 1)
        ));
        insta::assert_snapshot!(out);
    });
}

/// An unknown key is said once: our message names the key, a suggestion and the allowed keys,
/// so serde's own "unknown field ..., expected one of ..." is not printed again as a cause.
#[test]
fn an_unknown_key_is_said_once() {
    let path = std::path::Path::new("tests/broken/unknown-key.yaml");
    let err = load_file(path).expect_err("broken on purpose");
    let text = err.to_string();
    assert!(
        text.contains("unknown key `scael`; did you mean `scale`?"),
        "{text}"
    );
    assert!(
        err.source().is_none(),
        "{:?}",
        err.source().map(ToString::to_string)
    );
    assert!(!text.contains("unknown field"), "{text}");
}
