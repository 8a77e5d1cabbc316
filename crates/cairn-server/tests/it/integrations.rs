//! Integrations end to end through the API: crawl real PostgreSQL, MariaDB and SQLite servers,
//! re-sync after changes, keep people's edits, refuse bad connections without leaking secrets,
//! import dbt docs.

use crate::common;

use cairn_catalog::Role;
use common::{Member, TestApp, assert_error};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

on_both_backends!(
    postgres_sync_is_idempotent_reports_changes_and_keeps_peoples_edits,
    bad_connections_answer_422_without_the_password_and_change_nothing,
    sqlite_chinook_and_dbt_docs_arrive,
    one_workspaces_interval_cannot_stop_everyones_syncs,
    dbt_bodies_of_non_admins_are_refused_unread,
);

const PASSWORD_CANARY: &str = "Sup3rS3cretPa55word";

async fn admin_and_viewer(app: &TestApp) -> (Member, Member) {
    let workspace = app.workspace("acme", &["analytics", "finance"]).await;
    (
        app.member(workspace, "admin@acme.test", Role::Admin, &[])
            .await,
        app.member(workspace, "viewer@acme.test", Role::Viewer, &["analytics"])
            .await,
    )
}

async fn integration(app: &TestApp, admin: &Member, name: &str, kind: &str, url: &str) -> i64 {
    let (status, body) = app
        .post(
            admin,
            "/api/v1/integrations",
            json!({"name": name, "kind": kind, "connection": url, "teams": ["analytics"]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert!(
        !body.to_string().contains("connection"),
        "the connection must never be returned: {body}"
    );
    body["id"].as_i64().unwrap()
}

async fn find(app: &TestApp, member: &Member, query: &str) -> Vec<Value> {
    let (status, body) = app
        .get(member, &format!("/api/v1/resources?limit=200&{query}"))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["items"].as_array().unwrap().clone()
}

async fn postgres_sync_is_idempotent_reports_changes_and_keeps_peoples_edits(app: TestApp) {
    let Some(server) = cairn_testkit::postgres() else {
        return;
    };
    let (admin, viewer) = admin_and_viewer(&app).await;
    let db = server.create_database_named("shop");
    server
        .psql(&db, "CREATE TABLE customers (id int PRIMARY KEY, email text NOT NULL, name text);
             COMMENT ON TABLE customers IS 'People who buy from us';
             COMMENT ON COLUMN customers.email IS 'Where receipts go';
             CREATE TABLE orders (id int PRIMARY KEY, customer_id int REFERENCES customers(id), total numeric(10,2));
             CREATE VIEW big_orders AS SELECT * FROM orders WHERE total > 100;")
        .unwrap();
    let url = server
        .url(&db)
        .replace("postgres@", &format!("postgres:{PASSWORD_CANARY}@"));
    let id = integration(&app, &admin, "shop", "postgres", &url).await;
    let first = app.sync(&admin, id).await;
    // database + schema + 2 tables + 1 view + 3 + 3 + 3 columns
    assert_eq!(
        (
            first["tables"].as_u64(),
            first["views"].as_u64(),
            first["columns"].as_u64()
        ),
        (Some(2), Some(1), Some(9)),
        "{first}"
    );
    assert_eq!(first["added"], 14, "{first}");
    let again = app.sync(&admin, id).await;
    assert_eq!(
        (
            again["added"].as_u64(),
            again["changed"].as_u64(),
            again["removed"].as_u64()
        ),
        (Some(0), Some(0), Some(0)),
        "a re-sync with no change changes nothing: {again}"
    );
    assert_eq!(first["source_unchanged"], false, "{first}");
    assert_eq!(
        again["source_unchanged"], true,
        "PostgreSQL's catalog digest spares an unchanged re-sync its crawl: {again}"
    );
    for count in ["tables", "views", "columns", "relations", "server_version"] {
        assert_eq!(again[count], first[count], "{count}: {again}");
    }

    // The table named by the word comes first; its foreign-key neighbours may follow.
    let customers = find(&app, &viewer, "q=customers&kind=table").await;
    assert_eq!(customers[0]["name"], "customers", "{customers:?}");
    assert_eq!(
        customers
            .iter()
            .filter(|table| table["name"] == "customers")
            .count(),
        1,
        "{customers:?}"
    );
    assert_eq!(customers[0]["description"], "People who buy from us");
    assert_eq!(customers[0]["path"], format!("shop.{db}.public.customers"));
    let email = find(&app, &viewer, "q=receipts&kind=column").await;
    assert_eq!(email[0]["data_type"], "text");
    let view = find(&app, &admin, "kind=view").await;
    assert!(
        view[0]["definition"].as_str().unwrap().contains("total > "),
        "{view:?}"
    );

    // The catalog shows columns, keys and relations.
    let (_, orders) = app
        .get(
            &viewer,
            &format!(
                "/api/v1/resources/{}",
                find(&app, &viewer, "q=orders&kind=table").await[0]["id"]
            ),
        )
        .await;
    let columns: Vec<&str> = orders["columns"]
        .as_array()
        .unwrap_or_else(|| panic!("no columns: {orders}"))
        .iter()
        .map(|column| column["name"].as_str().unwrap())
        .collect();
    assert_eq!(columns, vec!["id", "customer_id", "total"], "{orders}");
    assert_eq!(orders["columns"][0]["primary_key"], true);
    assert_eq!(
        orders["relations"][0]["kind"], "view_dependency",
        "{orders}"
    );
    assert_eq!(orders["relations"][0]["direction"], "in");
    let customer_id = orders["columns"][1]["id"].as_i64().unwrap();
    let (_, column) = app
        .get(&viewer, &format!("/api/v1/resources/{customer_id}"))
        .await;
    assert_eq!(column["relations"][0]["kind"], "foreign_key", "{column}");
    assert_eq!(
        column["relations"][0]["path"],
        format!("shop.{db}.public.customers.id")
    );
    let customers_pk = column["relations"][0]["id"].as_i64().unwrap();

    // People document the table; an admin moves orders to finance.
    let customers_id = customers[0]["id"].as_i64().unwrap();
    let (status, _) = app
        .patch(
            &admin,
            &format!("/api/v1/resources/{customers_id}"),
            json!({"description": "Our buyers", "tags": ["pii"]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let orders_id = find(&app, &admin, "q=orders&kind=table").await[0]["id"]
        .as_i64()
        .unwrap();
    app.patch(
        &admin,
        &format!("/api/v1/resources/{orders_id}"),
        json!({"teams": ["finance"]}),
    )
    .await;
    let visible_order_columns: Vec<Value> = find(&app, &viewer, "q=total&kind=column")
        .await
        .into_iter()
        .filter(|item| item["path"].as_str().unwrap().contains(".orders."))
        .collect();
    assert!(
        visible_order_columns.is_empty(),
        "orders' columns moved with it: {visible_order_columns:?}"
    );

    let (_, pk) = app
        .get(&viewer, &format!("/api/v1/resources/{customers_pk}"))
        .await;
    assert!(
        !pk.to_string().contains("customer_id"),
        "a relation to a table the viewer cannot see stays hidden: {pk}"
    );
    let (_, pk) = app
        .get(&admin, &format!("/api/v1/resources/{customers_pk}"))
        .await;
    assert!(pk.to_string().contains("customer_id"), "{pk}");

    server
        .psql(
            &db,
            "ALTER TABLE customers RENAME COLUMN name TO full_name;
             ALTER TABLE orders ADD COLUMN placed_at timestamptz;
             COMMENT ON TABLE customers IS 'Buyers, per the database';
             DROP VIEW big_orders;",
        )
        .unwrap();
    let changed = app.sync(&admin, id).await;
    // added: full_name, placed_at; removed: name, the view and its 3 columns; changed: customers' comment
    assert_eq!(
        (
            changed["added"].as_u64(),
            changed["removed"].as_u64(),
            changed["changed"].as_u64()
        ),
        (Some(2), Some(5), Some(1)),
        "{changed}"
    );
    assert_eq!(changed["source_unchanged"], false, "{changed}");
    let (_, customers) = app
        .get(&admin, &format!("/api/v1/resources/{customers_id}"))
        .await;
    assert_eq!(
        customers["description"], "Our buyers",
        "people's words survive a re-sync"
    );
    assert_eq!(customers["tags"], json!(["pii"]));
    assert!(find(&app, &admin, "kind=view").await.is_empty());
    let leftovers: Vec<Value> = find(&app, &admin, "q=big_orders")
        .await
        .into_iter()
        .filter(|item| item["path"].as_str().unwrap().contains("big_orders"))
        .collect();
    assert!(
        leftovers.is_empty(),
        "a dropped view leaves search: {leftovers:?}"
    );
    // The column (its table, lifted by the column's words, may follow).
    let placed: Vec<Value> = find(&app, &admin, "q=placed")
        .await
        .into_iter()
        .filter(|item| item["kind"] == "column")
        .collect();
    assert_eq!(placed.len(), 1, "{placed:?}");
    assert_eq!(
        placed[0]["teams"],
        json!(["finance"]),
        "a new column takes its table's teams"
    );

    // Members see integrations of their teams, never the connection; only admins sync.
    let (status, listed) = app.get(&viewer, "/api/v1/integrations").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert!(!listed.to_string().contains(PASSWORD_CANARY));
    let (status, _) = app.try_sync(&viewer, id).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // Deleting the integration removes what it crawled.
    assert_eq!(
        app.call(
            &admin,
            Method::DELETE,
            &format!("/api/v1/integrations/{id}"),
            None
        )
        .await
        .0,
        StatusCode::NO_CONTENT
    );
    assert!(find(&app, &admin, "q=customers").await.is_empty());
    assert!(find(&app, &admin, "").await.is_empty());
}

async fn bad_connections_answer_422_without_the_password_and_change_nothing(app: TestApp) {
    let (admin, _) = admin_and_viewer(&app).await;
    let dir = tempfile::tempdir().unwrap();
    let not_sqlite = dir.path().join("notes.txt");
    std::fs::write(
        &not_sqlite,
        "this is not a database, just text that is long enough to have a header",
    )
    .unwrap();
    let mut cases = vec![
        (
            "unreachable",
            "postgres",
            format!("postgres://cairn:{PASSWORD_CANARY}@127.0.0.1:1/shop"),
            "unreachable",
        ),
        (
            "notsqlite",
            "sqlite",
            format!("sqlite://{}", not_sqlite.display()),
            "not_sqlite",
        ),
        (
            "missingfile",
            "sqlite",
            format!("sqlite://{}/absent.db", dir.path().display()),
            // a missing file reads like any target that cannot be reached
            "unreachable",
        ),
    ];
    if let Some(server) = cairn_testkit::postgres() {
        let db = server.create_database_named("locked");
        server
            .psql(
                &db,
                "CREATE ROLE reader LOGIN PASSWORD 'right-password'; CREATE TABLE t (x int);",
            )
            .ok();
        let wrong = server
            .url(&db)
            .replace("postgres@", &format!("reader:{PASSWORD_CANARY}@"));
        cases.push((
            "missingdb",
            "postgres",
            server
                .url("no_such_database_here")
                .replace("postgres@", &format!("postgres:{PASSWORD_CANARY}@")),
            "database_not_found",
        ));
        cases.push(("wrongpassword", "postgres", wrong, "auth_failed"));
    }
    for (name, kind, url, code) in cases {
        let id = integration(&app, &admin, name, kind, &url).await;
        let (status, body) = app.try_sync(&admin, id).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{name}: {body}");
        assert_eq!(body["error"]["code"], code, "{name}: {body}");
        assert!(
            !body.to_string().contains(PASSWORD_CANARY),
            "{name} leaked the password: {body}"
        );
        let (_, view) = app.get(&admin, &format!("/api/v1/integrations/{id}")).await;
        assert!(view["last_sync_status"]["state"] == "failed", "{view}");
        assert!(!view.to_string().contains(PASSWORD_CANARY));
    }
    let kinds: Vec<Value> = find(&app, &admin, "")
        .await
        .iter()
        .map(|item| item["kind"].clone())
        .collect();
    assert!(
        kinds.iter().all(|kind| kind == "integration"),
        "a failed sync must add nothing: {kinds:?}"
    );
    // Bad input at creation: 400 naming the field.
    for (body, field) in [
        (
            json!({"name": "x", "kind": "oracle", "connection": "oracle://x"}),
            "kind",
        ),
        (
            json!({"name": "x", "kind": "postgres", "connection": "mysql://x@y/z"}),
            "connection",
        ),
        (
            json!({"name": "", "kind": "postgres", "connection": "postgres://x@y/z"}),
            "name",
        ),
        (
            json!({"name": "a.b", "kind": "postgres", "connection": "postgres://x@y/z"}),
            "name",
        ),
        (
            json!({"name": "x", "kind": "postgres", "connection": "postgres://x@y/z", "sync_interval_secs": 1}),
            "sync_interval_secs",
        ),
        (
            json!({"name": "x", "kind": "postgres", "connection": "postgres://x@y/z", "password": "p"}),
            "password",
        ),
    ] {
        let (status, answer) = app.post(&admin, "/api/v1/integrations", body).await;
        assert_error(status, &answer, StatusCode::BAD_REQUEST, Some(field));
    }
    // A taken name is a conflict (API.md: 409).
    let (status, answer) = app
        .post(
            &admin,
            "/api/v1/integrations",
            json!({"name": "unreachable", "kind": "postgres", "connection": "postgres://x@y/z",
                   "teams": ["analytics"]}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{answer}");
}

async fn sqlite_chinook_and_dbt_docs_arrive(app: TestApp) {
    let Some(data) = cairn_testkit::shared_data() else {
        return;
    };
    let (admin, viewer) = admin_and_viewer(&app).await;
    let file = data.join("chinook/Chinook_Sqlite.sqlite");
    let before = std::fs::read(&file).unwrap();
    let id = integration(
        &app,
        &admin,
        "chinook",
        "sqlite",
        &format!("sqlite://{}", file.display()),
    )
    .await;
    let counts = app.sync(&admin, id).await;
    assert_eq!(counts["tables"], 11, "{counts}");
    assert_eq!(counts["columns"], 64, "{counts}");
    assert_eq!(
        std::fs::read(&file).unwrap(),
        before,
        "crawling must not change the file"
    );
    let tracks = find(&app, &viewer, "q=track&kind=table").await;
    assert!(
        tracks.iter().any(|item| item["name"] == "Track"),
        "{tracks:?}"
    );

    // dbt: a PostgreSQL database shaped like jaffle_shop's models, then its manifest.
    let Some(server) = cairn_testkit::postgres() else {
        return;
    };
    let manifest: Value = serde_json::from_slice(
        &std::fs::read(data.join("dbt/jaffle_shop_dbt1.12_duckdb/manifest.json")).unwrap(),
    )
    .unwrap();
    let catalog: Value = serde_json::from_slice(
        &std::fs::read(data.join("dbt/jaffle_shop_dbt1.12_duckdb/catalog.json")).unwrap(),
    )
    .unwrap();
    let db = server.create_database_named("jaffle");
    let mut ddl = String::new();
    let mut models = Vec::new();
    for node in manifest["nodes"].as_object().unwrap().values() {
        if node["resource_type"] != "model" || node["config"]["materialized"] == "ephemeral" {
            continue;
        }
        let schema = node["schema"].as_str().unwrap().to_lowercase();
        let name = node["alias"]
            .as_str()
            .or(node["name"].as_str())
            .unwrap()
            .to_lowercase();
        let columns: Vec<String> = node["columns"]
            .as_object()
            .unwrap()
            .keys()
            .map(|column| format!("\"{}\" text", column.to_lowercase()))
            .collect();
        let columns = if columns.is_empty() {
            "id text".to_string()
        } else {
            columns.join(", ")
        };
        ddl.push_str(&format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\"; CREATE TABLE \"{schema}\".\"{name}\" ({columns});\n"));
        if node["description"]
            .as_str()
            .is_some_and(|text| !text.is_empty())
        {
            models.push((name, node["description"].as_str().unwrap().to_string()));
        }
    }
    server.psql(&db, ddl.as_str()).unwrap();
    let warehouse = integration(&app, &admin, "jaffle", "postgres", &server.url(&db)).await;
    app.sync(&admin, warehouse).await;
    let (status, imported) = app
        .post(
            &admin,
            &format!("/api/v1/integrations/{warehouse}/dbt"),
            json!({"manifest": manifest, "catalog": catalog}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{imported}");
    assert!(imported["matched"].as_u64().unwrap() >= 13, "{imported}");
    assert!(
        imported["columns_documented"].as_u64().unwrap() > 0,
        "{imported}"
    );
    assert!(!models.is_empty());
    for (name, description) in &models {
        let found = find(&app, &admin, &format!("q={name}&kind=table")).await;
        let table = found
            .iter()
            .find(|item| item["name"] == *name)
            .unwrap_or_else(|| panic!("{name} not found"));
        assert_eq!(
            table["description"].as_str().unwrap().trim(),
            description.trim(),
            "{name}"
        );
    }
    // A re-sync keeps dbt's docs; a malformed manifest is refused and changes nothing.
    app.sync(&admin, warehouse).await;
    let (name, description) = &models[0];
    let found = find(&app, &admin, &format!("q={name}&kind=table")).await;
    assert_eq!(
        found.iter().find(|item| item["name"] == *name).unwrap()["description"]
            .as_str()
            .unwrap()
            .trim(),
        description.trim()
    );
    let (status, body) = app
        .post(
            &admin,
            &format!("/api/v1/integrations/{warehouse}/dbt"),
            json!({"manifest": {"nodes": 5}}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let found = find(&app, &admin, &format!("q={name}&kind=table")).await;
    assert_eq!(
        found.iter().find(|item| item["name"] == *name).unwrap()["description"]
            .as_str()
            .unwrap()
            .trim(),
        description.trim()
    );
    let v8: Value = serde_json::from_slice(
        &std::fs::read(data.join("dbt/jaffle_shop_dbt1.4_bigquery/manifest.json")).unwrap(),
    )
    .unwrap();
    let (status, body) = app
        .post(
            &admin,
            &format!("/api/v1/integrations/{warehouse}/dbt"),
            json!({"manifest": v8}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "v8 manifests are read: {body}");
    assert_eq!(body["manifest_version"], 8);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mariadb_sakila_crawls_through_the_api() {
    let Some(server) = cairn_testkit::mariadb() else {
        return;
    };
    let Some(data) = cairn_testkit::shared_data() else {
        return;
    };
    let app = common::spawn_app(common::Backend::Sqlite).await.unwrap();
    let (admin, _) = admin_and_viewer(&app).await;
    let db = server.create_database_named("sakila");
    let url = server.url(&db);
    server
        .mysql(&db, data.join("sakila/mysql-sakila-schema.sql").as_path())
        .unwrap();
    let tables: usize = server
        .mysql(&db, format!("SELECT count(*) FROM information_schema.tables WHERE table_schema = '{db}' AND table_type = 'BASE TABLE'").as_str())
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let id = integration(&app, &admin, "sakila", "mysql", &url).await;
    let counts = app.sync(&admin, id).await;
    assert_eq!(
        counts["tables"].as_u64().unwrap() as usize,
        tables,
        "{counts}"
    );
    assert!(counts["views"].as_u64().unwrap() >= 5, "{counts}");
    assert!(!find(&app, &admin, "q=rental&kind=table").await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_scheduler_syncs_due_integrations_once() {
    let app = common::spawn_app(common::Backend::Sqlite).await.unwrap();
    let (admin, _) = admin_and_viewer(&app).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("small.sqlite");
    cairn_demo::write_demo_database(&file).unwrap();
    let id = integration(
        &app,
        &admin,
        "small",
        "sqlite",
        &format!("sqlite://{}", file.display()),
    )
    .await;
    app.catalog.sync_due().await.unwrap();
    let (_, view) = app.get(&admin, &format!("/api/v1/integrations/{id}")).await;
    assert!(view["last_sync_status"]["state"] == "ok", "{view}");
    let first = view["last_sync_at"].as_i64().unwrap();
    app.catalog.sync_due().await.unwrap();
    let (_, view) = app.get(&admin, &format!("/api/v1/integrations/{id}")).await;
    assert_eq!(
        view["last_sync_at"].as_i64().unwrap(),
        first,
        "not due again before its interval"
    );
}

async fn one_workspaces_interval_cannot_stop_everyones_syncs(app: TestApp) {
    let (admin, _) = admin_and_viewer(&app).await;
    let other_workspace = app.workspace("other", &["analytics"]).await;
    let other = app
        .member(other_workspace, "admin@other.test", Role::Admin, &[])
        .await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("small.sqlite");
    cairn_demo::write_demo_database(&file).unwrap();
    let url = format!("sqlite://{}", file.display());
    let year: u64 = 365 * 24 * 3600;
    for interval in [9_300_000_000_000_000_u64, year + 1, u64::MAX] {
        let (status, body) = app
            .post(
                &admin,
                "/api/v1/integrations",
                json!({"name": "huge", "kind": "sqlite", "connection": url,
                    "teams": ["analytics"], "sync_interval_secs": interval}),
            )
            .await;
        assert_error(
            status,
            &body,
            StatusCode::BAD_REQUEST,
            Some("sync_interval_secs"),
        );
    }
    let (status, body) = app
        .post(
            &admin,
            "/api/v1/integrations",
            json!({"name": "yearly", "kind": "sqlite", "connection": url,
                "teams": ["analytics"], "sync_interval_secs": year}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let yearly = body["id"].as_i64().unwrap();
    let (status, body) = app
        .call(
            &admin,
            Method::PATCH,
            &format!("/api/v1/integrations/{yearly}"),
            Some(json!({"sync_interval_secs": 9_300_000_000_000_000_u64})),
        )
        .await;
    assert_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        Some("sync_interval_secs"),
    );
    let (_, view) = app
        .get(&admin, &format!("/api/v1/integrations/{yearly}"))
        .await;
    assert_eq!(view["sync_interval_secs"].as_u64(), Some(year), "{view}");

    // An interval stored before the bound existed still cannot stop the scheduler's one query.
    sqlx::query("UPDATE integrations SET sync_interval_secs = 9300000000000000 WHERE id = $1")
        .bind(yearly)
        .execute(app.catalog.operator().store().pool())
        .await
        .unwrap();
    let theirs = integration(&app, &other, "theirs", "sqlite", &url).await;
    app.catalog.sync_due().await.unwrap();
    let (_, view) = app
        .get(&other, &format!("/api/v1/integrations/{theirs}"))
        .await;
    assert!(
        view["last_sync_status"]["state"] == "ok",
        "another workspace's integration is synced: {view}"
    );
    let (_, view) = app
        .get(&admin, &format!("/api/v1/integrations/{yearly}"))
        .await;
    assert!(view["last_sync_at"].is_null(), "not due: {view}");
}

async fn dbt_bodies_of_non_admins_are_refused_unread(app: TestApp) {
    let (admin, viewer) = admin_and_viewer(&app).await;
    let stranger = app
        .member(
            admin.workspace,
            "finance@acme.test",
            Role::Editor,
            &["finance"],
        )
        .await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("small.sqlite");
    cairn_demo::write_demo_database(&file).unwrap();
    let id = integration(
        &app,
        &admin,
        "small",
        "sqlite",
        &format!("sqlite://{}", file.display()),
    )
    .await;
    // Not JSON at all: had the body been parsed first, the answer would be 400. Small enough
    // to be sent whole before the early refusal closes the connection.
    let garbage = format!("{{\"manifest\": {}", "[".repeat(2_000));
    let send = |member: &Member| {
        app.client
            .post(app.url(&format!("/api/v1/integrations/{id}/dbt")))
            .bearer_auth(&member.token)
            .header("content-type", "application/json")
            .body(garbage.clone())
            .send()
    };
    let status = send(&viewer).await.unwrap().status();
    assert_eq!(status, StatusCode::FORBIDDEN, "a viewer who sees it");
    let status = send(&stranger).await.unwrap().status();
    assert_eq!(status, StatusCode::NOT_FOUND, "a member who cannot see it");
    let status = send(&admin).await.unwrap().status();
    assert_eq!(status, StatusCode::BAD_REQUEST, "an admin's body is read");
}
