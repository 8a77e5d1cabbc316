//! The audit log: every sensitive action, append-only and hash-chained, readable and checkable
//! by admins.

use cairn_domain::{Principal, UserId, WorkspaceId};
use cairn_store::AuditRow;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use crate::{Catalog, CatalogError, Result};

/// An audit entry as admins read it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AuditEntry {
    pub seq: i64,
    pub at: i64,
    pub actor: Option<i64>,
    pub action: String,
    #[schema(value_type = Object)]
    pub detail: Value,
    pub hash: String,
}

/// The result of checking a workspace's chain.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AuditVerification {
    pub ok: bool,
    pub entries: u64,
    /// The first entry whose hash or link does not hold.
    pub broken_at: Option<i64>,
}

fn entry_hash(
    prev_hash: &str,
    seq: i64,
    at: i64,
    actor: Option<UserId>,
    action: &str,
    detail: &str,
) -> String {
    let actor = actor.map(|user| user.0.to_string()).unwrap_or_default();
    let text = format!("{prev_hash}\n{seq}\n{at}\n{actor}\n{action}\n{detail}");
    crate::secret::hash_secret(&text)
}

impl Catalog {
    /// Appends an entry; failures are logged, never hidden.
    pub(crate) async fn audit(
        &self,
        workspace: WorkspaceId,
        actor: Option<UserId>,
        action: &str,
        detail: Value,
    ) -> Result<()> {
        let detail = detail.to_string();
        let hashed_action = action.to_string();
        let hashed_detail = detail.clone();
        self.store()
            .append_audit(workspace, actor, action, &detail, move |prev, seq, at| {
                entry_hash(prev, seq, at, actor, &hashed_action, &hashed_detail)
            })
            .await?;
        Ok(())
    }

    pub async fn audit_log(
        &self,
        principal: &Principal,
        after: Option<i64>,
        limit: Option<usize>,
    ) -> Result<Vec<AuditEntry>> {
        if !principal.can_administer() {
            return Err(CatalogError::forbidden(
                "only workspace admins read the audit log",
            ));
        }
        let limit = limit.unwrap_or(100);
        if limit == 0 || limit > 1000 {
            return Err(CatalogError::invalid("limit", "must be between 1 and 1000"));
        }
        let rows = self
            .store()
            .audit_entries(principal.workspace, after.unwrap_or(0), limit)
            .await?;
        Ok(rows
            .into_iter()
            .map(|row| AuditEntry {
                seq: row.seq,
                at: row.at,
                actor: row.actor.map(|user| user.0),
                action: row.action,
                detail: serde_json::from_str(&row.detail).unwrap_or(Value::String(row.detail)),
                hash: row.hash,
            })
            .collect())
    }

    /// Recomputes the whole chain of a workspace.
    pub async fn verify_audit(&self, workspace: WorkspaceId) -> Result<AuditVerification> {
        let mut previous = String::new();
        let mut after = 0;
        let mut entries = 0u64;
        loop {
            let rows: Vec<AuditRow> = self.store().audit_entries(workspace, after, 1000).await?;
            let Some(last) = rows.last().map(|row| row.seq) else {
                break;
            };
            for row in &rows {
                let expected = entry_hash(
                    &previous,
                    row.seq,
                    row.at,
                    row.actor,
                    &row.action,
                    &row.detail,
                );
                let linked = row.prev_hash == previous
                    && row.seq == i64::try_from(entries).unwrap_or(i64::MAX) + 1;
                if !linked || row.hash != expected {
                    return Ok(AuditVerification {
                        ok: false,
                        entries,
                        broken_at: Some(row.seq),
                    });
                }
                previous = row.hash.clone();
                entries += 1;
            }
            after = last;
        }
        Ok(AuditVerification {
            ok: true,
            entries,
            broken_at: None,
        })
    }

    pub async fn verify_own_audit(&self, principal: &Principal) -> Result<AuditVerification> {
        if !principal.can_administer() {
            return Err(CatalogError::forbidden(
                "only workspace admins verify the audit log",
            ));
        }
        self.verify_audit(principal.workspace).await
    }
}
