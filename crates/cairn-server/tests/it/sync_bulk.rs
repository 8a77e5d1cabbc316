//! Syncs written in bulk: crawls larger than one multi-row statement, re-syncs that write only
//! what changed (relations included, and a table replaced by a view of the same name), and
//! syncs in the background with their progress.

use crate::common;

use std::time::Duration;

use cairn_catalog::Role;
use common::{Member, TestApp, assert_error};
use reqwest::StatusCode;
use serde_json::{Value, json};

on_both_backends!(
    a_large_crawl_is_stored_whole_and_a_resync_writes_only_the_difference,
    a_background_sync_reports_its_phase_counts_and_end,
    another_node_indexes_a_sync_from_the_feed,
    a_sync_whose_writes_fail_leaves_nothing_it_indexed_early,
);

/// More tables than one multi-row statement holds, so every write runs in several chunks.
const TABLES: usize = 1_200;

async fn setup(app: &TestApp) -> (Member, Member, Member) {
    let workspace = app.workspace("acme", &["analytics"]).await;
    let other = app.workspace("globex", &["analytics"]).await;
    (
        app.member(workspace, "admin@acme.test", Role::Admin, &[])
            .await,
        app.member(workspace, "viewer@acme.test", Role::Viewer, &["analytics"])
            .await,
        app.member(other, "admin@globex.test", Role::Admin, &[])
            .await,
    )
}

async fn create_integration(app: &TestApp, admin: &Member, url: &str) -> i64 {
    let (status, body) = app
        .post(
            admin,
            "/api/v1/integrations",
            json!({"name": "wh", "kind": "postgres", "connection": url, "teams": ["analytics"]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["id"].as_i64().unwrap()
}

fn counts(view: &Value) -> (u64, u64, u64) {
    (
        view["added"].as_u64().unwrap(),
        view["changed"].as_u64().unwrap(),
        view["removed"].as_u64().unwrap(),
    )
}

async fn find(app: &TestApp, member: &Member, query: &str) -> Value {
    let (status, body) = app.get(member, &format!("/api/v1/resources?{query}")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

/// How many resources of `kind` the member finds, page by page.
async fn count(app: &TestApp, member: &Member, kind: &str) -> usize {
    let mut total = 0;
    let mut cursor = String::new();
    loop {
        let page = find(app, member, &format!("kind={kind}&limit=200{cursor}")).await;
        total += page["items"].as_array().unwrap().len();
        match page["next_cursor"].as_str() {
            Some(next) => cursor = format!("&cursor={next}"),
            None => return total,
        }
    }
}

/// The one resource of `kind` at exactly `path`, as the member sees it. A column is found
/// through its table's (or view's) page.
async fn resource_at(app: &TestApp, member: &Member, kind: &str, path: &str) -> Option<Value> {
    let (parent, name) = path.rsplit_once('.').unwrap();
    if kind == "column" {
        let mut table = Box::pin(resource_at(app, member, "table", parent)).await;
        if table.is_none() {
            table = Box::pin(resource_at(app, member, "view", parent)).await;
        }
        let id = table?["columns"]
            .as_array()?
            .iter()
            .find(|column| column["name"] == name)?["id"]
            .as_i64()?;
        return Some(app.get(member, &format!("/api/v1/resources/{id}")).await.1);
    }
    let found = find(app, member, &format!("q={name}&kind={kind}&limit=50")).await;
    let id = found["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|item| item["path"] == path)?["id"]
        .as_i64()?;
    Some(app.get(member, &format!("/api/v1/resources/{id}")).await.1)
}

async fn a_large_crawl_is_stored_whole_and_a_resync_writes_only_the_difference(app: TestApp) {
    let Some(server) = cairn_testkit::postgres() else {
        return;
    };
    let (admin, viewer, _) = setup(&app).await;
    let db = server.create_database_named("bulk");
    // t1…t1200, each (id primary key, v text); every 10th references the one before.
    server
        .psql(
            &db,
            format!(
                "DO $$ BEGIN FOR i IN 1..{TABLES} LOOP
                   EXECUTE format('CREATE TABLE t%s (id int PRIMARY KEY, v text)', i);
                   IF i % 10 = 0 THEN
                     EXECUTE format('ALTER TABLE t%s ADD COLUMN prev_id int REFERENCES t%s (id)', i, i - 1);
                   END IF;
                 END LOOP; END $$;"
            )
            .as_str(),
        )
        .unwrap();
    let id = create_integration(&app, &admin, &server.url(&db)).await;
    let first = app.sync(&admin, id).await;
    let columns = TABLES as u64 * 2 + TABLES as u64 / 10;
    assert_eq!(first["tables"], TABLES as u64, "{first}");
    // the database, the schema, the tables and their columns
    assert_eq!(
        counts(&first),
        (2 + TABLES as u64 + columns, 0, 0),
        "{first}"
    );
    assert!(first["sync_id"].as_i64().is_some(), "{first}");
    assert_eq!(
        count(&app, &viewer, "table").await,
        TABLES,
        "every table is visible to the integration's team"
    );
    assert_eq!(count(&app, &viewer, "column").await as u64, columns);
    let schema = format!("wh.{db}.public");
    let last = resource_at(
        &app,
        &viewer,
        "column",
        &format!("{schema}.t{TABLES}.prev_id"),
    )
    .await
    .expect("the last table's key column");
    assert_eq!(last["relations"][0]["kind"], "foreign_key", "{last}");
    assert_eq!(
        last["relations"][0]["path"],
        format!("{schema}.t{}.id", TABLES - 1)
    );

    let again = app.sync(&admin, id).await;
    assert_eq!(counts(&again), (0, 0, 0), "an unchanged database: {again}");

    // One comment, one foreign key dropped and one added, one table replaced by a view of
    // the same name whose `id` column keeps its path.
    server
        .psql(
            &db,
            "COMMENT ON COLUMN t3.v IS 'the third value';
             ALTER TABLE t20 DROP COLUMN prev_id;
             ALTER TABLE t31 ADD COLUMN prev_id int REFERENCES t30 (id);
             DROP TABLE t7;
             CREATE VIEW t7 AS SELECT id FROM t8;",
        )
        .unwrap();
    let changed = app.sync(&admin, id).await;
    // added: t31.prev_id and the view t7; changed: t3.v's comment and t7.id (now under the
    // view); removed: t20.prev_id, the table t7 and its column v.
    assert_eq!(counts(&changed), (2, 2, 3), "{changed}");
    let v = resource_at(&app, &viewer, "column", &format!("{schema}.t3.v"))
        .await
        .unwrap();
    assert_eq!(v["description"], "the third value", "{v}");
    let dropped = resource_at(&app, &viewer, "column", &format!("{schema}.t20.prev_id")).await;
    assert!(dropped.is_none(), "a dropped column leaves search");
    let added = resource_at(&app, &viewer, "column", &format!("{schema}.t31.prev_id"))
        .await
        .expect("the new key column");
    assert_eq!(
        added["relations"][0]["path"],
        format!("{schema}.t30.id"),
        "{added}"
    );
    assert_eq!(
        added["teams"],
        json!(["analytics"]),
        "inherits its table's teams"
    );
    let view = resource_at(&app, &viewer, "view", &format!("{schema}.t7"))
        .await
        .expect("t7 is a view now");
    assert!(
        resource_at(&app, &viewer, "table", &format!("{schema}.t7"))
            .await
            .is_none()
    );
    let moved = resource_at(&app, &viewer, "column", &format!("{schema}.t7.id"))
        .await
        .expect("t7.id stays");
    assert_eq!(moved["parent_id"], view["id"], "{moved}");
    assert_eq!(counts(&app.sync(&admin, id).await), (0, 0, 0));
}

async fn a_background_sync_reports_its_phase_counts_and_end(app: TestApp) {
    let Some(server) = cairn_testkit::postgres() else {
        return;
    };
    let (admin, viewer, stranger) = setup(&app).await;
    let db = server.create_database_named("background");
    server
        .psql(
            &db,
            "CREATE TABLE a (id int PRIMARY KEY); CREATE TABLE b (id int, a_id int REFERENCES a (id));",
        )
        .unwrap();
    let id = create_integration(&app, &admin, &server.url(&db)).await;
    let path = format!("/api/v1/integrations/{id}/sync?wait=false");
    let (status, started) = app.post(&admin, &path, json!({})).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{started}");
    let sync_id = started["sync_id"].as_i64().unwrap();
    let progress = format!("/api/v1/integrations/{id}/syncs/{sync_id}");
    let done = poll_until_finished(&app, &admin, &progress).await;
    assert_eq!(done["phase"], "done", "{done}");
    // database, schema, 2 tables, 3 columns
    assert_eq!(
        (&done["added"], &done["changed"], &done["removed"]),
        (&json!(7), &json!(0), &json!(0)),
        "{done}"
    );
    assert!(done["finished_at"].as_i64().unwrap() >= done["started_at"].as_i64().unwrap());
    assert!(done["error"].is_null(), "{done}");
    assert_eq!(
        count(&app, &viewer, "table").await,
        2,
        "the synced tables are there once it is done"
    );

    // Only admins of the workspace see a sync; a bad flag or an unknown id is named.
    let (status, body) = app.get(&viewer, &progress).await;
    assert_error(status, &body, StatusCode::FORBIDDEN, None);
    let (status, body) = app.get(&stranger, &progress).await;
    assert_error(status, &body, StatusCode::NOT_FOUND, None);
    let (status, body) = app.post(&stranger, &path, json!({})).await;
    assert_error(status, &body, StatusCode::NOT_FOUND, None);
    let (status, body) = app
        .get(
            &admin,
            &format!("/api/v1/integrations/{id}/syncs/{}", sync_id + 1000),
        )
        .await;
    assert_error(status, &body, StatusCode::NOT_FOUND, None);
    let (status, body) = app
        .post(
            &admin,
            &format!("/api/v1/integrations/{id}/sync?wait=perhaps"),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");

    // A sync that fails says so, with the reason, to the admin.
    server
        .psql("postgres", format!("DROP DATABASE \"{db}\"").as_str())
        .unwrap();
    let (status, started) = app.post(&admin, &path, json!({})).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{started}");
    let failed = poll_until_finished(
        &app,
        &admin,
        &format!(
            "/api/v1/integrations/{id}/syncs/{}",
            started["sync_id"].as_i64().unwrap()
        ),
    )
    .await;
    assert_eq!(failed["phase"], "failed", "{failed}");
    assert!(
        failed["error"].as_str().unwrap().contains(&db),
        "the admin is told what failed: {failed}"
    );
    assert_eq!(
        count(&app, &viewer, "table").await,
        2,
        "a failed sync changes nothing"
    );
}

async fn poll_until_finished(app: &TestApp, admin: &Member, path: &str) -> Value {
    let mut seen = Vec::new();
    for _ in 0..600 {
        let (status, body) = app.get(admin, path).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let phase = body["phase"].as_str().unwrap().to_string();
        assert!(
            ["crawling", "storing", "indexing", "done", "failed"].contains(&phase.as_str()),
            "{body}"
        );
        if !seen.contains(&phase) {
            seen.push(phase.clone());
        }
        if body["finished_at"].is_i64() {
            return body;
        }
        assert!(body["elapsed_ms"].as_i64().unwrap() >= 0);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the sync did not finish in 30 s; phases seen: {seen:?}");
}

/// Another node on the same store, with its own data directory (the same secret key) and so
/// its own search index, which it builds from the change feed alone.
async fn other_node(app: &TestApp, dir: &std::path::Path) -> (cairn_catalog::Catalog, String) {
    let data = dir.join("data");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::copy(
        app.catalog.config().data_dir.join("secret.key"),
        data.join("secret.key"),
    )
    .unwrap();
    let mut config = cairn_catalog::CatalogConfig::new(data);
    config.scheduled_sync = false;
    let catalog = cairn_catalog::Catalog::open(&app.database_url, config)
        .await
        .expect("the other node");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let state = cairn_server::AppState {
        catalog: catalog.clone(),
        secure_cookies: false,
    };
    tokio::spawn(cairn_server::serve(listener, state, std::future::pending()));
    (catalog, base)
}

/// Paths of the tables a member finds searching `words` on the node at `base`.
async fn tables_found_at(app: &TestApp, base: &str, member: &Member, words: &str) -> Vec<String> {
    let response = app
        .client
        .get(format!(
            "{base}/api/v1/resources?q={words}&kind=table&limit=50"
        ))
        .bearer_auth(&member.token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    let mut paths: Vec<String> = body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["path"].as_str().unwrap().to_string())
        .collect();
    paths.sort();
    paths
}

/// A sync's changes reach another node's index through the feed: new tables with their
/// crawled comments and people's descriptions (which win), and a removed table leaves.
async fn another_node_indexes_a_sync_from_the_feed(app: TestApp) {
    let Some(server) = cairn_testkit::postgres() else {
        return;
    };
    let (admin, viewer, _) = setup(&app).await;
    let db = server.create_database_named("feed");
    server
        .psql(
            &db,
            "CREATE TABLE orders (id int PRIMARY KEY);
             CREATE TABLE refunds (id int PRIMARY KEY);
             COMMENT ON TABLE refunds IS 'money returned';
             CREATE TABLE ledger (id int PRIMARY KEY);
             COMMENT ON TABLE ledger IS 'bookkeeping entries';",
        )
        .unwrap();
    let id = create_integration(&app, &admin, &server.url(&db)).await;
    app.sync(&admin, id).await;
    let schema = format!("wh.{db}.public");
    let ledger = resource_at(&app, &viewer, "table", &format!("{schema}.ledger"))
        .await
        .expect("the ledger");
    let (status, body) = app
        .patch(
            &admin,
            &format!("/api/v1/resources/{}", ledger["id"]),
            json!({"description": "purchases and payments"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let dir = tempfile::tempdir().unwrap();
    let (other, base) = other_node(&app, dir.path()).await;
    other.follow_changes().await.unwrap();
    // The table named by the words comes first (its foreign-key neighbours may follow).
    assert_eq!(
        tables_found_at(&app, &base, &viewer, "returned")
            .await
            .first(),
        Some(&format!("{schema}.refunds")),
        "a crawled comment is indexed on the other node"
    );
    assert_eq!(
        tables_found_at(&app, &base, &viewer, "purchases")
            .await
            .first(),
        Some(&format!("{schema}.ledger")),
        "a person's description is indexed on the other node"
    );
    assert!(
        tables_found_at(&app, &base, &viewer, "bookkeeping")
            .await
            .is_empty(),
        "a person's description wins over the crawled comment"
    );

    server
        .psql(
            &db,
            "DROP TABLE refunds; CREATE TABLE invoices (id int PRIMARY KEY);",
        )
        .unwrap();
    let again = app.sync(&admin, id).await;
    assert_eq!(counts(&again), (2, 0, 2), "{again}");
    other.follow_changes().await.unwrap();
    assert_eq!(
        tables_found_at(&app, &base, &viewer, "invoices")
            .await
            .first(),
        Some(&format!("{schema}.invoices"))
    );
    assert!(
        tables_found_at(&app, &base, &viewer, "returned")
            .await
            .is_empty(),
        "a removed table leaves the other node's search"
    );
    assert_eq!(
        tables_found_at(&app, &base, &viewer, "purchases")
            .await
            .first(),
        Some(&format!("{schema}.ledger")),
        "people's descriptions survive a re-sync"
    );
}

/// This node indexes what a sync adds while the store writes it; when the store's writes then
/// fail (here the feed refuses its entries), nothing of it reaches the index, not even with the
/// next commit; the next sync indexes everything.
async fn a_sync_whose_writes_fail_leaves_nothing_it_indexed_early(app: TestApp) {
    let Some(server) = cairn_testkit::postgres() else {
        return;
    };
    let (admin, viewer, _) = setup(&app).await;
    let db = server.create_database_named("refused");
    server
        .psql(
            &db,
            "DO $$ BEGIN FOR i IN 1..40 LOOP
               EXECUTE format('CREATE TABLE refused_t%s (id int PRIMARY KEY, v text)', i);
             END LOOP; END $$;",
        )
        .unwrap();
    let integration = create_integration(&app, &admin, &server.url(&db)).await;
    app.catalog.follow_changes().await.unwrap();
    let before = app.catalog.indexed_resources();

    let pool = app.catalog.operator().store().pool();
    let (refuse, allow) = if app.database_url.starts_with("sqlite") {
        (
            vec![
                "CREATE TRIGGER refuse_feed BEFORE INSERT ON changes \
                  BEGIN SELECT RAISE(ABORT, 'the feed is closed'); END",
            ],
            "DROP TRIGGER refuse_feed",
        )
    } else {
        (
            vec![
                "CREATE FUNCTION refuse_feed() RETURNS trigger LANGUAGE plpgsql \
                 AS $f$ BEGIN RAISE EXCEPTION 'the feed is closed'; END $f$",
                "CREATE TRIGGER refuse_feed BEFORE INSERT ON changes \
                 FOR EACH STATEMENT EXECUTE FUNCTION refuse_feed()",
            ],
            "DROP TRIGGER refuse_feed ON changes",
        )
    };
    for statement in refuse {
        sqlx::raw_sql(sqlx::AssertSqlSafe(statement))
            .execute(pool)
            .await
            .unwrap();
    }
    let (status, body) = app.try_sync(&admin, integration).await;
    assert_ne!(status, StatusCode::OK, "{body}");
    sqlx::raw_sql(sqlx::AssertSqlSafe(allow))
        .execute(pool)
        .await
        .unwrap();

    // Another change, followed and committed: the failed sync's resources must not ride along.
    let (status, body) = app
        .post(
            &admin,
            "/api/v1/integrations",
            json!({"name": "other", "kind": "postgres", "connection": server.url(&db),
                   "teams": ["analytics"]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    app.catalog.follow_changes().await.unwrap();
    assert_eq!(
        app.catalog.indexed_resources(),
        before + 1,
        "only the new integration was indexed"
    );
    let found = find(&app, &viewer, "q=refused_t7&kind=table").await;
    assert_eq!(found["items"].as_array().unwrap().len(), 0, "{found}");

    let view = app.sync(&admin, integration).await;
    let added = view["added"].as_u64().unwrap();
    assert_eq!(added, 1 + 1 + 40 * 3, "{view}");
    assert_eq!(app.catalog.indexed_resources(), before + 1 + added);
    let found = find(&app, &viewer, "q=refused_t7&kind=table").await;
    assert_eq!(found["items"][0]["name"], "refused_t7", "{found}");
}
