//! A table whose name holds a `.`: its path keeps the name as one segment (quoted), and SQL
//! over it resolves — what the caller writes and what the built-in assistant generates.

use crate::common;

use cairn_catalog::Role;
use common::{Member, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

on_both_backends!(a_dotted_table_name_is_one_segment_and_resolves_in_sql);

/// A SQLite database with a table named `order.lines`.
async fn dotted_database(file: &std::path::Path) {
    use sqlx::{Connection, Executor};
    let options = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(file)
        .create_if_missing(true);
    let mut connection = sqlx::SqliteConnection::connect_with(&options)
        .await
        .expect("create the SQLite file");
    connection
        .execute(
            r#"CREATE TABLE "order.lines" (id INTEGER PRIMARY KEY, amount INTEGER);
               INSERT INTO "order.lines" (amount) VALUES (10), (20), (30);"#,
        )
        .await
        .expect("schema");
    connection.close().await.expect("close");
}

async fn lake(app: &TestApp, admin: &Member, file: &std::path::Path) -> i64 {
    let (status, body) = app
        .post(
            admin,
            "/api/v1/integrations",
            json!({"name": "lake", "kind": "sqlite", "connection": format!("sqlite://{}", file.display()), "teams": ["data"]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let integration = body["id"].as_i64().expect("id");
    let sync = format!("/api/v1/integrations/{integration}/sync");
    let (status, body) = app.post(admin, &sync, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    for (method, path, body) in [
        (
            Method::PUT,
            "/api/v1/settings/ai".to_string(),
            json!({"run_sql_enabled": true}),
        ),
        (
            Method::PUT,
            format!("/api/v1/integrations/{integration}/permissions"),
            json!({"users": [admin.id], "teams": []}),
        ),
    ] {
        let (status, answer) = app.call(admin, method, &path, Some(body)).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
    }
    integration
}

async fn a_dotted_table_name_is_one_segment_and_resolves_in_sql(app: TestApp) {
    let workspace = app.workspace("acme", &["data"]).await;
    let admin = app
        .member(workspace, "admin@acme.example", Role::Admin, &["data"])
        .await;
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("dotted.sqlite");
    dotted_database(&file).await;
    let integration = lake(&app, &admin, &file).await;

    let (status, tables) = app.get(&admin, "/api/v1/resources?kind=table").await;
    assert_eq!(status, StatusCode::OK, "{tables}");
    let lines = tables["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|item| item["name"] == "order.lines")
        .unwrap_or_else(|| panic!("order.lines in {tables}"))
        .clone();
    assert_eq!(lines["path"], r#"lake.main."order.lines""#);
    let (status, read) = app
        .get(&admin, &format!("/api/v1/resources/{}", lines["id"]))
        .await;
    assert_eq!(status, StatusCode::OK, "{read}");
    let columns: Vec<&str> = read["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|column| column["name"].as_str().unwrap())
        .collect();
    assert_eq!(columns, ["id", "amount"]);

    // SQL the caller writes resolves the table.
    let (status, result) = app
        .post(
            &admin,
            "/api/v1/sql",
            json!({"integration_id": integration,
                "sql": r#"SELECT count(*) FROM "order.lines""#}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{result}");
    assert_eq!(result["rows"][0][0].as_i64(), Some(3), "{result}");

    // And so does the SQL the built-in assistant generates for it.
    let (status, answer) = app
        .post(
            &admin,
            "/api/v1/ai/ask",
            json!({"question": "How many order lines are there?"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let sql: &Value = &answer["sql"];
    assert!(
        sql["sql"]
            .as_str()
            .is_some_and(|text| text.contains(r#""order.lines""#)),
        "{answer}"
    );
    assert_eq!(sql["error"], Value::Null, "{answer}");
    assert_eq!(sql["rows"][0][0].as_i64(), Some(3), "{answer}");
}
