//! An integration's database going away in the middle of a sync: the sync fails cleanly (its
//! record says failed, the integration's last status says why) and the catalog is exactly as it
//! was; once the database is back, the next sync works.

use crate::common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use cairn_catalog::Role;
use reqwest::StatusCode;
use serde_json::{Value, json};

use common::{Backend, Member, TestApp};

/// What the catalog holds of an integration: each resource's id, path and last update, and the
/// change feed's head.
async fn snapshot(app: &TestApp, integration: i64) -> (Vec<(i64, String, i64)>, i64) {
    let rows: Vec<(i64, String, i64)> = sqlx::query_as(
        "SELECT id, path, updated_at FROM resources WHERE integration_id = $1 ORDER BY id",
    )
    .bind(integration)
    .fetch_all(app.catalog.operator().store().pool())
    .await
    .unwrap();
    let head = app
        .catalog
        .operator()
        .store()
        .last_change_seq()
        .await
        .unwrap();
    (rows, head)
}

/// Polls `query` on the warehouse server until it prints `1`.
fn until_one(server: &cairn_testkit::PgServer, db: &str, query: &str) {
    let started = Instant::now();
    while server.psql(db, query).unwrap_or_default().trim() != "1" {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "never true: {query}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

async fn progress(app: &TestApp, admin: &Member, integration: i64, sync: i64) -> Value {
    let (status, body) = app
        .get(
            admin,
            &format!("/api/v1/integrations/{integration}/syncs/{sync}"),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_lost_mid_sync_fails_that_sync_and_leaves_the_catalog_as_it_was() {
    let Some(warehouse) = cairn_testkit::postgres::private_postgres() else {
        return;
    };
    let warehouse = Arc::new(warehouse);
    let db = warehouse.create_database_named("outage_warehouse");
    warehouse
        .psql(&db, &cairn_testkit::warehouse::generation_script(200, 5))
        .expect("the warehouse is generated");
    let app = common::spawn_app(Backend::Sqlite).await.expect("sqlite");
    let workspace = app.workspace("acme", &["analytics"]).await;
    let admin = app
        .member(workspace, "admin@acme.test", Role::Admin, &[])
        .await;
    let integration = app
        .connect_and_sync(
            &admin,
            json!({"name": "warehouse", "kind": "postgres", "connection": warehouse.url(&db),
                "teams": ["analytics"]}),
        )
        .await;
    let before = snapshot(&app, integration).await;
    assert!(before.0.len() > 1000, "the first sync stored the warehouse");

    // The warehouse changes, so a sync that got through would change the catalog; then a
    // session holds a view locked, so the next crawl waits inside the warehouse (reading that
    // view's definition) until the server goes away.
    warehouse
        .psql(
            &db,
            "CREATE TABLE s1.added_later (id bigint); DROP TABLE s2.t7;",
        )
        .unwrap();
    let holder = {
        let warehouse = Arc::clone(&warehouse);
        let db = db.clone();
        std::thread::spawn(move || {
            warehouse.psql(
                &db,
                "BEGIN; LOCK TABLE s0.v100 IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(300);",
            )
        })
    };
    until_one(
        &warehouse,
        &db,
        "SELECT count(*) FROM pg_locks WHERE relation = 's0.v100'::regclass \
         AND mode = 'AccessExclusiveLock' AND granted",
    );
    let (status, body) = app
        .post(
            &admin,
            &format!("/api/v1/integrations/{integration}/sync?wait=false"),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let sync = body["sync_id"].as_i64().unwrap();
    let waiting = {
        let warehouse = Arc::clone(&warehouse);
        let db = db.clone();
        tokio::task::spawn_blocking(move || {
            until_one(
                &warehouse,
                &db,
                "SELECT least(count(*), 1) FROM pg_stat_activity WHERE wait_event_type = 'Lock'",
            );
        })
    };
    waiting.await.unwrap();
    assert_eq!(
        progress(&app, &admin, integration, sync).await["phase"],
        "crawling"
    );

    let stopped = Arc::clone(&warehouse);
    tokio::task::spawn_blocking(move || stopped.stop().expect("the warehouse stops"))
        .await
        .unwrap();
    assert!(
        holder.join().unwrap().is_err(),
        "the lock holder was cut off"
    );

    let started = Instant::now();
    let ended = loop {
        let body = progress(&app, &admin, integration, sync).await;
        if body["phase"] != "crawling" {
            break body;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the sync still crawls 60 s after its database went away: {body}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(ended["phase"], "failed", "{ended}");
    assert!(ended["error"].is_string(), "{ended}");
    assert_eq!(
        snapshot(&app, integration).await,
        before,
        "a failed sync leaves the catalog as it was"
    );
    let (status, body) = app
        .get(&admin, &format!("/api/v1/integrations/{integration}"))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["last_sync_status"]["state"], "failed", "{body}");

    // The database is back: the next sync brings the change.
    let restarted = Arc::clone(&warehouse);
    tokio::task::spawn_blocking(move || restarted.start_again().expect("the warehouse starts"))
        .await
        .unwrap();
    let body = app.sync(&admin, integration).await;
    assert!(body["added"].as_u64().unwrap() >= 1, "{body}");
    assert!(body["removed"].as_u64().unwrap() >= 1, "{body}");
}
