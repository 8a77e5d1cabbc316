//! `cairn backup` and `cairn restore` with the real binary: a snapshot taken while `cairn serve`
//! writes, restored into a fresh data directory and served again, keeps every change, person,
//! token, the audit chain, search and sealed integration credentials; a bad file is refused with
//! a clear message and the store it would have replaced is untouched.

use std::path::Path;
use std::process::{Command, Output, Stdio};

use serde_json::{Value, json};

use crate::common::{self, Server};

/// `cairn serve --listen 127.0.0.1:0 ARGS…`, once it listens.
fn start(args: &[&str]) -> Server {
    common::serve(None, args)
}

/// Runs `cairn ARGS…` to the end.
fn cairn(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cairn"))
        .env_remove("CAIRN_DATA_DIR")
        .env_remove("CAIRN_DATABASE_URL")
        .env_remove("CAIRN_SECRET_KEY")
        .env("RUST_LOG", "warn")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("the cairn binary runs")
}

/// Runs `cairn ARGS…`, which must succeed; its stdout and stderr.
fn succeeds(args: &[&str]) -> (String, String) {
    let output = cairn(args);
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(output.status.success(), "cairn {args:?} failed: {stderr}");
    (String::from_utf8_lossy(&output.stdout).into_owned(), stderr)
}

/// Runs `cairn ARGS…`, which must fail; its stderr.
fn fails(args: &[&str]) -> String {
    let output = cairn(args);
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(
        !output.status.success(),
        "cairn {args:?} succeeded: {stderr}"
    );
    stderr
}

fn text(path: &Path) -> &str {
    path.to_str().expect("a UTF-8 path")
}

struct Api {
    client: reqwest::Client,
    base: String,
    token: String,
}

impl Api {
    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut request = self
            .client
            .request(method, format!("{}/api/v1{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let answer = request.send().await.expect("the server answers");
        let status = answer.status().as_u16();
        let body = answer.json().await.unwrap_or(Value::Null);
        (status, body)
    }

    async fn get(&self, path: &str) -> Value {
        let (status, body) = self.call(reqwest::Method::GET, path, None).await;
        assert_eq!(status, 200, "GET {path}: {body}");
        body
    }

    async fn post(&self, path: &str, body: Value) -> Value {
        let (status, answer) = self.call(reqwest::Method::POST, path, Some(body)).await;
        assert!(
            (200..300).contains(&status),
            "POST {path}: {status} {answer}"
        );
        answer
    }

    /// Names of what a search finds.
    async fn search(&self, words: &str) -> Vec<String> {
        let found = self.get(&format!("/resources?q={words}&limit=200")).await;
        found["items"]
            .as_array()
            .expect("a list")
            .iter()
            .map(|item| item["name"].as_str().unwrap_or_default().to_string())
            .collect()
    }
}

async fn signs_in(base: &str, email: &str, password: &str) -> bool {
    reqwest::Client::new()
        .post(format!("{base}/api/v1/session"))
        .json(&json!({"email": email, "password": password}))
        .send()
        .await
        .expect("sign-in answers")
        .status()
        == 200
}

#[tokio::test]
async fn a_backup_taken_while_serving_restores_into_a_fresh_directory() {
    cairn_assistant::provider::install_tls_provider();
    let root = tempfile::tempdir().unwrap();
    let (first, restored, warehouses) = (
        root.path().join("first"),
        root.path().join("restored"),
        root.path().join("warehouses"),
    );
    let backup = root.path().join("cairn-backup.db");
    // A database the operator lets integrations reach: its connection URL is sealed at rest.
    std::fs::create_dir_all(&warehouses).unwrap();
    let ledger = warehouses.join("ledger.db");
    {
        use sqlx::ConnectOptions;
        let mut connection = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(&ledger)
            .create_if_missing(true)
            .connect()
            .await
            .unwrap();
        sqlx::query("CREATE TABLE wombat_payouts (id INTEGER PRIMARY KEY, amount REAL)")
            .execute(&mut connection)
            .await
            .unwrap();
    }

    let server = start(&[
        "--demo",
        "--data-dir",
        text(&first),
        "--integration-allow",
        text(&warehouses),
    ]);
    let (token, _) = succeeds(
        &[
            &common::ADMIN_TOKEN_CREATE[..],
            &["--data-dir", text(&first)],
        ]
        .concat(),
    );
    let mut api = Api {
        client: reqwest::Client::new(),
        base: server.base.clone(),
        token: token.trim().to_string(),
    };
    let teams = api.get("/teams").await;
    let team = teams[0]["name"]
        .as_str()
        .expect("the demo has teams")
        .to_string();
    api.post(
        "/users",
        json!({"email": "rosa@acme.example", "role": "viewer", "teams": [team],
               "password": "a long enough password 42"}),
    )
    .await;
    let minted = api.post("/tokens", json!({"name": "nightly"})).await;
    let second_token = minted["token"].as_str().expect("a new token").to_string();
    api.post(
        "/resources",
        json!({"kind": "term", "name": "Quokkaquota", "teams": [team],
               "description": "the share of the budget each marsupial team may spend"}),
    )
    .await;
    let orders = api.get("/resources?q=orders&limit=1").await;
    let orders_id = orders["items"][0]["id"]
        .as_i64()
        .expect("the demo has orders");
    let (status, patched) = api
        .call(
            reqwest::Method::PATCH,
            &format!("/resources/{orders_id}"),
            Some(json!({"description": "numbatcertified orders of the shop"})),
        )
        .await;
    assert_eq!(status, 200, "{patched}");
    let integration = api
        .post(
            "/integrations",
            json!({"name": "ledger", "kind": "sqlite", "teams": [team],
                   "connection": format!("sqlite://{}", ledger.display())}),
        )
        .await;
    let integration_id = integration["id"].as_i64().expect("an integration id");
    api.post(&format!("/integrations/{integration_id}/sync"), json!({}))
        .await;
    assert!(
        api.search("wombat")
            .await
            .contains(&"wombat_payouts".to_string())
    );

    // The snapshot, taken while the server runs and people keep writing.
    let backing_up = tokio::task::spawn_blocking({
        let (backup, first) = (backup.clone(), first.clone());
        move || succeeds(&["backup", "--to", text(&backup), "--data-dir", text(&first)])
    });
    let mut written = 0;
    while (!backing_up.is_finished() && written < 150) || written < 3 {
        api.post(
            "/resources",
            json!({"kind": "term", "name": format!("Burst {written}"), "teams": [team]}),
        )
        .await;
        written += 1;
    }
    let (_, said) = backing_up.await.unwrap();
    api.post(
        "/resources",
        json!({"kind": "term", "name": format!("Burst {written}"), "teams": [team]}),
    )
    .await;
    written += 1;
    assert!(
        said.contains("secret key"),
        "says the key is not in it: {said}"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&backup).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "the backup is private");
    }
    // A second backup to the same file is refused, the first kept.
    let refused = fails(&["backup", "--to", text(&backup), "--data-dir", text(&first)]);
    assert!(refused.contains("exists"), "{refused}");
    // What happens after the snapshot is not in it.
    api.post(
        "/resources",
        json!({"kind": "term", "name": "Zebrafinch", "teams": [team],
               "description": "written after the backup"}),
    )
    .await;
    succeeds(&[
        "audit",
        "verify",
        "--workspace",
        "acme",
        "--data-dir",
        text(&first),
    ]);
    let credentials = std::fs::read_to_string(first.join("demo-credentials.txt")).unwrap();
    drop(server);

    // Restored into a fresh directory without the key: it says the key is missing.
    let (_, said) = succeeds(&[
        "restore",
        "--from",
        text(&backup),
        "--data-dir",
        text(&restored),
    ]);
    assert!(said.contains("no secret key"), "{said}");
    // Served so, the server refuses to start; with the key beside the store it serves.
    let output = cairn(&[
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--data-dir",
        text(&restored),
    ]);
    assert!(!output.status.success());
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("secret key"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    std::fs::copy(first.join("secret.key"), restored.join("secret.key")).unwrap();
    let server = start(&[
        "--data-dir",
        text(&restored),
        "--integration-allow",
        text(&warehouses),
    ]);
    api.base = server.base.clone();

    // Tokens, people and passwords hold.
    let me = api.get("/me").await;
    assert_eq!(me["user"]["email"], "admin@acme.example", "{me}");
    let with_second = Api {
        client: reqwest::Client::new(),
        base: server.base.clone(),
        token: second_token,
    };
    with_second.get("/me").await;
    let users = api.get("/users").await;
    assert!(users.to_string().contains("rosa@acme.example"), "{users}");
    assert!(
        signs_in(
            &server.base,
            "rosa@acme.example",
            "a long enough password 42"
        )
        .await
    );
    for line in credentials.lines() {
        let mut fields = line.split_whitespace();
        let (email, password) = (fields.next().unwrap(), fields.next().unwrap());
        assert!(
            signs_in(&server.base, email, password).await,
            "{email} signs in"
        );
    }
    // The index, rebuilt from the store, finds the changes, and nothing after the snapshot.
    assert_eq!(
        api.search("quokkaquota").await,
        vec!["Quokkaquota".to_string()]
    );
    let described = api.get(&format!("/resources/{orders_id}")).await;
    assert_eq!(
        described["description"],
        "numbatcertified orders of the shop"
    );
    assert!(
        api.search("numbatcertified")
            .await
            .contains(&described["name"].as_str().unwrap().to_string())
    );
    assert!(
        api.search("wombat")
            .await
            .contains(&"wombat_payouts".to_string())
    );
    assert!(api.search("zebrafinch").await.is_empty());
    // Of the terms written during the backup, a first stretch is in it, with no gap, and not
    // the last (written after it finished).
    let mut bursts: Vec<usize> = api
        .search("burst")
        .await
        .iter()
        .filter_map(|name| name.strip_prefix("Burst ")?.parse().ok())
        .collect();
    bursts.sort_unstable();
    eprintln!(
        "{} of {written} terms written during the backup are in it",
        bursts.len()
    );
    assert!(bursts.len() < written, "{bursts:?} of {written}");
    assert_eq!(bursts, (0..bursts.len()).collect::<Vec<_>>(), "{bursts:?}");
    // The sealed connection URL opens with the key: the connection test reaches the ledger.
    let tested = api
        .post(&format!("/integrations/{integration_id}/test"), json!({}))
        .await;
    assert_eq!(tested["ok"], true, "{tested}");
    assert_eq!(tested["tables"], 1, "{tested}");
    // The audit chain verifies, through the API and the CLI.
    let verified = api.get("/audit/verify").await;
    assert_eq!(verified["ok"], true, "{verified}");
    succeeds(&[
        "audit",
        "verify",
        "--workspace",
        "acme",
        "--data-dir",
        text(&restored),
    ]);

    // Never under a running server; over an existing store only with --force.
    let refused = fails(&[
        "restore",
        "--from",
        text(&backup),
        "--data-dir",
        text(&restored),
        "--force",
    ]);
    assert!(refused.contains("running cairn serve"), "{refused}");
    drop(server);
    let refused = fails(&[
        "restore",
        "--from",
        text(&backup),
        "--data-dir",
        text(&restored),
    ]);
    assert!(refused.contains("already has a store"), "{refused}");
    let (_, said) = succeeds(&[
        "restore",
        "--from",
        text(&backup),
        "--data-dir",
        text(&restored),
        "--force",
    ]);
    assert!(said.contains("kept as"), "{said}");
    assert!(said.contains("is present"), "the key is found: {said}");
    succeeds(&[
        "audit",
        "verify",
        "--workspace",
        "acme",
        "--data-dir",
        text(&restored),
    ]);
}

/// A store with one workspace, made with the CLI.
fn store_with_workspace(data: &Path) {
    succeeds(&[
        "workspace",
        "create",
        "--name",
        "keep",
        "--data-dir",
        text(data),
    ]);
}

/// The store still holds the workspace: a team can be added to it.
fn store_still_holds_workspace(data: &Path, team: &str) {
    succeeds(&[
        "team",
        "add",
        "--workspace",
        "keep",
        "--name",
        team,
        "--data-dir",
        text(data),
    ]);
    let leftovers: Vec<String> = std::fs::read_dir(data)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.contains("restoring") || name.contains("before-restore"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

/// Runs `sql` on the SQLite file at `path`, made when missing.
async fn execute_sqlite(path: &Path, sql: &'static str) {
    use sqlx::ConnectOptions;
    let mut connection = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true)
        .connect()
        .await
        .unwrap();
    sqlx::query(sql).execute(&mut connection).await.unwrap();
}

#[tokio::test]
async fn bad_backups_are_refused_clearly_and_lose_nothing() {
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    store_with_workspace(&data);
    let restore = |file: &Path| {
        fails(&[
            "restore",
            "--from",
            text(file),
            "--data-dir",
            text(&data),
            "--force",
        ])
    };

    let missing = root.path().join("missing.db");
    let said = restore(&missing);
    assert!(
        said.contains("missing.db") && said.contains("No such file"),
        "{said}"
    );
    store_still_holds_workspace(&data, "one");

    let notes = root.path().join("notes.txt");
    std::fs::write(
        &notes,
        "these are not the rows you are looking for\n".repeat(100),
    )
    .unwrap();
    let said = restore(&notes);
    assert!(
        said.contains("notes.txt is not a SQLite database"),
        "{said}"
    );
    store_still_holds_workspace(&data, "two");

    let empty = root.path().join("empty.db");
    std::fs::write(&empty, "").unwrap();
    let said = restore(&empty);
    assert!(said.contains("not a SQLite database"), "{said}");

    let other = root.path().join("other.db");
    execute_sqlite(&other, "CREATE TABLE photos (id INTEGER PRIMARY KEY)").await;
    let said = restore(&other);
    assert!(
        said.contains("other.db is a SQLite database but not a Cairn store"),
        "{said}"
    );
    store_still_holds_workspace(&data, "three");

    // A real backup, then marked as written by a newer Cairn.
    let newer = root.path().join("newer.db");
    succeeds(&["backup", "--to", text(&newer), "--data-dir", text(&data)]);
    execute_sqlite(
        &newer,
        "INSERT INTO cairn_migrations (version, applied_at) VALUES (9999, 0)",
    )
    .await;
    let said = restore(&newer);
    assert!(
        said.contains("migration 9999, newer than this Cairn knows"),
        "{said}"
    );
    store_still_holds_workspace(&data, "four");
    // Nor does a server open a store newer than it knows.
    let newer_data = root.path().join("newer-data");
    std::fs::create_dir_all(&newer_data).unwrap();
    std::fs::copy(&newer, newer_data.join("cairn.db")).unwrap();
    let said = fails(&[
        "team",
        "add",
        "--workspace",
        "keep",
        "--name",
        "x",
        "--data-dir",
        text(&newer_data),
    ]);
    assert!(said.contains("newer than this Cairn knows"), "{said}");

    // A damaged store: the right header, then garbage.
    let damaged = root.path().join("damaged.db");
    let mut bytes = std::fs::read(&newer).unwrap();
    for byte in bytes.iter_mut().skip(100) {
        *byte = 0x5a;
    }
    std::fs::write(&damaged, bytes).unwrap();
    let said = restore(&damaged);
    assert!(said.contains("damaged.db"), "{said}");
    store_still_holds_workspace(&data, "five");

    // Backups: nothing to back up, an existing file, and PostgreSQL.
    let said = fails(&[
        "backup",
        "--to",
        text(&root.path().join("nothing.db")),
        "--data-dir",
        text(&root.path().join("no-store")),
    ]);
    assert!(said.contains("no store at"), "{said}");
    let said = fails(&["backup", "--to", text(&newer), "--data-dir", text(&data)]);
    assert!(said.contains("exists"), "{said}");
    let said = fails(&[
        "backup",
        "--to",
        text(&root.path().join("pg.db")),
        "--database-url",
        "postgres://cairn@127.0.0.1:1/cairn",
        "--data-dir",
        text(&data),
    ]);
    assert!(said.contains("pg_dump"), "{said}");
    let said = fails(&[
        "restore",
        "--from",
        text(&newer),
        "--database-url",
        "postgres://cairn@127.0.0.1:1/cairn",
        "--data-dir",
        text(&data),
    ]);
    assert!(said.contains("pg_restore"), "{said}");
}
