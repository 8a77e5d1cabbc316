//! Crawling real MariaDB databases (Sakila, Chinook) and the errors a crawl reports.

use crate::common;

use cairn_connect::{CrawledRelation, EngineKind, ObjectKind, RelationKind, crawl};
use cairn_testkit::{MariaDbServer, mariadb, shared_data};
use common::{assert_secret_free, path};

fn count(server: &MariaDbServer, db: &str, sql: &str) -> usize {
    server
        .mysql(db, sql)
        .unwrap_or_else(|error| panic!("{sql}: {error}"))
        .trim()
        .parse()
        .unwrap()
}

#[tokio::test]
async fn sakila_crawl_matches_information_schema() {
    let Some(server) = mariadb() else { return };
    let Some(data) = shared_data() else { return };
    let db = server.create_database_named("sakila");
    server
        .mysql(&db, &data.join("sakila/mysql-sakila-schema.sql"))
        .unwrap();
    server
        .mysql(
            &db,
            "CREATE TABLE staff_note (
                 id INT PRIMARY KEY COMMENT 'note number',
                 staff_id INT UNSIGNED NOT NULL COMMENT 'who wrote it',
                 body TEXT,
                 FOREIGN KEY (staff_id) REFERENCES staff (staff_id)
             ) COMMENT = 'free-form notes about staff';
             INSERT INTO language (name) VALUES ('English'), ('Italian'), ('Japanese');
             SELECT * FROM language; SELECT * FROM language WHERE name = 'Italian';",
        )
        .unwrap();

    let catalog = crawl(EngineKind::Mysql, &server.url(&db)).await.unwrap();
    assert!(
        catalog.server_version.starts_with("MariaDB 1"),
        "{}",
        catalog.server_version
    );

    let in_db = format!("TABLE_SCHEMA = '{db}'");
    let tables = count(
        server,
        &db,
        &format!(
            "SELECT count(*) FROM information_schema.TABLES WHERE {in_db} AND TABLE_TYPE = 'BASE TABLE'"
        ),
    );
    let views = count(
        server,
        &db,
        &format!(
            "SELECT count(*) FROM information_schema.TABLES WHERE {in_db} AND TABLE_TYPE = 'VIEW'"
        ),
    );
    let columns = count(
        server,
        &db,
        &format!("SELECT count(*) FROM information_schema.COLUMNS WHERE {in_db}"),
    );
    let foreign_keys = count(
        server,
        &db,
        &format!(
            "SELECT count(*) FROM information_schema.KEY_COLUMN_USAGE \
             WHERE {in_db} AND REFERENCED_TABLE_NAME IS NOT NULL"
        ),
    );
    assert!(tables >= 17 && views >= 7, "tables {tables} views {views}");
    assert_eq!(catalog.of_kind(ObjectKind::Table).count(), tables);
    assert_eq!(catalog.of_kind(ObjectKind::View).count(), views);
    assert_eq!(catalog.of_kind(ObjectKind::Column).count(), columns);
    assert_eq!(catalog.of_kind(ObjectKind::Schema).count(), 0);
    let databases: Vec<&str> = catalog
        .of_kind(ObjectKind::Database)
        .map(|database| database.name())
        .collect();
    assert_eq!(databases, vec![db.as_str()]);
    assert_eq!(
        catalog
            .relations
            .iter()
            .filter(|relation| relation.kind == RelationKind::ForeignKey)
            .count(),
        foreign_keys
    );

    // comments become descriptions
    let note = catalog.find(&[&db, "staff_note"]).unwrap();
    assert_eq!(
        note.description.as_deref(),
        Some("free-form notes about staff")
    );
    let id = catalog.find(&[&db, "staff_note", "id"]).unwrap();
    assert_eq!(id.description.as_deref(), Some("note number"));
    assert!(id.primary_key);
    assert_eq!(id.nullable, Some(false));
    let body = catalog.find(&[&db, "staff_note", "body"]).unwrap();
    assert_eq!(body.nullable, Some(true));
    assert_eq!(body.position, Some(3));
    assert_eq!(body.data_type.as_deref(), Some("text"));
    assert!(catalog.relations.contains(&CrawledRelation {
        kind: RelationKind::ForeignKey,
        from: path(&[&db, "staff_note", "staff_id"]),
        to: path(&[&db, "staff", "staff_id"]),
    }));
    assert!(catalog.relations.contains(&CrawledRelation {
        kind: RelationKind::ForeignKey,
        from: path(&[&db, "film_actor", "actor_id"]),
        to: path(&[&db, "actor", "actor_id"]),
    }));

    // views: definitions and what they read (the script is re-qualified into our database)
    for view in catalog.of_kind(ObjectKind::View) {
        let definition = view.definition.as_deref().unwrap_or_default();
        assert!(
            definition.to_lowercase().contains("select"),
            "{:?}",
            view.path
        );
        assert_eq!(view.description, None);
    }
    assert!(catalog.relations.contains(&CrawledRelation {
        kind: RelationKind::ViewDependency,
        from: path(&[&db, "actor_info"]),
        to: path(&[&db, "actor"]),
    }));

    // popularity from performance_schema (enabled by the test kit)
    let language = catalog.find(&[&db, "language"]).unwrap();
    assert!(
        language
            .popularity
            .is_some_and(|popularity| popularity > 0.0)
    );
    for table in catalog.of_kind(ObjectKind::Table) {
        assert!((0.0..=1.0).contains(&table.popularity.unwrap()));
    }
}

#[tokio::test]
async fn chinook_crawl_and_all_databases_when_the_url_names_none() {
    let Some(server) = mariadb() else { return };
    let Some(data) = shared_data() else { return };
    let db = server.create_database_named("chinook");
    server
        .mysql(&db, &data.join("chinook/Chinook_MySql.sql"))
        .unwrap();
    let catalog = crawl(EngineKind::Mysql, &server.url(&db)).await.unwrap();
    assert_eq!(catalog.of_kind(ObjectKind::Table).count(), 11);
    let columns = count(
        server,
        &db,
        &format!("SELECT count(*) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = '{db}'"),
    );
    assert_eq!(catalog.of_kind(ObjectKind::Column).count(), columns);
    assert!(catalog.relations.contains(&CrawledRelation {
        kind: RelationKind::ForeignKey,
        from: path(&[&db, "Album", "ArtistId"]),
        to: path(&[&db, "Artist", "ArtistId"]),
    }));
    assert!(
        catalog
            .find(&[&db, "Track", "TrackId"])
            .unwrap()
            .primary_key
    );

    let other = server.create_database_named("second");
    server.mysql(&other, "CREATE TABLE t (id INT)").unwrap();
    let everything = crawl(EngineKind::Mysql, &server.url("")).await.unwrap();
    let databases: Vec<&str> = everything
        .of_kind(ObjectKind::Database)
        .map(|database| database.name())
        .collect();
    assert!(databases.contains(&db.as_str()), "{databases:?}");
    assert!(databases.contains(&other.as_str()), "{databases:?}");
    for system in ["mysql", "information_schema", "performance_schema", "sys"] {
        assert!(!databases.contains(&system));
    }
    assert!(everything.find(&[&other, "t", "id"]).is_some());
}

const PASSWORD: &str = "Canary-My-Secret-5107";

#[tokio::test]
async fn errors_have_codes_and_never_show_the_password() {
    let Some(server) = mariadb() else { return };
    let db = server.create_database_named("errors");
    server
        .mysql(
            "",
            &format!(
                "CREATE USER 'cairn_reader'@'localhost' IDENTIFIED BY '{PASSWORD}';
                 GRANT SELECT, SHOW VIEW ON *.* TO 'cairn_reader'@'localhost';"
            ),
        )
        .unwrap();
    let socket = server.socket_path().display().to_string();

    let good = format!("mysql://cairn_reader:{PASSWORD}@localhost/{db}?socket={socket}");
    crawl(EngineKind::Mysql, &good).await.unwrap();

    let cases = [
        (
            format!("mysql://cairn_reader:{PASSWORD}x@localhost/{db}?socket={socket}"),
            "auth_failed",
        ),
        (
            format!("mysql://root:{PASSWORD}@localhost/{db}?socket={socket}"),
            "auth_failed",
        ),
        (
            format!("mysql://cairn_reader:{PASSWORD}@localhost/no_such_db_4711?socket={socket}"),
            "database_not_found",
        ),
        (
            format!("mysql://cairn_reader:{PASSWORD}@127.0.0.1:1/{db}"),
            "unreachable",
        ),
        (
            format!("mysql://cairn_reader:{PASSWORD}@localhost/{db}?ssl-mode=sometimes"),
            "invalid_url",
        ),
    ];
    for (url, code) in cases {
        let error = crawl(EngineKind::Mysql, &url).await.unwrap_err();
        assert_eq!(error.code(), code, "{error}");
        assert_secret_free(&error, PASSWORD, &url);
    }
}
