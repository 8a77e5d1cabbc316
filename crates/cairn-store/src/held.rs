//! Connections held for the hottest reads on SQLite: every request's token, a search's feed
//! position, a page of resources.
//!
//! sqlx's pool pings each connection as it comes back to the pool. For SQLite that is one more
//! round trip to the connection's own thread after every statement, and thread hand-offs were
//! most of what a read cost under load. These connections are kept outside the pool and
//! handed back without the ping. They only ever read (`query_only`), never hold a transaction
//! between statements, and a connection whose statement failed or was abandoned midway is
//! closed rather than reused.

use std::sync::Mutex;

use sqlx::any::{AnyArguments, AnyConnectOptions, AnyRow};
use sqlx::{Any, AnyConnection, ConnectOptions, Connection};
use tokio::sync::Semaphore;

use crate::{Result, Store};

/// How many reads run at once on held connections; more wait for one to come back.
const HELD: usize = 4;

/// Idle read connections, and a permit per connection that may exist.
pub(crate) struct HeldReaders {
    options: AnyConnectOptions,
    idle: Mutex<Vec<AnyConnection>>,
    permits: Semaphore,
}

impl HeldReaders {
    pub(crate) fn new(options: AnyConnectOptions) -> HeldReaders {
        HeldReaders {
            options,
            idle: Mutex::new(Vec::new()),
            permits: Semaphore::new(HELD),
        }
    }

    fn idle(&self) -> std::sync::MutexGuard<'_, Vec<AnyConnection>> {
        self.idle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    async fn connect(&self) -> Result<AnyConnection> {
        let mut connection = self.options.connect().await?;
        for pragma in ["PRAGMA busy_timeout = 10000", "PRAGMA query_only = ON"] {
            sqlx::query(pragma).execute(&mut connection).await?;
        }
        Ok(connection)
    }

    /// Closes every idle connection; reads still running close theirs as they finish.
    pub(crate) async fn close(&self) {
        self.permits.close();
        let idle = std::mem::take(&mut *self.idle());
        for connection in idle {
            let _ = connection.close().await;
        }
    }
}

impl Store {
    /// Every row of a read: on a held connection on SQLite, from the pool on PostgreSQL.
    pub(crate) async fn read_rows<'q>(
        &self,
        query: sqlx::query::Query<'q, Any, AnyArguments>,
    ) -> Result<Vec<AnyRow>> {
        let Some(held) = &self.held else {
            return Ok(query.fetch_all(&self.pool).await?);
        };
        let Ok(_permit) = held.permits.acquire().await else {
            // Closing: the pool answers (or says it is closed).
            return Ok(query.fetch_all(&self.pool).await?);
        };
        let taken = held.idle().pop();
        let mut connection = match taken {
            Some(connection) => connection,
            None => held.connect().await?,
        };
        // Dropped midway (the request went away), the connection closes with this future.
        let rows = query.fetch_all(&mut connection).await?;
        held.idle().push(connection);
        Ok(rows)
    }
}
