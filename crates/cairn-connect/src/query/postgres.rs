//! PostgreSQL: a read-only transaction with a statement timeout, one prepared statement, rows
//! decoded from PostgreSQL's binary format.

use std::str::FromStr;

use serde_json::Value;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgRow, PgValueFormat, PgValueRef};
use sqlx::{AssertSqlSafe, Column, Connection, Executor, Row, Statement, TypeInfo, ValueRef};

use super::values::{
    date_from_unix_days, float, hex, json_text, text_or_hex, time_from_micros,
    timestamp_from_unix_micros,
};
use super::{
    Fetched, Job, Limits, Mode, QueryError, connect, driver_error, prepare_and_collect, value_cap,
};

/// PostgreSQL counts days and microseconds from 2000-01-01.
const POSTGRES_EPOCH_DAYS: i64 = 10_957;
const POSTGRES_EPOCH_MICROS: i64 = POSTGRES_EPOCH_DAYS * 86_400_000_000;

/// Settings that change how PostgreSQL lexes, parses or resolves a statement, pinned to what the
/// guard's parser assumes. Sent in the startup packet, they outrank what `ALTER ROLE … SET` or
/// `ALTER DATABASE … SET` configured, and the guard refuses every statement that could change
/// them afterwards.
///
/// - `search_path`: unqualified names resolve in [`crate::query::POSTGRES_SEARCH_PATH`] only
///   (after `pg_catalog`, whose relations the guard refuses by name), never in a schema named
///   after the role (`"$user"`).
/// - `standard_conforming_strings`: a backslash in `'…'` is an ordinary character, as in the
///   guard's parser; off, `'\''` would end a literal the guard read as still open.
/// - `backslash_quote`, `client_encoding`: how `E'…'` strings and multibyte characters lex.
const PINNED_PARSER_SETTINGS: [(&str, &str); 4] = [
    ("search_path", crate::query::POSTGRES_SEARCH_PATH),
    ("standard_conforming_strings", "on"),
    ("backslash_quote", "safe_encoding"),
    ("client_encoding", "UTF8"),
];

/// Options for a session that runs user SQL: read-only from the first statement on, a
/// statement timeout, and the parser settings pinned.
pub(super) fn session_options(url: &str, limits: &Limits) -> Result<PgConnectOptions, QueryError> {
    let timeout_ms = limits.timeout.as_millis().max(1).to_string();
    let mut settings = vec![
        ("default_transaction_read_only", "on"),
        ("statement_timeout", timeout_ms.as_str()),
        // No JIT: compiling is work the server cannot interrupt, so it would outlast the
        // deadline, and for row-capped exploration it costs more than it saves.
        ("jit", "off"),
    ];
    settings.extend(PINNED_PARSER_SETTINGS);
    Ok(PgConnectOptions::from_str(url)
        .map_err(|error| QueryError::Connect(error.to_string()))?
        .application_name("cairn-query")
        .statement_cache_capacity(0)
        .options(settings))
}

pub(super) async fn run(url: &str, job: &Job<'_>) -> Result<Fetched, QueryError> {
    let options = session_options(url, job.limits)?;
    let mut connection = connect(PgConnection::connect_with(&options)).await?;
    let fetched = fetch(&mut connection, job.sql, &job.limits_left(), job.mode).await;
    // Never reused: whatever the statement did to the session ends with it, and the open
    // transaction is rolled back by the server.
    let _ = connection.close_hard().await;
    fetched
}

async fn fetch(
    connection: &mut PgConnection,
    sql: &str,
    limits: &Limits,
    mode: Mode,
) -> Result<Fetched, QueryError> {
    let failed = |error: sqlx::Error| classify(&error, limits);
    connection
        .execute("BEGIN READ ONLY")
        .await
        .map_err(failed)?;
    let timeout_ms = limits.timeout.as_millis().max(1);
    connection
        .execute(AssertSqlSafe(format!(
            "SET LOCAL statement_timeout = {timeout_ms}"
        )))
        .await
        .map_err(failed)?;
    prepare_and_collect::<sqlx::Postgres>(
        connection,
        sql,
        limits,
        mode,
        failed,
        |statement| {
            let types: Vec<Option<u32>> = statement
                .columns()
                .iter()
                .map(|column| column.type_info().oid().map(|oid| oid.0))
                .collect();
            (!types.is_empty()).then(|| capped(sql, &types, value_cap(limits, types.len())))
        },
        convert_row,
    )
    .await
}

/// Type OIDs the converter decodes from the binary format and whose values have a small fixed
/// size: sent as they are.
const FIXED_SIZE_TYPES: &[u32] = &[16, 18, 20, 21, 23, 26, 700, 701, 1082, 1083, 1114, 1184];
/// Character types: cut to the first characters on the server.
const TEXT_TYPES: &[u32] = &[19, 25, 705, 1042, 1043];
/// `bytea`: cut to the first bytes on the server.
const BYTEA: u32 = 17;
/// `json`, `jsonb` and `numeric`: decoded from the binary format, of any size.
const DECODED_VARIABLE_TYPES: &[u32] = &[114, 3802, 1700];

/// The statement wrapped so that the server cuts every value before sending it: text to
/// `cap` characters, `bytea` to `cap` bytes, and any other variable-size value sent only when
/// its text form is at most `cap` bytes (else null). Values of every type the converter does
/// not decode (enums, domains over them, arrays, ranges, `interval`, `money`, `uuid`, `inet`,
/// `tsvector`, composite rows, extension types …) are sent as PostgreSQL's own text form, so the
/// user sees what `psql` prints. The columns are renamed positionally, so duplicate or odd names
/// in the statement cannot clash, and the result keeps their names.
fn capped(sql: &str, types: &[Option<u32>], cap: usize) -> String {
    let statement = sql.trim_end().trim_end_matches(';');
    let aliases: Vec<String> = (0..types.len()).map(|index| format!("c{index}")).collect();
    let values: Vec<String> = types
        .iter()
        .zip(&aliases)
        .map(|(oid, alias)| match oid {
            Some(oid) if FIXED_SIZE_TYPES.contains(oid) => format!("q.{alias}"),
            Some(oid) if TEXT_TYPES.contains(oid) => {
                format!("pg_catalog.left(q.{alias}::pg_catalog.text, {cap})")
            }
            Some(BYTEA) => format!("pg_catalog.substr(q.{alias}, 1, {cap})"),
            Some(oid) if DECODED_VARIABLE_TYPES.contains(oid) => format!(
                "CASE WHEN pg_catalog.octet_length(q.{alias}::pg_catalog.text) <= {cap} \
                 THEN q.{alias} END"
            ),
            // `format('%s', …)` calls the type's output function, as psql shows a value; a
            // cast to text can differ (`inet` then always shows its mask).
            _ => format!(
                "CASE WHEN pg_catalog.octet_length(q.{alias}::pg_catalog.text) <= {cap} \
                 THEN pg_catalog.format('%s', q.{alias}) END"
            ),
        })
        .collect();
    format!(
        "SELECT {} FROM (\n{statement}\n) AS q({})",
        values.join(", "),
        aliases.join(", ")
    )
}

fn classify(error: &sqlx::Error, limits: &Limits) -> QueryError {
    if let sqlx::Error::Database(database_error) = error
        && database_error.code().as_deref() == Some("57014")
    {
        // query_canceled: statement_timeout fired and the server cancelled the statement.
        return QueryError::Timeout(limits.timeout);
    }
    driver_error(error)
}

fn convert_row(row: &PgRow) -> Vec<Value> {
    (0..row.len())
        .map(|index| match row.try_get_raw(index) {
            Ok(value) => convert_value(&value),
            Err(error) => Value::String(format!("<unreadable: {error}>")),
        })
        .collect()
}

fn convert_value(value: &PgValueRef<'_>) -> Value {
    if value.is_null() {
        return Value::Null;
    }
    let type_info = value.type_info().into_owned();
    let Ok(bytes) = value.as_bytes() else {
        return Value::Null;
    };
    if value.format() == PgValueFormat::Text {
        return text_or_hex(bytes);
    }
    match type_info.oid() {
        Some(oid) => decode_binary(oid.0, bytes)
            .unwrap_or_else(|| Value::String(format!("<{} value>", type_info.name()))),
        None => Value::String(format!("<{} value>", type_info.name())),
    }
}

/// Decodes one value in PostgreSQL's binary format, by type OID. `None` for types this
/// converter does not know: [`capped`] has the server send those as text, so only a value
/// read outside it would show its type name instead.
fn decode_binary(oid: u32, bytes: &[u8]) -> Option<Value> {
    Some(match oid {
        16 => Value::Bool(*bytes.first()? != 0),
        21 => Value::from(i16::from_be_bytes(bytes.try_into().ok()?)),
        23 => Value::from(i32::from_be_bytes(bytes.try_into().ok()?)),
        20 => Value::from(i64::from_be_bytes(bytes.try_into().ok()?)),
        26 => Value::from(u32::from_be_bytes(bytes.try_into().ok()?)),
        700 => float(f64::from(f32::from_be_bytes(bytes.try_into().ok()?))),
        701 => float(f64::from_be_bytes(bytes.try_into().ok()?)),
        // text, varchar, bpchar, name, "char", unknown, citext-like text
        25 | 1043 | 1042 | 19 | 18 | 705 => text_or_hex(bytes),
        114 => json_text(std::str::from_utf8(bytes).ok()?),
        3802 => json_text(std::str::from_utf8(bytes.get(1..)?).ok()?),
        1700 => Value::String(numeric(bytes)?),
        1082 => {
            let days = i32::from_be_bytes(bytes.try_into().ok()?);
            Value::String(date_from_unix_days(i64::from(days) + POSTGRES_EPOCH_DAYS))
        }
        1114 | 1184 => {
            let micros = i64::from_be_bytes(bytes.try_into().ok()?);
            let text = timestamp_from_unix_micros(micros.checked_add(POSTGRES_EPOCH_MICROS)?);
            Value::String(if oid == 1184 { text + "Z" } else { text })
        }
        1083 => Value::String(time_from_micros(i64::from_be_bytes(bytes.try_into().ok()?))),
        17 => Value::String(hex("\\x", bytes)),
        _ => return None,
    })
}

/// `numeric`: digit count, weight, sign, display scale, then base-10000 digits.
fn numeric(bytes: &[u8]) -> Option<String> {
    let word = |index: usize| -> Option<i16> {
        Some(i16::from_be_bytes([
            *bytes.get(index * 2)?,
            *bytes.get(index * 2 + 1)?,
        ]))
    };
    let count = usize::try_from(word(0)?).ok()?;
    let weight = i64::from(word(1)?);
    let sign = word(2)? as u16;
    let scale = usize::try_from(word(3)?).ok()?;
    match sign {
        0xC000 => return Some("NaN".to_owned()),
        0xD000 => return Some("Infinity".to_owned()),
        0xF000 => return Some("-Infinity".to_owned()),
        _ => {}
    }
    let digits: Vec<i16> = (0..count).map(|i| word(4 + i)).collect::<Option<_>>()?;
    let digit_at = |position: i64| -> i16 {
        usize::try_from(position)
            .ok()
            .and_then(|position| digits.get(position).copied())
            .unwrap_or(0)
    };
    let mut text = String::new();
    if sign == 0x4000 {
        text.push('-');
    }
    if weight < 0 {
        text.push('0');
    } else {
        for position in 0..=weight {
            let digit = digit_at(position);
            if position == 0 {
                text.push_str(&digit.to_string());
            } else {
                text.push_str(&format!("{digit:04}"));
            }
        }
    }
    if scale > 0 {
        let mut fraction = String::new();
        let mut position = weight + 1;
        while fraction.len() < scale {
            fraction.push_str(&format!("{:04}", digit_at(position)));
            position += 1;
        }
        fraction.truncate(scale);
        text.push('.');
        text.push_str(&fraction);
    }
    Some(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn numeric_bytes(weight: i16, sign: u16, scale: i16, digits: &[i16]) -> Vec<u8> {
        let mut bytes = Vec::new();
        for word in [digits.len() as i16, weight, sign as i16, scale] {
            bytes.extend_from_slice(&word.to_be_bytes());
        }
        for digit in digits {
            bytes.extend_from_slice(&digit.to_be_bytes());
        }
        bytes
    }

    #[test]
    fn numerics_decode() {
        assert_eq!(
            numeric(&numeric_bytes(0, 0, 2, &[12, 3400])).unwrap(),
            "12.34"
        );
        assert_eq!(
            numeric(&numeric_bytes(1, 0x4000, 0, &[1, 2])).unwrap(),
            "-10002"
        );
        assert_eq!(numeric(&numeric_bytes(-1, 0, 6, &[5])).unwrap(), "0.000500");
        assert_eq!(
            numeric(&numeric_bytes(-2, 0, 8, &[5])).unwrap(),
            "0.00000005"
        );
        assert_eq!(numeric(&numeric_bytes(0, 0, 0, &[])).unwrap(), "0");
        assert_eq!(numeric(&numeric_bytes(0, 0xC000, 0, &[])).unwrap(), "NaN");
    }
}
