//! Crawling real PostgreSQL databases (Pagila, Chinook) and the errors a crawl reports.

use crate::common;

use cairn_connect::{Crawl, EngineKind, ObjectKind, RelationKind, crawl, crawl_if_changed};
use cairn_testkit::{PgServer, postgres, shared_data};
use common::{assert_secret_free, path};

fn count(server: &PgServer, db: &str, sql: &str) -> usize {
    server
        .psql(db, sql)
        .unwrap_or_else(|error| panic!("{sql}: {error}"))
        .trim()
        .parse()
        .unwrap()
}

const USER_SCHEMAS: &str = "NOT IN ('pg_catalog', 'information_schema')";

#[tokio::test]
async fn pagila_crawl_matches_information_schema() {
    let Some(server) = postgres() else { return };
    let Some(data) = shared_data() else { return };
    let db = server.create_pagila("pagila", &data);
    server
        .psql(
            &db,
            &format!(
                "COMMENT ON DATABASE {db} IS 'DVD rental sample';
                 COMMENT ON SCHEMA public IS 'the rental business';
                 COMMENT ON TABLE film IS 'Films available for rent';
                 COMMENT ON COLUMN film.title IS 'Title shown to customers';
                 COMMENT ON VIEW actor_info IS 'Actors with their films';
                 CREATE SCHEMA empty_schema;
                 SELECT count(*) FROM film; SELECT count(*) FROM film; SELECT count(*) FROM actor;"
            ),
        )
        .unwrap();

    let catalog = crawl(EngineKind::Postgres, &server.url(&db)).await.unwrap();
    assert!(
        catalog.server_version.starts_with("PostgreSQL 1"),
        "{}",
        catalog.server_version
    );

    let tables = count(
        server,
        &db,
        &format!(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema {USER_SCHEMAS} \
             AND table_type IN ('BASE TABLE', 'FOREIGN')"
        ),
    );
    let views = count(
        server,
        &db,
        &format!("SELECT count(*) FROM information_schema.views WHERE table_schema {USER_SCHEMAS}"),
    ) + count(server, &db, "SELECT count(*) FROM pg_matviews");
    // information_schema.columns leaves out materialized views: add theirs
    let columns = count(
        server,
        &db,
        &format!(
            "SELECT count(*) FROM information_schema.columns WHERE table_schema {USER_SCHEMAS}"
        ),
    ) + count(
        server,
        &db,
        "SELECT count(*) FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid \
         WHERE c.relkind = 'm' AND a.attnum > 0 AND NOT a.attisdropped",
    );
    assert!(tables >= 15 && views >= 7, "tables {tables} views {views}");
    assert_eq!(catalog.of_kind(ObjectKind::Table).count(), tables);
    assert_eq!(catalog.of_kind(ObjectKind::View).count(), views);
    assert_eq!(catalog.of_kind(ObjectKind::Column).count(), columns);
    assert_eq!(catalog.of_kind(ObjectKind::Database).count(), 1);
    let schemas: Vec<&str> = catalog
        .of_kind(ObjectKind::Schema)
        .map(|schema| schema.name())
        .collect();
    assert_eq!(schemas, vec!["empty_schema", "public"]);

    // comments become descriptions
    let database = catalog.find(&[&db]).unwrap();
    assert_eq!(database.description.as_deref(), Some("DVD rental sample"));
    assert_eq!(
        catalog
            .find(&[&db, "public"])
            .unwrap()
            .description
            .as_deref(),
        Some("the rental business")
    );
    let film = catalog.find(&[&db, "public", "film"]).unwrap();
    assert_eq!(
        film.description.as_deref(),
        Some("Films available for rent")
    );
    let title = catalog.find(&[&db, "public", "film", "title"]).unwrap();
    assert_eq!(
        title.description.as_deref(),
        Some("Title shown to customers")
    );
    assert_eq!(title.data_type.as_deref(), Some("text"));
    assert_eq!(title.nullable, Some(false));
    assert_eq!(title.position, Some(2));
    let film_id = catalog.find(&[&db, "public", "film", "film_id"]).unwrap();
    assert!(film_id.primary_key);
    assert!(!title.primary_key);

    // partitioned tables and their partitions are tables
    assert!(catalog.find(&[&db, "public", "payment"]).is_some());
    assert!(catalog.find(&[&db, "public", "payment_p2022_01"]).is_some());

    // views: definitions, descriptions, dependencies
    for view in catalog.of_kind(ObjectKind::View) {
        let definition = view.definition.as_deref().unwrap_or_default();
        assert!(
            definition.to_lowercase().contains("select"),
            "{:?}",
            view.path
        );
    }
    let actor_info = catalog.find(&[&db, "public", "actor_info"]).unwrap();
    assert_eq!(
        actor_info.description.as_deref(),
        Some("Actors with their films")
    );
    assert!(catalog.relations.contains(&cairn_connect::CrawledRelation {
        kind: RelationKind::ViewDependency,
        from: path(&[&db, "public", "actor_info"]),
        to: path(&[&db, "public", "actor"]),
    }));
    assert!(
        catalog
            .find(&[&db, "public", "rental_by_category"])
            .unwrap()
            .definition
            .is_some()
    );

    // foreign keys: one relation per column pair, as many as information_schema lists
    let foreign_key_pairs = count(
        server,
        &db,
        &format!(
            "SELECT count(*) FROM information_schema.key_column_usage k \
             JOIN information_schema.referential_constraints r \
               ON r.constraint_schema = k.constraint_schema AND r.constraint_name = k.constraint_name \
             WHERE k.table_schema {USER_SCHEMAS}"
        ),
    );
    let crawled_pairs = catalog
        .relations
        .iter()
        .filter(|relation| relation.kind == RelationKind::ForeignKey)
        .count();
    assert_eq!(crawled_pairs, foreign_key_pairs);
    assert!(catalog.relations.contains(&cairn_connect::CrawledRelation {
        kind: RelationKind::ForeignKey,
        from: path(&[&db, "public", "film", "language_id"]),
        to: path(&[&db, "public", "language", "language_id"]),
    }));

    // popularity: tables only, 0..=1, the scanned film table above zero
    for object in &catalog.objects {
        match object.kind {
            ObjectKind::Table => {
                let popularity = object.popularity.unwrap();
                assert!((0.0..=1.0).contains(&popularity));
            }
            ObjectKind::Column | ObjectKind::Database | ObjectKind::Schema => {
                assert_eq!(object.popularity, None)
            }
            ObjectKind::View => {}
        }
    }
    assert!(film.popularity.unwrap() > 0.0);
    assert!(
        catalog
            .of_kind(ObjectKind::Table)
            .any(|table| table.popularity == Some(1.0))
    );

    // deterministic
    let again = crawl(EngineKind::Postgres, &server.url(&db)).await.unwrap();
    assert_eq!(
        again
            .objects
            .iter()
            .map(|object| &object.path)
            .collect::<Vec<_>>(),
        catalog
            .objects
            .iter()
            .map(|object| &object.path)
            .collect::<Vec<_>>()
    );
    assert_eq!(again.relations, catalog.relations);
}

#[tokio::test]
async fn chinook_crawl_has_its_eleven_tables_and_keys() {
    let Some(server) = postgres() else { return };
    let Some(data) = shared_data() else { return };
    let url = server.create_database("chinook");
    server
        .psql(&url, &data.join("chinook/Chinook_PostgreSql.sql"))
        .unwrap();
    let catalog = crawl(EngineKind::Postgres, &url).await.unwrap();
    let db = catalog.objects[0].name().to_owned();
    assert_eq!(catalog.of_kind(ObjectKind::Table).count(), 11);
    assert_eq!(catalog.of_kind(ObjectKind::View).count(), 0);
    let columns = count(
        server,
        &url,
        &format!(
            "SELECT count(*) FROM information_schema.columns WHERE table_schema {USER_SCHEMAS}"
        ),
    );
    assert_eq!(catalog.of_kind(ObjectKind::Column).count(), columns);
    assert!(catalog.relations.contains(&cairn_connect::CrawledRelation {
        kind: RelationKind::ForeignKey,
        from: path(&[&db, "public", "album", "artist_id"]),
        to: path(&[&db, "public", "artist", "artist_id"]),
    }));
    assert!(
        catalog
            .find(&[&db, "public", "invoice_line", "invoice_line_id"])
            .unwrap()
            .primary_key
    );
}

const PASSWORD: &str = "Canary-Pg-Secret-9931";

#[tokio::test]
async fn errors_have_codes_and_never_show_the_password() {
    let Some(server) = postgres() else { return };
    let db = server.create_database_named("errors");
    server
        .psql(
            &db,
            &format!("CREATE ROLE cairn_reader LOGIN PASSWORD '{PASSWORD}'"),
        )
        .unwrap();
    let socket = server.socket_dir().display().to_string();

    // the right password works
    let good = format!("postgres://cairn_reader:{PASSWORD}@localhost/{db}?host={socket}");
    crawl(EngineKind::Postgres, &good).await.unwrap();

    let cases = [
        (
            format!("postgres://cairn_reader:{PASSWORD}x@localhost/{db}?host={socket}"),
            "auth_failed",
        ),
        (
            format!("postgres://nobody:{PASSWORD}@localhost/{db}?host={socket}"),
            "auth_failed",
        ),
        (
            format!("postgres://postgres:{PASSWORD}@localhost/no_such_db_4711?host={socket}"),
            "database_not_found",
        ),
        (
            format!("postgres://postgres:{PASSWORD}@127.0.0.1:1/{db}"),
            "unreachable",
        ),
        (
            format!("postgres://postgres:{PASSWORD}@localhost:notaport/{db}"),
            "invalid_url",
        ),
        (
            format!("mysql://postgres:{PASSWORD}@localhost/{db}"),
            "invalid_url",
        ),
    ];
    for (url, code) in cases {
        let error = crawl(EngineKind::Postgres, &url).await.unwrap_err();
        assert_eq!(error.code(), code, "{error}");
        assert_secret_free(&error, PASSWORD, &url);
    }
}

/// The digest a crawl returns, or a panic when it reported the catalog unchanged.
async fn crawled_digest(url: &str, known: Option<&str>) -> (cairn_connect::CrawledCatalog, String) {
    match crawl_if_changed(EngineKind::Postgres, url, known)
        .await
        .unwrap()
    {
        Crawl::Crawled { catalog, digest } => (catalog, digest.expect("PostgreSQL gives a digest")),
        Crawl::Unchanged => panic!("the catalog changed, but the crawl said it had not"),
    }
}

async fn is_unchanged(url: &str, known: &str) -> bool {
    matches!(
        crawl_if_changed(EngineKind::Postgres, url, Some(known))
            .await
            .unwrap(),
        Crawl::Unchanged
    )
}

/// Waits until the statistics show at least `scans` sequential scans of `table`.
fn await_scans(server: &PgServer, db: &str, table: &str, scans: usize) {
    let sql = format!("SELECT seq_scan FROM pg_stat_user_tables WHERE relname = '{table}'");
    for _ in 0..100 {
        if count(server, db, &sql) >= scans {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!("the statistics never showed {scans} scans of {table}");
}

#[tokio::test]
async fn the_catalog_digest_changes_exactly_when_a_crawl_would() {
    let Some(server) = postgres() else { return };
    let db = server.create_database_named("digest");
    server
        .psql(
            &db,
            "CREATE TABLE customers (id int, name text);
             CREATE TABLE orders (id int, customer_id int);",
        )
        .unwrap();
    let url = server.url(&db);
    let (first, digest) = crawled_digest(&url, None).await;
    assert!(is_unchanged(&url, &digest).await, "nothing happened");
    assert!(
        !is_unchanged(&url, "some other digest").await,
        "a digest that is not the catalog's is no match"
    );

    // Rows are not metadata.
    server
        .psql(
            &db,
            "INSERT INTO customers SELECT g, 'n' || g FROM generate_series(1, 500) g;",
        )
        .unwrap();
    assert!(is_unchanged(&url, &digest).await, "rows changed the digest");

    // Scans move popularity only when they move a table's step: the first scans of a table
    // do, more scans of the most used table do not.
    server.psql(&db, "SELECT count(*) FROM customers;").unwrap();
    await_scans(server, &db, "customers", 1);
    let (scanned, digest) = crawled_digest(&url, Some(&digest)).await;
    assert_ne!(
        scanned
            .find(&[&db, "public", "customers"])
            .unwrap()
            .popularity,
        first
            .find(&[&db, "public", "customers"])
            .unwrap()
            .popularity,
    );
    server
        .psql(
            &db,
            "SELECT count(*) FROM customers; SELECT count(*) FROM customers;",
        )
        .unwrap();
    await_scans(server, &db, "customers", 3);
    assert!(
        is_unchanged(&url, &digest).await,
        "more scans of the most used table leave every step as it was"
    );

    // Every kind of metadata a crawl reads moves the digest; the new digest then holds. Both
    // tables are scanned often first, so that the odd scan a change makes (a foreign key's
    // check) moves no step.
    let scans = "SELECT count(*) FROM customers; SELECT count(*) FROM orders; ".repeat(50);
    server.psql(&db, &scans).unwrap();
    await_scans(server, &db, "customers", 53);
    await_scans(server, &db, "orders", 50);
    let (_, mut digest) = crawled_digest(&url, Some(&digest)).await;
    for change in [
        format!("COMMENT ON DATABASE {db} IS 'the shop'"),
        "CREATE SCHEMA sales".to_string(),
        "COMMENT ON SCHEMA sales IS 'money'".to_string(),
        "CREATE TABLE sales.refunds (id int)".to_string(),
        "COMMENT ON TABLE orders IS 'what people bought'".to_string(),
        "COMMENT ON COLUMN orders.id IS 'the order number'".to_string(),
        "ALTER TABLE orders ADD COLUMN total numeric(10, 2)".to_string(),
        "ALTER TABLE orders ALTER COLUMN total TYPE numeric(12, 2)".to_string(),
        "ALTER TABLE orders ALTER COLUMN total SET NOT NULL".to_string(),
        "ALTER TABLE customers ADD PRIMARY KEY (id)".to_string(),
        "ALTER TABLE orders ADD FOREIGN KEY (customer_id) REFERENCES customers (id)".to_string(),
        "CREATE VIEW big_orders AS SELECT id FROM orders WHERE total > 100".to_string(),
        "CREATE OR REPLACE VIEW big_orders AS SELECT id FROM orders WHERE total > 200".to_string(),
        "ALTER TABLE customers RENAME COLUMN name TO full_name".to_string(),
        "DROP VIEW big_orders".to_string(),
        "CREATE TYPE mood AS ENUM ('fine'); ALTER TABLE orders ADD COLUMN feeling mood".to_string(),
        // Neither the column's row nor its table's changes: only the type's.
        "ALTER TYPE mood RENAME TO temper".to_string(),
        "ALTER TYPE temper SET SCHEMA sales".to_string(),
        "ALTER TABLE orders ALTER COLUMN feeling DROP NOT NULL, ALTER COLUMN total DROP NOT NULL"
            .to_string(),
        "ALTER TABLE orders DROP COLUMN feeling".to_string(),
        "CREATE FUNCTION twice(numeric) RETURNS numeric LANGUAGE sql AS 'SELECT $1 * 2';
         CREATE VIEW doubled AS SELECT twice(total) AS total FROM orders"
            .to_string(),
        // The view's text names the function: only the function's row changes.
        "ALTER FUNCTION twice(numeric) RENAME TO double_it".to_string(),
        "CREATE MATERIALIZED VIEW totals AS SELECT sum(total) AS total FROM orders".to_string(),
        "ALTER TABLE orders RENAME TO purchases".to_string(),
        "ALTER TABLE purchases SET SCHEMA sales".to_string(),
        "ALTER SCHEMA sales RENAME TO revenue".to_string(),
    ] {
        server.psql(&db, &change).unwrap();
        assert!(
            !is_unchanged(&url, &digest).await,
            "the digest missed: {change}"
        );
        let (_, next) = crawled_digest(&url, Some(&digest)).await;
        assert_ne!(next, digest, "{change}");
        assert!(is_unchanged(&url, &next).await, "after: {change}");
        digest = next;
    }
    let (last, _) = crawled_digest(&url, None).await;
    let view = last.find(&[&db, "public", "doubled"]).unwrap();
    assert!(
        view.definition.as_deref().unwrap().contains("double_it("),
        "{:?}",
        view.definition
    );
    assert!(last.find(&[&db, "revenue", "purchases", "total"]).is_some());
}

#[tokio::test]
async fn a_type_renamed_renames_the_columns_of_that_type() {
    let Some(server) = postgres() else { return };
    let db = server.create_database_named("digest_type");
    server
        .psql(
            &db,
            "CREATE TYPE mood AS ENUM ('fine'); CREATE TABLE days (id int, feeling mood);",
        )
        .unwrap();
    let url = server.url(&db);
    let (first, digest) = crawled_digest(&url, None).await;
    let data_type = |catalog: &cairn_connect::CrawledCatalog| {
        catalog
            .find(&[&db, "public", "days", "feeling"])
            .unwrap()
            .data_type
            .clone()
    };
    assert_eq!(data_type(&first).as_deref(), Some("mood"));
    server
        .psql(&db, "ALTER TYPE mood RENAME TO temper")
        .unwrap();
    let (renamed, _) = crawled_digest(&url, Some(&digest)).await;
    assert_eq!(data_type(&renamed).as_deref(), Some("temper"));
}
