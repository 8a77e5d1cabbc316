//! Guarded queries on a real PostgreSQL server (as superuser): limits, timeouts, the read-only
//! transaction and the row converter.

use std::time::{Duration, Instant};

use cairn_connect::query::{Limits, QueryError, run};
use cairn_sqlguard::{Catalog, Dialect, ReadOnlyQuery, TableRef, check};
use serde_json::json;

struct NoTables;

impl Catalog for NoTables {
    fn resolve(&self, _schema: Option<&str>, _name: &str) -> Option<TableRef> {
        None
    }
}

fn guarded(sql: &str) -> ReadOnlyQuery {
    check(Dialect::Postgres, sql, &NoTables).unwrap_or_else(|refusal| panic!("{sql}: {refusal}"))
}

fn database() -> Option<String> {
    Some(cairn_testkit::postgres()?.create_database("query"))
}

#[tokio::test]
async fn rows_stop_at_the_row_limit() {
    let Some(url) = database() else { return };
    let query = guarded("SELECT g FROM generate_series(1, 100) g");
    let limits = Limits {
        max_rows: 5,
        ..Limits::default()
    };
    let result = run(&url, &query, &limits).await.unwrap();
    assert_eq!(result.columns, ["g"]);
    assert_eq!(
        result.rows,
        (1..=5).map(|n| vec![json!(n)]).collect::<Vec<_>>()
    );
    assert!(result.truncated);

    let exact = Limits {
        max_rows: 100,
        ..Limits::default()
    };
    let result = run(&url, &query, &exact).await.unwrap();
    assert_eq!(result.rows.len(), 100);
    assert!(!result.truncated);
}

#[tokio::test]
async fn fetching_stops_at_the_limit_instead_of_reading_everything() {
    let Some(url) = database() else { return };
    // A set-returning function in the select list streams its rows, and the server computes
    // them only as fast as they are read. Row ten million divides by zero: a runner that read
    // everything would fail with that error; one that stops at the limit never gets there.
    let query = guarded(
        "SELECT CASE WHEN n <= 10000000 THEN n ELSE 1 / (n - n) END AS n \
         FROM (SELECT generate_series(1, 20000000) AS n) AS numbers",
    );
    let limits = Limits {
        max_rows: 10,
        ..Limits::default()
    };
    let result = run(&url, &query, &limits).await.unwrap();
    assert_eq!(result.rows.len(), 10);
    assert!(result.truncated);
}

#[tokio::test]
async fn rows_stop_at_the_byte_limit() {
    let Some(url) = database() else { return };
    let query = guarded("SELECT repeat('x', 100) FROM generate_series(1, 100)");
    let limits = Limits {
        max_bytes: 1000,
        ..Limits::default()
    };
    let result = run(&url, &query, &limits).await.unwrap();
    assert!(result.truncated);
    assert!(!result.rows.is_empty() && result.rows.len() < 10);
}

#[tokio::test]
async fn a_long_query_is_cancelled_on_the_server() {
    let Some(server) = cairn_testkit::postgres() else {
        return;
    };
    let url = server.create_database("query_timeout");
    let query = guarded(
        "SELECT count(*) FROM generate_series(1, 100000) a CROSS JOIN generate_series(1, 100000) b",
    );
    let limits = Limits {
        timeout: Duration::from_millis(300),
        ..Limits::default()
    };
    let started = Instant::now();
    let error = run(&url, &query, &limits).await.unwrap_err();
    assert!(matches!(error, QueryError::Timeout(_)), "{error}");
    // Far past the deadline, yet far short of the statement: a loaded machine still passes.
    assert!(started.elapsed() < Duration::from_secs(30));
    assert!(error.to_string().contains("300 ms"));
    // Nothing of ours is still running on the server (in this test's own database: other
    // tests run queries at the same time). Cancellation is asynchronous, and a server cannot
    // interrupt some work (loading and running the JIT compiler on a cold machine took seconds
    // in CI), so allow it a while; the statement itself would run for many minutes.
    let still_running = "SELECT count(*) FROM pg_stat_activity WHERE application_name = \
                         'cairn-query' AND state = 'active' AND datname = current_database()";
    let mut active = String::new();
    for _ in 0..100 {
        active = server.psql(&url, still_running).unwrap();
        if active.trim() == "0" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let details = server
        .psql(
            &url,
            "SELECT state, wait_event_type, wait_event, now() - query_start FROM \
             pg_stat_activity WHERE application_name = 'cairn-query'",
        )
        .unwrap_or_default();
    assert_eq!(active.trim(), "0", "still on the server: {details}");
}

#[tokio::test]
async fn even_an_allowed_query_runs_in_a_read_only_transaction() {
    let Some(url) = database() else { return };
    let query = guarded(
        "SELECT current_setting('transaction_read_only'), current_setting('statement_timeout'), \
         now() = statement_timestamp()",
    );
    let limits = Limits {
        timeout: Duration::from_secs(7),
        ..Limits::default()
    };
    let result = run(&url, &query, &limits).await.unwrap();
    // Inside an explicit transaction now() is the transaction's start, not the statement's.
    assert_eq!(result.rows[0][0], json!("on"));
    assert_eq!(result.rows[0][2], json!(false));
    // The statement gets what is left of the one deadline after connecting.
    let timeout = result.rows[0][1].as_str().unwrap();
    let millis: u64 = match timeout.strip_suffix("ms") {
        Some(millis) => millis.parse().unwrap(),
        None => timeout.strip_suffix('s').unwrap().parse::<u64>().unwrap() * 1000,
    };
    assert!((1..=7000).contains(&millis), "{timeout}");
}

#[tokio::test]
async fn values_convert_to_json() {
    let Some(url) = database() else { return };
    let query = guarded(
        "SELECT 1::int2 AS a, 2::int4, 3::int8, 1.5::float8, 12.34::numeric(10, 2), true, \
         'x'::text, 'y'::varchar(3), '2024-02-29'::date, '2024-02-29 13:05:09.5'::timestamp, \
         '2024-02-29 13:05:09+00'::timestamptz, '{\"a\": [1, null]}'::jsonb, \
         '{\"b\": 2}'::json, ARRAY[1, 2, NULL], ARRAY['p', 'q'], '1 day 02:00:00'::interval, \
         NULL::text, '\\x00ff'::bytea, -0.000123::numeric, 1e20::numeric",
    );
    let result = run(&url, &query, &Limits::default()).await.unwrap();
    assert_eq!(result.columns[0], "a");
    assert_eq!(
        result.rows,
        [vec![
            json!(1),
            json!(2),
            json!(3),
            json!(1.5),
            json!("12.34"),
            json!(true),
            json!("x"),
            json!("y"),
            json!("2024-02-29"),
            json!("2024-02-29T13:05:09.500000"),
            json!("2024-02-29T13:05:09Z"),
            json!({"a": [1, null]}),
            json!({"b": 2}),
            json!([1, 2, null]),
            json!(["p", "q"]),
            json!("1 day 02:00:00"),
            json!(null),
            json!("\\x00ff"),
            json!("-0.000123"),
            json!("100000000000000000000"),
        ]]
    );
}

#[tokio::test]
async fn a_database_error_is_reported_as_failed() {
    let Some(url) = database() else { return };
    let error = run(&url, &guarded("SELECT 1 / 0"), &Limits::default())
        .await
        .unwrap_err();
    match error {
        QueryError::Failed(message) => assert!(message.contains("division by zero"), "{message}"),
        other => panic!("{other}"),
    }
}

#[tokio::test]
async fn a_query_for_another_engine_is_refused() {
    let query = guarded("SELECT 1");
    let error = run("sqlite:///nowhere.db", &query, &Limits::default())
        .await
        .unwrap_err();
    assert!(matches!(error, QueryError::WrongEngine { .. }), "{error}");
}
