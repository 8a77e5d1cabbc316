//! Crawling SQLite files (Chinook, the demo database) read-only, and the errors a crawl reports.

use crate::common;

use std::path::Path;

use cairn_connect::{CrawledRelation, EngineKind, ObjectKind, RelationKind, crawl};
use cairn_demo::{CANARIES, DEMO_RELATIONS, demo_team_of, write_demo_database};
use cairn_testkit::shared_data;
use common::{assert_secret_free, path};
use sqlx::Connection;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};

fn url_of(file: &Path) -> String {
    format!("sqlite://{}", file.display())
}

/// Counts straight from sqlite_master and pragma_table_info, read-only.
async fn independent_counts(file: &Path) -> (i64, i64, i64) {
    let options = SqliteConnectOptions::new().filename(file).read_only(true);
    let mut connection = SqliteConnection::connect_with(&options).await.unwrap();
    let (tables, views): (i64, i64) = sqlx::query_as(
        "SELECT sum(type = 'table'), sum(type = 'view') FROM sqlite_master \
         WHERE name NOT LIKE 'sqlite\\_%' ESCAPE '\\'",
    )
    .fetch_one(&mut connection)
    .await
    .unwrap();
    let columns: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM sqlite_master m, pragma_table_info(m.name) \
         WHERE m.type IN ('table', 'view') AND m.name NOT LIKE 'sqlite\\_%' ESCAPE '\\'",
    )
    .fetch_one(&mut connection)
    .await
    .unwrap();
    connection.close().await.unwrap();
    (tables, views, columns)
}

fn modified(file: &Path) -> (std::time::SystemTime, u64) {
    let metadata = std::fs::metadata(file).unwrap();
    (metadata.modified().unwrap(), metadata.len())
}

#[tokio::test]
async fn chinook_sqlite_crawl_matches_sqlite_master() {
    let Some(data) = shared_data() else { return };
    let file = data.join("chinook/Chinook_Sqlite.sqlite");
    let before = modified(&file);
    let catalog = crawl(EngineKind::Sqlite, &url_of(&file)).await.unwrap();
    assert_eq!(modified(&file), before, "the crawl must not write");
    assert!(catalog.server_version.starts_with("SQLite 3."));

    let (tables, views, columns) = independent_counts(&file).await;
    assert_eq!(tables, 11);
    assert_eq!(catalog.of_kind(ObjectKind::Table).count() as i64, tables);
    assert_eq!(catalog.of_kind(ObjectKind::View).count() as i64, views);
    assert_eq!(catalog.of_kind(ObjectKind::Column).count() as i64, columns);
    assert_eq!(catalog.objects[0].path, path(&["main"]));
    assert!(
        catalog
            .find(&["main", "Album", "AlbumId"])
            .unwrap()
            .primary_key
    );
    let title = catalog.find(&["main", "Album", "Title"]).unwrap();
    assert_eq!(title.data_type.as_deref(), Some("NVARCHAR(160)"));
    assert_eq!(title.nullable, Some(false));
    assert_eq!(title.position, Some(2));
    assert!(catalog.relations.contains(&CrawledRelation {
        kind: RelationKind::ForeignKey,
        from: path(&["main", "Album", "ArtistId"]),
        to: path(&["main", "Artist", "ArtistId"]),
    }));
    assert!(
        catalog
            .objects
            .iter()
            .all(|object| object.popularity.is_none())
    );
}

#[tokio::test]
async fn the_demo_database_crawls_with_descriptions_keys_and_views() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("demo.sqlite");
    write_demo_database(&file).unwrap();
    // rewriting replaces the file
    write_demo_database(&file).unwrap();
    let catalog = crawl(EngineKind::Sqlite, &url_of(&file)).await.unwrap();

    let (tables, views, columns) = independent_counts(&file).await;
    assert!((15..=25).contains(&tables), "{tables}");
    assert!(views >= 3);
    assert_eq!(catalog.of_kind(ObjectKind::Table).count() as i64, tables);
    assert_eq!(catalog.of_kind(ObjectKind::View).count() as i64, views);
    assert_eq!(catalog.of_kind(ObjectKind::Column).count() as i64, columns);

    // every table and view belongs to a team, and every table and column is described
    for object in &catalog.objects {
        match object.kind {
            ObjectKind::Table => {
                assert!(demo_team_of(object.name()).is_some(), "{:?}", object.path);
                assert!(object.description.is_some(), "{:?}", object.path);
            }
            ObjectKind::View => {
                assert!(demo_team_of(object.name()).is_some(), "{:?}", object.path);
                assert!(object.description.is_some(), "{:?}", object.path);
                assert!(object.definition.as_deref().unwrap().starts_with("SELECT"));
            }
            ObjectKind::Column
                if object.path[1] != "sales_monthly_revenue"
                    && catalog
                        .find(&[&object.path[0], &object.path[1]])
                        .unwrap()
                        .kind
                        == ObjectKind::Table =>
            {
                assert!(object.description.is_some(), "{:?}", object.path);
            }
            _ => {}
        }
    }
    assert_eq!(DEMO_RELATIONS.len() as i64, tables + views);
    let salaries = catalog.find(&["main", "salaries"]).unwrap();
    assert!(
        salaries
            .description
            .as_deref()
            .unwrap()
            .starts_with("SENSITIVE")
    );
    let amount = catalog.find(&["main", "salaries", "amount_eur"]).unwrap();
    assert_eq!(
        amount.description.as_deref(),
        Some("Gross yearly base salary in euros")
    );
    assert!(catalog.find(&["main", "orders", "id"]).unwrap().primary_key);
    assert!(catalog.relations.contains(&CrawledRelation {
        kind: RelationKind::ForeignKey,
        from: path(&["main", "orders", "customer_id"]),
        to: path(&["main", "customers", "id"]),
    }));
    assert!(catalog.relations.contains(&CrawledRelation {
        kind: RelationKind::ViewDependency,
        from: path(&["main", "product_stock_alerts"]),
        to: path(&["main", "inventory_levels"]),
    }));

    // plausible rows, and each canary sits in its table
    let options = SqliteConnectOptions::new().filename(&file).read_only(true);
    let mut connection = SqliteConnection::connect_with(&options).await.unwrap();
    for (table, minimum) in [
        ("orders", 100),
        ("customers", 50),
        ("employees", 50),
        ("products", 30),
    ] {
        let rows: i64 =
            sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {table}")))
                .fetch_one(&mut connection)
                .await
                .unwrap();
        assert!(rows >= minimum, "{table}: {rows}");
    }
    for canary in CANARIES {
        let found: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT count(*) FROM {} WHERE {} = ?",
            canary.table, canary.column
        )))
        .bind(canary.value)
        .fetch_one(&mut connection)
        .await
        .unwrap();
        assert_eq!(found, 1, "{canary:?}");
    }
    let violations: Vec<(String,)> =
        sqlx::query_as("SELECT \"table\" FROM pragma_foreign_key_check")
            .fetch_all(&mut connection)
            .await
            .unwrap();
    assert!(violations.is_empty(), "{violations:?}");
    connection.close().await.unwrap();
}

#[tokio::test]
async fn sqlite_errors_have_codes_and_files_are_never_created() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.sqlite");
    let error = crawl(EngineKind::Sqlite, &url_of(&missing))
        .await
        .unwrap_err();
    assert_eq!(error.code(), "database_not_found");
    assert!(!missing.exists(), "the crawl must never create a database");

    let text = dir.path().join("notes.txt");
    std::fs::write(
        &text,
        "this is not a database, just some text that is long enough",
    )
    .unwrap();
    let error = crawl(EngineKind::Sqlite, &url_of(&text)).await.unwrap_err();
    assert_eq!(error.code(), "not_sqlite");
    let empty = dir.path().join("empty.db");
    std::fs::write(&empty, "").unwrap();
    assert_eq!(
        crawl(EngineKind::Sqlite, &url_of(&empty))
            .await
            .unwrap_err()
            .code(),
        "not_sqlite"
    );
    assert_eq!(
        crawl(EngineKind::Sqlite, &url_of(dir.path()))
            .await
            .unwrap_err()
            .code(),
        "not_sqlite"
    );
    assert_eq!(
        crawl(EngineKind::Sqlite, "sqlite://relative/path.db")
            .await
            .unwrap_err()
            .code(),
        "invalid_url"
    );
    let password = "Canary-Lite-Secret-1234";
    let url = format!("sqlite://{}?password={password}", text.display());
    let error = crawl(EngineKind::Sqlite, &url).await.unwrap_err();
    assert_secret_free(&error, password, &url);
}
