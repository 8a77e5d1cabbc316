//! The audit log: every sensitive action, append-only and hash-chained, readable and checkable
//! by admins.

use cairn_domain::{Principal, UserId, WorkspaceId};
use cairn_store::AuditRow;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use crate::{Catalog, CatalogError, Result, require_admin};

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

/// A signed statement that entry `seq` of a workspace's audit log has hash `hash`, signed
/// under a key derived from the server's secret key. This node writes one into its data
/// directory after each entry it appends; `GET /audit/verify` and `cairn audit checkpoint`
/// give the current one to keep elsewhere. Verification compares the log against them, so a
/// log cut or rewritten by someone with only the store no longer verifies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AuditCheckpoint {
    pub workspace_id: i64,
    pub seq: i64,
    pub hash: String,
    pub signature: String,
}

/// The result of checking a workspace's chain.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AuditVerification {
    pub ok: bool,
    pub entries: u64,
    /// The first entry whose hash or link does not hold (or the first one missing).
    pub broken_at: Option<i64>,
    /// Why the log does not verify.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Signed checkpoints the log was compared against (this node's and any given).
    pub checkpoints: u64,
    /// The verified head, signed: keep it outside the store and give it to a later verify.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub head: Option<AuditCheckpoint>,
}

impl AuditVerification {
    fn broken(entries: u64, at: Option<i64>, reason: String, checkpoints: u64) -> Self {
        AuditVerification {
            ok: false,
            entries,
            broken_at: at,
            reason: Some(reason),
            checkpoints,
            head: None,
        }
    }
}

/// The plain hash of entries written before the chain was keyed.
fn legacy_hash(prev_hash: &str, row: &AuditRow) -> String {
    let AuditRow {
        seq,
        at,
        actor,
        action,
        detail,
        ..
    } = row;
    let actor = actor.map(|user| user.0.to_string()).unwrap_or_default();
    let text = format!("{prev_hash}\n{seq}\n{at}\n{actor}\n{action}\n{detail}");
    crate::secret::hash_secret(&text)
}

/// What an entry's keyed hash covers: its workspace, the previous hash and all its fields.
fn entry_message(
    workspace: WorkspaceId,
    prev_hash: &str,
    seq: i64,
    at: i64,
    actor: Option<UserId>,
    action: &str,
    detail: &str,
) -> String {
    let actor = actor.map(|user| user.0.to_string()).unwrap_or_default();
    format!(
        "cairn audit entry v1\n{workspace}\n{prev_hash}\n{seq}\n{at}\n{actor}\n{action}\n{detail}"
    )
}

fn checkpoint_message(workspace_id: i64, seq: i64, hash: &str) -> String {
    format!("cairn audit checkpoint v1\n{workspace_id}\n{seq}\n{hash}")
}

impl Catalog {
    /// Records what the operator did from the command line: no member acts, and the entry
    /// says `"by": "operator"`.
    pub(crate) async fn audit_operator_action(
        &self,
        workspace: WorkspaceId,
        action: &str,
        mut detail: Value,
    ) -> Result<()> {
        detail["by"] = Value::from("operator");
        self.audit(workspace, None, action, detail).await
    }

    /// Appends an entry; failures are logged, never hidden.
    pub(crate) async fn audit(
        &self,
        workspace: WorkspaceId,
        actor: Option<UserId>,
        action: &str,
        detail: Value,
    ) -> Result<()> {
        let detail = detail.to_string();
        let vault = &self.inner.vault;
        let row = self
            .store()
            .append_audit(workspace, actor, action, &detail, |prev, seq, at| {
                let message = entry_message(workspace, prev, seq, at, actor, action, &detail);
                vault.audit_mac(message.as_bytes())
            })
            .await?;
        if let Err(error) = self.write_checkpoint(workspace, row.seq, &row.hash) {
            tracing::error!(%workspace, seq = row.seq, %error, "audit checkpoint not written");
        }
        Ok(())
    }

    fn sign_checkpoint(&self, workspace: WorkspaceId, seq: i64, hash: &str) -> AuditCheckpoint {
        let signature = self
            .inner
            .vault
            .audit_mac(checkpoint_message(workspace.0, seq, hash).as_bytes());
        AuditCheckpoint {
            workspace_id: workspace.0,
            seq,
            hash: hash.to_string(),
            signature,
        }
    }

    fn checkpoint_holds(&self, checkpoint: &AuditCheckpoint) -> bool {
        let expected = self.inner.vault.audit_mac(
            checkpoint_message(checkpoint.workspace_id, checkpoint.seq, &checkpoint.hash)
                .as_bytes(),
        );
        expected == checkpoint.signature
    }

    fn checkpoint_path(&self, workspace: WorkspaceId) -> std::path::PathBuf {
        self.config()
            .data_dir
            .join("audit")
            .join(format!("{}.checkpoint.json", workspace.0))
    }

    /// This node's checkpoint of a workspace's chain; an unreadable one is an error.
    fn read_checkpoint(
        &self,
        workspace: WorkspaceId,
    ) -> std::result::Result<Option<AuditCheckpoint>, String> {
        let path = self.checkpoint_path(workspace);
        match std::fs::read_to_string(&path) {
            Ok(text) => serde_json::from_str(&text)
                .map(Some)
                .map_err(|error| format!("checkpoint {} is unreadable: {error}", path.display())),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(error) => Err(format!("checkpoint {}: {error}", path.display())),
        }
    }

    /// Moves this node's checkpoint forward to `seq` (never back), atomically.
    fn write_checkpoint(
        &self,
        workspace: WorkspaceId,
        seq: i64,
        hash: &str,
    ) -> std::result::Result<(), String> {
        let _one_writer = self
            .inner
            .audit_checkpoint
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Ok(Some(current)) = self.read_checkpoint(workspace)
            && current.seq >= seq
            && self.checkpoint_holds(&current)
        {
            return Ok(());
        }
        let path = self.checkpoint_path(workspace);
        let failed = |error: std::io::Error| format!("{}: {error}", path.display());
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(failed)?;
        }
        let checkpoint = self.sign_checkpoint(workspace, seq, hash);
        let text = serde_json::to_string(&checkpoint).map_err(|error| error.to_string())?;
        let temporary = path.with_extension("json.tmp");
        std::fs::write(&temporary, text).map_err(failed)?;
        std::fs::rename(&temporary, &path).map_err(failed)
    }

    pub async fn audit_log(
        &self,
        principal: &Principal,
        after: Option<i64>,
        limit: Option<usize>,
    ) -> Result<Vec<AuditEntry>> {
        require_admin(principal, "read the audit log")?;
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

    /// Recomputes the whole chain of a workspace and compares it with this node's signed
    /// checkpoint.
    pub(crate) async fn verify_audit(&self, workspace: WorkspaceId) -> Result<AuditVerification> {
        self.verify_audit_against(workspace, &[]).await
    }

    /// Recomputes the whole chain of a workspace: sequence numbers without gaps from 1, each
    /// entry linked to the one before, each keyed hash (HMAC) holding, entries written before
    /// keying only at the start; then every signed checkpoint (this node's and `exported`)
    /// must name an entry the log still holds, with the same hash.
    pub(crate) async fn verify_audit_against(
        &self,
        workspace: WorkspaceId,
        exported: &[AuditCheckpoint],
    ) -> Result<AuditVerification> {
        let (checkpoints, counted) = self.checkpoints_to_compare(workspace, exported);
        let checkpoints = match checkpoints {
            Ok(checkpoints) => checkpoints,
            Err(reason) => return Ok(AuditVerification::broken(0, None, reason, counted)),
        };
        let mut walk = ChainWalk {
            workspace,
            vault: &self.inner.vault,
            checkpoints: &checkpoints,
            previous: String::new(),
            entries: 0,
            keyed_seen: false,
        };
        let mut after = 0;
        loop {
            let rows: Vec<AuditRow> = self.store().audit_entries(workspace, after, 1000).await?;
            let Some(last) = rows.last().map(|row| row.seq) else {
                break;
            };
            for row in &rows {
                if let Err((at, reason)) = walk.step(row) {
                    return Ok(AuditVerification::broken(
                        walk.entries,
                        Some(at),
                        reason,
                        counted,
                    ));
                }
            }
            after = last;
        }
        let (entries, previous) = (walk.entries, walk.previous);
        let head_seq = i64::try_from(entries).unwrap_or(i64::MAX);
        let handed_out = self.store().audit_last_seq(workspace).await?;
        if let Some(beyond) = checkpoints
            .iter()
            .map(|checkpoint| checkpoint.seq)
            .chain(handed_out)
            .filter(|seq| *seq > head_seq)
            .max()
        {
            return Ok(AuditVerification::broken(
                entries,
                Some(head_seq + 1),
                format!(
                    "the log ends at entry {head_seq} but entry {beyond} was written: entries were removed"
                ),
                counted,
            ));
        }
        Ok(AuditVerification {
            ok: true,
            entries,
            broken_at: None,
            reason: None,
            checkpoints: counted,
            head: (entries > 0).then(|| self.sign_checkpoint(workspace, head_seq, &previous)),
        })
    }

    /// The signed checkpoints to compare the chain with (`exported` and this node's own), and
    /// how many there are; why not, when one cannot be read or is not signed by this node's key.
    fn checkpoints_to_compare(
        &self,
        workspace: WorkspaceId,
        exported: &[AuditCheckpoint],
    ) -> (std::result::Result<Vec<AuditCheckpoint>, String>, u64) {
        let mut checkpoints = exported.to_vec();
        let own = self.read_checkpoint(workspace);
        let counted = u64::try_from(checkpoints.len() + usize::from(matches!(own, Ok(Some(_)))))
            .unwrap_or(u64::MAX);
        match own {
            Ok(Some(checkpoint)) => checkpoints.push(checkpoint),
            Ok(None) => {}
            Err(reason) => return (Err(reason), counted),
        }
        if let Some(unsigned) = checkpoints.iter().find(|checkpoint| {
            checkpoint.workspace_id != workspace.0 || !self.checkpoint_holds(checkpoint)
        }) {
            return (
                Err(format!(
                    "the checkpoint of entry {} is not signed by this server's key for this workspace",
                    unsigned.seq
                )),
                counted,
            );
        }
        (Ok(checkpoints), counted)
    }

    pub async fn verify_own_audit(&self, principal: &Principal) -> Result<AuditVerification> {
        require_admin(principal, "verify the audit log")?;
        self.verify_audit(principal.workspace).await
    }
}

/// A walk along a workspace's audit chain, entry by entry: where it is and what it has seen.
struct ChainWalk<'a> {
    workspace: WorkspaceId,
    vault: &'a crate::vault::Vault,
    checkpoints: &'a [AuditCheckpoint],
    /// The hash of the last entry checked.
    previous: String,
    entries: u64,
    keyed_seen: bool,
}

impl ChainWalk<'_> {
    /// Checks the next entry; where the chain breaks and why, if it does there.
    fn step(&mut self, row: &AuditRow) -> std::result::Result<(), (i64, String)> {
        let wanted_seq = i64::try_from(self.entries).unwrap_or(i64::MAX) + 1;
        let at = wanted_seq.min(row.seq);
        if row.seq != wanted_seq {
            return Err((at, format!("entry {wanted_seq} is missing")));
        }
        if row.prev_hash != self.previous {
            return Err((
                at,
                format!("entry {} does not link to the one before", row.seq),
            ));
        }
        let expected = self.expected_hash(row).map_err(|reason| (at, reason))?;
        if row.hash != expected {
            return Err((at, format!("the hash of entry {} does not hold", row.seq)));
        }
        if let Some(checkpoint) = self
            .checkpoints
            .iter()
            .find(|checkpoint| checkpoint.seq == row.seq && checkpoint.hash != row.hash)
        {
            return Err((
                at,
                format!(
                    "entry {} differs from its signed checkpoint",
                    checkpoint.seq
                ),
            ));
        }
        self.previous = row.hash.clone();
        self.entries += 1;
        Ok(())
    }

    /// The hash the entry must carry: keyed (HMAC), or the legacy hash of entries written
    /// before keying, which only ever come first.
    fn expected_hash(&mut self, row: &AuditRow) -> std::result::Result<String, String> {
        if row.keyed {
            self.keyed_seen = true;
            let message = entry_message(
                self.workspace,
                &self.previous,
                row.seq,
                row.at,
                row.actor,
                &row.action,
                &row.detail,
            );
            Ok(self.vault.audit_mac(message.as_bytes()))
        } else if self.keyed_seen {
            Err(format!(
                "entry {} is not keyed but follows keyed entries",
                row.seq
            ))
        } else {
            Ok(legacy_hash(&self.previous, row))
        }
    }
}
