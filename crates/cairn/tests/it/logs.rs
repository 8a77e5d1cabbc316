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

#[test]
fn json_logs_are_one_json_object_a_line() {
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_cairn"))
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .args([
            "workspace",
            "create",
            "--name",
            "machines",
            "--log-format",
            "json",
        ])
        .env("RUST_LOG", "info")
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let stderr = String::from_utf8(output.stderr).unwrap();
    // The command's own message to the operator is plain text; every log line is JSON.
    let logs: Vec<serde_json::Value> = stderr
        .lines()
        .filter(|line| line.starts_with('{'))
        .map(|line| serde_json::from_str(line).unwrap_or_else(|error| panic!("{error}: {line}")))
        .collect();
    assert!(!logs.is_empty(), "the command logs: {stderr}");
    for line in &logs {
        assert_eq!(line["level"], "INFO", "{line}");
        assert!(line["timestamp"].is_string(), "{line}");
        assert!(line["fields"]["message"].is_string(), "{line}");
    }
    let other: Vec<&str> = stderr
        .lines()
        .filter(|line| !line.starts_with('{'))
        .collect();
    assert_eq!(other, ["created workspace machines (id 1)"], "{stderr}");

    // CAIRN_LOG_FORMAT does the same; an unknown format is refused with the choices.
    let output = Command::new(env!("CARGO_BIN_EXE_cairn"))
        .arg("--data-dir")
        .arg(dir.path().join("data2"))
        .args(["workspace", "create", "--name", "machines"])
        .env("RUST_LOG", "info")
        .env("CAIRN_LOG_FORMAT", "json")
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.starts_with('{'), "{stderr}");
    let output = Command::new(env!("CARGO_BIN_EXE_cairn"))
        .args(["--log-format", "xml", "purge"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let error = String::from_utf8(output.stderr).unwrap();
    assert!(error.contains("text") && error.contains("json"), "{error}");
}

#[test]
fn help_describes_every_option() {
    let help = |args: &[&str]| {
        let output = Command::new(env!("CARGO_BIN_EXE_cairn"))
            .args(args)
            .arg("--help")
            .output()
            .unwrap();
        assert!(output.status.success(), "{output:?}");
        String::from_utf8(output.stdout).unwrap()
    };
    let user_add = help(&["user", "add"]);
    assert!(
        user_add.contains("admin") && user_add.contains("editor") && user_add.contains("viewer"),
        "{user_add}"
    );
    for args in [
        &["serve"][..],
        &["user", "add"],
        &["token", "create"],
        &["team", "add"],
        &["workspace", "create"],
        &["audit", "verify"],
        &["integration", "sync"],
        &["bench", "assistant"],
    ] {
        let text = help(args);
        // An option's description follows its name on the same line, or (when the texts are
        // long) on the next lines, indented deeper.
        let lines: Vec<&str> = text.lines().collect();
        let indent = |line: &str| line.len() - line.trim_start().len();
        for (index, line) in lines.iter().enumerate() {
            // `--name` or `-h, --help`; not a listed value (`- text: …`).
            let trimmed = line.trim_start();
            let option = trimmed.starts_with("--")
                || (trimmed.starts_with('-')
                    && trimmed.chars().nth(1).is_some_and(char::is_alphabetic));
            if !option {
                continue;
            }
            let same_line = line
                .trim_start()
                .split_once("  ")
                .is_some_and(|(_, help)| !help.trim().is_empty());
            let next_lines = lines.get(index + 1).is_some_and(|next| {
                !next.trim().is_empty()
                    && indent(next) > indent(line)
                    && !next.trim_start().starts_with('-')
            });
            assert!(
                same_line || next_lines,
                "cairn {} --help: {line:?}\n{text}",
                args.join(" ")
            );
        }
    }
}
