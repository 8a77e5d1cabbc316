//! The history of an integration's syncs: one row per sync, running or done.

use cairn_domain::{IntegrationId, WorkspaceId};
use sqlx::Row;

use crate::integrations::SyncCounts;
use crate::{Result, Store, now_ms};

/// How many finished syncs of an integration are kept.
const KEPT_SYNCS: i64 = 100;

/// One sync of an integration, running or done.
#[derive(Debug, Clone, PartialEq)]
pub struct SyncRow {
    pub id: i64,
    pub integration: IntegrationId,
    /// `crawling`, `storing`, `indexing`, `done` or `failed`.
    pub phase: String,
    pub started_at: i64,
    pub finished_at: Option<i64>,
    /// What it did, once stored.
    pub counts: Option<SyncCounts>,
    pub error: Option<String>,
}

impl Store {
    /// Records a sync that starts now, in phase `crawling`; keeps the integration's history to
    /// its last [`KEPT_SYNCS`].
    pub async fn create_sync(
        &self,
        workspace: WorkspaceId,
        integration: IntegrationId,
    ) -> Result<i64> {
        let mut transaction = self.pool.begin().await?;
        let id: i64 = sqlx::query(
            "INSERT INTO syncs (workspace_id, integration_id, phase, started_at)
             VALUES ($1, $2, 'crawling', $3) RETURNING id",
        )
        .bind(workspace.0)
        .bind(integration.0)
        .bind(now_ms())
        .fetch_one(&mut *transaction)
        .await?
        .get(0);
        sqlx::query(
            "DELETE FROM syncs WHERE workspace_id = $1 AND integration_id = $2 AND id <= $3",
        )
        .bind(workspace.0)
        .bind(integration.0)
        .bind(id - KEPT_SYNCS)
        .execute(&mut *transaction)
        .await?;
        transaction.commit().await?;
        Ok(id)
    }

    /// Moves a running sync to `phase`, with its counts once they are known.
    pub async fn set_sync_phase(
        &self,
        workspace: WorkspaceId,
        id: i64,
        phase: &str,
        counts: Option<&SyncCounts>,
    ) -> Result<()> {
        let number = |value: u64| i64::try_from(value).unwrap_or(i64::MAX);
        sqlx::query(
            "UPDATE syncs SET phase = $1, added = COALESCE($2, added), changed = COALESCE($3, changed),
                 removed = COALESCE($4, removed)
             WHERE workspace_id = $5 AND id = $6",
        )
        .bind(phase)
        .bind(counts.map(|counts| number(counts.added)))
        .bind(counts.map(|counts| number(counts.changed)))
        .bind(counts.map(|counts| number(counts.removed)))
        .bind(workspace.0)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Ends a sync: `done`, or `failed` with what went wrong.
    pub async fn finish_sync_record(
        &self,
        workspace: WorkspaceId,
        id: i64,
        error: Option<&str>,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE syncs SET phase = $1, error = $2, finished_at = $3 WHERE workspace_id = $4 AND id = $5",
        )
        .bind(if error.is_some() { "failed" } else { "done" })
        .bind(error)
        .bind(now_ms())
        .bind(workspace.0)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// One sync of an integration.
    pub async fn sync_record(
        &self,
        workspace: WorkspaceId,
        integration: IntegrationId,
        id: i64,
    ) -> Result<Option<SyncRow>> {
        let row = sqlx::query(
            "SELECT id, integration_id, phase, started_at, finished_at, added, changed, removed, error
             FROM syncs WHERE workspace_id = $1 AND integration_id = $2 AND id = $3",
        )
        .bind(workspace.0)
        .bind(integration.0)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|row| {
            let count = |at: usize| {
                row.get::<Option<i64>, _>(at)
                    .map(|value| u64::try_from(value).unwrap_or(0))
            };
            let counts = match (count(5), count(6), count(7)) {
                (Some(added), Some(changed), Some(removed)) => Some(SyncCounts {
                    added,
                    changed,
                    removed,
                }),
                _ => None,
            };
            SyncRow {
                id: row.get(0),
                integration: IntegrationId(row.get(1)),
                phase: row.get(2),
                started_at: row.get(3),
                finished_at: row.get(4),
                counts,
                error: row.get(8),
            }
        }))
    }
}
