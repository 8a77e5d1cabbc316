//! The store: the truth of every workspace, on embedded SQLite or on a shared PostgreSQL.
//!
//! One schema and one set of queries serve both engines through sqlx's `Any` driver; queries use
//! `$n` placeholders, which both engines accept. Every read of workspace data takes the workspace
//! id (or a [`cairn_domain::Scope`] that carries it). Every change of a resource appends to the
//! change feed in the same transaction, which is what the search index follows.
//!
//! # Areas
//!
//! [`Store`] is one handle; its methods live in one module per area, each an `impl Store`
//! block beside the rows it reads and writes:
//!
//! | Area | Module | Methods (e.g.) |
//! |---|---|---|
//! | Workspaces, the key fingerprint | `workspaces.rs` | `create_workspace`, `workspace`, `update_workspace_settings`, `key_fingerprint_or_record` |
//! | People, teams, sessions and API tokens | `people.rs` | `create_user`, `delete_user`, `create_team`, `add_team_member`, `create_session`, `token_principal` |
//! | Sign-in attempts | `sign_in.rs` | `count_sign_in_attempt`, `refund_sign_in_attempt`, `prune_sign_in_attempts` |
//! | Resources, their teams and labels | `resources.rs` | `create_resource`, `update_resource`, `resource`, `resources_by_ids`, `list_resources`, `children` |
//! | The change feed | `feed.rs` | `changes_after`, `feed_after`, `last_change_seq` |
//! | Integrations, sync leases | `integrations.rs` | `create_integration`, `integrations_due`, `acquire_sync_lease`, `finish_sync`, `integration_resources` |
//! | Applying a crawl; sync history | `sync/` | `apply_crawl` (a pure `plan_hashed_crawl` and its executor), `create_sync`, `sync_record` |
//! | Relations | `relations.rs` | `relations_of`, `relations_of_many` |
//! | dbt imports | `dbt.rs` | `apply_dbt` |
//! | Query permissions, the audit chain | `audit.rs` | `set_query_permissions`, `append_audit`, `audit_entries` |
//! | Assistant memory, the egress ledger | `memory.rs` | `open_thread`, `save_prompt`, `delete_prompt`, `record_egress` |
//! | Deleting a workspace | `workspace_delete.rs` | `delete_workspace` |
//! | Backups of a SQLite store | `backup.rs` | `snapshot_into`, `inspect_store_file` |
//!
//! Kinds kept as text (roles, resource kinds, relation kinds) are decoded into `cairn-domain`
//! enums by one function each (`kinds.rs`). Migrations are checksummed (`migrate.rs`).
//! `tests/it/` specifies each area on SQLite and PostgreSQL alike.

mod audit;
mod backup;
mod dbt;
mod error;
mod feed;
mod held;
mod integrations;
mod kinds;
mod memory;
mod migrate;
mod people;
mod relations;
mod resources;
mod sign_in;
mod sync;
mod workspace_delete;
mod workspaces;

use std::str::FromStr;
use std::time::{SystemTime, UNIX_EPOCH};

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, ConnectOptions};

pub use audit::AuditRow;
pub use backup::{
    BackupError, StoreFileInfo, check_sqlite_header, inspect_store_file, latest_migration,
};
pub use dbt::{DbtApplied, ImportedDoc};
pub use error::StoreError;
pub use feed::{AddedResources, Change, FeedBatch, FeedResource};
pub use integrations::{CrawlItem, CrawlRelation, IntegrationRow, SyncCounts};
pub use memory::{EgressRow, NewEgress, NewPrompt, PromptRow};
pub use people::{ApiTokenRow, SessionRow, Team, User};
pub use relations::RelationRow;
pub use resources::{
    LabelSource, NewResource, Resource, ResourceFilter, ResourcePatch, ResourcesWithColumns,
};
pub use sync::{AppliedCrawl, ApplyTimings, Give, SyncRow};
pub use workspaces::Workspace;

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// How long a statement waits for a connection before the store counts as unavailable: a
/// request then answers 503 within this bound instead of hanging while PostgreSQL is away.
pub const ACQUIRE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// Which engine holds the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A handle on the store; cheap to clone.
#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    /// SQLite's connections for the hottest reads, outside the pool (see `held`).
    held: Option<std::sync::Arc<held::HeldReaders>>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.backend)
            .finish()
    }
}

/// Milliseconds since the unix epoch, the store's clock.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

impl Store {
    /// Opens the store at `url` (`sqlite://PATH` or `postgres://…`) and runs pending migrations.
    pub async fn open(url: &str) -> Result<Store> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Backend::Postgres
        } else {
            return Err(StoreError::Config(
                "database url must start with sqlite:// or postgres://".into(),
            ));
        };
        let url = match backend {
            Backend::Sqlite if !url.contains("mode=") => {
                let separator = if url.contains('?') { '&' } else { '?' };
                format!("{url}{separator}mode=rwc")
            }
            _ => url.to_string(),
        };
        let options = AnyConnectOptions::from_str(&url)
            .map_err(|error| StoreError::Config(format!("invalid database url: {error}")))?
            .disable_statement_logging();
        let held = (backend == Backend::Sqlite)
            .then(|| std::sync::Arc::new(held::HeldReaders::new(options.clone())));
        let pool = AnyPoolOptions::new()
            .max_connections(if backend == Backend::Sqlite { 4 } else { 10 })
            .acquire_timeout(ACQUIRE_TIMEOUT)
            // A SQLite file cannot go away like a server: pinging it before every statement
            // only costs a round trip to the connection's thread.
            .test_before_acquire(backend == Backend::Postgres)
            .after_connect(move |connection, _| {
                Box::pin(async move {
                    if backend == Backend::Postgres {
                        // Plan each execution with its values: a generic plan guesses how many
                        // rows a range such as a stretch of the change feed holds, and guessed
                        // wrong it scans every resource where an index finds a few thousand.
                        sqlx::query("SET plan_cache_mode = force_custom_plan")
                            .execute(&mut *connection)
                            .await?;
                    }
                    if backend == Backend::Sqlite {
                        sqlx::query("PRAGMA foreign_keys = ON")
                            .execute(&mut *connection)
                            .await?;
                        sqlx::query("PRAGMA busy_timeout = 10000")
                            .execute(&mut *connection)
                            .await?;
                        // In WAL mode NORMAL keeps the database consistent across crashes and
                        // spares an fsync per commit; a power cut may lose the last commits.
                        sqlx::query("PRAGMA synchronous = NORMAL")
                            .execute(&mut *connection)
                            .await?;
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await?;
        if backend == Backend::Sqlite {
            sqlx::query("PRAGMA journal_mode = WAL")
                .execute(&pool)
                .await?;
        }
        let store = Store {
            pool,
            backend,
            held,
        };
        migrate::run(&store).await?;
        Ok(store)
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Closes every connection; pending work finishes first.
    pub async fn close(&self) {
        if let Some(held) = &self.held {
            held.close().await;
        }
        self.pool.close().await;
    }
}

/// `$first, $first+1, …` for `count` values, for `IN (…)` lists.
pub(crate) fn placeholders(first: usize, count: usize) -> String {
    (first..first + count)
        .map(|n| format!("${n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A query whose text is assembled at run time. Only ever called with text built in this crate
/// from constants and `$n` placeholders; values are always bound, never spliced in.
pub(crate) fn dynamic_query<'q>(
    sql: &str,
) -> sqlx::query::Query<'q, sqlx::Any, <sqlx::Any as sqlx::Database>::Arguments> {
    sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()))
}

/// A nullable double bound as a plain double (-1 for none, turned back into NULL by
/// `NULLIF($n, -1.0)` in the statement). sqlx's `Any` driver declares a NULL double as a
/// `float4` parameter on PostgreSQL, which breaks the next execution that binds a real value.
/// Only for values that are never negative, such as popularity.
pub(crate) fn nullable_double(value: Option<f64>) -> f64 {
    value.filter(|number| *number >= 0.0).unwrap_or(-1.0)
}
