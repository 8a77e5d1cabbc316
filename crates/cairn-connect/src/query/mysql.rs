//! MySQL and MariaDB: a read-only transaction with the server's own statement time limit, one
//! prepared statement (binary protocol), rows decoded per column type.

use std::str::FromStr;

use serde_json::Value;
use sqlx::mysql::{MySqlConnectOptions, MySqlConnection, MySqlRow};
use sqlx::{AssertSqlSafe, Connection, Executor, Row};

use super::values::{float, format_date, format_time, hex, json_text, text_or_hex};
use super::{
    Fetched, Job, Limits, Mode, QueryError, connect, driver_error, prepare_and_collect, render_row,
};

/// The `sql_mode` the guard's MySQL dialect parses with: backslash escapes in strings (no
/// `NO_BACKSLASH_ESCAPES`), `"…"` as a string (no `ANSI_QUOTES`), `||` as concatenation
/// (`PIPES_AS_CONCAT`, which sqlx also sets), function names followed by `(` only (no
/// `IGNORE_SPACE`), and none of the modes that turn on another dialect (`ANSI`, `ORACLE`, …).
const PINNED_SQL_MODE: &str = "PIPES_AS_CONCAT,NO_ENGINE_SUBSTITUTION";

/// A fresh connection for user SQL whose session parses as the guard does, whatever the
/// server's global `sql_mode` or `init_connect` set. sqlx itself sets `NAMES utf8mb4`.
pub(super) async fn open_session(url: &str) -> Result<MySqlConnection, QueryError> {
    let options = MySqlConnectOptions::from_str(url)
        .map_err(|error| QueryError::Connect(error.to_string()))?
        .statement_cache_capacity(0)
        .set_names(true);
    let mut connection = connect(MySqlConnection::connect_with(&options)).await?;
    let pinned = connection
        .execute(AssertSqlSafe(format!(
            "SET SESSION sql_mode = '{PINNED_SQL_MODE}'"
        )))
        .await;
    if let Err(error) = pinned {
        let _ = connection.close_hard().await;
        return Err(driver_error(&error));
    }
    Ok(connection)
}

pub(super) async fn run(url: &str, job: &Job<'_>) -> Result<Fetched, QueryError> {
    let mut connection = open_session(url).await?;
    let fetched = fetch(&mut connection, job.sql, &job.limits_left(), job.mode).await;
    // Never reused; the open transaction ends with the connection.
    let _ = connection.close_hard().await;
    fetched
}

async fn fetch(
    connection: &mut MySqlConnection,
    sql: &str,
    limits: &Limits,
    mode: Mode,
) -> Result<Fetched, QueryError> {
    let failed = |error: sqlx::Error| classify(&error, limits);
    let version: String = sqlx::query_scalar("SELECT CONVERT(VERSION() USING utf8mb4)")
        .fetch_one(&mut *connection)
        .await
        .map_err(failed)?;
    let timeout_ms = limits.timeout.as_millis().max(1);
    let limit_statement = if version.contains("MariaDB") {
        // MariaDB: seconds, fractions allowed; applies to every statement.
        format!(
            "SET SESSION max_statement_time = {}.{:03}",
            timeout_ms / 1000,
            timeout_ms % 1000
        )
    } else {
        // MySQL: milliseconds; applies to read-only SELECT statements.
        format!("SET SESSION max_execution_time = {timeout_ms}")
    };
    connection
        .execute(AssertSqlSafe(limit_statement))
        .await
        .map_err(failed)?;
    connection
        .execute("SET SESSION TRANSACTION READ ONLY")
        .await
        .map_err(failed)?;
    connection
        .execute("START TRANSACTION READ ONLY")
        .await
        .map_err(failed)?;
    // The statement runs as written: no wrapper cuts values on a MySQL or MariaDB server.
    prepare_and_collect::<sqlx::MySql>(connection, sql, limits, mode, failed, |_| None, convert_row)
        .await
}

fn classify(error: &sqlx::Error, limits: &Limits) -> QueryError {
    if let sqlx::Error::Database(database_error) = error
        && let Some(mysql_error) =
            database_error.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>()
        // 3024: MySQL max_execution_time exceeded; 1969: MariaDB max_statement_time exceeded.
        && matches!(mysql_error.number(), 3024 | 1969)
    {
        return QueryError::Timeout(limits.timeout);
    }
    driver_error(error)
}

fn convert_row(row: &MySqlRow) -> Vec<Value> {
    render_row(row, convert_value)
}

fn convert_value(row: &MySqlRow, index: usize, type_name: &str) -> Value {
    let decoded = match type_name {
        "BOOLEAN" | "TINYINT" | "SMALLINT" | "MEDIUMINT" | "INT" | "BIGINT" | "YEAR" => {
            row.try_get_unchecked::<i64, _>(index).ok().map(Value::from)
        }
        name if name.ends_with("UNSIGNED") => {
            row.try_get_unchecked::<u64, _>(index).ok().map(Value::from)
        }
        "FLOAT" => row
            .try_get_unchecked::<f32, _>(index)
            .ok()
            .map(|value| float(f64::from(value))),
        "DOUBLE" => row.try_get_unchecked::<f64, _>(index).ok().map(float),
        // Sent as text, kept exact.
        "DECIMAL" => row
            .try_get_unchecked::<String, _>(index)
            .ok()
            .map(Value::String),
        "JSON" => row
            .try_get_unchecked::<Vec<u8>, _>(index)
            .ok()
            .and_then(|bytes| std::str::from_utf8(&bytes).ok().map(json_text)),
        "DATE" | "DATETIME" | "TIMESTAMP" => row
            .try_get_unchecked::<Vec<u8>, _>(index)
            .ok()
            .and_then(|bytes| date_time(&bytes)),
        "TIME" => row
            .try_get_unchecked::<Vec<u8>, _>(index)
            .ok()
            .and_then(|bytes| time(&bytes)),
        "BINARY" | "VARBINARY" | "BLOB" | "TINYBLOB" | "MEDIUMBLOB" | "LONGBLOB" | "BIT"
        | "GEOMETRY" => row
            .try_get_unchecked::<Vec<u8>, _>(index)
            .ok()
            .map(|bytes| Value::String(hex("0x", &bytes))),
        _ => row
            .try_get_unchecked::<Vec<u8>, _>(index)
            .ok()
            .map(|bytes| text_or_hex(&bytes)),
    };
    decoded.unwrap_or_else(|| Value::String(format!("<{type_name} value>")))
}

/// Binary `DATE`/`DATETIME`/`TIMESTAMP`: a length byte, then year (2 bytes, little endian),
/// month, day, and optionally hour, minute, second and microseconds (4 bytes).
fn date_time(bytes: &[u8]) -> Option<Value> {
    let (&length, rest) = bytes.split_first()?;
    let rest = rest.get(..usize::from(length))?;
    if rest.is_empty() {
        return Some(Value::String("0000-00-00".to_owned()));
    }
    let year = i64::from(u16::from_le_bytes([*rest.first()?, *rest.get(1)?]));
    let date = format_date(year, u32::from(*rest.get(2)?), u32::from(*rest.get(3)?));
    if rest.len() < 7 {
        return Some(Value::String(date));
    }
    let micros = match rest.get(7..11) {
        Some(micros) => u32::from_le_bytes(micros.try_into().ok()?),
        None => 0,
    };
    let time = format_time(
        i64::from(rest[4]),
        u32::from(rest[5]),
        u32::from(rest[6]),
        micros,
    );
    Some(Value::String(format!("{date}T{time}")))
}

/// Binary `TIME`: a length byte, a sign, days (4 bytes), hour, minute, second and optionally
/// microseconds (4 bytes).
fn time(bytes: &[u8]) -> Option<Value> {
    let (&length, rest) = bytes.split_first()?;
    let rest = rest.get(..usize::from(length))?;
    if rest.is_empty() {
        return Some(Value::String("00:00:00".to_owned()));
    }
    let negative = *rest.first()? != 0;
    let days = i64::from(u32::from_le_bytes(rest.get(1..5)?.try_into().ok()?));
    let hours = days * 24 + i64::from(*rest.get(5)?);
    let micros = match rest.get(8..12) {
        Some(micros) => u32::from_le_bytes(micros.try_into().ok()?),
        None => 0,
    };
    let text = format_time(
        hours,
        u32::from(*rest.get(6)?),
        u32::from(*rest.get(7)?),
        micros,
    );
    Some(Value::String(if negative {
        format!("-{text}")
    } else {
        text
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_dates_decode() {
        assert_eq!(
            date_time(&[4, 0xE8, 0x07, 2, 29]).unwrap(),
            Value::String("2024-02-29".into())
        );
        assert_eq!(
            date_time(&[7, 0xE8, 0x07, 2, 29, 13, 5, 9]).unwrap(),
            Value::String("2024-02-29T13:05:09".into())
        );
        assert_eq!(
            time(&[8, 1, 1, 0, 0, 0, 2, 3, 4]).unwrap(),
            Value::String("-26:03:04".into())
        );
    }
}
