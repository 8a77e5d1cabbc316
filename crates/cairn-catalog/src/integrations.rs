//! Integrations: connect, crawl into the catalog, import dbt docs, keep in sync.

use std::collections::HashMap;
use std::time::Duration;

use cairn_connect::dbt::{self, DbtError, DbtRelation};
use cairn_connect::{
    ConnectError, Crawl, CrawledCatalog, CrawledObject, EngineKind, ObjectKind, RelationKind,
    Target,
};
use cairn_domain::{IntegrationId, Principal, Refusal, ResourceKind, WorkspaceId, validate};
use cairn_store::{
    AddedResources, CrawlItem, CrawlRelation, ImportedDoc, IntegrationRow, Resource, ResourcePatch,
    StoreError, now_ms,
};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use crate::index::{EarlyIndex, IndexTurn};
use crate::{Catalog, CatalogError, Result, require_admin};

pub const DEFAULT_SYNC_INTERVAL_SECS: u64 = 24 * 3600;
const MIN_SYNC_INTERVAL_SECS: u64 = 60;
/// One year: longer intervals are refused, so no stored interval can overflow arithmetic on times.
const MAX_SYNC_INTERVAL_SECS: u64 = 365 * 24 * 3600;
/// A sync that has not finished after this long is presumed dead and its lease expires.
pub(crate) const SYNC_LEASE: Duration = Duration::from_secs(3600);

/// A new integration. The connection URL is write-only.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IntegrationInput {
    pub name: String,
    /// `postgres`, `mysql` or `sqlite`.
    pub kind: String,
    /// `postgres://…`, `mysql://…` or `sqlite:///path`; stored encrypted, never returned.
    #[schema(value_type = String)]
    pub connection: SecretString,
    #[serde(default)]
    pub teams: Vec<String>,
    #[serde(default)]
    pub sync_interval_secs: Option<u64>,
}

/// Changes to an integration.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IntegrationPatch {
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub connection: Option<SecretString>,
    #[serde(default)]
    pub teams: Option<Vec<String>>,
    #[serde(default)]
    pub sync_interval_secs: Option<u64>,
}

/// An integration as members see it: never its connection.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct IntegrationView {
    pub id: i64,
    pub name: String,
    pub kind: String,
    pub teams: Vec<String>,
    pub resource_id: i64,
    pub sync_interval_secs: i64,
    pub last_sync_at: Option<i64>,
    /// How the last sync ended; absent before the first.
    pub last_sync_status: Option<SyncStatus>,
    /// When the scheduler syncs it next (ms); absent: at its next round.
    pub next_sync_at: Option<i64>,
    pub created_at: i64,
}

/// How a sync ended. A failure's `error` names hosts and paths only for admins; other members
/// read that it failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SyncStatus {
    pub state: SyncState,
    pub added: u64,
    pub changed: u64,
    pub removed: u64,
    /// When it finished, in milliseconds since the Unix epoch.
    pub finished_at: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum SyncState {
    Ok,
    Failed,
}

/// What non-admins read in place of a failed sync's error, which may name hosts and paths.
const SYNC_FAILED_FOR_MEMBERS: &str = "the sync failed; a workspace admin can see why";

impl SyncStatus {
    /// A sync that failed now, for `error`.
    fn failed(error: String) -> SyncStatus {
        SyncStatus {
            state: SyncState::Failed,
            added: 0,
            changed: 0,
            removed: 0,
            finished_at: now_ms(),
            error: Some(error),
        }
    }

    /// The stored status: JSON, or the sentence older versions wrote ("ok: 1 added, 2 changed,
    /// 3 removed" or "failed: …").
    fn from_stored(text: &str, finished_at: i64) -> SyncStatus {
        if let Ok(status) = serde_json::from_str::<SyncStatus>(text) {
            return status;
        }
        if let Some(error) = text.strip_prefix("failed: ") {
            return SyncStatus {
                state: SyncState::Failed,
                added: 0,
                changed: 0,
                removed: 0,
                finished_at,
                error: Some(error.to_owned()),
            };
        }
        let count = |word: &str| -> u64 {
            text.split(',')
                .find(|part| part.trim_end().ends_with(word))
                .and_then(|part| {
                    part.split_whitespace()
                        .rev()
                        .nth(1)
                        .and_then(|number| number.parse().ok())
                })
                .unwrap_or(0)
        };
        SyncStatus {
            state: SyncState::Ok,
            added: count("added"),
            changed: count("changed"),
            removed: count("removed"),
            finished_at,
            error: None,
        }
    }
}

/// A connection test: the integration's database answered through the policy and connector.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ConnectionTest {
    pub ok: bool,
    pub server_version: String,
    pub tables: u64,
    pub views: u64,
}

/// What a sync did.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SyncView {
    pub added: u64,
    pub changed: u64,
    pub removed: u64,
    pub databases: u64,
    pub schemas: u64,
    pub tables: u64,
    pub views: u64,
    pub columns: u64,
    pub relations: u64,
    pub server_version: String,
    /// Whether the database said its catalog was as the last crawl found it (PostgreSQL
    /// gives a digest of its catalog): then nothing was crawled, read or written, and the
    /// counts above are the last crawl's.
    pub source_unchanged: bool,
    /// This sync's id: `GET /integrations/{id}/syncs/{sync_id}` reports it.
    pub sync_id: i64,
    /// Where the sync's time went.
    pub phases_ms: SyncPhases,
}

/// What an integration's last crawl found, kept on it with the source's digest of its catalog
/// (in the transaction that applied the crawl): a re-sync whose source gives the same digest
/// reports these counts without crawling.
#[derive(Debug, Serialize, Deserialize)]
struct LastCrawl {
    digest: String,
    databases: u64,
    schemas: u64,
    tables: u64,
    views: u64,
    columns: u64,
    relations: u64,
    server_version: String,
}

impl LastCrawl {
    fn of(digest: String, view: &SyncView) -> LastCrawl {
        LastCrawl {
            digest,
            databases: view.databases,
            schemas: view.schemas,
            tables: view.tables,
            views: view.views,
            columns: view.columns,
            relations: view.relations,
            server_version: view.server_version.clone(),
        }
    }

    fn to_json(&self) -> Result<String> {
        serde_json::to_string(self).map_err(|error| CatalogError::Internal(error.to_string()))
    }

    /// A sync that found the source unchanged: nothing added, changed or removed.
    fn view(self, sync_id: i64) -> SyncView {
        SyncView {
            added: 0,
            changed: 0,
            removed: 0,
            databases: self.databases,
            schemas: self.schemas,
            tables: self.tables,
            views: self.views,
            columns: self.columns,
            relations: self.relations,
            server_version: self.server_version,
            source_unchanged: true,
            sync_id,
            phases_ms: SyncPhases::default(),
        }
    }
}

/// Milliseconds a sync spent in each phase.
#[derive(Debug, Clone, Copy, Default, Serialize, ToSchema)]
pub struct SyncPhases {
    /// Connecting to the database and running its catalog queries.
    pub crawl: u64,
    /// Turning the crawl into resources.
    pub map: u64,
    /// Reading the integration's stored resources.
    pub store_read: u64,
    /// Hashing the crawl and comparing it with the store.
    pub compare: u64,
    /// Inserting new resources.
    pub insert: u64,
    /// Updating changed resources.
    pub update: u64,
    /// Deleting resources that are gone.
    pub remove: u64,
    /// Writing relations (foreign keys, view dependencies).
    pub relations: u64,
    /// Appending the change feed.
    pub feed: u64,
    /// Committing the store's transaction.
    pub store_commit: u64,
    /// Waiting for this node's turn to index, taken before the store is written (the server's
    /// own follower may hold it).
    pub index_wait: u64,
    /// Reading the changed resources back for the search index, after the store's commit.
    pub index_read: u64,
    /// Staging documents in the search index after the store's commit. What a sync that only
    /// adds writes is staged while the store writes it, within `insert`, and not here.
    pub index_stage: u64,
    /// Committing the search index.
    pub index_commit: u64,
    /// The whole sync, these phases and its bookkeeping (its record, the integration's
    /// status), from the crawl's start to the index's commit.
    pub total: u64,
}

/// A sync that holds its integration's lease and has its record.
pub(crate) struct SyncRun {
    pub(crate) row: IntegrationRow,
    pub(crate) record: i64,
}

/// A dbt import: `manifest.json` and optionally `catalog.json`, as JSON.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DbtImportInput {
    #[schema(value_type = Object)]
    pub manifest: serde_json::Value,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub catalog: Option<serde_json::Value>,
}

/// What a dbt import attached.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DbtImportView {
    pub manifest_version: u32,
    pub nodes: u64,
    pub matched: u64,
    pub columns_documented: u64,
    pub lineage: u64,
    /// dbt relations with no crawled table or view, `schema.name`.
    pub unmatched: Vec<String>,
    /// Documented dbt columns with no crawled column in their matched table,
    /// `schema.name.column`.
    pub unmatched_columns: Vec<String>,
    /// dbt lineage edges with an end that matched no crawled table or view.
    pub unmatched_lineage: u64,
    /// Whether earlier dbt documentation was replaced (`?replace=true`) rather than kept.
    pub replaced: bool,
    /// Tables, views and columns with documentation from an earlier import that this one did not
    /// cover: kept as they were, or removed when `replaced`.
    pub kept: u64,
    pub removed: u64,
    /// Lineage edges from an earlier import that this one did not name, kept.
    pub lineage_kept: u64,
}

/// The engine a request names: the one rule (`EngineKind`'s `FromStr`), any case,
/// `postgresql` and `mariadb` too.
fn parse_engine(kind: &str) -> Result<EngineKind> {
    kind.parse().map_err(|_| {
        CatalogError::invalid(
            "kind",
            format!("unknown kind {kind:?}; one of postgres, mysql, sqlite"),
        )
    })
}

fn check_connection(engine: EngineKind, connection: &str) -> Result<()> {
    if connection.chars().count() > validate::PATH_MAX * 2
        || connection.chars().any(char::is_control)
    {
        return Err(CatalogError::invalid(
            "connection",
            "must be a connection URL of at most 2000 characters",
        ));
    }
    match EngineKind::from_url(connection) {
        Some(found) if found == engine => check_connection_shape(engine, connection),
        Some(found) => Err(CatalogError::invalid(
            "connection",
            format!(
                "is a {} URL but kind is {}",
                found.as_str(),
                engine.as_str()
            ),
        )),
        None => Err(CatalogError::invalid(
            "connection",
            format!(
                "must be a {} URL",
                match engine {
                    EngineKind::Postgres => "postgres://",
                    EngineKind::Mysql => "mysql://",
                    EngineKind::Sqlite => "sqlite:///",
                }
            ),
        )),
    }
}

/// A URL a connector can use: a SQLite file by absolute path (`sqlite:///…`), a server by host
/// or socket (`postgres://user@host/db`).
fn check_connection_shape(engine: EngineKind, connection: &str) -> Result<()> {
    let rest = connection
        .split_once(':')
        .map(|(_, rest)| rest)
        .unwrap_or_default();
    let usable = match engine {
        EngineKind::Sqlite => {
            let path = rest.strip_prefix("//").unwrap_or(rest);
            path.starts_with('/') && !path.trim_start_matches('/').is_empty()
        }
        EngineKind::Postgres | EngineKind::Mysql => {
            let rest = rest.strip_prefix("//").unwrap_or(rest);
            let authority = rest.split(['/', '?']).next().unwrap_or_default();
            let host = authority.rsplit('@').next().unwrap_or_default();
            !host.is_empty() || rest.contains("host=") || rest.contains("socket=")
        }
    };
    if usable {
        Ok(())
    } else {
        Err(CatalogError::invalid(
            "connection",
            match engine {
                EngineKind::Sqlite => {
                    "a SQLite file is given by absolute path: sqlite:///path/to/file.db"
                }
                EngineKind::Postgres => {
                    "must name a host (postgres://user@host:5432/db) or a socket (?host=/dir)"
                }
                EngineKind::Mysql => {
                    "must name a host (mysql://user@host:3306/db) or a socket (?socket=/path)"
                }
            },
        ))
    }
}

/// The sealed connection of the demo integration: Cairn resolves it to the demo warehouse it
/// wrote itself. No caller can store it (it is no engine's URL), nor point elsewhere at the file.
pub(crate) const DEMO_WAREHOUSE_CONNECTION: &str = "cairn-demo:acme-warehouse";

fn connect_refusal(error: &ConnectError) -> CatalogError {
    let refusal = match error {
        ConnectError::Unreachable(_) => Refusal::Unreachable,
        ConnectError::AuthFailed(_) => Refusal::AuthFailed,
        ConnectError::DatabaseNotFound(_) => Refusal::DatabaseNotFound,
        ConnectError::UnsupportedVersion(_) => Refusal::UnsupportedVersion,
        ConnectError::NotSqlite(_) => Refusal::NotSqlite,
        ConnectError::InvalidUrl(_) => Refusal::InvalidUrl,
        ConnectError::CrawlFailed(_) => Refusal::CrawlFailed,
        ConnectError::NotAllowed => Refusal::NotAllowed,
    };
    CatalogError::refused(refusal, error.to_string())
}

fn dbt_refusal(error: &DbtError) -> CatalogError {
    let refusal = match error {
        DbtError::NotAManifest(_) => Refusal::NotAManifest,
        DbtError::UnsupportedManifestVersion(_) => Refusal::UnsupportedManifestVersion,
        DbtError::NotACatalog(_) => Refusal::NotACatalog,
    };
    CatalogError::refused(refusal, error.to_string())
}

fn check_interval(interval: Option<u64>) -> Result<Option<i64>> {
    match interval {
        Some(seconds) if seconds < MIN_SYNC_INTERVAL_SECS => Err(CatalogError::invalid(
            "sync_interval_secs",
            format!("must be at least {MIN_SYNC_INTERVAL_SECS}"),
        )),
        Some(seconds) if seconds > MAX_SYNC_INTERVAL_SECS => Err(CatalogError::invalid(
            "sync_interval_secs",
            format!("must be at most {MAX_SYNC_INTERVAL_SECS} (one year)"),
        )),
        Some(seconds) => Ok(Some(i64::try_from(seconds).unwrap_or(i64::MAX))),
        None => Ok(None),
    }
}

fn resource_kind(kind: ObjectKind) -> ResourceKind {
    match kind {
        ObjectKind::Database => ResourceKind::Database,
        ObjectKind::Schema => ResourceKind::Schema,
        ObjectKind::Table => ResourceKind::Table,
        ObjectKind::View => ResourceKind::View,
        ObjectKind::Column => ResourceKind::Column,
    }
}

/// Maps a crawl onto resource paths under the integration's name.
fn crawl_items(root: &str, crawl: CrawledCatalog) -> (Vec<CrawlItem>, Vec<CrawlRelation>) {
    let path_of = |parts: &[String]| cairn_domain::ResourcePath::under(root, parts).to_string();
    let CrawledCatalog {
        objects, relations, ..
    } = crawl;
    // Objects come parents first, a table's columns one after another: each one's path is its
    // parent's, rendered once, with its own name appended. Each object's texts move into its
    // item; none is copied.
    let mut parent: Option<(Vec<String>, String)> = None;
    let mut items = Vec::with_capacity(objects.len());
    for mut object in objects {
        let name = object.path.pop();
        let above = std::mem::take(&mut object.path);
        let parent_path = if above.is_empty() {
            None
        } else {
            match &parent {
                Some((parts, text)) if *parts == above => Some(text.clone()),
                _ => {
                    let text = path_of(&above);
                    parent = Some((above, text.clone()));
                    Some(text)
                }
            }
        };
        let mut path = parent_path.clone().unwrap_or_else(|| root.to_string());
        if let Some(name) = &name {
            cairn_domain::ResourcePath::push_segment(&mut path, name);
        }
        items.push(crawl_item(
            object,
            name.unwrap_or_default(),
            path,
            parent_path,
        ));
    }
    let relations = relations
        .iter()
        .map(|relation| CrawlRelation {
            kind: match relation.kind {
                RelationKind::ForeignKey => cairn_domain::RelationKind::ForeignKey,
                RelationKind::ViewDependency => cairn_domain::RelationKind::ViewDependency,
            },
            from: path_of(&relation.from),
            to: path_of(&relation.to),
        })
        .collect();
    (items, relations)
}

/// One crawled object (whose path is taken) as the store takes it: `name`, at `path` under
/// `parent_path`.
fn crawl_item(
    object: CrawledObject,
    name: String,
    path: String,
    parent_path: Option<String>,
) -> CrawlItem {
    // As `json!({"nullable": …, "position": …, "primary_key": …}).to_string()` writes it (the
    // content hash covers this text), without building a map per column.
    let attributes = if object.kind == ObjectKind::Column {
        let nullable = object
            .nullable
            .map_or("null", |value| if value { "true" } else { "false" });
        let position = object
            .position
            .map_or_else(|| "null".to_string(), |value| value.to_string());
        format!(
            r#"{{"nullable":{nullable},"position":{position},"primary_key":{}}}"#,
            object.primary_key
        )
    } else {
        "{}".to_string()
    };
    CrawlItem {
        kind: resource_kind(object.kind),
        name,
        path,
        parent_path,
        source_description: object.description.filter(|text| !text.trim().is_empty()),
        data_type: object.data_type,
        definition: object.definition,
        popularity: object.popularity,
        attributes,
    }
}

impl Catalog {
    async fn integration_view(
        &self,
        principal: &Principal,
        row: IntegrationRow,
    ) -> Result<IntegrationView> {
        let root = self.store().integration_root(row.workspace, row.id).await?;
        self.integration_view_with_root(principal, row, root).await
    }

    async fn integration_view_with_root(
        &self,
        principal: &Principal,
        row: IntegrationRow,
        root: Resource,
    ) -> Result<IntegrationView> {
        let last_sync_status = row.last_sync_status.as_deref().map(|text| {
            let mut status = SyncStatus::from_stored(text, row.last_sync_at.unwrap_or_default());
            if !principal.can_administer() && status.error.is_some() {
                status.error = Some(SYNC_FAILED_FOR_MEMBERS.to_owned());
            }
            status
        });
        Ok(IntegrationView {
            id: row.id.0,
            name: row.name,
            kind: row.kind.to_string(),
            teams: self.team_names(row.workspace, &root.teams).await?,
            resource_id: root.id.0,
            sync_interval_secs: row.sync_interval_secs,
            last_sync_at: row.last_sync_at,
            next_sync_at: row.next_sync_at,
            last_sync_status,
            created_at: row.created_at,
        })
    }

    /// An integration the caller may see (through its root resource's teams), else `NotFound`.
    pub async fn visible_integration(
        &self,
        principal: &Principal,
        id: IntegrationId,
    ) -> Result<IntegrationRow> {
        let row = self
            .store()
            .integration(principal.workspace, id)
            .await?
            .ok_or(CatalogError::NotFound)?;
        let root = self
            .store()
            .integration_root(principal.workspace, id)
            .await?;
        if principal.can_see(root.workspace, &root.teams) {
            Ok(row)
        } else {
            Err(CatalogError::NotFound)
        }
    }

    pub async fn create_integration(
        &self,
        principal: &Principal,
        input: IntegrationInput,
    ) -> Result<IntegrationView> {
        require_admin(principal, "manage integrations")?;
        let name = validate::label("name", &input.name)?;
        if name.contains('.') {
            return Err(CatalogError::invalid(
                "name",
                "must not contain '.' (it separates path parts)",
            ));
        }
        let engine = parse_engine(&input.kind)?;
        let connection = input.connection.expose_secret();
        check_connection(engine, connection)?;
        self.check_target(engine, connection).await?;
        let interval = check_interval(input.sync_interval_secs)?
            .unwrap_or(i64::try_from(DEFAULT_SYNC_INTERVAL_SECS).unwrap_or(86_400));
        if input.teams.is_empty() {
            return Err(CatalogError::invalid(
                "teams",
                "name at least one team: members of these teams see what is crawled",
            ));
        }
        let teams = self
            .team_ids_named(principal.workspace, &input.teams)
            .await?;
        let secret = self.inner.vault.seal(principal.workspace, connection)?;
        let row = match self
            .store()
            .create_integration(
                principal.workspace,
                &name,
                engine.as_str(),
                &secret,
                interval,
                &teams,
            )
            .await
        {
            Err(StoreError::Conflict(_)) => {
                return Err(CatalogError::Conflict(format!(
                    "an integration named {name:?} already exists"
                )));
            }
            other => other?,
        };
        self.follow_changes().await?;
        self.audit(
            principal.workspace,
            Some(principal.user),
            "integration.created",
            json!({"integration": row.id.0, "name": row.name, "kind": row.kind}),
        )
        .await?;
        self.integration_view(principal, row).await
    }

    pub async fn list_integrations(&self, principal: &Principal) -> Result<Vec<IntegrationView>> {
        let mut views = Vec::new();
        for row in self.store().list_integrations(principal.workspace).await? {
            let root = self.store().integration_root(row.workspace, row.id).await?;
            if principal.can_see(root.workspace, &root.teams) {
                views.push(
                    self.integration_view_with_root(principal, row, root)
                        .await?,
                );
            }
        }
        Ok(views)
    }

    pub async fn get_integration(
        &self,
        principal: &Principal,
        id: IntegrationId,
    ) -> Result<IntegrationView> {
        let row = self.visible_integration(principal, id).await?;
        self.integration_view(principal, row).await
    }

    pub async fn update_integration(
        &self,
        principal: &Principal,
        id: IntegrationId,
        patch: IntegrationPatch,
    ) -> Result<IntegrationView> {
        let row = self.visible_integration(principal, id).await?;
        require_admin(principal, "manage integrations")?;
        let engine = row.kind;
        let secret = match &patch.connection {
            Some(connection) => {
                let connection = connection.expose_secret();
                check_connection(engine, connection)?;
                self.check_target(engine, connection).await?;
                Some(self.inner.vault.seal(principal.workspace, connection)?)
            }
            None => None,
        };
        let interval = check_interval(patch.sync_interval_secs)?;
        let teams = match &patch.teams {
            Some(names) => Some(self.team_ids_named(principal.workspace, names).await?),
            None => None,
        };
        self.store()
            .update_integration(principal.workspace, id, secret.as_deref(), interval)
            .await?;
        let mut detail = json!({"integration": id.0});
        if secret.is_some() {
            // That it changed, never the connection itself.
            detail["connection_changed"] = json!(true);
        }
        if let Some(interval) = interval {
            detail["sync_interval_secs"] = json!(interval);
        }
        if let Some(names) = &patch.teams {
            detail["teams"] = json!(names);
        }
        self.audit(
            principal.workspace,
            Some(principal.user),
            "integration.updated",
            detail,
        )
        .await?;
        if let Some(teams) = teams {
            let root = self
                .store()
                .integration_root(principal.workspace, id)
                .await?;
            let patch = ResourcePatch {
                teams: Some(teams),
                ..ResourcePatch::default()
            };
            self.store()
                .update_resource(principal.workspace, root.id, &patch)
                .await?;
            self.follow_changes().await?;
        }
        self.get_integration(principal, id).await
    }

    pub async fn delete_integration(&self, principal: &Principal, id: IntegrationId) -> Result<()> {
        self.visible_integration(principal, id).await?;
        require_admin(principal, "manage integrations")?;
        self.store()
            .delete_integration(principal.workspace, id)
            .await?;
        self.audit(
            principal.workspace,
            Some(principal.user),
            "integration.deleted",
            json!({"integration": id.0}),
        )
        .await?;
        self.follow_changes().await
    }

    /// Crawls an integration now (admins).
    pub async fn sync_integration(
        &self,
        principal: &Principal,
        id: IntegrationId,
    ) -> Result<SyncView> {
        self.visible_integration(principal, id).await?;
        require_admin(principal, "manage integrations")?;
        let view = self.sync(principal.workspace, id).await?;
        self.audit(principal.workspace, Some(principal.user), "integration.synced", json!({"integration": id.0, "added": view.added, "changed": view.changed, "removed": view.removed})).await?;
        Ok(view)
    }

    /// Tries an integration's connection (admins): through the integration policy and the
    /// engine's connector, as a sync would, writing nothing.
    pub async fn test_integration(
        &self,
        principal: &Principal,
        id: IntegrationId,
    ) -> Result<ConnectionTest> {
        let row = self.visible_integration(principal, id).await?;
        require_admin(principal, "manage integrations")?;
        let target = self.integration_target(&row).await?;
        let crawl = cairn_connect::crawl(target.kind(), target.url()).await;
        self.audit(
            principal.workspace,
            Some(principal.user),
            "integration.tested",
            json!({"integration": id.0, "ok": crawl.is_ok()}),
        )
        .await?;
        let crawl = crawl.map_err(|error| connect_refusal(&error))?;
        Ok(ConnectionTest {
            ok: true,
            server_version: crawl.server_version.clone(),
            tables: crawl.of_kind(ObjectKind::Table).count() as u64,
            views: crawl.of_kind(ObjectKind::View).count() as u64,
        })
    }

    /// Crawls and applies, holding the integration's sync lease so syncs never overlap, on
    /// this node or any other sharing the store. A failed crawl changes nothing.
    pub(crate) async fn sync(&self, workspace: WorkspaceId, id: IntegrationId) -> Result<SyncView> {
        let run = self.begin_sync(workspace, id).await?;
        // On a task of its own: a caller that stops waiting (a client gone) leaves the sync to
        // finish, rather than dropping it between the store's commit and the index's.
        let catalog = self.clone();
        tokio::spawn(async move { catalog.run_sync(run).await })
            .await
            .map_err(|error| CatalogError::Internal(error.to_string()))?
    }

    /// Takes the integration's sync lease (a conflict when another sync holds it) and records
    /// the sync as started.
    pub(crate) async fn begin_sync(
        &self,
        workspace: WorkspaceId,
        id: IntegrationId,
    ) -> Result<SyncRun> {
        let row = self
            .store()
            .integration(workspace, id)
            .await?
            .ok_or(CatalogError::NotFound)?;
        let now = now_ms();
        let lease_until = now + i64::try_from(SYNC_LEASE.as_millis()).unwrap_or(i64::MAX / 2);
        if !self
            .store()
            .acquire_sync_lease(workspace, id, now, lease_until)
            .await?
        {
            return Err(CatalogError::Conflict(format!(
                "integration {} is already syncing",
                row.name
            )));
        }
        match self.store().create_sync(workspace, id).await {
            Ok(record) => Ok(SyncRun { row, record }),
            Err(error) => {
                // The status is read over the API: it says what the catalog says, never the
                // store's own text (a constraint's names, a statement's error).
                let error = CatalogError::from(error);
                let status = serde_json::to_string(&SyncStatus::failed(error.to_string()))
                    .map_err(|error| CatalogError::Internal(error.to_string()))?;
                self.store().finish_sync(workspace, id, &status).await?;
                Err(error)
            }
        }
    }

    /// Runs a begun sync to its end: crawl, store, index, each phase on its record.
    pub(crate) async fn run_sync(&self, run: SyncRun) -> Result<SyncView> {
        let SyncRun { row, record } = run;
        let (workspace, id) = (row.workspace, row.id);
        let started = std::time::Instant::now();
        let outcome = self.crawl_and_apply(&row, record).await;
        let status = match &outcome {
            Ok((view, ..)) => SyncStatus {
                state: SyncState::Ok,
                added: view.added,
                changed: view.changed,
                removed: view.removed,
                finished_at: now_ms(),
                error: None,
            },
            Err(error) => SyncStatus::failed(error.to_string()),
        };
        let stored = serde_json::to_string(&status)
            .map_err(|error| CatalogError::Internal(error.to_string()))?;
        self.store().finish_sync(workspace, id, &stored).await?;
        let (mut view, crawled_ms, added, turn) = match outcome {
            Ok(done) => done,
            Err(error) => {
                self.store()
                    .finish_sync_record(workspace, record, Some(&error.to_string()))
                    .await?;
                return Err(error);
            }
        };
        let stored_ms = started.elapsed().as_millis();
        self.store()
            .set_sync_phase(workspace, record, "indexing", None)
            .await?;
        let indexed = self.follow_changes_in_turn(turn, added).await;
        let error = indexed.as_ref().err().map(ToString::to_string);
        self.store()
            .finish_sync_record(workspace, record, error.as_deref())
            .await?;
        let indexed = indexed?;
        view.phases_ms.index_read = indexed.read_ms;
        view.phases_ms.index_stage = indexed.stage_ms;
        view.phases_ms.index_commit = indexed.commit_ms;
        tracing::info!(workspace = %workspace, integration = %id, added = view.added, changed = view.changed, removed = view.removed, crawled_ms, stored_ms, indexed_ms = started.elapsed().as_millis() - stored_ms, "synced");
        view.sync_id = record;
        view.phases_ms.total = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        Ok(view)
    }

    /// A connection a caller gives: refused when the integration policy refuses it. One that
    /// cannot be resolved or found yet is kept (syncing it will say it cannot connect).
    async fn check_target(&self, engine: EngineKind, connection: &str) -> Result<()> {
        match self
            .inner
            .integration_policy
            .check(engine, connection)
            .await
        {
            Ok(_) | Err(ConnectError::Unreachable(_)) => Ok(()),
            Err(error) => Err(connect_refusal(&error)),
        }
    }

    /// Where an integration's database is, checked against the policy now (again at every
    /// connect: names are resolved afresh and the driver is given the checked address).
    pub(crate) async fn integration_target(&self, row: &IntegrationRow) -> Result<Target> {
        let engine = row.kind;
        let url = self
            .inner
            .vault
            .open_secret(row.workspace, &row.connection_secret)?;
        if url == DEMO_WAREHOUSE_CONNECTION {
            return Ok(Target::cairn_managed_sqlite(&self.demo_warehouse_path()));
        }
        self.inner
            .integration_policy
            .check(engine, &url)
            .await
            .map_err(|error| connect_refusal(&error))
    }

    /// Crawls and stores; gives back the sync's view, the crawl's time, what it added, and
    /// this node's turn to index it (taken before the store is written).
    async fn crawl_and_apply(
        &self,
        row: &IntegrationRow,
        record: i64,
    ) -> Result<(SyncView, u128, AddedResources, IndexTurn<'_>)> {
        let started = std::time::Instant::now();
        let target = self.integration_target(row).await?;
        let last = self.last_crawl(row).await?;
        let crawl = cairn_connect::crawl_if_changed(
            target.kind(),
            target.url(),
            last.as_ref().map(|last| last.digest.as_str()),
        )
        .await
        .map_err(|error| connect_refusal(&error))?;
        let crawled_ms = started.elapsed().as_millis();
        let mut phases = SyncPhases {
            crawl: u64::try_from(crawled_ms).unwrap_or(u64::MAX),
            ..SyncPhases::default()
        };
        let (crawl, digest) = match (crawl, last) {
            (Crawl::Crawled { catalog, digest }, _) => (catalog, digest),
            (Crawl::Unchanged, Some(last)) => {
                let view = SyncView {
                    phases_ms: phases,
                    ..last.view(record)
                };
                return Ok((
                    view,
                    crawled_ms,
                    AddedResources::default(),
                    self.index_turn().await,
                ));
            }
            (Crawl::Unchanged, None) => {
                return Err(CatalogError::Internal(
                    "a crawl without a known digest was reported unchanged".into(),
                ));
            }
        };
        self.store()
            .set_sync_phase(row.workspace, record, "storing", None)
            .await?;
        let count = |kind: ObjectKind| crawl.of_kind(kind).count() as u64;
        let mut view = SyncView {
            added: 0,
            changed: 0,
            removed: 0,
            databases: count(ObjectKind::Database),
            schemas: count(ObjectKind::Schema),
            tables: count(ObjectKind::Table),
            views: count(ObjectKind::View),
            columns: count(ObjectKind::Column),
            relations: crawl.relations.len() as u64,
            server_version: crawl.server_version.clone(),
            source_unchanged: false,
            sync_id: record,
            phases_ms: SyncPhases::default(),
        };
        let last_crawl = digest
            .map(|digest| LastCrawl::of(digest, &view).to_json())
            .transpose()?;
        let mapping = std::time::Instant::now();
        // The crawl's texts move into the items: only the items go on.
        let (items, relations) = crawl_items(&row.name, crawl);
        phases.map = u64::try_from(mapping.elapsed().as_millis()).unwrap_or(u64::MAX);
        let waiting = std::time::Instant::now();
        let turn = self.index_turn().await;
        phases.index_wait = u64::try_from(waiting.elapsed().as_millis()).unwrap_or(u64::MAX);
        // What the sync adds is indexed while it is written, in this node's turn.
        let mut early = self.early_index();
        let giver = early.as_mut().and_then(EarlyIndex::giver);
        let applied = self
            .store()
            .apply_crawl_giving(
                row.workspace,
                row.id,
                items,
                &relations,
                last_crawl.as_deref(),
                giver.as_deref(),
            )
            .await;
        drop(giver);
        let applied = match (applied, early) {
            (Ok(applied), None) => applied,
            (Ok(mut applied), Some(early)) => {
                if let Err(error) = early.finish().await {
                    // Rolled back: the follow reads the sync's stretch of the feed instead.
                    tracing::warn!(%error, "indexing a sync as it wrote failed");
                    applied.added.given = 0;
                }
                applied
            }
            (Err(error), early) => {
                // The store's error is the sync's; a failed rollback is the operator's to see.
                if let Some(early) = early
                    && let Err(rollback) = early.abandon().await
                {
                    tracing::error!(error = %rollback, "rolling back what a failed sync staged failed");
                }
                return Err(error.into());
            }
        };
        let cairn_store::AppliedCrawl {
            counts,
            timings,
            added,
        } = applied;
        phases.store_read = timings.read_ms;
        phases.compare = timings.compare_ms;
        phases.insert = timings.insert_ms;
        phases.update = timings.update_ms;
        phases.remove = timings.remove_ms;
        phases.relations = timings.relations_ms;
        phases.feed = timings.feed_ms;
        phases.store_commit = timings.commit_ms;
        view.phases_ms = phases;
        drop(relations);
        self.store()
            .set_sync_phase(row.workspace, record, "storing", Some(&counts))
            .await?;
        view.added = counts.added;
        view.changed = counts.changed;
        view.removed = counts.removed;
        Ok((view, crawled_ms, added, turn))
    }

    /// What the integration's last crawl found, if its source gave a digest of it.
    async fn last_crawl(&self, row: &IntegrationRow) -> Result<Option<LastCrawl>> {
        let Some(text) = self.store().last_crawl(row.workspace, row.id).await? else {
            return Ok(None);
        };
        // An account this version cannot read only costs a crawl.
        Ok(serde_json::from_str(&text).ok())
    }

    /// Syncs every integration whose `next_sync_at` has passed. Each runs on its own task: one
    /// that fails or panics does not stop the others, and a failed one is due again only after
    /// its interval. On PostgreSQL a few run at once, so a slow one does not hold up the rest;
    /// SQLite has one writer, so there they run one after another.
    pub async fn sync_due(&self) -> Result<()> {
        let at_once = match self.store().backend() {
            cairn_store::Backend::Postgres => 4,
            cairn_store::Backend::Sqlite => 1,
        };
        let due = self.store().integrations_due(now_ms()).await?;
        let mut running = tokio::task::JoinSet::new();
        for row in due {
            if running.len() >= at_once
                && let Some(Err(error)) = running.join_next().await
            {
                tracing::error!(%error, "a scheduled sync's task failed");
            }
            let catalog = self.clone();
            running.spawn(async move {
                match catalog.sync(row.workspace, row.id).await {
                    Ok(_) | Err(CatalogError::Conflict(_)) => {}
                    Err(error) => {
                        tracing::warn!(workspace = %row.workspace, integration = %row.id, %error, "scheduled sync failed")
                    }
                }
            });
        }
        while let Some(joined) = running.join_next().await {
            if let Err(error) = joined {
                tracing::error!(%error, "a scheduled sync's task failed");
            }
        }
        Ok(())
    }

    /// Attaches dbt descriptions, tags, owners and lineage to the integration's crawled tables.
    /// It updates what it matches and keeps what earlier imports attached and this one does not
    /// cover, unless `replace` (then the integration's dbt documentation is exactly this one's).
    pub async fn import_dbt(
        &self,
        principal: &Principal,
        id: IntegrationId,
        input: DbtImportInput,
        replace: bool,
    ) -> Result<DbtImportView> {
        let row = self.visible_integration(principal, id).await?;
        require_admin(principal, "manage integrations")?;
        let docs = dbt::parse(&input.manifest, input.catalog.as_ref())
            .map_err(|error| dbt_refusal(&error))?;
        let docs = validated_docs(docs)?;
        let resources = self
            .store()
            .integration_resources(principal.workspace, id, true)
            .await?;
        let crawled = CrawledRelations::new(&row.name, &resources);
        let matched = DbtMatch::of(&docs, &crawled);
        let lineage: Vec<_> = docs
            .lineage
            .iter()
            .filter_map(|edge| Some((crawled.find(&edge.from)?.id, crawled.find(&edge.to)?.id)))
            .collect();
        let DbtMatch {
            imported,
            unmatched,
            unmatched_columns,
            matched,
            columns_documented,
        } = matched;
        let applied = self
            .store()
            .apply_dbt(principal.workspace, id, &imported, &lineage, replace)
            .await?;
        self.audit(
            principal.workspace,
            Some(principal.user),
            "integration.dbt_imported",
            json!({"integration": id.0, "matched": matched, "lineage": lineage.len(),
                   "replace": replace, "kept": applied.kept, "removed": applied.removed}),
        )
        .await?;
        self.follow_changes().await?;
        Ok(DbtImportView {
            manifest_version: docs.manifest_version,
            nodes: docs.nodes.len() as u64,
            matched,
            columns_documented,
            lineage: lineage.len() as u64,
            unmatched,
            unmatched_columns,
            unmatched_lineage: (docs.lineage.len() - lineage.len()) as u64,
            replaced: replace,
            kept: applied.kept,
            removed: applied.removed,
            lineage_kept: applied.lineage_kept,
        })
    }
}

/// An integration's crawled tables and views, and their columns, as dbt nodes are matched to
/// them.
struct CrawledRelations<'a> {
    /// The integration's name, the root of the paths compared with dbt's.
    root: String,
    relations: Vec<&'a Resource>,
    columns_of: HashMap<i64, Vec<&'a Resource>>,
}

impl<'a> CrawledRelations<'a> {
    fn new(integration: &str, resources: &'a [Resource]) -> CrawledRelations<'a> {
        let relations = resources
            .iter()
            .filter(|resource| matches!(resource.kind, ResourceKind::Table | ResourceKind::View))
            .collect();
        let mut columns_of: HashMap<i64, Vec<&Resource>> = HashMap::new();
        for resource in resources
            .iter()
            .filter(|resource| resource.kind == ResourceKind::Column)
        {
            if let Some(parent) = resource.parent {
                columns_of.entry(parent.0).or_default().push(resource);
            }
        }
        CrawledRelations {
            root: integration.to_string(),
            relations,
            columns_of,
        }
    }

    /// A resource's path within the integration, in parts.
    fn relative(&self, resource: &Resource) -> Vec<String> {
        match cairn_domain::ResourcePath::parse_under(&self.root, &resource.path) {
            Some(path) => path.below_root().to_vec(),
            None => cairn_domain::ResourcePath::parse(&resource.path)
                .segments()
                .to_vec(),
        }
    }

    /// The warehouse's database name often differs from dbt's (another target, a copy), so a
    /// relation matches on database, schema and name, or else on schema and name alone.
    fn find(&self, relation: &DbtRelation) -> Option<&'a Resource> {
        let matching = |wanted: &DbtRelation| {
            self.relations
                .iter()
                .find(|resource| wanted.matches_path(&self.relative(resource)))
                .copied()
        };
        matching(relation).or_else(|| {
            matching(&DbtRelation {
                database: None,
                ..relation.clone()
            })
        })
    }

    /// A table's crawled column by name, whatever its case.
    fn column(&self, table: &Resource, name: &str) -> Option<&'a Resource> {
        self.columns_of.get(&table.id.0).and_then(|columns| {
            columns
                .iter()
                .find(|candidate| candidate.name.eq_ignore_ascii_case(name))
                .copied()
        })
    }
}

/// What of a dbt project matched the crawled tables and columns.
#[derive(Default)]
struct DbtMatch {
    imported: Vec<ImportedDoc>,
    unmatched: Vec<String>,
    unmatched_columns: Vec<String>,
    matched: u64,
    columns_documented: u64,
}

impl DbtMatch {
    fn of(docs: &dbt::DbtDocs, crawled: &CrawledRelations<'_>) -> DbtMatch {
        let mut found = DbtMatch::default();
        for node in &docs.nodes {
            let Some(table) = crawled.find(&node.relation) else {
                found
                    .unmatched
                    .push(format!("{}.{}", node.relation.schema, node.relation.name));
                continue;
            };
            found.matched += 1;
            found.imported.push(ImportedDoc {
                resource: table.id,
                description: non_blank(node.description.as_ref()),
                tags: node.tags.clone(),
                owners: node.owner.iter().cloned().collect(),
            });
            for column in &node.columns {
                found.column(crawled, node, table, column);
            }
        }
        found
    }

    /// A documented dbt column: imported onto the crawled column, or named as unmatched.
    fn column(
        &mut self,
        crawled: &CrawledRelations<'_>,
        node: &dbt::DbtNode,
        table: &Resource,
        column: &dbt::DbtColumn,
    ) {
        let description = non_blank(column.description.as_ref());
        if description.is_none() && column.tags.is_empty() {
            return;
        }
        match crawled.column(table, &column.name) {
            Some(crawled) => {
                self.columns_documented += 1;
                self.imported.push(ImportedDoc {
                    resource: crawled.id,
                    description,
                    tags: column.tags.clone(),
                    owners: Vec::new(),
                });
            }
            None => self.unmatched_columns.push(format!(
                "{}.{}.{}",
                node.relation.schema, node.relation.name, column.name
            )),
        }
    }
}

fn non_blank(text: Option<&String>) -> Option<String> {
    text.filter(|text| !text.trim().is_empty()).cloned()
}

/// dbt's texts held to the rules a PATCH is held to (description length, tag and owner count
/// and length, no control characters), checked before anything is stored; an error names the
/// field, e.g. `manifest.nodes["model.shop.orders"].columns["id"].description`.
fn validated_docs(mut docs: dbt::DbtDocs) -> Result<dbt::DbtDocs> {
    for node in &mut docs.nodes {
        let node_id = node.unique_id.clone();
        let field = |name: &str| format!("manifest.nodes[{node_id:?}].{name}");
        if let Some(text) = &node.description {
            node.description = Some(validate::text(&field("description"), text)?);
        }
        node.tags = validate::labels(&field("tags"), &node.tags)?;
        if let Some(owner) = &node.owner {
            node.owner = Some(validate::label(&field("owner"), owner)?);
        }
        for column in &mut node.columns {
            let column_name = column.name.clone();
            let field =
                |name: &str| format!("manifest.nodes[{node_id:?}].columns[{column_name:?}].{name}");
            if let Some(text) = &column.description {
                column.description = Some(validate::text(&field("description"), text)?);
            }
            column.tags = validate::labels(&field("tags"), &column.tags)?;
        }
    }
    Ok(docs)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A connector's or a dbt project's refusal answers with the code its error names.
    #[test]
    fn refusals_keep_the_codes_of_connect_and_dbt_errors() {
        let detail = || "detail".to_string();
        let connect = [
            ConnectError::Unreachable(detail()),
            ConnectError::AuthFailed(detail()),
            ConnectError::DatabaseNotFound(detail()),
            ConnectError::UnsupportedVersion(detail()),
            ConnectError::NotSqlite(detail()),
            ConnectError::InvalidUrl(detail()),
            ConnectError::CrawlFailed(detail()),
            ConnectError::NotAllowed,
        ];
        for error in &connect {
            let CatalogError::Refused { refusal, message } = connect_refusal(error) else {
                panic!("{error:?} is a refusal");
            };
            assert_eq!(refusal.code(), error.code());
            assert_eq!(message, error.to_string());
        }
        let dbt = [
            DbtError::NotAManifest(detail()),
            DbtError::UnsupportedManifestVersion(3),
            DbtError::NotACatalog(detail()),
        ];
        for error in &dbt {
            let CatalogError::Refused { refusal, .. } = dbt_refusal(error) else {
                panic!("{error:?} is a refusal");
            };
            assert_eq!(refusal.code(), error.code());
        }
    }

    #[test]
    fn a_path_built_from_its_parent_s_is_the_path_rendered_whole() {
        let object = |kind, path: &[&str]| {
            cairn_connect::CrawledObject::new(
                kind,
                path.iter().map(|part| part.to_string()).collect(),
            )
        };
        let objects = vec![
            object(ObjectKind::Database, &["shop"]),
            object(ObjectKind::Schema, &["shop", "public"]),
            object(ObjectKind::Table, &["shop", "public", "orders.2024"]),
            object(ObjectKind::Column, &["shop", "public", "orders.2024", "id"]),
            object(
                ObjectKind::Column,
                &["shop", "public", "orders.2024", "say \"hi\""],
            ),
            object(ObjectKind::Table, &["shop", "public", "plain"]),
            object(ObjectKind::Column, &["shop", "public", "plain", "a.b"]),
            // A column whose table is not the object before it.
            object(
                ObjectKind::Column,
                &["shop", "public", "orders.2024", "late"],
            ),
        ];
        let crawl = CrawledCatalog {
            objects,
            relations: Vec::new(),
            server_version: String::new(),
        };
        let (items, _) = crawl_items("wh.prod", crawl.clone());
        assert_eq!(items.len(), crawl.objects.len());
        for (item, object) in items.iter().zip(&crawl.objects) {
            let whole = cairn_domain::ResourcePath::under("wh.prod", &object.path).to_string();
            assert_eq!(item.path, whole);
            let above = &object.path[..object.path.len() - 1];
            let parent = (!above.is_empty())
                .then(|| cairn_domain::ResourcePath::under("wh.prod", above).to_string());
            assert_eq!(item.parent_path, parent, "{whole}");
            assert_eq!(item.name, object.name());
        }
        assert_eq!(items[3].path, r#"wh.prod.shop.public."orders.2024".id"#);
    }

    #[test]
    fn column_attributes_are_written_as_json_would_write_them() {
        for (nullable, position, primary_key) in [
            (Some(true), Some(1), false),
            (Some(false), None, true),
            (None, Some(-3), false),
        ] {
            let crawl = CrawledCatalog {
                objects: vec![cairn_connect::CrawledObject {
                    kind: ObjectKind::Column,
                    path: vec!["t".into(), "c".into()],
                    description: None,
                    data_type: None,
                    nullable,
                    position,
                    primary_key,
                    definition: None,
                    popularity: None,
                }],
                relations: Vec::new(),
                server_version: String::new(),
            };
            let (items, _) = crawl_items("wh", crawl.clone());
            assert_eq!(
                items[0].attributes,
                json!({"nullable": nullable, "position": position, "primary_key": primary_key})
                    .to_string()
            );
        }
    }
}
