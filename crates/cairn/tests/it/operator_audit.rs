//! What the operator does from the command line is on the workspace's audit record: workspaces,
//! teams, people and tokens created with `cairn`, on SQLite and on PostgreSQL.

use std::process::Command;

use sqlx::Row;

fn cairn(data: &std::path::Path, url: &str, args: &[&str]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_cairn"))
        .arg("--data-dir")
        .arg(data)
        .args(["--database-url", url])
        .args(args)
        .output()
        .unwrap();
    assert!(output.status.success(), "{args:?}: {output:?}");
    String::from_utf8(output.stdout).unwrap()
}

async fn operator_actions_are_audited(url: &str, data: &std::path::Path) {
    cairn(data, url, &["workspace", "create", "--name", "ops"]);
    cairn(
        data,
        url,
        &["team", "add", "--workspace", "ops", "--name", "data"],
    );
    cairn(
        data,
        url,
        &[
            "user",
            "add",
            "--workspace",
            "ops",
            "--email",
            "ann@ops.example",
            "--role",
            "admin",
            "--team",
            "data",
        ],
    );
    cairn(
        data,
        url,
        &[
            "token",
            "create",
            "--workspace",
            "ops",
            "--email",
            "ann@ops.example",
        ],
    );
    let catalog = cairn_catalog::Catalog::open(url, cairn_catalog::CatalogConfig::new(data.into()))
        .await
        .unwrap();
    let rows = sqlx::query("SELECT action, actor, detail FROM audit_log ORDER BY seq")
        .fetch_all(catalog.operator().store().pool())
        .await
        .unwrap();
    let actions: Vec<String> = rows.iter().map(|row| row.get("action")).collect();
    assert_eq!(
        actions,
        [
            "workspace.created",
            "team.created",
            "user.created",
            "token.created"
        ]
    );
    for row in &rows {
        assert!(row.get::<Option<i64>, _>("actor").is_none());
        let detail: serde_json::Value =
            serde_json::from_str(&row.get::<String, _>("detail")).unwrap();
        assert_eq!(detail["by"], "operator", "{detail}");
    }
    let workspace = catalog.operator().workspace_named("ops").await.unwrap();
    let verified = catalog.operator().verify_audit(workspace.id).await.unwrap();
    let verified = serde_json::to_value(&verified).unwrap();
    assert_eq!(verified["ok"], true, "{verified}");

    // Deleting the workspace needs --yes, then leaves nothing of it.
    let refused = Command::new(env!("CARGO_BIN_EXE_cairn"))
        .arg("--data-dir")
        .arg(data)
        .args([
            "--database-url",
            url,
            "workspace",
            "delete",
            "--name",
            "ops",
        ])
        .output()
        .unwrap();
    assert!(!refused.status.success(), "{refused:?}");
    assert!(catalog.operator().workspace_named("ops").await.is_ok());
    cairn(
        data,
        url,
        &["workspace", "delete", "--name", "ops", "--yes"],
    );
    assert!(catalog.operator().workspace_named("ops").await.is_err());
    for table in ["users", "api_tokens", "teams", "audit_log"] {
        let rows: i64 = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT COUNT(*) FROM {table} WHERE workspace_id = $1"
        )))
        .bind(workspace.id.0)
        .fetch_one(catalog.operator().store().pool())
        .await
        .unwrap()
        .get(0);
        assert_eq!(rows, 0, "{table}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_actions_are_audited_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("cairn.db").display());
    operator_actions_are_audited(&url, &dir.path().join("data")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_actions_are_audited_on_postgres() {
    let Some(server) = cairn_testkit::postgres() else {
        eprintln!("skipping the PostgreSQL run: no PostgreSQL server could be started");
        return;
    };
    let url = server.create_database("cairn_cli_audit");
    let dir = tempfile::tempdir().unwrap();
    operator_actions_are_audited(&url, &dir.path().join("data")).await;
}
