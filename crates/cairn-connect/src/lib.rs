//! Crawlers for the databases Cairn catalogs: PostgreSQL, MySQL/MariaDB and SQLite, plus the
//! dbt manifest importer.
//!
//! [`crawl`] connects with the engine's real driver (read-only, 5 s connect timeout), reads the
//! catalog in a few set-based queries and returns plain, sorted data ([`CrawledCatalog`]); the
//! catalog crate maps it into resources.

pub mod dbt;
mod error;
mod model;
mod mysql;
pub mod policy;
mod postgres;
pub mod query;
mod sqlite;
mod sqlite_comments;

use std::time::Duration;

pub use error::{ConnectError, Redactor};
pub use model::{CrawledCatalog, CrawledObject, CrawledRelation, ObjectKind, RelationKind};
pub use policy::{AllowListError, Target, TargetPolicy};
pub use postgres::CATALOG_QUERIES as POSTGRES_CATALOG_QUERIES;
pub use sqlite::SQLITE_ROOT;

/// How long connecting (including authentication) may take before the server counts as
/// unreachable.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

pub use cairn_domain::{EngineKind, UnknownEngine};

/// Crawls the database at `url` with the engine's driver.
///
/// - PostgreSQL (`postgres://user:password@host:port/db`, or `?host=/socket/dir`): the connected
///   database, its non-system schemas, their tables, partitioned and foreign tables, views and
///   materialized views, and columns.
/// - MySQL/MariaDB (`mysql://user:password@host:port/db`, or `?socket=/path`): the URL's
///   database, or every non-system database when the URL names none; tables, views, columns.
/// - SQLite (`sqlite:///absolute/path.db`): opened read-only, never created.
///
/// The URL's scheme must match `kind`.
pub async fn crawl(kind: EngineKind, url: &str) -> Result<CrawledCatalog, ConnectError> {
    match crawl_if_changed(kind, url, None).await? {
        Crawl::Crawled { catalog, .. } => Ok(catalog),
        Crawl::Unchanged => Err(ConnectError::CrawlFailed(
            "a crawl without a known digest was reported unchanged".into(),
        )),
    }
}

/// What [`crawl_if_changed`] found.
#[derive(Debug)]
pub enum Crawl {
    /// The source's catalog gives the digest it was asked about: a crawl would read what the
    /// crawl that gave that digest read. Nothing was crawled.
    Unchanged,
    Crawled {
        catalog: CrawledCatalog,
        /// A digest of everything the crawl read, taken by the source in the crawl's own
        /// snapshot, for the next [`crawl_if_changed`]; `None` where the engine gives none
        /// (MySQL/MariaDB and SQLite crawls always read everything).
        digest: Option<String>,
    },
}

/// [`crawl`], unless the source's catalog still gives the digest `known` (from an earlier
/// crawl): then a single statement, computed by the server, answers that nothing changed.
pub async fn crawl_if_changed(
    kind: EngineKind,
    url: &str,
    known: Option<&str>,
) -> Result<Crawl, ConnectError> {
    let redactor = Redactor::for_url(url);
    match EngineKind::from_url(url) {
        Some(found) if found == kind => {}
        Some(found) => {
            return Err(ConnectError::InvalidUrl(format!(
                "the url is for {found}, not {kind}"
            )));
        }
        None => {
            return Err(ConnectError::InvalidUrl(format!(
                "the url must start with {}",
                match kind {
                    EngineKind::Postgres => "postgres://",
                    EngineKind::Mysql => "mysql://",
                    EngineKind::Sqlite => "sqlite:///",
                }
            )));
        }
    }
    let started = std::time::Instant::now();
    let result = match kind {
        EngineKind::Postgres => postgres::crawl(url, &redactor, known).await,
        EngineKind::Mysql => mysql::crawl(url, &redactor)
            .await
            .map(|catalog| Crawl::Crawled {
                catalog,
                digest: None,
            }),
        EngineKind::Sqlite => sqlite::crawl(url, &redactor)
            .await
            .map(|catalog| Crawl::Crawled {
                catalog,
                digest: None,
            }),
    };
    let elapsed_ms = started.elapsed().as_millis() as u64;
    match &result {
        Ok(Crawl::Crawled { catalog, .. }) => tracing::info!(
            engine = %kind,
            target = redactor.target(),
            objects = catalog.objects.len(),
            relations = catalog.relations.len(),
            elapsed_ms,
            "crawled database"
        ),
        Ok(Crawl::Unchanged) => tracing::info!(
            engine = %kind,
            target = redactor.target(),
            elapsed_ms,
            "database catalog unchanged since the last crawl"
        ),
        Err(error) => tracing::warn!(
            engine = %kind,
            target = redactor.target(),
            code = error.code(),
            %error,
            "crawl failed"
        ),
    }
    result
}

/// Maps a driver error to a [`ConnectError`], scrubbing secrets from its text.
pub(crate) fn classify_sqlx_error(error: &sqlx::Error, redactor: &Redactor) -> ConnectError {
    let target = redactor.target();
    match error {
        sqlx::Error::Configuration(detail) => {
            ConnectError::InvalidUrl(redactor.scrub(&detail.to_string()))
        }
        // Whether nothing listens, a firewall drops the packets or TLS fails, the caller learns
        // one thing: no connection. The detail goes to the operator's log only.
        sqlx::Error::Io(_) | sqlx::Error::Tls(_) | sqlx::Error::PoolTimedOut => {
            tracing::debug!(target = %target, error = %redactor.scrub(&error.to_string()), "cannot connect");
            ConnectError::Unreachable(target.to_owned())
        }
        sqlx::Error::Database(database_error) => {
            let message = redactor.scrub(database_error.message());
            let code = database_error.code().map(|code| code.into_owned());
            let mysql_number = database_error
                .try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>()
                .map(sqlx::mysql::MySqlDatabaseError::number);
            match (code.as_deref(), mysql_number) {
                (_, Some(1045 | 1698 | 1044 | 1251)) | (Some("28P01" | "28000"), None) => {
                    ConnectError::AuthFailed(format!("{target}: {message}"))
                }
                (_, Some(1049)) | (Some("3D000"), None) => {
                    ConnectError::DatabaseNotFound(format!("{target}: {message}"))
                }
                // SQLITE_NOTADB
                (Some("26"), None) => ConnectError::NotSqlite(message),
                // SQLITE_CANTOPEN on a file that exists: permissions, or a WAL file in a
                // read-only directory
                (Some("14"), None) => {
                    ConnectError::Unreachable(format!("cannot open the file: {message}"))
                }
                _ => ConnectError::CrawlFailed(format!("{target}: {message}")),
            }
        }
        other => ConnectError::CrawlFailed(redactor.scrub(&format!("{target}: {other}"))),
    }
}

/// [`classify_sqlx_error`] with the redactor bound, for `map_err`.
pub(crate) fn classifier(redactor: &Redactor) -> impl Fn(sqlx::Error) -> ConnectError + Copy + '_ {
    move |error| classify_sqlx_error(&error, redactor)
}

/// Runs `connect` with [`CONNECT_TIMEOUT`], mapping errors.
pub(crate) async fn connect_with_timeout<C, F>(
    connect: F,
    redactor: &Redactor,
) -> Result<C, ConnectError>
where
    F: std::future::Future<Output = Result<C, sqlx::Error>>,
{
    match tokio::time::timeout(CONNECT_TIMEOUT, connect).await {
        Ok(Ok(connection)) => Ok(connection),
        Ok(Err(error)) => Err(classify_sqlx_error(&error, redactor)),
        Err(_) => Err(ConnectError::Unreachable(redactor.target().to_owned())),
    }
}

/// Parses `major.minor[.patch]` from the start of a version string.
pub(crate) fn leading_version(text: &str) -> Option<(u32, u32)> {
    let digits: String = text
        .trim()
        .chars()
        .take_while(|character| character.is_ascii_digit() || *character == '.')
        .collect();
    let mut numbers = digits.split('.').filter(|part| !part.is_empty());
    let major = numbers.next()?.parse().ok()?;
    let minor = numbers
        .next()
        .and_then(|part| part.parse().ok())
        .unwrap_or(0);
    Some((major, minor))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engine_kinds_parse() {
        assert_eq!(
            "postgres".parse::<EngineKind>().unwrap(),
            EngineKind::Postgres
        );
        assert_eq!("MySQL".parse::<EngineKind>().unwrap(), EngineKind::Mysql);
        assert_eq!("sqlite".parse::<EngineKind>().unwrap(), EngineKind::Sqlite);
        assert!("oracle".parse::<EngineKind>().is_err());
        assert_eq!(
            EngineKind::from_url("postgresql://x@y/z"),
            Some(EngineKind::Postgres)
        );
        assert_eq!(
            EngineKind::from_url("sqlite:///a.db"),
            Some(EngineKind::Sqlite)
        );
    }

    #[test]
    fn versions_parse() {
        assert_eq!(
            leading_version("10.11.19-MariaDB-0+deb12u1"),
            Some((10, 11))
        );
        assert_eq!(leading_version("8.0.36"), Some((8, 0)));
        assert_eq!(leading_version("15.18 (Debian)"), Some((15, 18)));
        assert_eq!(leading_version("x"), None);
    }

    #[tokio::test]
    async fn a_url_for_another_engine_is_refused() {
        let error = crawl(EngineKind::Postgres, "mysql://root:Canary77@localhost/x")
            .await
            .unwrap_err();
        assert_eq!(error.code(), "invalid_url");
        assert!(!error.to_string().contains("Canary77"));
    }
}
