//! The catalog's services: every operation of the HTTP API, the CLI, MCP and the assistant's
//! tools is a method here that takes the caller's [`Principal`] first.

mod assistant;
mod audit;
mod auth;
mod demo;
mod error;
mod index;
mod integrations;
mod mcp;
mod memory;
mod offline;
mod operator;
mod people;
mod resources;
mod retrieval;
mod secret;
mod semantic;
mod settings;
mod sql;
mod syncs;
mod vault;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

pub use cairn_domain::{Principal, ResourceId, Role, TeamId, TokenId, UserId, WorkspaceId};
use cairn_search::SearchIndex;
pub use cairn_store::{Backend, Store};
use secrecy::SecretString;

pub use assistant::{
    AskInput, AskView, CitationView, DescriptionDraft, EgressPreview, PreviewInput, SqlAnswer,
};
pub use audit::{AuditCheckpoint, AuditEntry, AuditVerification};
pub use auth::{Authenticated, Credential, SignIn, SignInLimits};
pub use cairn_connect::query::QueryResult;
pub use demo::{DemoPerson, DemoSeed};
pub use error::{CatalogError, Result};
pub use integrations::{
    ConnectionTest, DbtImportInput, DbtImportView, IntegrationInput, IntegrationPatch,
    IntegrationView, SyncPhases, SyncState, SyncStatus, SyncView,
};
pub use mcp::{MCP_TOOLS, McpPolicy};
pub use memory::{EgressView, Export, HistoryPage, PromptView};
pub use operator::Operator;
pub use people::{MeView, NewToken, NewUser, TeamView, TokenView, UserPatch, UserView};
pub use resources::{
    ColumnPair, ColumnView, NewResourceInput, RelationView, ResourceList, ResourcePatchInput,
    ResourceQuery, ResourceView, TableRelationView,
};
pub use secret::{generate_password, generate_secret, hash_secret};
pub use settings::{AiSettings, AiSettingsInput, ProviderSetting};
pub use sql::{PermissionsView, SqlInput};
pub use syncs::{SyncProgressView, SyncStartedView};
pub use vault::secret_key_fingerprint;

/// Workspace administration (people, teams, settings, integrations, the audit log) is for
/// admins: anyone else is `Forbidden`, told that only workspace admins do `what`.
pub(crate) fn require_admin(principal: &Principal, what: &str) -> Result<()> {
    if principal.can_administer() {
        Ok(())
    } else {
        Err(CatalogError::forbidden(format!(
            "only workspace admins {what}"
        )))
    }
}

/// Settings of the catalog services.
#[derive(Debug, Clone)]
pub struct CatalogConfig {
    /// Where this node keeps its search index and files.
    pub data_dir: PathBuf,
    /// A session unused for this long ends.
    pub session_idle: Duration,
    /// A session ends this long after sign-in, used or not.
    pub session_absolute: Duration,
    pub sign_in_limits: SignInLimits,
    /// The operator's key for integration credentials (`CAIRN_SECRET_KEY`); without it a key
    /// file is generated in the data directory.
    pub secret_key: Option<SecretString>,
    /// Whether this node syncs integrations when their interval has passed.
    pub scheduled_sync: bool,
    /// Whether this process keeps the node's search index (`cairn serve`). Operator commands
    /// don't: they write to the store only, beside a running server, whose index follows the
    /// change feed.
    pub owns_index: bool,
    /// Where the local embedding model is (`cairn model install` puts it in DATA_DIR/model);
    /// without one there, search is lexical and structural.
    pub model_dir: PathBuf,
    /// Which databases integrations may reach beyond the defaults (`--integration-allow`).
    /// The data directory and the store itself are added when the catalog opens.
    pub integration_policy: cairn_connect::TargetPolicy,
}

impl CatalogConfig {
    pub fn new(data_dir: PathBuf) -> CatalogConfig {
        CatalogConfig {
            model_dir: data_dir.join("model"),
            data_dir,
            session_idle: Duration::from_secs(12 * 3600),
            session_absolute: Duration::from_secs(7 * 24 * 3600),
            sign_in_limits: SignInLimits::default(),
            secret_key: None,
            scheduled_sync: true,
            owns_index: true,
            integration_policy: cairn_connect::TargetPolicy::default(),
        }
    }
}

/// The catalog: the store, this node's search index, and the rules between them.
#[derive(Clone)]
pub struct Catalog {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    search: SearchIndex,
    config: CatalogConfig,
    limiter: auth::SignInLimiter,
    vault: vault::Vault,
    /// The operator's policy, closed around this node's data directory and store.
    integration_policy: cairn_connect::TargetPolicy,
    index_follow: tokio::sync::Mutex<()>,
    /// The embedding model and its vectors, when a model is installed in the data directory.
    semantic: Option<semantic::Semantic>,
    /// One writer at a time for this node's audit checkpoints.
    audit_checkpoint: std::sync::Mutex<()>,
    /// Tables' relation neighbours for search ranking, until the store changes.
    neighbours: std::sync::Mutex<retrieval::NeighbourCache>,
}

impl std::fmt::Debug for Catalog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Catalog")
            .field("store", &self.inner.store)
            .finish_non_exhaustive()
    }
}

impl Catalog {
    /// Opens the store at `database_url` and this node's index under the data directory.
    pub async fn open(database_url: &str, config: CatalogConfig) -> Result<Catalog> {
        let store = Store::open(database_url).await?;
        let search = if config.owns_index {
            SearchIndex::open(&config.data_dir.join("index"))?
        } else {
            SearchIndex::in_memory()?
        };
        let semantic = if config.owns_index {
            let model_dir = config.model_dir.clone();
            let index_dir = config.data_dir.join("index");
            tokio::task::spawn_blocking(move || semantic::Semantic::open(&model_dir, &index_dir))
                .await
                .map_err(|error| CatalogError::Internal(error.to_string()))?
        } else {
            None
        };
        let vault = vault::Vault::open(config.secret_key.as_ref(), &config.data_dir)?;
        let recorded = store.key_fingerprint_or_record(vault.fingerprint()).await?;
        if recorded != vault.fingerprint() {
            return Err(CatalogError::Refused {
                refusal: cairn_domain::Refusal::SecretKeyMismatch,
                message: "this node's secret key is not the key the store was first opened \
                          with: start every node with the same CAIRN_SECRET_KEY (or the same \
                          secret.key file)"
                    .into(),
            });
        }
        let integration_policy = config
            .integration_policy
            .clone()
            .forbid_directory(&config.data_dir)
            .forbid_store(database_url);
        let catalog = Catalog {
            inner: Arc::new(Inner {
                store,
                search,
                integration_policy,
                limiter: auth::SignInLimiter::new(config.sign_in_limits.clone()),
                vault,
                config,
                index_follow: tokio::sync::Mutex::new(()),
                semantic,
                audit_checkpoint: std::sync::Mutex::new(()),
                neighbours: std::sync::Mutex::new(retrieval::NeighbourCache::default()),
            }),
        };
        catalog.follow_changes().await?;
        catalog.embed_missing().await?;
        Ok(catalog)
    }

    pub(crate) fn store(&self) -> &Store {
        &self.inner.store
    }

    pub fn config(&self) -> &CatalogConfig {
        &self.inner.config
    }

    /// The principal for a member of a workspace, with role and teams read fresh from the store.
    pub async fn principal(&self, workspace: WorkspaceId, user: UserId) -> Result<Principal> {
        let member = self
            .store()
            .user(workspace, user)
            .await?
            .ok_or(CatalogError::Unauthenticated)?;
        let teams = self.store().teams_of_user(workspace, user).await?;
        Ok(Principal {
            user,
            workspace,
            role: member.role,
            teams: teams.into_iter().map(|team| team.id).collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use secrecy::SecretString;

    use super::*;

    const SECRET: &str = "hunter2-very-secret-Zq9";

    fn secret() -> SecretString {
        SecretString::from(SECRET)
    }

    /// Every type that carries a secret formats with `{:?}` without it.
    #[test]
    fn debug_never_prints_a_secret() {
        let sign_in = SignIn {
            email: "a@example.com".into(),
            password: secret(),
            workspace: None,
            client_address: "127.0.0.1".into(),
            previous_session: None,
        };
        let new_user = NewUser {
            email: "a@example.com".into(),
            name: None,
            role: Role::Viewer,
            teams: Vec::new(),
            password: Some(secret()),
        };
        let patch = UserPatch {
            password: Some(secret()),
            ..UserPatch::default()
        };
        let integration = IntegrationInput {
            name: "warehouse".into(),
            kind: "postgres".into(),
            connection: SecretString::from(format!("postgres://u:{SECRET}@db/x")),
            teams: Vec::new(),
            sync_interval_secs: None,
        };
        let integration_patch = IntegrationPatch {
            connection: Some(secret()),
            ..IntegrationPatch::default()
        };
        let mut config = CatalogConfig::new(PathBuf::from("/tmp/cairn"));
        config.secret_key = Some(secret());
        let provider = ProviderSetting::Openai {
            base_url: "https://api.example.com/v1".into(),
            model: "m".into(),
            region: None,
            api_key: Some(secret()),
        };
        let settings = AiSettingsInput {
            provider: Some(provider.clone()),
            ..AiSettingsInput::default()
        };
        let api_key = cairn_assistant::ApiKey::new(SECRET);
        let printed = [
            format!("{sign_in:?}"),
            format!("{new_user:?}"),
            format!("{patch:?}"),
            format!("{integration:?}"),
            format!("{integration_patch:?}"),
            format!("{config:?}"),
            format!("{provider:?}"),
            format!("{settings:?}"),
            format!("{api_key:?}"),
        ];
        for text in printed {
            assert!(!text.contains(SECRET), "a secret in {text}");
            assert!(
                text.contains("REDACTED"),
                "the secret's place is marked: {text}"
            );
        }
    }

    /// A store's unique-constraint text never becomes the answer's message.
    #[test]
    fn conflicts_answer_a_fixed_message() {
        let error = CatalogError::from(cairn_store::StoreError::Conflict(
            "duplicate key value violates unique constraint \"users_workspace_email_key\"".into(),
        ));
        assert!(matches!(error, CatalogError::Conflict(_)));
        assert!(!error.to_string().contains("users_workspace_email_key"));
    }

    #[test]
    fn only_admins_pass_require_admin() {
        let principal = |role| Principal {
            user: UserId(1),
            workspace: WorkspaceId(1),
            role,
            teams: Vec::new(),
        };
        assert!(require_admin(&principal(Role::Admin), "do this").is_ok());
        let refused = require_admin(&principal(Role::Editor), "do this").unwrap_err();
        assert_eq!(refused.to_string(), "only workspace admins do this");
        assert!(matches!(refused, CatalogError::Forbidden(_)));
    }
}
