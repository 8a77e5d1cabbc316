//! Run SQL through the API: both gates, the guard with the caller's visibility, read-only
//! execution on a real PostgreSQL (as superuser), results to the caller only, and the audit log.

use crate::common;

use cairn_catalog::Role;
use common::{Member, TestApp, assert_error};
use reqwest::{Method, StatusCode};
use serde_json::json;

on_both_backends!(run_sql_is_gated_twice_guarded_and_audited);

struct Setup {
    admin: Member,
    analyst: Member,
    outsider: Member,
    integration: i64,
    db: String,
}

async fn setup(app: &TestApp) -> Option<Setup> {
    let server = cairn_testkit::postgres()?;
    let workspace = app.workspace("acme", &["sales", "hr"]).await;
    let admin = app
        .member(workspace, "admin@acme.test", Role::Admin, &[])
        .await;
    let analyst = app
        .member(workspace, "analyst@acme.test", Role::Viewer, &["sales"])
        .await;
    let outsider = app
        .member(workspace, "outsider@acme.test", Role::Editor, &["sales"])
        .await;
    let db = server.create_database_named("sqlapi");
    server
        .psql(
            &db,
            "CREATE TABLE orders (id int PRIMARY KEY, amount int);
             INSERT INTO orders SELECT g, g * 10 FROM generate_series(1, 1500) g;
             CREATE TABLE salaries (person text, amount int);
             INSERT INTO salaries VALUES ('ada', 123456);",
        )
        .ok()?;
    let integration = app.connect_and_sync(&admin, json!({"name": "shop", "kind": "postgres", "connection": server.url(&db), "teams": ["sales", "hr"]})).await;
    // salaries belong to hr only.
    let (_, found) = app
        .get(&admin, "/api/v1/resources?q=salaries&kind=table")
        .await;
    let salaries = found["items"][0]["id"].as_i64().unwrap();
    let (status, _) = app
        .patch(
            &admin,
            &format!("/api/v1/resources/{salaries}"),
            json!({"teams": ["hr"]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    Some(Setup {
        admin,
        analyst,
        outsider,
        integration,
        db,
    })
}

async fn run_sql_is_gated_twice_guarded_and_audited(app: TestApp) {
    let Some(setup) = setup(&app).await else {
        return;
    };
    let Setup {
        admin,
        analyst,
        outsider,
        integration,
        db,
    } = setup;
    let count = "SELECT count(*) AS n FROM orders";

    // Off by default: nobody runs SQL, and the answer says which gate is closed.
    let (_, settings) = app.get(&analyst, "/api/v1/settings/ai").await;
    assert_eq!(settings["run_sql_enabled"], false);
    let (status, body) = app.sql(&analyst, integration, count).await;
    assert_error(status, &body, StatusCode::FORBIDDEN, None);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Run SQL"),
        "{body}"
    );
    // Only admins turn it on.
    assert_eq!(
        app.call(
            &outsider,
            Method::PUT,
            "/api/v1/settings/ai",
            Some(json!({"run_sql_enabled": true}))
        )
        .await
        .0,
        StatusCode::FORBIDDEN
    );
    app.put_ai_settings(&admin, json!({"run_sql_enabled": true}))
        .await;
    // On, but no permission yet: still refused, naming the permission.
    let (status, body) = app.sql(&analyst, integration, count).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("permission"),
        "{body}"
    );
    let (status, _) = app.sql(&admin, integration, count).await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "admins need a permission too"
    );
    // Grant the analyst (by user id) and the sales team.
    let path = format!("/api/v1/integrations/{integration}/permissions");
    assert_eq!(
        app.call(
            &analyst,
            Method::PUT,
            &path,
            Some(json!({"users": [analyst.id]}))
        )
        .await
        .0,
        StatusCode::FORBIDDEN
    );
    let (status, body) = app
        .call(
            &admin,
            Method::PUT,
            &path,
            Some(json!({"users": [analyst.id], "teams": []})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = app.sql(&analyst, integration, count).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["columns"], json!(["n"]));
    assert_eq!(body["rows"], json!([[1500]]));
    assert_eq!(body["truncated"], false);
    assert_eq!(
        app.sql(&outsider, integration, count).await.0,
        StatusCode::FORBIDDEN
    );

    // Big results are cut at the row limit.
    let (status, body) = app
        .sql(&analyst, integration, "SELECT id FROM orders ORDER BY id")
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["rows"].as_array().unwrap().len(), 1000);
    assert_eq!(body["truncated"], true);

    // The guard: writes, stacked statements, catalogs and other teams' tables are refused alike.
    for statement in [
        "DELETE FROM orders",
        "SELECT 1; DROP TABLE orders",
        "WITH gone AS (DELETE FROM orders RETURNING *) SELECT * FROM gone",
        "SELECT * INTO copy FROM orders",
        "SELECT * FROM orders FOR UPDATE",
        "SELECT pg_sleep(10)",
        "SELECT * FROM pg_catalog.pg_authid",
        "SELECT set_config('default_transaction_read_only', 'off', false)",
        "COPY orders TO PROGRAM 'id'",
    ] {
        let (status, body) = app.sql(&analyst, integration, statement).await;
        assert_error(status, &body, StatusCode::UNPROCESSABLE_ENTITY, None);
        assert_eq!(
            body["error"]["code"], "sql_not_allowed",
            "{statement}: {body}"
        );
    }
    let (_, hidden) = app
        .sql(&analyst, integration, "SELECT * FROM salaries")
        .await;
    let (_, absent) = app
        .sql(&analyst, integration, "SELECT * FROM no_such_table")
        .await;
    assert_eq!(hidden["error"]["code"], "sql_not_allowed");
    assert_eq!(
        hidden["error"]["message"]
            .as_str()
            .unwrap()
            .replace("salaries", "X"),
        absent["error"]["message"]
            .as_str()
            .unwrap()
            .replace("no_such_table", "X"),
        "a forbidden table and a missing one must get the same answer"
    );
    assert!(!hidden.to_string().contains("123456"));
    // A look-alike that is harmless runs.
    let (status, body) = app
        .sql(
            &analyst,
            integration,
            "SELECT 'DELETE FROM orders; DROP TABLE x' AS \"drop\"",
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // The database's own errors come back as query_failed.
    let (status, body) = app
        .sql(
            &analyst,
            integration,
            "SELECT 1 / (amount - amount) FROM orders",
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["code"], "query_failed");
    // Nothing changed in the database.
    let server = cairn_testkit::postgres().unwrap();
    assert_eq!(
        server
            .psql(&db, "SELECT count(*) FROM orders")
            .unwrap()
            .trim(),
        "1500"
    );

    // Another workspace cannot reach this integration at all.
    let globex = app.workspace("globex", &["ops"]).await;
    let intruder = app
        .member(globex, "admin@globex.test", Role::Admin, &["ops"])
        .await;
    app.call(
        &intruder,
        Method::PUT,
        "/api/v1/settings/ai",
        Some(json!({"run_sql_enabled": true})),
    )
    .await;
    let (status, body) = app.sql(&intruder, integration, count).await;
    assert_error(status, &body, StatusCode::NOT_FOUND, None);
    assert_eq!(app.get(&intruder, &path).await.0, StatusCode::NOT_FOUND);
    let (_, audit) = app.get(&intruder, "/api/v1/audit").await;
    assert!(!audit.to_string().contains("orders"), "{audit}");

    // The audit log has each run, refusal and denial, and its chain holds.
    assert_eq!(
        app.get(&analyst, "/api/v1/audit").await.0,
        StatusCode::FORBIDDEN
    );
    let (status, audit) = app.get(&admin, "/api/v1/audit?limit=1000").await;
    assert_eq!(status, StatusCode::OK);
    let actions: Vec<&str> = audit
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| entry["action"].as_str().unwrap())
        .collect();
    for action in [
        "sql.denied",
        "sql.run",
        "sql.refused",
        "sql.failed",
        "sql.permissions.updated",
        "settings.ai.updated",
        "integration.created",
    ] {
        assert!(
            actions.contains(&action),
            "{action} missing from {actions:?}"
        );
    }
    let refusal = audit
        .as_array()
        .unwrap()
        .iter()
        .find(|entry| entry["action"] == "sql.refused")
        .unwrap();
    assert_eq!(refusal["actor"], analyst.id);
    assert_eq!(refusal["detail"]["request"]["sql"], "DELETE FROM orders");
    let (_, verified) = app.get(&admin, "/api/v1/audit/verify").await;
    assert_eq!(verified["ok"], true, "{verified}");
    assert_eq!(
        verified["entries"].as_u64().unwrap() as usize,
        actions.len()
    );
    // Tampering with one entry breaks the chain there.
    sqlx::query("UPDATE audit_log SET detail = '{}' WHERE seq = 2")
        .execute(app.catalog.operator().store().pool())
        .await
        .unwrap();
    let (_, verified) = app.get(&admin, "/api/v1/audit/verify").await;
    assert_eq!(verified["ok"], false);
    assert_eq!(verified["broken_at"], 2);
}
