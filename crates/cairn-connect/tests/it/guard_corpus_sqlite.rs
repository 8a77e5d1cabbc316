//! The SQLite attack corpus against a real database file: every verdict holds, every allowed
//! case runs, and afterwards the file and its directory are unchanged.

use crate::query_support;

use std::str::FromStr;

use cairn_sqlguard::Dialect;
use query_support::{file_system_snapshot, fixture_resolver, run_corpus};
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sqlx::{Connection, Executor};

const FIXTURE: &str = r#"
CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER, amount REAL, status TEXT,
                     created_at TEXT, note TEXT);
CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT, email TEXT);
CREATE TABLE events (id INTEGER PRIMARY KEY, kind TEXT, payload TEXT);
CREATE TABLE "delete" (id INTEGER, "select" TEXT);
CREATE TABLE "drop" (id INTEGER);
CREATE TABLE secrets (id INTEGER, token TEXT);
CREATE TABLE numbers (n INTEGER);
WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < 1000)
  INSERT INTO numbers SELECT n FROM s;
INSERT INTO customers SELECT n, 'Customer ' || n, 'c' || n || '@example.com' FROM numbers WHERE n <= 10;
INSERT INTO orders SELECT n, 1 + n % 10, n * 1.25,
    CASE WHEN n % 3 = 0 THEN 'refunded' WHEN n % 2 = 0 THEN 'paid' ELSE 'open' END,
    date('2024-01-01', '+' || n || ' days'),
    CASE WHEN n % 4 = 0 THEN NULL ELSE 'note ' || n END
  FROM numbers WHERE n <= 40;
INSERT INTO events VALUES (1, 'signup', '{"kind": "signup"}'), (2, 'order', '{"kind": "order"}');
INSERT INTO "delete" VALUES (1, 'x');
INSERT INTO "drop" VALUES (1);
INSERT INTO secrets VALUES (1, 'canary-token-7f3a');
"#;

#[tokio::test]
async fn the_sqlite_corpus_holds_against_a_real_file() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("fixture.db");
    let url = format!("sqlite://{}", path.display());
    {
        let options = SqliteConnectOptions::from_str(&url)
            .unwrap()
            .create_if_missing(true);
        let mut connection = SqliteConnection::connect_with(&options).await.unwrap();
        connection.execute(sqlx::raw_sql(FIXTURE)).await.unwrap();
        connection.close().await.unwrap();
    }
    let file_before = std::fs::read(&path).unwrap();
    let files_before = file_system_snapshot(&[directory.path()]);

    let catalog = fixture_resolver(Dialect::Sqlite, "main");
    let failures = run_corpus("sqlite.tsv", Dialect::Sqlite, &catalog, &url).await;
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));

    assert!(
        std::fs::read(&path).unwrap() == file_before,
        "the database file changed"
    );
    assert_eq!(file_system_snapshot(&[directory.path()]), files_before);
}
