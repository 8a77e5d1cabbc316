//! A table whose name holds a `.`: its path keeps the name as one segment (quoted), and SQL
//! over it resolves — what the caller writes and what the built-in assistant generates.

use crate::common;

use cairn_catalog::Role;
use common::{Member, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

on_both_backends!(a_dotted_table_name_is_one_segment_and_resolves_in_sql);

/// What a call answered, when it answered `expected`.
fn expect(expected: StatusCode, (status, body): (StatusCode, Value)) -> Value {
    assert_eq!(status, expected, "{body}");
    body
}

/// A SQLite database with a table named `order.lines`, at `file`.
async fn dotted_database(file: &std::path::Path) {
    let url = format!("sqlite://{}?mode=rwc", file.display());
    let pool = sqlx::SqlitePool::connect(&url)
        .await
        .expect("the SQLite file");
    for statement in [
        r#"CREATE TABLE "order.lines" (id INTEGER PRIMARY KEY, amount INTEGER)"#,
        r#"INSERT INTO "order.lines" (amount) VALUES (10), (20), (30)"#,
    ] {
        sqlx::query(statement)
            .execute(&pool)
            .await
            .expect(statement);
    }
    pool.close().await;
}

/// The database as the integration `lake`, synced, with SQL allowed for `admin`; the file
/// lives as long as the directory returned.
async fn lake(app: &TestApp, admin: &Member) -> (tempfile::TempDir, i64) {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("dotted.sqlite");
    dotted_database(&file).await;
    let connection = format!("sqlite://{}", file.display());
    let input =
        json!({"name": "lake", "kind": "sqlite", "connection": connection, "teams": ["data"]});
    let created = app.post(admin, "/api/v1/integrations", input).await;
    let integration = expect(StatusCode::CREATED, created)["id"].as_i64().unwrap();
    let sync = format!("/api/v1/integrations/{integration}/sync");
    expect(StatusCode::OK, app.post(admin, &sync, json!({})).await);
    let permissions = format!("/api/v1/integrations/{integration}/permissions");
    for (path, body) in [
        ("/api/v1/settings/ai", json!({"run_sql_enabled": true})),
        (&permissions, json!({"users": [admin.id], "teams": []})),
    ] {
        expect(
            StatusCode::OK,
            app.call(admin, Method::PUT, path, Some(body)).await,
        );
    }
    (dir, integration)
}

async fn a_dotted_table_name_is_one_segment_and_resolves_in_sql(app: TestApp) {
    let workspace = app.workspace("acme", &["data"]).await;
    let admin = app
        .member(workspace, "admin@acme.example", Role::Admin, &["data"])
        .await;
    let (_dir, integration) = lake(&app, &admin).await;

    let tables = expect(
        StatusCode::OK,
        app.get(&admin, "/api/v1/resources?kind=table").await,
    );
    let lines = common::item_named(&tables, "order.lines");
    assert_eq!(lines["path"], r#"lake.main."order.lines""#);
    let path = format!("/api/v1/resources/{}", lines["id"]);
    let read = expect(StatusCode::OK, app.get(&admin, &path).await);
    let columns = [&read["columns"][0]["name"], &read["columns"][1]["name"]];
    assert_eq!(columns, ["id", "amount"], "{read}");

    // SQL the caller writes resolves the table.
    let statement = json!({"integration_id": integration,
        "sql": r#"SELECT count(*) FROM "order.lines""#});
    let result = expect(
        StatusCode::OK,
        app.post(&admin, "/api/v1/sql", statement).await,
    );
    assert_eq!(result["rows"][0][0].as_i64(), Some(3), "{result}");

    // And so does the SQL the built-in assistant generates for it.
    let question = json!({"question": "How many order lines are there?"});
    let answer = expect(
        StatusCode::OK,
        app.post(&admin, "/api/v1/ai/ask", question).await,
    );
    let sql = &answer["sql"];
    let generated = sql["sql"].as_str().unwrap_or_default();
    assert!(generated.contains(r#""order.lines""#), "{answer}");
    assert_eq!(sql["error"], Value::Null, "{answer}");
    assert_eq!(sql["rows"][0][0].as_i64(), Some(3), "{answer}");
}
