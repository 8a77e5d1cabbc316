//! Retrieval through `GET /resources?q=`: typos, synonyms, foreign-key neighbours, without a
//! model, and never past the workspace and team filter.

use crate::common;

use cairn_catalog::Role;
use common::{Member, TestApp};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::{ConnectOptions, Connection, Executor};

/// A shop's music sales: the invoice tables carry none of the question's words, only
/// foreign keys to the tables that do.
const SHOP: &str = "
    CREATE TABLE customer (customer_id INTEGER PRIMARY KEY, first_name TEXT, email TEXT);
    CREATE TABLE genre (genre_id INTEGER PRIMARY KEY, name TEXT);
    CREATE TABLE track (track_id INTEGER PRIMARY KEY, title TEXT,
        genre_id INTEGER REFERENCES genre (genre_id));
    CREATE TABLE invoice (invoice_id INTEGER PRIMARY KEY,
        payer INTEGER REFERENCES customer (customer_id), total REAL);
    CREATE TABLE invoice_line (line_id INTEGER PRIMARY KEY,
        invoice_id INTEGER REFERENCES invoice (invoice_id),
        item INTEGER REFERENCES track (track_id), unit_price REAL);
    CREATE TABLE refund (refund_id INTEGER PRIMARY KEY, reason TEXT);
    CREATE TABLE warehouse_bin (bin_id INTEGER PRIMARY KEY, aisle TEXT);
";

/// Finance's own database, for its team only.
const ROYALTIES: &str = "CREATE TABLE song_plays (play_id INTEGER PRIMARY KEY, royalty REAL);";

const FK_QUESTION: &str = "which customers bought tracks of genre rock";

async fn sqlite_file(dir: &std::path::Path, name: &str, script: &str) -> String {
    let path = dir.join(format!("{name}.db"));
    let mut connection = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(&path)
        .create_if_missing(true)
        .connect()
        .await
        .expect("sqlite file");
    connection
        .execute(sqlx::raw_sql(sqlx::AssertSqlSafe(script.to_string())))
        .await
        .expect("schema");
    connection.close().await.expect("close");
    format!("sqlite://{}", path.display())
}

async fn add_and_sync(app: &TestApp, admin: &Member, name: &str, url: &str, team: &str) {
    let (status, body) = app
        .post(
            admin,
            "/api/v1/integrations",
            json!({"name": name, "kind": "sqlite", "connection": url, "teams": [team]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let id = body["id"].as_i64().expect("id");
    let (status, body) = app.try_sync(admin, id).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

async fn search(app: &TestApp, member: &Member, q: &str) -> (Vec<String>, Value) {
    let path = format!(
        "/api/v1/resources?kind=table&limit=5&q={}",
        q.replace(' ', "%20")
    );
    let (status, body) = app.get(member, &path).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let names = body["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|item| item["name"].as_str().expect("name").to_string())
        .collect();
    (names, body)
}

struct Shop {
    admin: Member,
    viewer: Member,
    outsider: Member,
    _files: tempfile::TempDir,
}

/// Workspace `music` (teams sales and finance: the shop for sales, royalties for finance) and
/// workspace `other` holding a shop of its own.
async fn shop(app: &TestApp) -> Shop {
    let files = tempfile::tempdir().expect("temp dir");
    let music = app.workspace("music", &["sales", "finance"]).await;
    let admin = app
        .member(music, "admin@music.example", Role::Admin, &["sales"])
        .await;
    let viewer = app
        .member(music, "viewer@music.example", Role::Viewer, &["sales"])
        .await;
    let shop_url = sqlite_file(files.path(), "shop", SHOP).await;
    add_and_sync(app, &admin, "shop", &shop_url, "sales").await;
    let royalties_url = sqlite_file(files.path(), "royalties", ROYALTIES).await;
    add_and_sync(app, &admin, "royalties", &royalties_url, "finance").await;
    let other = app.workspace("other", &["sales"]).await;
    let other_admin = app
        .member(other, "admin@other.example", Role::Admin, &["sales"])
        .await;
    let other_url = sqlite_file(files.path(), "other", ROYALTIES).await;
    add_and_sync(app, &other_admin, "other", &other_url, "sales").await;
    let outsider = app
        .member(other, "viewer@other.example", Role::Viewer, &["sales"])
        .await;
    Shop {
        admin,
        viewer,
        outsider,
        _files: files,
    }
}

async fn typos_synonyms_and_neighbours_find_tables_without_a_model(app: TestApp) {
    let shop = shop(&app).await;
    let (names, body) = search(&app, &shop.viewer, "refnd").await;
    assert_eq!(names.first().map(String::as_str), Some("refund"), "{body}");
    assert_eq!(body["semantic"], json!(false), "no model: {body}");

    let (names, _) = search(&app, &shop.viewer, "song").await;
    assert_eq!(
        names.first().map(String::as_str),
        Some("track"),
        "{names:?}"
    );
    let (names, _) = search(&app, &shop.viewer, "music").await;
    assert!(names.contains(&"track".to_string()), "{names:?}");
    assert!(names.contains(&"genre".to_string()), "{names:?}");

    // Neither invoice table holds a word of the question: they come as the foreign-key
    // neighbours between customers and tracks.
    let (names, _) = search(&app, &shop.viewer, FK_QUESTION).await;
    for needed in ["customer", "track", "genre", "invoice", "invoice_line"] {
        assert!(names.contains(&needed.to_string()), "{needed}: {names:?}");
    }
    assert!(!names.contains(&"warehouse_bin".to_string()), "{names:?}");

    // A listing says it was not semantic either.
    let (status, body) = app.get(&shop.viewer, "/api/v1/resources?limit=2").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["semantic"], json!(false), "{body}");
}

async fn neighbours_and_synonyms_never_cross_teams_or_workspaces(app: TestApp) {
    let shop = shop(&app).await;
    // The admin sees finance's table, a strong synonym hit for "song".
    let (names, _) = search(&app, &shop.admin, "song").await;
    assert!(names.contains(&"song_plays".to_string()), "{names:?}");
    // Sales' viewer does not, nor the other workspace's own song_plays.
    let (names, _) = search(&app, &shop.viewer, "song").await;
    assert!(!names.contains(&"song_plays".to_string()), "{names:?}");
    let (names, _) = search(&app, &shop.viewer, "song plays royalty").await;
    assert!(!names.contains(&"song_plays".to_string()), "{names:?}");
    // The other workspace's viewer finds only their own song_plays, never the shop's tracks.
    for q in ["song", FK_QUESTION] {
        let (status, body) = app
            .get(
                &shop.outsider,
                &format!("/api/v1/resources?limit=50&q={}", q.replace(' ', "%20")),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let paths: Vec<&str> = body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|item| item["path"].as_str().unwrap())
            .collect();
        assert!(
            paths.iter().all(|path| path.starts_with("other.")),
            "{paths:?}"
        );
        if q == "song" {
            assert!(paths.contains(&"other.main.song_plays"), "{paths:?}");
        }
    }

    // invoice_line moves to finance: still the neighbour between customers and tracks, but
    // no longer the viewer's to see.
    let (_, body) = search(&app, &shop.admin, "invoice_line").await;
    let id = body["items"][0]["id"].as_i64().expect("invoice_line's id");
    let (status, body) = app
        .patch(
            &shop.admin,
            &format!("/api/v1/resources/{id}"),
            json!({"teams": ["finance"]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (names, _) = search(&app, &shop.admin, FK_QUESTION).await;
    assert!(names.contains(&"invoice_line".to_string()), "{names:?}");
    let (names, _) = search(&app, &shop.viewer, FK_QUESTION).await;
    assert!(!names.contains(&"invoice_line".to_string()), "{names:?}");
    assert!(names.contains(&"invoice".to_string()), "{names:?}");
    // Nor by asking for sales' tables explicitly.
    let (status, body) = app
        .get(
            &shop.viewer,
            &format!(
                "/api/v1/resources?kind=table&team=finance&q={}",
                FK_QUESTION.replace(' ', "%20")
            ),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["items"], json!([]), "{body}");
}

on_both_backends!(
    typos_synonyms_and_neighbours_find_tables_without_a_model,
    neighbours_and_synonyms_never_cross_teams_or_workspaces,
);
