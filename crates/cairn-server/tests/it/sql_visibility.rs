//! Run SQL sees only what the caller may see, down to views and columns, on real PostgreSQL,
//! MariaDB and SQLite: a view runs only when the caller may read everything it reads (directly
//! or through other views), and its definition is shown under the same rule; a column of
//! another team is refused by name, and `*` never expands to it.

use crate::common;

use cairn_catalog::Role;
use common::{Backend, Member, TestApp, spawn_app};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// The same tables and views on every engine. `salaries` belongs to hr only, and so does the
/// column `orders.note`; the analyst is in sales.
const TABLES: &str = "
CREATE TABLE orders (id int PRIMARY KEY, amount int, note varchar(100));
INSERT INTO orders VALUES (1, 10, 'note-canary-1'), (2, 20, 'note-canary-2');
CREATE TABLE customers (id int PRIMARY KEY, name varchar(100));
INSERT INTO customers VALUES (1, 'Ada'), (2, 'Grace');
CREATE TABLE salaries (id int PRIMARY KEY, person varchar(100), amount int);
INSERT INTO salaries VALUES (1, 'salary-canary', 123456);
CREATE VIEW customer_names AS SELECT id, name FROM customers;
CREATE VIEW pay AS SELECT person, amount FROM salaries;
CREATE VIEW pay_again AS SELECT person FROM pay;
CREATE VIEW order_notes AS SELECT id, note FROM orders;
CREATE VIEW order_amounts AS SELECT id, amount FROM orders;
";

struct Setup {
    admin: Member,
    analyst: Member,
    integration: i64,
}

async fn resource_named(app: &TestApp, admin: &Member, kind: &str, name: &str) -> Value {
    let (status, body) = app
        .get(admin, &format!("/api/v1/resources?kind={kind}&limit=200"))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    app.resource(admin, common::id_named(&body, name)).await
}

async fn setup(app: &TestApp, kind: &str, connection: &str) -> Setup {
    let workspace = app.workspace("acme", &["sales", "hr"]).await;
    let admin = app
        .member(workspace, "admin@acme.test", Role::Admin, &[])
        .await;
    let analyst = app
        .member(workspace, "analyst@acme.test", Role::Viewer, &["sales"])
        .await;
    let integration = app.connect_and_sync(&admin, json!({"name": "shop", "kind": kind, "connection": connection, "teams": ["sales", "hr"]})).await;
    let salaries = resource_named(app, &admin, "table", "salaries").await;
    let orders = resource_named(app, &admin, "table", "orders").await;
    let note = orders["columns"]
        .as_array()
        .unwrap()
        .iter()
        .find(|column| column["name"] == "note")
        .unwrap_or_else(|| panic!("no column note in {orders}"))["id"]
        .as_i64()
        .unwrap();
    for id in [salaries["id"].as_i64().unwrap(), note] {
        let (status, body) = app
            .patch(
                &admin,
                &format!("/api/v1/resources/{id}"),
                json!({"teams": ["hr"]}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    app.put_ai_settings(&admin, json!({"run_sql_enabled": true}))
        .await;
    app.permit(
        &admin,
        integration,
        json!({"users": [analyst.id], "teams": []}),
    )
    .await;
    Setup {
        admin,
        analyst,
        integration,
    }
}

/// Refused by the guard with a message containing `expected`, and no canary anywhere.
async fn assert_refused(app: &TestApp, setup: &Setup, statement: &str, expected: &str) {
    let (status, body) = app.sql(&setup.analyst, setup.integration, statement).await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{statement}: {body}"
    );
    assert_eq!(
        body["error"]["code"], "sql_not_allowed",
        "{statement}: {body}"
    );
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains(expected), "{statement}: {message}");
    assert!(!body.to_string().contains("canary"), "{statement}: {body}");
}

async fn assert_runs(app: &TestApp, setup: &Setup, statement: &str, rows: Value) {
    let (status, body) = app.sql(&setup.analyst, setup.integration, statement).await;
    assert_eq!(status, StatusCode::OK, "{statement}: {body}");
    assert_eq!(body["rows"], rows, "{statement}");
}

/// What every engine must do.
async fn views_and_columns_follow_the_callers_teams(app: &TestApp, setup: &Setup) {
    // Visible columns and tables run; count(*) expands nothing.
    assert_runs(
        app,
        setup,
        "SELECT id, amount FROM orders ORDER BY id",
        json!([[1, 10], [2, 20]]),
    )
    .await;
    assert_runs(app, setup, "SELECT count(*) AS n FROM orders", json!([[2]])).await;
    assert_runs(
        app,
        setup,
        "SELECT * FROM customers ORDER BY id",
        json!([[1, "Ada"], [2, "Grace"]]),
    )
    .await;
    // A view over what the caller may read runs, directly and with *.
    assert_runs(
        app,
        setup,
        "SELECT name FROM customer_names ORDER BY id",
        json!([["Ada"], ["Grace"]]),
    )
    .await;
    assert_runs(
        app,
        setup,
        "SELECT * FROM customer_names ORDER BY id",
        json!([[1, "Ada"], [2, "Grace"]]),
    )
    .await;

    // A hidden column, by name, qualified, in WHERE, in a subquery.
    let hidden_column = "column \"note\" does not exist or is not visible";
    for statement in [
        "SELECT id, note FROM orders",
        "SELECT o.note FROM orders o",
        "SELECT id FROM orders WHERE note LIKE 'note-canary%'",
        "SELECT name FROM customers WHERE EXISTS (SELECT 1 FROM orders WHERE orders.note = customers.name)",
        "SELECT id FROM orders ORDER BY NOTE",
    ] {
        assert_refused(app, setup, statement, hidden_column).await;
    }
    // * and t.* never expand to it.
    for statement in [
        "SELECT * FROM orders",
        "SELECT o.* FROM orders o",
        "SELECT c.name, o.* FROM customers c JOIN orders o ON o.id = c.id",
        "SELECT * FROM (SELECT * FROM orders) t",
    ] {
        assert_refused(app, setup, statement, "name the columns").await;
    }
    assert_refused(
        app,
        setup,
        "SELECT id FROM orders NATURAL JOIN customers",
        "NATURAL",
    )
    .await;

    // Views reading a hidden table, through another view, or a hidden column do not run.
    let not_visible = "does not exist or is not visible";
    for statement in [
        "SELECT person, amount FROM pay",
        "SELECT * FROM pay",
        "SELECT person FROM pay_again",
        "SELECT id, note FROM order_notes",
        "SELECT id FROM order_notes",
        "SELECT id FROM order_amounts",
        "SELECT * FROM salaries",
    ] {
        assert_refused(app, setup, statement, not_visible).await;
    }

    // Definitions follow the same rule; the views themselves stay in the catalog.
    for (name, shown) in [
        ("customer_names", true),
        ("pay", false),
        ("pay_again", false),
        ("order_notes", false),
    ] {
        let as_admin = resource_named(app, &setup.admin, "view", name).await;
        assert!(as_admin["definition"].is_string(), "{as_admin}");
        let id = as_admin["id"].as_i64().unwrap();
        let (status, body) = app
            .get(&setup.analyst, &format!("/api/v1/resources/{id}"))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["definition"].is_string(), shown, "{name}: {body}");
        let (status, list) = app
            .get(&setup.analyst, "/api/v1/resources?kind=view&limit=200")
            .await;
        assert_eq!(status, StatusCode::OK);
        let listed = list["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|item| item["id"] == id)
            .unwrap_or_else(|| panic!("{name} not listed: {list}"));
        assert_eq!(listed["definition"].is_string(), shown, "{name}: {listed}");
    }
    // The column itself is not shown to the analyst either.
    let orders = resource_named(app, &setup.admin, "table", "orders").await;
    let (_, body) = app
        .get(
            &setup.analyst,
            &format!("/api/v1/resources/{}", orders["id"]),
        )
        .await;
    let names: Vec<&str> = body["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|column| column["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["id", "amount"]);
}

#[tokio::test]
async fn postgres_views_and_columns_follow_the_callers_teams() {
    let Some(server) = cairn_testkit::postgres() else {
        return;
    };
    let Some(app) = spawn_app(Backend::Sqlite).await else {
        return;
    };
    let db = server.create_database_named("visibility");
    server.psql(&db, TABLES).expect("fixture");
    let setup = setup(&app, "postgres", &server.url(&db)).await;
    views_and_columns_follow_the_callers_teams(&app, &setup).await;
    // PostgreSQL only: whole-row references and column alias lists.
    for (statement, expected) in [
        ("SELECT o FROM orders o", "whole row"),
        ("SELECT orders FROM orders", "whole row"),
        ("SELECT (o).amount FROM orders o", "whole row"),
        ("SELECT row_to_json(o) FROM orders o", "whole row"),
        ("SELECT c FROM orders AS o(a, b, c)", "column alias list"),
        ("TABLE orders", "name the columns"),
        (
            "SELECT x.c FROM (orders JOIN customers USING (id)) AS x(a, b, c)",
            "NATURAL",
        ),
    ] {
        let (status, body) = app.sql(&setup.analyst, setup.integration, statement).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{statement}: {body}"
        );
        let message = body["error"]["message"].as_str().unwrap();
        assert!(
            message.contains(expected) || message.contains("not allowed"),
            "{statement}: {message}"
        );
        assert!(!body.to_string().contains("canary"), "{statement}: {body}");
    }
}

#[tokio::test]
async fn mariadb_views_and_columns_follow_the_callers_teams() {
    let Some(server) = cairn_testkit::mariadb() else {
        return;
    };
    let Some(app) = spawn_app(Backend::Sqlite).await else {
        return;
    };
    let db = server.create_database_named("visibility");
    server.mysql(&db, TABLES).expect("fixture");
    let setup = setup(&app, "mysql", &server.url(&db)).await;
    views_and_columns_follow_the_callers_teams(&app, &setup).await;
    // Backquoted names are names too.
    assert_refused(
        &app,
        &setup,
        "SELECT `id`, `note` FROM `orders`",
        "column \"note\" does not exist or is not visible",
    )
    .await;
}

#[tokio::test]
async fn sqlite_views_and_columns_follow_the_callers_teams() {
    use sqlx::{Connection, Executor};

    let Some(app) = spawn_app(Backend::Sqlite).await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("shop.db");
    let options = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(&file)
        .create_if_missing(true);
    let mut connection = sqlx::SqliteConnection::connect_with(&options)
        .await
        .expect("create the SQLite file");
    connection
        .execute(sqlx::AssertSqlSafe(TABLES))
        .await
        .expect("fixture");
    connection.close().await.unwrap();
    let setup = setup(&app, "sqlite", &format!("sqlite://{}", file.display())).await;
    views_and_columns_follow_the_callers_teams(&app, &setup).await;
    // SQLite reads a double-quoted name as a column when one exists.
    assert_refused(
        &app,
        &setup,
        "SELECT \"note\" FROM orders",
        "column \"note\" does not exist or is not visible",
    )
    .await;
}
