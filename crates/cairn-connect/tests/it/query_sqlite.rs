//! Guarded queries on a real SQLite file: limits, the deadline, read-only opening, values.

use std::str::FromStr;
use std::time::{Duration, Instant};

use cairn_connect::query::{Limits, QueryError, run};
use cairn_sqlguard::{Dialect, ReadOnlyQuery, RelationResolver, TableRef, check};
use serde_json::json;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sqlx::{Connection, Executor};

struct Numbers;

impl RelationResolver for Numbers {
    fn resolve(&self, _schema: Option<&str>, name: &str) -> Option<TableRef> {
        name.eq_ignore_ascii_case("numbers").then(|| TableRef {
            schema: Some("main".to_owned()),
            name: "numbers".to_owned(),
        })
    }
}

fn guarded(sql: &str) -> ReadOnlyQuery {
    check(Dialect::Sqlite, sql, &Numbers).unwrap_or_else(|refusal| panic!("{sql}: {refusal}"))
}

async fn database(directory: &tempfile::TempDir) -> String {
    let url = format!("sqlite://{}", directory.path().join("numbers.db").display());
    let options = SqliteConnectOptions::from_str(&url)
        .unwrap()
        .create_if_missing(true);
    let mut connection = SqliteConnection::connect_with(&options).await.unwrap();
    connection
        .execute(sqlx::raw_sql(
            "CREATE TABLE numbers (n INTEGER, label TEXT, ratio REAL, data BLOB);
             WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < 1000)
               INSERT INTO numbers SELECT n, 'n' || n, n / 4.0, x'00ff' FROM s;",
        ))
        .await
        .unwrap();
    connection.close().await.unwrap();
    url
}

#[tokio::test]
async fn rows_stop_at_the_limits() {
    let directory = tempfile::tempdir().unwrap();
    let url = database(&directory).await;
    let query = guarded("SELECT n FROM numbers ORDER BY n");
    let limits = Limits {
        max_rows: 3,
        ..Limits::default()
    };
    let result = run(&url, &query, &limits).await.unwrap();
    assert_eq!(result.rows, [[json!(1)], [json!(2)], [json!(3)]]);
    assert!(result.truncated);
    let result = run(&url, &query, &Limits::default()).await.unwrap();
    assert_eq!(result.rows.len(), 1000);
    assert!(!result.truncated);
}

#[tokio::test]
async fn a_long_query_is_interrupted_at_the_deadline() {
    let directory = tempfile::tempdir().unwrap();
    let url = database(&directory).await;
    let query =
        guarded("SELECT count(*) FROM numbers a, numbers b, numbers c WHERE a.n + b.n > c.n");
    let limits = Limits {
        timeout: Duration::from_millis(300),
        ..Limits::default()
    };
    let started = Instant::now();
    let error = run(&url, &query, &limits).await.unwrap_err();
    assert!(matches!(error, QueryError::Timeout(_)), "{error}");
    // Far past the deadline, yet far short of the statement: a loaded machine still passes.
    assert!(started.elapsed() < Duration::from_secs(30));
}

#[tokio::test]
async fn values_convert_to_json() {
    let directory = tempfile::tempdir().unwrap();
    let url = database(&directory).await;
    let query = guarded("SELECT n, label, ratio, data, NULL FROM numbers WHERE n = 2");
    let result = run(&url, &query, &Limits::default()).await.unwrap();
    assert_eq!(result.columns, ["n", "label", "ratio", "data", "NULL"]);
    assert_eq!(
        result.rows,
        [[
            json!(2),
            json!("n2"),
            json!(0.5),
            json!("x00ff"),
            json!(null)
        ]]
    );
}

#[tokio::test]
async fn a_missing_file_is_not_created() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("absent.db");
    let url = format!("sqlite://{}", path.display());
    let error = run(&url, &guarded("SELECT 1"), &Limits::default())
        .await
        .unwrap_err();
    assert!(matches!(error, QueryError::Connect(_)), "{error}");
    assert!(!path.exists());
}
