//! Logs written to a file or a pipe carry no terminal colour codes.

use std::process::Command;

#[test]
fn logs_to_a_pipe_are_plain_text() {
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_cairn"))
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .args(["workspace", "create", "--name", "plain"])
        .env("RUST_LOG", "info")
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let log = String::from_utf8(output.stderr).unwrap();
    assert!(log.contains("INFO"), "the command logs: {log}");
    assert!(!log.contains('\u{1b}'), "no escape codes: {log:?}");
}
