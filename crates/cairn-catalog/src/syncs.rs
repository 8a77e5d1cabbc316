//! Syncs in the background, and their progress: phase, counts and time so far.

use cairn_domain::{IntegrationId, Principal};
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;

use crate::{Catalog, CatalogError, Result, require_admin};

/// A sync started in the background.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SyncStartedView {
    pub sync_id: i64,
    pub integration_id: i64,
    pub phase: String,
}

/// Where a sync is, or how it ended.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SyncProgressView {
    pub id: i64,
    pub integration_id: i64,
    /// `crawling`, `storing`, `indexing`, `done`, `failed`, or `interrupted` (its node stopped
    /// before it finished).
    pub phase: String,
    pub started_at: i64,
    pub finished_at: Option<i64>,
    /// Milliseconds from the start to the end, or to now while it runs.
    pub elapsed_ms: i64,
    /// Known once the crawl is stored.
    pub added: Option<u64>,
    pub changed: Option<u64>,
    pub removed: Option<u64>,
    pub error: Option<String>,
}

impl Catalog {
    /// Starts a sync in the background (admins) and answers at once with its id.
    pub async fn start_sync(
        &self,
        principal: &Principal,
        id: IntegrationId,
    ) -> Result<SyncStartedView> {
        self.visible_integration(principal, id).await?;
        require_admin(principal, "manage integrations")?;
        let run = self.begin_sync(principal.workspace, id).await?;
        let started = SyncStartedView {
            sync_id: run.record,
            integration_id: id.0,
            phase: "crawling".into(),
        };
        let catalog = self.clone();
        let (workspace, user) = (principal.workspace, principal.user);
        tokio::spawn(async move {
            match catalog.run_sync(run).await {
                Ok(view) => {
                    let details = json!({"integration": id.0, "added": view.added, "changed": view.changed, "removed": view.removed});
                    if let Err(error) = catalog
                        .audit(workspace, Some(user), "integration.synced", details)
                        .await
                    {
                        tracing::warn!(%error, "recording a background sync in the audit log failed");
                    }
                }
                Err(error) => {
                    tracing::warn!(workspace = %workspace, integration = %id, %error, "background sync failed");
                }
            }
        });
        Ok(started)
    }

    /// A sync of an integration (admins).
    pub async fn sync_progress(
        &self,
        principal: &Principal,
        id: IntegrationId,
        sync_id: i64,
    ) -> Result<SyncProgressView> {
        self.visible_integration(principal, id).await?;
        require_admin(principal, "manage integrations")?;
        self.progress_of(principal.workspace, id, sync_id).await
    }

    async fn progress_of(
        &self,
        workspace: cairn_domain::WorkspaceId,
        id: IntegrationId,
        sync_id: i64,
    ) -> Result<SyncProgressView> {
        let row = self
            .store()
            .sync_record(workspace, id, sync_id)
            .await?
            .ok_or(CatalogError::NotFound)?;
        let now = cairn_store::now_ms();
        let lease = i64::try_from(crate::integrations::SYNC_LEASE.as_millis()).unwrap_or(i64::MAX);
        let phase = if row.finished_at.is_none() && now.saturating_sub(row.started_at) > lease {
            "interrupted".to_string()
        } else {
            row.phase
        };
        Ok(SyncProgressView {
            id: row.id,
            integration_id: row.integration.0,
            phase,
            started_at: row.started_at,
            finished_at: row.finished_at,
            elapsed_ms: row
                .finished_at
                .unwrap_or(now)
                .saturating_sub(row.started_at),
            added: row.counts.map(|counts| counts.added),
            changed: row.counts.map(|counts| counts.changed),
            removed: row.counts.map(|counts| counts.removed),
            error: row.error,
        })
    }
}

impl Catalog {
    /// Syncs a workspace's integration named `name` as the operator (no principal: the
    /// command line), calling `on_phase` with each phase the sync enters and its view so far.
    pub(crate) async fn operator_sync(
        &self,
        workspace: cairn_domain::WorkspaceId,
        name: &str,
        mut on_phase: impl FnMut(&SyncProgressView),
    ) -> Result<crate::SyncView> {
        let row = self
            .store()
            .list_integrations(workspace)
            .await?
            .into_iter()
            .find(|row| row.name == name)
            .ok_or_else(|| CatalogError::invalid("name", format!("no integration named {name}")))?;
        let run = self.begin_sync(workspace, row.id).await?;
        let record = run.record;
        let catalog = self.clone();
        let mut running = tokio::spawn(async move { catalog.run_sync(run).await });
        let mut last_phase = String::new();
        let mut tick = tokio::time::interval(std::time::Duration::from_millis(200));
        loop {
            tokio::select! {
                outcome = &mut running => {
                    let view = outcome.map_err(|error| CatalogError::Internal(error.to_string()))?;
                    if let Ok(progress) = self.progress_of(workspace, row.id, record).await {
                        on_phase(&progress);
                    }
                    let view = view?;
                    self.audit_operator_action(
                        workspace,
                        "integration.synced",
                        serde_json::json!({"integration": row.id.0, "added": view.added,
                            "changed": view.changed, "removed": view.removed}),
                    )
                    .await?;
                    return Ok(view);
                }
                _ = tick.tick() => {
                    let progress = self.progress_of(workspace, row.id, record).await?;
                    if progress.phase != last_phase {
                        last_phase.clone_from(&progress.phase);
                        on_phase(&progress);
                    }
                }
            }
        }
    }
}
