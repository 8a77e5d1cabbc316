//! The servers start, accept scripts and load the shared sample dumps.

use cairn_testkit::{mariadb, postgres, shared_data};

#[test]
fn postgres_loads_pagila_and_chinook() {
    let Some(server) = postgres() else { return };
    let Some(data) = shared_data() else { return };
    assert!(server.version().starts_with(char::is_numeric));

    let pagila = server.create_pagila("pagila", &data);
    let films = server.psql(&pagila, "SELECT count(*) FROM film").unwrap();
    assert_eq!(films.trim(), "1000");

    let chinook_url = server.create_database("chinook");
    server
        .psql(&chinook_url, &data.join("chinook/Chinook_PostgreSql.sql"))
        .expect("chinook");
    let artists = server
        .psql(&chinook_url, "SELECT count(*) FROM artist")
        .unwrap();
    assert_eq!(artists.trim(), "275");
    assert!(chinook_url.starts_with("postgres://postgres@localhost/chinook_"));
    assert!(chinook_url.contains("?host=/"));
}

#[test]
fn postgres_reports_script_errors() {
    let Some(server) = postgres() else { return };
    let db = server.create_database_named("errors");
    let error = server
        .psql(&db, "SELECT 1; SELECT * FROM no_such_table; SELECT 2;")
        .unwrap_err();
    assert!(error.to_string().contains("no_such_table"), "{error}");
}

#[test]
fn mariadb_loads_sakila_and_chinook() {
    let Some(server) = mariadb() else { return };
    let Some(data) = shared_data() else { return };
    assert!(server.version().contains("MariaDB") || server.version().starts_with('8'));

    let sakila = server.create_database_named("sakila");
    server
        .mysql(&sakila, &data.join("sakila/mysql-sakila-schema.sql"))
        .expect("sakila schema");
    let tables = server
        .mysql(
            &sakila,
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = DATABASE()",
        )
        .unwrap();
    assert!(tables.trim().parse::<u32>().unwrap() >= 16, "{tables}");

    let chinook_url = server.create_database("chinook");
    server
        .mysql(&chinook_url, &data.join("chinook/Chinook_MySql.sql"))
        .expect("chinook");
    let artists = server
        .mysql(&chinook_url, "SELECT count(*) FROM Artist")
        .unwrap();
    assert_eq!(artists.trim(), "275");
    assert!(chinook_url.contains("?socket=/"));
}

#[test]
fn shared_data_is_found_beside_the_repository() {
    if let Some(data) = shared_data() {
        assert!(data.ends_with("shared/data"));
        assert!(data.is_dir());
    }
}
