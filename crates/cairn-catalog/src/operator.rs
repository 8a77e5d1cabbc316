//! Operator calls: no principal, the operator owns the machine. The command line (workspaces,
//! teams, members, tokens, syncs, purge, audit checks), backups, benchmark set-up and the
//! server's own chores come through [`Catalog::operator`]; everything a person asks takes
//! their [`Principal`](cairn_domain::Principal) instead.

use cairn_domain::WorkspaceId;
use cairn_store::{Store, User};
use serde_json::Value;

use crate::{
    AuditCheckpoint, AuditVerification, Catalog, DemoSeed, Result, SyncProgressView, SyncView,
};

/// The operator's side of the catalog (see the module's documentation).
#[derive(Debug, Clone, Copy)]
pub struct Operator<'a> {
    pub(crate) catalog: &'a Catalog,
}

impl Catalog {
    /// Calls made by the operator, not for a member of a workspace.
    pub fn operator(&self) -> Operator<'_> {
        Operator { catalog: self }
    }
}

impl<'a> Operator<'a> {
    /// Records what the operator did: no member acts, and the entry says `"by": "operator"`.
    pub async fn audit_action(
        &self,
        workspace: WorkspaceId,
        action: &str,
        detail: Value,
    ) -> Result<()> {
        self.catalog
            .audit_operator_action(workspace, action, detail)
            .await
    }

    /// Recomputes a workspace's audit chain and this node's checkpoint.
    pub async fn verify_audit(&self, workspace: WorkspaceId) -> Result<AuditVerification> {
        self.catalog.verify_audit(workspace).await
    }

    /// Recomputes a workspace's audit chain against exported checkpoints too.
    pub async fn verify_audit_against(
        &self,
        workspace: WorkspaceId,
        exported: &[AuditCheckpoint],
    ) -> Result<AuditVerification> {
        self.catalog.verify_audit_against(workspace, exported).await
    }

    /// Syncs a workspace's integration named `name`, calling `on_phase` with each phase the
    /// sync enters.
    pub async fn sync(
        &self,
        workspace: WorkspaceId,
        name: &str,
        on_phase: impl FnMut(&SyncProgressView),
    ) -> Result<SyncView> {
        self.catalog.operator_sync(workspace, name, on_phase).await
    }

    /// Applies every workspace's prompt retention now; returns prompts deleted.
    pub async fn purge(&self) -> Result<u64> {
        self.catalog.purge().await
    }

    /// Seeds the demo workspace unless it exists; returns what was created, or `None`.
    pub async fn seed_demo(&self) -> Result<Option<DemoSeed>> {
        self.catalog.seed_demo().await
    }

    /// A member of a workspace by e-mail address (checked like the API checks it).
    pub async fn member_by_email(
        &self,
        workspace: WorkspaceId,
        email: &str,
    ) -> Result<Option<User>> {
        let email = cairn_domain::validate::email("email", email)?;
        Ok(self
            .catalog
            .store()
            .user_by_email(workspace, &email)
            .await?)
    }

    /// Closes the store's connections, once the node is done with them.
    pub async fn close(&self) {
        self.catalog.store().close().await;
    }

    /// The store itself, for benchmark set-up and tests that write what no call of the catalog
    /// writes (a stand-in crawl, a broken row). Not for the services: they keep its rules.
    #[doc(hidden)]
    pub fn store(&self) -> &'a Store {
        self.catalog.store()
    }
}
