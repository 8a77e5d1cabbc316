//! Backups of a SQLite store: a consistent snapshot taken while the server runs, and the checks a
//! file must pass before it may replace a store.
//!
//! A snapshot is `VACUUM INTO`: one read transaction, so it holds exactly the commits made before
//! it began, whatever the server writes meanwhile (WAL readers never block writers). A PostgreSQL
//! store is backed up with `pg_dump`; nothing here applies to it.

use std::path::Path;

use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, Connection, Row};

use crate::{Backend, Store, StoreError};

/// The first bytes of every SQLite database file.
const SQLITE_HEADER: &[u8; 16] = b"SQLite format 3\0";

/// Why a file cannot replace a store. Each message names the file and what is wrong with it.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("cannot read {path}: {error}")]
    Unreadable { path: String, error: std::io::Error },
    #[error("{path} is not a SQLite database, so not a Cairn backup")]
    NotSqlite { path: String },
    #[error("{path} is a SQLite database but not a Cairn store (it has no cairn_migrations table)")]
    NotCairn { path: String },
    #[error(
        "{path} is a Cairn store at migration {found}, newer than this Cairn knows \
         (up to {known}): restore it with the Cairn version that wrote it, or a later one"
    )]
    Newer {
        path: String,
        found: i64,
        known: i64,
    },
    #[error("{path} is damaged: {detail}")]
    Damaged { path: String, detail: String },
    #[error("{0}")]
    Store(#[from] StoreError),
}

/// What a checked store file holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreFileInfo {
    /// The newest migration applied to it; migrations up to this Cairn's run when it opens.
    pub migration: i64,
    pub workspaces: i64,
    pub resources: i64,
    /// The fingerprint of the secret key its integration credentials are sealed with, if any
    /// node has opened it with a key yet.
    pub key_fingerprint: Option<String>,
}

/// The newest migration this Cairn knows.
pub fn latest_migration() -> i64 {
    crate::migrate::latest()
}

/// Whether `path` starts like a SQLite database (a missing or unreadable file is an error).
pub fn check_sqlite_header(path: &Path) -> Result<(), BackupError> {
    use std::io::Read;
    let shown = path.display().to_string();
    let mut file = std::fs::File::open(path).map_err(|error| BackupError::Unreadable {
        path: shown.clone(),
        error,
    })?;
    let mut header = [0u8; 16];
    let mut read = 0;
    while read < header.len() {
        match file.read(&mut header[read..]) {
            Ok(0) => break,
            Ok(count) => read += count,
            Err(error) => {
                return Err(BackupError::Unreadable { path: shown, error });
            }
        }
    }
    if read < header.len() || &header != SQLITE_HEADER {
        return Err(BackupError::NotSqlite { path: shown });
    }
    Ok(())
}

/// Checks that the file at `path` is an intact Cairn store this Cairn can open (at most its
/// newest migration) and says what it holds. The file is opened for reading and writing, never
/// created: check a copy that is yours to change, not a file you only read.
pub async fn inspect_store_file(path: &Path) -> Result<StoreFileInfo, BackupError> {
    check_sqlite_header(path)?;
    let shown = path.display().to_string();
    let damaged = |error: sqlx::Error| BackupError::Damaged {
        path: shown.clone(),
        detail: error.to_string(),
    };
    let mut connection = SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(false)
        .disable_statement_logging()
        .connect()
        .await
        .map_err(damaged)?;
    let outcome = inspect(&mut connection, &shown).await;
    connection.close().await.ok();
    outcome
}

async fn inspect(
    connection: &mut sqlx::SqliteConnection,
    shown: &str,
) -> Result<StoreFileInfo, BackupError> {
    let damaged = |error: sqlx::Error| BackupError::Damaged {
        path: shown.to_string(),
        detail: error.to_string(),
    };
    let check: String = sqlx::query("PRAGMA quick_check")
        .fetch_one(&mut *connection)
        .await
        .map_err(damaged)?
        .get(0);
    if check != "ok" {
        return Err(BackupError::Damaged {
            path: shown.to_string(),
            detail: check,
        });
    }
    let tracked: i64 = sqlx::query(
        "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'cairn_migrations'",
    )
    .fetch_one(&mut *connection)
    .await
    .map_err(damaged)?
    .get(0);
    if tracked == 0 {
        return Err(BackupError::NotCairn {
            path: shown.to_string(),
        });
    }
    let migration: Option<i64> = sqlx::query("SELECT MAX(version) FROM cairn_migrations")
        .fetch_one(&mut *connection)
        .await
        .map_err(damaged)?
        .get(0);
    let Some(migration) = migration else {
        return Err(BackupError::NotCairn {
            path: shown.to_string(),
        });
    };
    let known = latest_migration();
    if migration > known {
        return Err(BackupError::Newer {
            path: shown.to_string(),
            found: migration,
            known,
        });
    }
    let workspaces: i64 = sqlx::query("SELECT COUNT(*) FROM workspaces")
        .fetch_one(&mut *connection)
        .await
        .map_err(damaged)?
        .get(0);
    let resources: i64 = sqlx::query("SELECT COUNT(*) FROM resources")
        .fetch_one(&mut *connection)
        .await
        .map_err(damaged)?
        .get(0);
    // The key fingerprint came with migration 6.
    let key_fingerprint = if migration >= 6 {
        sqlx::query("SELECT fingerprint FROM key_fingerprint WHERE id = 1")
            .fetch_optional(&mut *connection)
            .await
            .map_err(damaged)?
            .map(|row| row.get(0))
    } else {
        None
    };
    Ok(StoreFileInfo {
        migration,
        workspaces,
        resources,
        key_fingerprint,
    })
}

impl Store {
    /// Writes a consistent snapshot of this SQLite store to `target`, which must not exist.
    /// The server may keep writing meanwhile: the snapshot holds the commits made before it
    /// began.
    pub async fn snapshot_into(&self, target: &Path) -> crate::Result<()> {
        if self.backend != Backend::Sqlite {
            return Err(StoreError::Config(
                "only a SQLite store is snapshotted by Cairn; back up PostgreSQL with pg_dump"
                    .into(),
            ));
        }
        let target = target.to_str().ok_or_else(|| {
            StoreError::Config(format!("{} is not a UTF-8 path", target.display()))
        })?;
        sqlx::query("VACUUM INTO $1")
            .bind(target.to_string())
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
