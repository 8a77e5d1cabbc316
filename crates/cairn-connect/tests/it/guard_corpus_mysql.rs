//! The MySQL attack corpus against a real MariaDB server, as root: every verdict holds, every
//! allowed case runs, and afterwards the database and the file system are unchanged.

use crate::query_support;

use cairn_sqlguard::Dialect;
use query_support::{file_system_snapshot, fixture_resolver, run_corpus};

const FIXTURE: &str = r#"
CREATE TABLE orders (id int PRIMARY KEY, customer_id int, amount decimal(10,2), status text,
                     created_at datetime, note text);
CREATE TABLE customers (id int PRIMARY KEY, name text, email text);
CREATE TABLE events (id int PRIMARY KEY, kind text, payload json);
CREATE TABLE `delete` (id int, `select` text);
CREATE TABLE `drop` (id int);
CREATE TABLE secrets (id int, token text);
CREATE TABLE numbers (n int);
INSERT INTO numbers WITH RECURSIVE s AS (SELECT 1 AS n UNION ALL SELECT n + 1 FROM s WHERE n < 1000) SELECT n FROM s;
INSERT INTO customers SELECT n, CONCAT('Customer ', n), CONCAT('c', n, '@example.com') FROM numbers WHERE n <= 10;
INSERT INTO orders SELECT n, 1 + n % 10, n * 1.25,
    CASE WHEN n % 3 = 0 THEN 'refunded' WHEN n % 2 = 0 THEN 'paid' ELSE 'open' END,
    TIMESTAMP('2024-01-01') + INTERVAL n DAY,
    CASE WHEN n % 4 = 0 THEN NULL ELSE CONCAT('note ', n) END
  FROM numbers WHERE n <= 40;
INSERT INTO events VALUES (1, 'signup', '{"kind": "signup", "items": [1, 2]}'),
                          (2, 'order', '{"kind": "order", "items": []}');
INSERT INTO `delete` VALUES (1, 'x');
INSERT INTO `drop` VALUES (1);
INSERT INTO secrets VALUES (1, 'canary-token-7f3a');
"#;

/// Tables and their checksums, accounts, and the server settings an attack would flip.
const SNAPSHOT: &str = r#"
SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE() ORDER BY 1;
SELECT user, host FROM mysql.user ORDER BY 1, 2;
CHECKSUM TABLE orders, customers, events, `delete`, `drop`, secrets, numbers;
SELECT @@GLOBAL.read_only, @@GLOBAL.general_log, @@GLOBAL.max_statement_time, @@GLOBAL.autocommit;
"#;

#[tokio::test]
async fn the_mysql_corpus_holds_against_a_real_server() {
    let Some(server) = cairn_testkit::mariadb() else {
        return;
    };
    let name = server.create_database_named("guard_corpus");
    let url = server.url(&name);
    server.mysql(&name, FIXTURE).expect("fixture");
    let database_before = server.mysql(&name, SNAPSHOT).expect("snapshot");
    let data_dir = server.root_dir().join("data");
    let files_before = file_system_snapshot(&[&data_dir]);

    let catalog = fixture_resolver(Dialect::Mysql, &name);
    let failures = run_corpus("mysql.tsv", Dialect::Mysql, &catalog, &url).await;
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));

    let database_after = server.mysql(&name, SNAPSHOT).expect("snapshot");
    assert_eq!(database_after, database_before);
    assert_eq!(file_system_snapshot(&[&data_dir]), files_before);
}

/// The review's reproduction: MariaDB runs the text of `/*M! … */` (and `/*! … */`), so a
/// statement that reads as `SELECT * FROM orders` plus a comment returns a hidden table's rows
/// when sent as is. The guard refuses every such statement.
#[tokio::test]
async fn executable_comments_run_on_mariadb_and_the_guard_refuses_them() {
    use sqlx::{Connection, Row};

    let Some(server) = cairn_testkit::mariadb() else {
        return;
    };
    let name = server.create_database_named("executable_comments");
    let url = server.url(&name);
    server.mysql(&name, FIXTURE).expect("fixture");
    let catalog = fixture_resolver(Dialect::Mysql, &name);
    let attacks = [
        "SELECT * FROM orders /*M! UNION SELECT id, 1, 1.0, token, NULL, token FROM secrets */",
        "SELECT * FROM orders /*M!100000 UNION SELECT id, 1, 1.0, token, NULL, token FROM secrets */",
        "SELECT * FROM orders /*!UNION SELECT id, 1, 1.0, token, NULL, token FROM secrets*/",
        "SELECT id, note FROM orders /*!50000 UNION SELECT id, token FROM secrets */",
    ];
    let mut connection = sqlx::MySqlConnection::connect(&url).await.expect("connect");
    for attack in attacks {
        // Sent as is, the server runs the hidden part and returns the canary.
        let rows = sqlx::raw_sql(sqlx::AssertSqlSafe(attack))
            .fetch_all(&mut connection)
            .await
            .unwrap_or_else(|error| panic!("{attack}: {error}"));
        let leaked = rows.iter().any(|row| {
            (0..row.len()).any(|index| {
                row.try_get::<String, _>(index)
                    .is_ok_and(|value| value == query_support::CANARY)
            })
        });
        assert!(leaked, "the server did not run the comment of {attack}");
        // Through the guard, it never gets there.
        let refusal = cairn_sqlguard::check(Dialect::Mysql, attack, &catalog)
            .expect_err(attack)
            .reason;
        assert!(refusal.contains("block comments"), "{attack}: {refusal}");
    }
}
