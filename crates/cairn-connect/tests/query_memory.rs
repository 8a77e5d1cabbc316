//! Memory amplification: statements that build enormous values (PostgreSQL `repeat()`, SQLite's
//! nested `replace()`, run inside this process) stay within a bound while four run at once, and
//! each ends by the one deadline. Alone in its test binary, so the process's memory is its own.

use std::time::{Duration, Instant};

use cairn_connect::query::{Limits, QueryError, run};
use cairn_sqlguard::{Dialect, RelationResolver, TableRef, check};

struct NoTables;

impl RelationResolver for NoTables {
    fn resolve(&self, _schema: Option<&str>, _name: &str) -> Option<TableRef> {
        None
    }
}

/// This process's resident memory, in bytes (`VmRSS`, or `VmHWM` for its peak so far).
fn memory(field: &str) -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status
        .lines()
        .find(|line| line.starts_with(field))
        .unwrap_or_else(|| panic!("{field} in /proc/self/status"));
    let kilobytes: usize = line
        .split_whitespace()
        .nth(1)
        .and_then(|number| number.parse().ok())
        .unwrap();
    kilobytes * 1024
}

/// Ten characters grown tenfold by each of `levels` nested replace() calls.
fn nested_replace(levels: usize) -> String {
    let mut expression = "'xxxxxxxxxx'".to_string();
    for _ in 0..levels {
        expression = format!("replace({expression}, 'x', 'xxxxxxxxxx')");
    }
    format!("SELECT {expression} AS big, {expression} AS again")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn four_amplifying_queries_at_once_stay_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let sqlite_path = dir.path().join("empty.db");
    std::fs::write(&sqlite_path, b"").unwrap();
    let sqlite_url = format!("sqlite://{}", sqlite_path.display());
    let sqlite_query = check(Dialect::Sqlite, &nested_replace(8), &NoTables)
        .unwrap_or_else(|refusal| panic!("{refusal}"));

    let postgres = cairn_testkit::postgres();
    let postgres_url = postgres.map(|server| server.create_database("memory"));
    if postgres_url.is_none() {
        eprintln!("no PostgreSQL server could be started: the PostgreSQL half is skipped");
    }
    let postgres_query = check(
        Dialect::Postgres,
        "SELECT repeat('x', 400000000) AS big, repeat('y', 300000000)::bytea AS blob",
        &NoTables,
    )
    .unwrap_or_else(|refusal| panic!("{refusal}"));

    let limits = Limits {
        timeout: Duration::from_secs(20),
        ..Limits::default()
    };
    // Warm up: connections, pools and the allocator's first arenas are not what is measured.
    let _ = run(
        &sqlite_url,
        &check(Dialect::Sqlite, "SELECT 1", &NoTables).unwrap(),
        &limits,
    )
    .await;
    let idle = memory("VmRSS:");

    let started = Instant::now();
    let mut tasks = Vec::new();
    for index in 0..4 {
        let (url, query) = match (&postgres_url, index % 2) {
            (Some(url), 0) => (url.clone(), postgres_query.clone()),
            _ => (sqlite_url.clone(), sqlite_query.clone()),
        };
        tasks.push(tokio::spawn(async move {
            let started = Instant::now();
            let outcome = run(&url, &query, &limits).await;
            (outcome, started.elapsed())
        }));
    }
    for task in tasks {
        let (outcome, elapsed) = task.await.unwrap();
        match outcome {
            Ok(result) => {
                for value in result.rows.iter().flatten() {
                    let text = value.as_str().unwrap_or_default();
                    assert!(
                        text.len() <= 2 * 2 + 2 * limits.max_value_bytes,
                        "a value came back whole: {} bytes",
                        text.len()
                    );
                }
            }
            Err(QueryError::Failed(message)) => {
                assert!(
                    message.contains("memory") || message.contains("too big"),
                    "{message}"
                );
            }
            Err(QueryError::Timeout(_)) => {}
            Err(other) => panic!("{other}"),
        }
        assert!(
            elapsed <= limits.timeout + Duration::from_secs(5),
            "ran past the deadline: {elapsed:?}"
        );
    }
    let peak = memory("VmHWM:");
    let above_idle = peak.saturating_sub(idle);
    eprintln!(
        "peak resident memory {} MB above idle ({} MB idle), {:?} for all four",
        above_idle / 1_048_576,
        idle / 1_048_576,
        started.elapsed()
    );
    assert!(
        above_idle < 300 * 1024 * 1024,
        "{} MB above idle",
        above_idle / 1_048_576
    );
}
