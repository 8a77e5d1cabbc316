//! The README's run command, the way a new user runs it: the real `cairn` binary started with
//! `serve --demo` in a fresh, empty working directory, with no `--data-dir` and with a relative
//! one. It must come up, answer `/healthz`, write `./…/demo-credentials.txt` and let the demo
//! admin sign in with what that file says.

use std::path::Path;
use std::process::{Command, Stdio};

use crate::common::{self, Server};

/// Starts `cairn serve --demo --listen 127.0.0.1:0 EXTRA…` in `directory` and waits for the line
/// that names the address it listens on.
fn start(directory: &Path, extra: &[&str]) -> Server {
    common::serve(Some(directory), &[&["--demo"], extra].concat())
}

async fn check_sign_in(server: &Server, credentials: &Path) {
    cairn_assistant::provider::install_tls_provider();
    let client = reqwest::Client::new();
    let health = client
        .get(format!("{}/healthz", server.base))
        .send()
        .await
        .expect("healthz answers");
    assert_eq!(health.status(), 200);

    let text = std::fs::read_to_string(credentials)
        .unwrap_or_else(|error| panic!("{} is readable: {error}", credentials.display()));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(credentials).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "the credentials file is private");
    }
    let admin = text
        .lines()
        .find(|line| line.split_whitespace().nth(2) == Some("admin"))
        .expect("the credentials name an admin");
    let mut fields = admin.split_whitespace();
    let (email, password) = (fields.next().unwrap(), fields.next().unwrap());
    let answer = client
        .post(format!("{}/api/v1/session", server.base))
        .json(&serde_json::json!({"email": email, "password": password}))
        .send()
        .await
        .expect("sign-in answers");
    assert_eq!(answer.status(), 200, "the demo admin signs in");
    let body: serde_json::Value = answer.json().await.unwrap();
    assert!(body["csrf_token"].is_string(), "{body}");
}

#[tokio::test]
async fn serve_demo_runs_in_a_fresh_directory_without_a_data_dir() {
    let directory = tempfile::tempdir().unwrap();
    let server = start(directory.path(), &[]);
    check_sign_in(
        &server,
        &directory.path().join("cairn-data/demo-credentials.txt"),
    )
    .await;
}

#[tokio::test]
async fn serve_demo_runs_with_a_relative_data_dir() {
    let directory = tempfile::tempdir().unwrap();
    let server = start(directory.path(), &["--data-dir", "./d"]);
    check_sign_in(&server, &directory.path().join("d/demo-credentials.txt")).await;
    drop(server);
    // A second start on the same relative directory finds the demo and keeps its details.
    let again = start(directory.path(), &["--data-dir", "d"]);
    check_sign_in(&again, &directory.path().join("d/demo-credentials.txt")).await;
}

/// Runs `cairn ARGS… --data-dir DATA` in `directory`, feeding `input` on stdin; returns stdout.
fn operator(directory: &Path, data: &str, args: &[&str], input: Option<&str>) -> String {
    operator_output(directory, data, args, input).0
}

/// An operator command's stdout and stderr; it must succeed.
fn operator_output(
    directory: &Path,
    data: &str,
    args: &[&str],
    input: Option<&str>,
) -> (String, String) {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_cairn"))
        .current_dir(directory)
        .env_remove("CAIRN_DATA_DIR")
        .env_remove("CAIRN_DATABASE_URL")
        .env("RUST_LOG", "warn")
        .args(args)
        .args(["--data-dir", data])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the cairn binary starts");
    if let Some(input) = input {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
    } else {
        drop(child.stdin.take());
    }
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "cairn {args:?} failed beside a running server: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    (
        String::from_utf8(output.stdout).unwrap(),
        String::from_utf8(output.stderr).unwrap(),
    )
}

/// `GET URL` with a bearer token: the JSON answer.
async fn get_json(client: &reqwest::Client, url: &str, token: &str) -> serde_json::Value {
    client
        .get(url)
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// The README offers `cairn token create` to scripts while the server runs: every operator
/// command works beside a live server on the same data directory, and its effect shows through
/// the server's API.
#[tokio::test]
async fn operator_commands_work_beside_a_running_server() {
    cairn_assistant::provider::install_tls_provider();
    let directory = tempfile::tempdir().unwrap();
    let server = start(directory.path(), &["--data-dir", "d"]);
    let client = reqwest::Client::new();
    let api = |path: &str| format!("{}{path}", server.base);

    let token = operator(directory.path(), "d", &common::ADMIN_TOKEN_CREATE, None);
    let token = token.trim();
    assert!(!token.is_empty());
    let me = client
        .get(api("/api/v1/me"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200, "the CLI's token works on the server");

    operator(
        directory.path(),
        "d",
        &["team", "add", "--workspace", "acme", "--name", "platform"],
        None,
    );
    let teams = get_json(&client, &api("/api/v1/teams"), token).await;
    assert!(teams.to_string().contains("\"platform\""), "{teams}");

    operator(
        directory.path(),
        "d",
        &[
            "user",
            "add",
            "--workspace",
            "acme",
            "--email",
            "ops@acme.example",
            "--role",
            "viewer",
            "--team",
            "platform",
            "--password-stdin",
        ],
        Some("a long enough password for ops\n"),
    );
    let signed_in = client
        .post(api("/api/v1/session"))
        .json(&serde_json::json!({"email": "ops@acme.example", "password": "a long enough password for ops"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        signed_in.status(),
        200,
        "the CLI's member signs in on the server"
    );

    let verified = operator(
        directory.path(),
        "d",
        &["audit", "verify", "--workspace", "acme"],
        None,
    );
    assert!(verified.contains("intact"), "{verified}");
    let purged = operator(directory.path(), "d", &["purge"], None);
    assert!(purged.contains("purged"), "{purged}");

    // An integration syncs from the command line, reporting its phases; the server sees it.
    let last_sync = || async {
        let listed = get_json(&client, &api("/api/v1/integrations"), token).await;
        listed[0]["last_sync_at"].as_i64().unwrap_or(0)
    };
    let before = last_sync().await;
    let (synced, progress) = operator_output(
        directory.path(),
        "d",
        &[
            "integration",
            "sync",
            "--workspace",
            "acme",
            "--name",
            "warehouse",
            "--progress",
        ],
        None,
    );
    assert!(
        synced.contains("synced warehouse: 0 added, 0 changed, 0 removed"),
        "{synced}"
    );
    let phases: Vec<&str> = progress
        .lines()
        .filter_map(|line| line.split_whitespace().nth(2))
        .collect();
    assert_eq!(phases.last(), Some(&"done"), "{progress}");
    assert!(last_sync().await > before, "the server sees the new sync");

    // The server still searches: its index was never taken from it.
    let found = client
        .get(api("/api/v1/resources?q=orders"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(found.status(), 200);
}
