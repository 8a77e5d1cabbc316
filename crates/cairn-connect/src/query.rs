//! Runs a guarded read-only query and returns its rows as JSON values, for the user only.
//!
//! The guard ([`cairn_sqlguard::check`]) is the first line; each engine adds its own:
//!
//! - PostgreSQL: a fresh connection that starts with `default_transaction_read_only=on`, the
//!   statement inside `BEGIN READ ONLY` with `SET LOCAL statement_timeout`, sent over the extended
//!   protocol as one prepared statement (the server itself refuses a second statement there). The
//!   connection is closed afterwards, never reused.
//! - MySQL/MariaDB: a fresh connection, `START TRANSACTION READ ONLY`, `max_execution_time`
//!   (MySQL) or `max_statement_time` (MariaDB), one prepared statement, then closed.
//! - SQLite: the file opened read-only (`SQLITE_OPEN_READONLY`, never created) with
//!   `query_only` and `trusted_schema=OFF`, extension loading left disabled, and a progress
//!   handler that interrupts the statement at the deadline. sqlx exposes no safe authorizer
//!   (`sqlite3_set_authorizer` is reachable only through the raw handle, i.e. `unsafe`, which the
//!   workspace forbids), so ATTACH, PRAGMA and writes are kept out by the guard and by the
//!   read-only open and `query_only`.
//!
//! Rows are fetched one by one and fetching stops at [`Limits::max_rows`] or
//! [`Limits::max_bytes`] (`truncated: true`).

mod mysql;
mod postgres;
mod sqlite;
mod values;

use std::time::{Duration, Instant};

use cairn_sqlguard::{Dialect, ReadOnlyQuery};
use futures_util::TryStreamExt;
use sqlx::{AssertSqlSafe, Column, Executor, SqlSafeStr, Statement};

use crate::{EngineKind, Redactor};

/// The PostgreSQL `search_path` every session that runs user SQL is pinned to: the guard's
/// resolver resolves unqualified names in this schema, exactly as the session does.
pub use cairn_sqlguard::POSTGRES_SEARCH_PATH;

/// How much a query may return and how long it may run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Rows returned at most; a query with more is cut off and marked truncated.
    pub max_rows: usize,
    /// Bytes of JSON-encoded rows returned at most.
    pub max_bytes: usize,
    /// Bytes (characters for text) of one value at most: longer values are cut by the database
    /// before they are sent, so no value is ever held whole.
    pub max_value_bytes: usize,
    /// How long the statement may run; the server cancels it then.
    pub timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_rows: 1000,
            max_bytes: 4 * 1024 * 1024,
            max_value_bytes: 64 * 1024,
            timeout: Duration::from_secs(30),
        }
    }
}

/// What a query returned. Goes to the user who asked, never to a language model.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct QueryResult {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<serde_json::Value>>,
    /// More rows (or bytes) were available than the limits allow.
    pub truncated: bool,
    pub elapsed_ms: u64,
}

/// Why a query did not return rows. The text is for the caller only: it may quote the
/// database's own error message (with any password scrubbed).
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    #[error("the query ran longer than {} ms and was cancelled", .0.as_millis())]
    Timeout(Duration),
    #[error("the query was checked for {query} but the connection is for {connection}")]
    WrongEngine { query: Dialect, connection: String },
    #[error("cannot connect: {0}")]
    Connect(String),
    #[error("query failed: {0}")]
    Failed(String),
}

/// Whether a statement runs or is only prepared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Parse and plan on the server (prepare), read the result's columns, execute nothing.
    Describe,
    Execute,
}

/// Prepares `query` on the database at `url`, in the same session as [`run`] would, without
/// executing it, and returns its column names. Nothing is read from any table, so the outcome
/// depends on the statement and the schema only, never on rows: what a language model may learn
/// about SQL it wrote.
///
/// # Errors
///
/// [`QueryError::Failed`] with the database's message when it would not parse or plan the
/// statement; the other variants as for [`run`].
pub async fn describe(
    url: &str,
    query: &ReadOnlyQuery,
    limits: &Limits,
) -> Result<Vec<String>, QueryError> {
    run_in(url, query, limits, Mode::Describe)
        .await
        .map(|result| result.columns)
}

/// Runs `query` on the database at `url` within `limits`.
///
/// # Errors
///
/// [`QueryError::Timeout`] when the statement outlived `limits.timeout` (it is cancelled on the
/// server), [`QueryError::Failed`] with the database's message when the database rejected it,
/// [`QueryError::Connect`] when the database could not be reached, and
/// [`QueryError::WrongEngine`] when the URL is not for the query's dialect.
pub async fn run(
    url: &str,
    query: &ReadOnlyQuery,
    limits: &Limits,
) -> Result<QueryResult, QueryError> {
    run_in(url, query, limits, Mode::Execute).await
}

async fn run_in(
    url: &str,
    query: &ReadOnlyQuery,
    limits: &Limits,
    mode: Mode,
) -> Result<QueryResult, QueryError> {
    let redactor = Redactor::for_url(url);
    let engine = EngineKind::from_url(url);
    let expected = match query.dialect() {
        Dialect::Postgres => EngineKind::Postgres,
        Dialect::Mysql => EngineKind::Mysql,
        Dialect::Sqlite => EngineKind::Sqlite,
    };
    if engine != Some(expected) {
        return Err(QueryError::WrongEngine {
            query: query.dialect(),
            connection: engine.map_or("an unknown engine".to_owned(), |kind| kind.to_string()),
        });
    }
    let started = Instant::now();
    // One deadline for connecting, running and fetching: each engine gives the statement only
    // the time left after connecting (and the server cancels it then); this outer bound, a
    // moment later, only guards against a server that stops answering altogether.
    let deadline = limits.timeout + DEADLINE_GRACE;
    let job = Job {
        sql: query.sql(),
        limits,
        mode,
        started,
    };
    let work = async {
        match expected {
            EngineKind::Postgres => postgres::run(url, &job).await,
            EngineKind::Mysql => mysql::run(url, &job).await,
            EngineKind::Sqlite => sqlite::run(url, &job).await,
        }
    };
    let outcome = match tokio::time::timeout(deadline, work).await {
        // The engines report the time that was left when they started; the caller set the
        // whole deadline, and that is what the message names.
        Ok(Err(QueryError::Timeout(_))) | Err(_) => Err(QueryError::Timeout(limits.timeout)),
        Ok(outcome) => outcome,
    };
    let elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    match outcome {
        Ok(fetched) => {
            tracing::info!(
                engine = %expected,
                target = redactor.target(),
                rows = fetched.rows.len(),
                truncated = fetched.truncated,
                elapsed_ms,
                ?mode,
                "ran guarded query"
            );
            Ok(QueryResult {
                columns: fetched.columns,
                rows: fetched.rows,
                truncated: fetched.truncated,
                elapsed_ms,
            })
        }
        Err(error) => {
            let error = scrub(error, &redactor);
            tracing::info!(
                engine = %expected,
                target = redactor.target(),
                elapsed_ms,
                timeout = matches!(error, QueryError::Timeout(_)),
                ?mode,
                "guarded query failed"
            );
            Err(error)
        }
    }
}

fn scrub(error: QueryError, redactor: &Redactor) -> QueryError {
    match error {
        QueryError::Connect(message) => QueryError::Connect(redactor.scrub(&message)),
        QueryError::Failed(message) => QueryError::Failed(redactor.scrub(&message)),
        other => other,
    }
}

/// One statement for an engine's `run`: it connects, then runs the statement within the limits
/// less the time connecting took.
struct Job<'a> {
    sql: &'a str,
    limits: &'a Limits,
    mode: Mode,
    started: Instant,
}

impl Job<'_> {
    /// The limits with the time spent since the start (connecting) taken off the timeout.
    fn limits_left(&self) -> Limits {
        self.limits.left_after(self.started)
    }
}

/// Every cell of a row as JSON: null for SQL NULL (or a cell that cannot be read), the others
/// rendered by `render` from the row, the cell's index and the database's name for its type.
fn render_row<R>(
    row: &R,
    render: fn(&R, usize, &str) -> serde_json::Value,
) -> Vec<serde_json::Value>
where
    R: sqlx::Row,
    usize: sqlx::ColumnIndex<R>,
{
    use sqlx::{TypeInfo, ValueRef};
    (0..row.len())
        .map(|index| {
            let type_name = match row.try_get_raw(index) {
                Ok(raw) if !raw.is_null() => raw.type_info().name().to_owned(),
                _ => return serde_json::Value::Null,
            };
            render(row, index, &type_name)
        })
        .collect()
}

/// Rows as they are fetched, before timing is added.
struct Fetched {
    columns: Vec<String>,
    rows: Vec<Vec<serde_json::Value>>,
    truncated: bool,
}

/// Collects rows until a limit is reached.
struct Collector {
    max_rows: usize,
    max_bytes: usize,
    bytes: usize,
    rows: Vec<Vec<serde_json::Value>>,
    truncated: bool,
}

/// How long after the deadline the outer bound cuts a run whose server did not cancel it.
const DEADLINE_GRACE: Duration = Duration::from_millis(500);

impl Limits {
    /// These limits with the time spent since `started` (connecting) taken off the timeout.
    fn left_after(&self, started: Instant) -> Limits {
        Limits {
            timeout: self
                .timeout
                .saturating_sub(started.elapsed())
                .max(Duration::from_millis(1)),
            ..*self
        }
    }
}

/// The cap on each value for a result of `columns` columns: [`Limits::max_value_bytes`], less
/// when many columns share [`Limits::max_bytes`] (never under 256).
fn value_cap(limits: &Limits, columns: usize) -> usize {
    limits
        .max_value_bytes
        .min(limits.max_bytes / columns.max(1))
        .max(256)
}

impl Collector {
    fn new(limits: &Limits) -> Self {
        Collector {
            max_rows: limits.max_rows,
            max_bytes: limits.max_bytes,
            bytes: 0,
            rows: Vec::new(),
            truncated: false,
        }
    }

    /// Takes a row; returns `false` once the limits are reached and fetching should stop.
    fn push(&mut self, row: Vec<serde_json::Value>) -> bool {
        if self.rows.len() >= self.max_rows {
            self.truncated = true;
            return false;
        }
        let size = serde_json::to_vec(&row).map_or(usize::MAX, |encoded| encoded.len());
        if self.bytes.saturating_add(size) > self.max_bytes {
            self.truncated = true;
            return false;
        }
        self.bytes += size;
        self.rows.push(row);
        true
    }

    fn finish(self, columns: Vec<String>) -> Fetched {
        Fetched {
            columns,
            rows: self.rows,
            truncated: self.truncated,
        }
    }
}

/// The loop every engine shares once its session is set up: prepares `sql` (the database parses
/// and plans it, nothing runs) and reads its column names; to execute, prepares instead the
/// statement `capped` wraps it in, if any (each value cut on the server before it is sent), then
/// fetches rows one by one, rendered by `convert_row`, until the [`Collector`] stops at the row
/// or byte limit. Every driver error goes through `failed`, which tells the engine's timeouts
/// apart.
async fn prepare_and_collect<DB>(
    connection: &mut DB::Connection,
    sql: &str,
    limits: &Limits,
    mode: Mode,
    failed: impl Fn(sqlx::Error) -> QueryError,
    capped: impl FnOnce(&DB::Statement) -> Option<String>,
    convert_row: fn(&DB::Row) -> Vec<serde_json::Value>,
) -> Result<Fetched, QueryError>
where
    DB: sqlx::Database,
    DB::Arguments: sqlx::IntoArguments<DB>,
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
{
    // One prepared statement: PostgreSQL (extended protocol) and MySQL (binary protocol) refuse
    // a second statement in it.
    let statement = (&mut *connection)
        .prepare(AssertSqlSafe(sql.to_owned()).into_sql_str())
        .await
        .map_err(&failed)?;
    let columns = statement
        .columns()
        .iter()
        .map(|column| column.name().to_owned())
        .collect();
    let mut collector = Collector::new(limits);
    if mode == Mode::Describe {
        return Ok(collector.finish(columns));
    }
    let statement = match capped(&statement) {
        Some(wrapped) => (&mut *connection)
            .prepare(AssertSqlSafe(wrapped).into_sql_str())
            .await
            .map_err(&failed)?,
        None => statement,
    };
    {
        let mut rows = statement.query().fetch(&mut *connection);
        while let Some(row) = rows.try_next().await.map_err(&failed)? {
            if !collector.push(convert_row(&row)) {
                break;
            }
        }
    }
    Ok(collector.finish(columns))
}

/// Maps a driver error to [`QueryError`]: connection problems apart from database errors.
fn driver_error(error: &sqlx::Error) -> QueryError {
    match error {
        sqlx::Error::Database(database_error) => {
            QueryError::Failed(database_error.message().to_owned())
        }
        sqlx::Error::Io(_) | sqlx::Error::Tls(_) | sqlx::Error::Configuration(_) => {
            QueryError::Connect(error.to_string())
        }
        other => QueryError::Failed(other.to_string()),
    }
}

/// Connects within [`crate::CONNECT_TIMEOUT`].
async fn connect<C, F>(connecting: F) -> Result<C, QueryError>
where
    F: std::future::Future<Output = Result<C, sqlx::Error>>,
{
    match tokio::time::timeout(crate::CONNECT_TIMEOUT, connecting).await {
        Ok(Ok(connection)) => Ok(connection),
        Ok(Err(error)) => Err(match driver_error(&error) {
            QueryError::Failed(message) => QueryError::Connect(message),
            other => other,
        }),
        Err(_) => Err(QueryError::Connect(format!(
            "no answer within {} s",
            crate::CONNECT_TIMEOUT.as_secs()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_collector_stops_at_the_row_limit() {
        let mut collector = Collector::new(&Limits {
            max_rows: 2,
            ..Limits::default()
        });
        assert!(collector.push(vec![1.into()]));
        assert!(collector.push(vec![2.into()]));
        assert!(!collector.push(vec![3.into()]));
        let fetched = collector.finish(vec!["x".into()]);
        assert_eq!(fetched.rows.len(), 2);
        assert!(fetched.truncated);
    }

    #[test]
    fn the_collector_stops_at_the_byte_limit() {
        let mut collector = Collector::new(&Limits {
            max_bytes: 20,
            ..Limits::default()
        });
        assert!(collector.push(vec!["0123456789".into()]));
        assert!(!collector.push(vec!["0123456789".into()]));
        let fetched = collector.finish(vec!["x".into()]);
        assert_eq!(fetched.rows.len(), 1);
        assert!(fetched.truncated);
    }

    #[test]
    fn a_full_result_is_not_truncated() {
        let mut collector = Collector::new(&Limits {
            max_rows: 2,
            ..Limits::default()
        });
        assert!(collector.push(vec![1.into()]));
        assert!(collector.push(vec![2.into()]));
        assert!(!collector.finish(Vec::new()).truncated);
    }
}
