//! SQLite: the file opened read-only, `query_only` on, a progress handler as the deadline.

use std::str::FromStr;
use std::time::Instant;

use serde_json::Value;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection, SqliteRow};
use sqlx::{Connection, Row, Statement};

use super::values::{float, hex};
use super::{
    Fetched, Job, Limits, Mode, QueryError, connect, driver_error, prepare_and_collect, render_row,
    value_cap,
};

/// SQLite's heap in this process at most, in bytes.
const SQLITE_HEAP_LIMIT: &str = "201326592";

/// Virtual machine instructions between two looks at the clock.
const PROGRESS_STEPS: i32 = 10_000;

pub(super) async fn run(url: &str, job: &Job<'_>) -> Result<Fetched, QueryError> {
    let options = SqliteConnectOptions::from_str(url)
        .map_err(|error| QueryError::Connect(error.to_string()))?
        // SQLITE_OPEN_READONLY, never created: the file cannot be written through this
        // connection, whatever the statement.
        .read_only(true)
        .create_if_missing(false)
        .statement_cache_capacity(0)
        // Refuses any change to any database file, including a temporary one.
        .pragma("query_only", "ON")
        // Functions in views and triggers of the schema may not have side effects.
        .pragma("trusted_schema", "OFF")
        // SQLite runs in this process: a statement that amplifies values (nested replace(),
        // doubling in a recursive CTE, ...) fails with "out of memory" at this bound instead of
        // taking the server's memory. sqlx offers no safe sqlite3_limit(), so this is the
        // process-wide hard heap limit (it bounds every SQLite connection of the process
        // together, the store's included, whose own needs are far below it).
        .pragma("hard_heap_limit", SQLITE_HEAP_LIMIT);
    let mut connection = connect(SqliteConnection::connect_with(&options)).await?;
    let fetched = fetch(&mut connection, job.sql, &job.limits_left(), job.mode).await;
    let _ = connection.close().await;
    fetched
}

async fn fetch(
    connection: &mut SqliteConnection,
    sql: &str,
    limits: &Limits,
    mode: Mode,
) -> Result<Fetched, QueryError> {
    let deadline = Instant::now() + limits.timeout;
    {
        let mut handle = connection
            .lock_handle()
            .await
            .map_err(|error| driver_error(&error))?;
        // Returning false interrupts the running statement (SQLITE_INTERRUPT).
        handle.set_progress_handler(PROGRESS_STEPS, move || Instant::now() < deadline);
    }
    let failed = |error: sqlx::Error| {
        if Instant::now() >= deadline {
            QueryError::Timeout(limits.timeout)
        } else {
            driver_error(&error)
        }
    };
    prepare_and_collect::<sqlx::Sqlite>(
        connection,
        sql,
        limits,
        mode,
        failed,
        |statement| {
            let count = statement.columns().len();
            (count > 0).then(|| capped(sql, count, value_cap(limits, count)))
        },
        convert_row,
    )
    .await
}

/// The statement wrapped so that each value longer than `cap` (characters of text, bytes of a
/// blob) is cut to its first `cap` before it is returned; the columns are renamed positionally
/// in a common table expression, so duplicate or odd names cannot clash.
fn capped(sql: &str, columns: usize, cap: usize) -> String {
    let statement = sql.trim_end().trim_end_matches(';');
    let aliases: Vec<String> = (0..columns).map(|index| format!("c{index}")).collect();
    let values: Vec<String> = aliases
        .iter()
        .map(|alias| {
            format!(
                "CASE WHEN length(q.{alias}) > {cap} THEN substr(q.{alias}, 1, {cap}) \
                 ELSE q.{alias} END"
            )
        })
        .collect();
    format!(
        "WITH q({}) AS (\n{statement}\n) SELECT {} FROM q",
        aliases.join(", "),
        values.join(", ")
    )
}

fn convert_row(row: &SqliteRow) -> Vec<Value> {
    render_row(row, convert_value)
}

/// SQLite values carry their own storage class (`storage`), whatever the column was declared as.
fn convert_value(row: &SqliteRow, index: usize, storage: &str) -> Value {
    let decoded = match storage {
        "INTEGER" => row.try_get_unchecked::<i64, _>(index).ok().map(Value::from),
        "REAL" => row.try_get_unchecked::<f64, _>(index).ok().map(float),
        "BLOB" => row
            .try_get_unchecked::<Vec<u8>, _>(index)
            .ok()
            .map(|bytes| Value::String(hex("x", &bytes))),
        _ => row
            .try_get_unchecked::<String, _>(index)
            .ok()
            .map(Value::String),
    };
    decoded.unwrap_or_else(|| Value::String(format!("<{storage} value>")))
}
