//! Integration targets are the operator's decision: an admin of a workspace cannot point an
//! integration at Cairn's own store (every workspace's people, prompts and keys), at its data
//! directory, at this machine's loopback or unix sockets, or at a file, unless the operator's
//! allow list says so — and never at the store, whatever the list says. Refusals read the same
//! whether or not the target exists.

use crate::common;

use cairn_catalog::Role;
use cairn_connect::TargetPolicy;
use common::{Backend, Member, TestApp, spawn_app_with};
use reqwest::StatusCode;
use serde_json::{Value, json};

on_both_backends!(
    the_store_and_the_data_directory_are_never_targets,
    a_target_is_checked_again_at_every_connect,
);

const POLICY_MESSAGE: &str =
    "cannot use this connection: not allowed by the server's integration policy";

async fn admin(app: &TestApp) -> Member {
    let workspace = app.workspace("acme", &["analytics"]).await;
    app.member(workspace, "admin@acme.test", Role::Admin, &[])
        .await
}

async fn create(
    app: &TestApp,
    admin: &Member,
    name: &str,
    kind: &str,
    url: &str,
) -> (StatusCode, Value) {
    app.post(
        admin,
        "/api/v1/integrations",
        json!({"name": name, "kind": kind, "connection": url, "teams": ["analytics"]}),
    )
    .await
}

fn assert_refused(status: StatusCode, body: &Value, what: &str) {
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{what}: {body}");
    assert_eq!(body["error"]["code"], "not_allowed", "{what}: {body}");
    assert_eq!(body["error"]["message"], POLICY_MESSAGE, "{what}: {body}");
}

async fn integration_count(app: &TestApp, admin: &Member) -> usize {
    let (status, body) = app.get(admin, "/api/v1/integrations").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body.as_array()
        .or_else(|| body["items"].as_array())
        .map_or(0, Vec::len)
}

/// The review's reproduction: `sqlite:///<data dir>/cairn.db`, then `SELECT … FROM users`.
/// Here the test server allows the whole temporary directory (which holds the store, the data
/// directory and the test databases): the store and the data directory stay refused.
async fn the_store_and_the_data_directory_are_never_targets(app: TestApp) {
    let admin = admin(&app).await;
    let data_dir = app.catalog.config().data_dir.clone();
    let before = integration_count(&app, &admin).await;

    let mut targets: Vec<(&str, String)> = vec![
        (
            "sqlite",
            format!("sqlite://{}/index/meta.json", data_dir.display()),
        ),
        (
            "sqlite",
            format!("sqlite://{}/demo/acme-warehouse.sqlite", data_dir.display()),
        ),
        (
            "sqlite",
            format!("sqlite://{}/../data/./secret.key", data_dir.display()),
        ),
    ];
    let outside = tempfile::tempdir().unwrap();
    if app.database_url.starts_with("sqlite:") {
        let store = app.database_url.trim_start_matches("sqlite://").to_owned();
        // The test store lies outside the data directory; it is refused as the store itself,
        // by path, through a symbolic link and through a hard link.
        let link = outside.path().join("innocent.db");
        std::os::unix::fs::symlink(&store, &link).unwrap();
        let hard = outside.path().join("hard.db");
        let hard_linked = std::fs::hard_link(&store, &hard).is_ok();
        targets.push(("sqlite", format!("sqlite://{store}")));
        targets.push(("sqlite", format!("sqlite:{store}")));
        targets.push(("sqlite", format!("sqlite://{store}-wal")));
        targets.push(("sqlite", format!("sqlite://{}", link.display())));
        if hard_linked {
            targets.push(("sqlite", format!("sqlite://{}", hard.display())));
        }
    } else {
        // The store's own PostgreSQL database, over the socket the test server allows.
        targets.push(("postgres", app.database_url.clone()));
    }
    for (index, (kind, url)) in targets.iter().enumerate() {
        let (status, body) = create(&app, &admin, &format!("store{index}"), kind, url).await;
        assert_refused(status, &body, url);
        assert!(!body.to_string().contains("exist"), "{body}");
    }
    assert_eq!(
        integration_count(&app, &admin).await,
        before,
        "nothing was created"
    );

    // An existing integration cannot be moved onto the store either, and keeps working.
    let shop = outside.path().join("shop.db");
    let id = connect_shop(
        &app,
        &admin,
        &shop,
        "CREATE TABLE orders (id INTEGER PRIMARY KEY, total REAL)",
    )
    .await;
    let (kind, url) = &targets[targets.len() - 1];
    if *kind == "sqlite" {
        let (status, body) = app
            .patch(
                &admin,
                &format!("/api/v1/integrations/{id}"),
                json!({"connection": url}),
            )
            .await;
        assert_refused(status, &body, url);
    }
    let (status, body) = app.try_sync(&admin, id).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "the old connection still works: {body}"
    );
}

/// A file that was fine when the integration was created becomes a link to the store: the
/// next sync refuses it (the policy is applied at every connect, not only at creation).
async fn a_target_is_checked_again_at_every_connect(app: TestApp) {
    if !app.database_url.starts_with("sqlite:") {
        // The PostgreSQL store cannot be linked to as a file; the socket case is covered above.
        return;
    }
    let admin = admin(&app).await;
    let outside = tempfile::tempdir().unwrap();
    let shop = outside.path().join("shop.db");
    let id = connect_shop(
        &app,
        &admin,
        &shop,
        "CREATE TABLE orders (id INTEGER PRIMARY KEY)",
    )
    .await;
    std::fs::remove_file(&shop).unwrap();
    let store = app.database_url.trim_start_matches("sqlite://");
    std::os::unix::fs::symlink(store, &shop).unwrap();
    let (status, body) = app.try_sync(&admin, id).await;
    assert_refused(status, &body, "sync through a swapped link");
    let (status, body) = app.get(&admin, "/api/v1/resources?q=users&limit=50").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        !body.to_string().contains("password_hash"),
        "nothing of the store was crawled: {body}"
    );
}

/// With no allow list: files, sockets, loopback and link-local addresses are refused, with the
/// same words whether the file exists or not; network addresses are accepted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_defaults_refuse_files_sockets_and_this_machine() {
    let Some(app) = spawn_app_with(Backend::Sqlite, |config| {
        config.integration_policy = TargetPolicy::default();
    })
    .await
    else {
        return;
    };
    let admin = admin(&app).await;
    let dir = tempfile::tempdir().unwrap();
    let present = dir.path().join("present.db");
    write_sqlite(&present, "CREATE TABLE t (x INTEGER)").await;
    let mut targets = vec![
        ("sqlite", format!("sqlite://{}", present.display())),
        (
            "sqlite",
            format!("sqlite://{}/absent.db", dir.path().display()),
        ),
        ("sqlite", "sqlite:///etc/passwd".to_owned()),
        (
            "postgres",
            "postgres://postgres@localhost/postgres".to_owned(),
        ),
        (
            "postgres",
            "postgres://postgres@127.0.0.1:5432/postgres".to_owned(),
        ),
        (
            "postgres",
            "postgres://postgres@[::1]:5432/postgres".to_owned(),
        ),
        ("postgres", "postgres://u@169.254.169.254/latest".to_owned()),
        (
            "postgres",
            "postgres://postgres@x/postgres?host=/var/run/postgresql".to_owned(),
        ),
        (
            "mysql",
            "mysql://root@localhost/mysql?socket=/run/mysqld/mysqld.sock".to_owned(),
        ),
        ("mysql", "mysql://root@127.0.0.1:3306/mysql".to_owned()),
    ];
    if let Some(server) = cairn_testkit::postgres() {
        // A real server on a real socket: the one the review reached as its superuser.
        targets.push(("postgres", server.url("postgres")));
    }
    for (index, (kind, url)) in targets.iter().enumerate() {
        let (status, body) = create(&app, &admin, &format!("t{index}"), kind, url).await;
        assert_refused(status, &body, url);
    }
    // Private and public network addresses are the operator's default allowance.
    let (status, body) = create(
        &app,
        &admin,
        "warehouse2",
        "postgres",
        "postgres://reader:pw@10.255.255.1:5432/sales",
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

/// The demo warehouse lives in the data directory: Cairn names it, so it syncs and answers
/// SQL; no caller can point an integration at it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_warehouse_stays_allowed_and_is_unreachable_for_callers() {
    let Some(app) = spawn_app_with(Backend::Sqlite, |config| {
        config.integration_policy = TargetPolicy::default();
    })
    .await
    else {
        return;
    };
    let seed = app.seed_demo().await;
    let admin = app
        .member(
            seed.workspace,
            "second-admin@acme.example",
            Role::Admin,
            &[],
        )
        .await;
    let (status, body) = app.get(&admin, "/api/v1/integrations").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let list = body
        .as_array()
        .or_else(|| body["items"].as_array())
        .unwrap()
        .clone();
    let warehouse = list
        .iter()
        .find(|item| item["name"] == "warehouse")
        .expect("the demo integration");
    let id = warehouse["id"].as_i64().unwrap();
    let (status, body) = app.try_sync(&admin, id).await;
    assert_eq!(status, StatusCode::OK, "the demo warehouse syncs: {body}");

    let path = app
        .catalog
        .config()
        .data_dir
        .join("demo/acme-warehouse.sqlite");
    assert!(path.exists());
    let (status, body) = create(
        &app,
        &admin,
        "copy",
        "sqlite",
        &format!("sqlite://{}", path.display()),
    )
    .await;
    assert_refused(status, &body, "the demo file");
    let (status, body) = app
        .patch(
            &admin,
            &format!("/api/v1/integrations/{id}"),
            json!({"connection": format!("sqlite://{}", path.display())}),
        )
        .await;
    assert_refused(status, &body, "the demo file, by update");
    let (status, body) = create(
        &app,
        &admin,
        "marker",
        "sqlite",
        "cairn-demo:acme-warehouse",
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
}

/// A SQLite file at `path` made with `ddl`, created as the integration `shop`: its id.
async fn connect_shop(
    app: &TestApp,
    admin: &Member,
    path: &std::path::Path,
    ddl: &'static str,
) -> i64 {
    write_sqlite(path, ddl).await;
    let url = format!("sqlite://{}", path.display());
    let (status, body) = create(app, admin, "shop", "sqlite", &url).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["id"].as_i64().unwrap()
}

async fn write_sqlite(path: &std::path::Path, ddl: &'static str) {
    use sqlx::ConnectOptions;
    use sqlx::Executor;
    let mut connection = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true)
        .connect()
        .await
        .expect("create sqlite file");
    connection.execute(ddl).await.expect("ddl");
}
