//! Guarded queries on a real MariaDB server (as root): limits, timeouts and the row converter.

use std::time::{Duration, Instant};

use cairn_connect::query::{Limits, QueryError, run};
use cairn_sqlguard::{Dialect, ReadOnlyQuery, RelationResolver, TableRef, check};
use serde_json::json;

/// Sees the one table of the fixture.
struct Numbers;

impl RelationResolver for Numbers {
    fn resolve(&self, schema: Option<&str>, name: &str) -> Option<TableRef> {
        (schema.is_none() && name == "numbers").then(|| TableRef {
            schema: None,
            name: name.to_owned(),
        })
    }
}

fn guarded(sql: &str) -> ReadOnlyQuery {
    check(Dialect::Mysql, sql, &Numbers).unwrap_or_else(|refusal| panic!("{sql}: {refusal}"))
}

fn database() -> Option<String> {
    Some(fixture()?.1)
}

/// The fixture database's name and URL.
fn fixture() -> Option<(String, String)> {
    let server = cairn_testkit::mariadb()?;
    let name = server.create_database_named("query");
    server
        .mysql(
            &name,
            "CREATE TABLE numbers (n int);
             INSERT INTO numbers WITH RECURSIVE s AS (SELECT 1 AS n UNION ALL SELECT n + 1 FROM s WHERE n < 1000) SELECT n FROM s;",
        )
        .expect("fixture");
    let url = server.url(&name);
    Some((name, url))
}

#[tokio::test]
async fn rows_stop_at_the_limits() {
    let Some(url) = database() else { return };
    let query = guarded("SELECT n FROM numbers ORDER BY n");
    let limits = Limits {
        max_rows: 5,
        ..Limits::default()
    };
    let result = run(&url, &query, &limits).await.unwrap();
    assert_eq!(result.columns, ["n"]);
    assert_eq!(
        result.rows,
        (1..=5).map(|n| vec![json!(n)]).collect::<Vec<_>>()
    );
    assert!(result.truncated);

    let result = run(&url, &query, &Limits::default()).await.unwrap();
    assert_eq!(result.rows.len(), 1000);
    assert!(!result.truncated);

    let small = Limits {
        max_bytes: 30,
        ..Limits::default()
    };
    let result = run(&url, &query, &small).await.unwrap();
    assert!(result.truncated);
    assert!(result.rows.len() < 10);
}

#[tokio::test]
async fn a_long_query_is_cancelled_on_the_server() {
    let Some((name, url)) = fixture() else { return };
    let query =
        guarded("SELECT count(*) FROM numbers a, numbers b, numbers c WHERE a.n + b.n > c.n");
    let limits = Limits {
        timeout: Duration::from_millis(500),
        ..Limits::default()
    };
    let started = Instant::now();
    let error = run(&url, &query, &limits).await.unwrap_err();
    assert!(matches!(error, QueryError::Timeout(_)), "{error}");
    // Far past the deadline, yet far short of the statement: a loaded machine still passes.
    assert!(started.elapsed() < Duration::from_secs(30));
    // The server stopped it: no other session is still running it.
    let server = cairn_testkit::mariadb().unwrap();
    let running = server
        .mysql(
            &name,
            "SELECT COUNT(*) FROM information_schema.processlist \
             WHERE info LIKE '%numbers a, numbers b%' AND id <> CONNECTION_ID()",
        )
        .unwrap();
    assert_eq!(running.trim(), "0");
}

#[tokio::test]
async fn values_convert_to_json() {
    let Some(url) = database() else { return };
    let query = guarded(
        "SELECT 1 AS a, CAST(12.34 AS DECIMAL(10, 2)), 'x', 1.5e0, DATE('2024-02-29'), \
         CAST('2024-02-29 13:05:09' AS DATETIME), CAST('-26:03:04' AS TIME), NULL, \
         CAST(7 AS UNSIGNED), JSON_EXTRACT('{\"a\": [1, 2]}', '$.a')",
    );
    let result = run(&url, &query, &Limits::default()).await.unwrap();
    assert_eq!(result.columns[0], "a");
    let row = &result.rows[0];
    assert_eq!(row[0], json!(1));
    assert_eq!(row[1], json!("12.34"));
    assert_eq!(row[2], json!("x"));
    assert_eq!(row[3], json!(1.5));
    assert_eq!(row[4], json!("2024-02-29"));
    assert_eq!(row[5], json!("2024-02-29T13:05:09"));
    assert_eq!(row[6], json!("-26:03:04"));
    assert_eq!(row[7], json!(null));
    assert_eq!(row[8], json!(7));
    // MariaDB's JSON is text (LONGTEXT): it stays a string, exactly as the server wrote it.
    assert_eq!(row[9], json!("[1, 2]"));
}

#[tokio::test]
async fn a_database_error_is_reported_as_failed() {
    let Some(url) = database() else { return };
    let error = run(
        &url,
        &guarded("SELECT missing_column FROM numbers"),
        &Limits::default(),
    )
    .await
    .unwrap_err();
    match error {
        QueryError::Failed(message) => assert!(message.contains("missing_column"), "{message}"),
        other => panic!("{other}"),
    }
}
