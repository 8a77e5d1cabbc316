//! Run SQL: gated twice (the workspace's setting and the caller's permission), checked by the
//! guard against what the caller may see, run read-only, audited. Results go to the caller only.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use cairn_connect::EngineKind;
use cairn_connect::query::{self, Limits, QueryError, QueryResult};
use cairn_domain::{
    IntegrationId, Principal, Refusal, ResourceId, ResourceKind, SqlAccess, TeamId, UserId,
};
use cairn_sqlguard::{Dialect, ReadOnlyQuery};
use cairn_store::{IntegrationRow, Resource};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use crate::{Catalog, CatalogError, Result, require_admin};

const SQL_MAX_CHARS: usize = 100_000;

/// A statement to run.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SqlInput {
    pub integration_id: i64,
    pub sql: String,
}

/// Who may query an integration.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PermissionsView {
    #[serde(default)]
    pub users: Vec<i64>,
    #[serde(default)]
    pub teams: Vec<String>,
}

/// The longest chain of views reading views that is followed; a longer one is not readable.
const MAX_VIEW_DEPTH: usize = 32;

fn dialect_of(kind: EngineKind) -> Dialect {
    match kind {
        EngineKind::Postgres => Dialect::Postgres,
        EngineKind::Mysql => Dialect::Mysql,
        EngineKind::Sqlite => Dialect::Sqlite,
    }
}

fn refused(reason: impl Into<String>) -> CatalogError {
    CatalogError::refused(Refusal::SqlNotAllowed, reason)
}

impl Catalog {
    /// Whether the caller may run SQL on an integration they can see, and if not, why.
    pub async fn sql_access(
        &self,
        principal: &Principal,
        integration: IntegrationId,
    ) -> Result<SqlAccess> {
        let (_, settings) = self.stored_settings(principal.workspace).await?;
        let (users, teams) = self
            .store()
            .query_permissions(principal.workspace, integration)
            .await?;
        Ok(principal.can_query(settings.run_sql_enabled, &users, &teams))
    }

    /// Checks a statement for the caller without running it: the guard's verdict.
    pub async fn check_sql(
        &self,
        principal: &Principal,
        integration: IntegrationId,
        sql: &str,
    ) -> Result<ReadOnlyQuery> {
        let row = self.visible_integration(principal, integration).await?;
        let dialect = dialect_of(row.kind);
        let resources = self
            .store()
            .integration_resources(principal.workspace, integration, true)
            .await?;
        let views: Vec<ResourceId> = resources
            .iter()
            .filter(|resource| resource.kind == ResourceKind::View)
            .filter(|resource| principal.can_see(resource.workspace, &resource.teams))
            .map(|resource| resource.id)
            .collect();
        let readable_views = self.readable_views(principal, &views).await?;
        let mut hidden_by_parent: HashMap<ResourceId, Vec<String>> = HashMap::new();
        for column in resources
            .iter()
            .filter(|resource| resource.kind == ResourceKind::Column)
            .filter(|column| !principal.can_see(column.workspace, &column.teams))
        {
            if let Some(parent) = column.parent {
                hidden_by_parent
                    .entry(parent)
                    .or_default()
                    .push(column.name.clone());
            }
        }
        let mut hidden_columns = HashMap::new();
        let default_schema = resources
            .iter()
            .filter(|resource| resource.kind == ResourceKind::Database)
            .map(|resource| resource.name.clone())
            .collect::<Vec<_>>();
        let tables = resources
            .into_iter()
            .filter(|resource| matches!(resource.kind, ResourceKind::Table | ResourceKind::View))
            .filter(|resource| principal.can_see(resource.workspace, &resource.teams))
            // A view runs with its owner's rights: only when the caller may read all it reads.
            .filter(|resource| {
                resource.kind != ResourceKind::View || readable_views.contains(&resource.id)
            })
            .filter_map(|resource| {
                let path = cairn_domain::ResourcePath::parse_under(&row.name, &resource.path)
                    .unwrap_or_else(|| cairn_domain::ResourcePath::parse(&resource.path));
                // PostgreSQL: db.schema.table; MySQL: db.table; SQLite: main.table.
                let key = match path.below_root() {
                    [_, schema, _] if dialect == Dialect::Postgres => {
                        (schema.to_string(), resource.name.clone())
                    }
                    [owner, _] => (owner.to_string(), resource.name.clone()),
                    _ => return None,
                };
                if let Some(hidden) = hidden_by_parent.remove(&resource.id) {
                    hidden_columns.insert(key.clone(), hidden);
                }
                Some(key)
            })
            .collect();
        let visible = cairn_sqlguard::VisibleRelations {
            dialect,
            tables,
            default_schema: (default_schema.len() == 1).then(|| default_schema[0].clone()),
            hidden_columns,
        };
        cairn_sqlguard::check(dialect, sql, &visible).map_err(|refusal| refused(refusal.reason))
    }

    /// Which of `views` the caller may read: every table or view each one reads, directly or
    /// through other views, is one the caller may see with all of its columns. A view runs
    /// with its owner's rights, so anything less would hand the caller rows or columns hidden
    /// from them; its definition is shown under the same rule. A dependency that is no longer
    /// in the catalog, or a chain deeper than [`MAX_VIEW_DEPTH`], makes a view unreadable.
    pub(crate) async fn readable_views(
        &self,
        principal: &Principal,
        views: &[ResourceId],
    ) -> Result<HashSet<ResourceId>> {
        let graph = self.view_graph(principal, views).await?;
        let read_ids: Vec<ResourceId> = graph.known.keys().copied().collect();
        let with_hidden_columns: HashSet<ResourceId> = self
            .store()
            .children_of(principal.workspace, &read_ids)
            .await?
            .into_iter()
            .filter(|column| column.kind == ResourceKind::Column)
            .filter(|column| !principal.can_see(column.workspace, &column.teams))
            .filter_map(|column| column.parent)
            .collect();
        let fully_visible = |id: &ResourceId| {
            graph.known.get(id).is_some_and(|resource| {
                principal.can_see(resource.workspace, &resource.teams)
                    && !with_hidden_columns.contains(id)
            })
        };
        let mut decided = HashMap::new();
        Ok(views
            .iter()
            .copied()
            .filter(|view| graph.readable(*view, &fully_visible, &mut Vec::new(), &mut decided))
            .collect())
    }

    /// What `views` read, followed through views down to [`MAX_VIEW_DEPTH`].
    async fn view_graph(&self, principal: &Principal, views: &[ResourceId]) -> Result<ViewGraph> {
        let store = self.store();
        let mut graph = ViewGraph::default();
        let mut frontier: Vec<ResourceId> = views.to_vec();
        for _ in 0..MAX_VIEW_DEPTH {
            frontier.retain(|view| !graph.reads.contains_key(view));
            if frontier.is_empty() {
                break;
            }
            for view in &frontier {
                graph.reads.insert(*view, Vec::new());
            }
            let relations = store
                .relations_of_many(principal.workspace, &frontier)
                .await?;
            let mut targets = Vec::new();
            for relation in relations {
                if relation.kind == cairn_domain::RelationKind::ViewDependency
                    && frontier.contains(&relation.from)
                {
                    graph
                        .reads
                        .entry(relation.from)
                        .or_default()
                        .push(relation.to);
                    if !graph.known.contains_key(&relation.to) && !targets.contains(&relation.to) {
                        targets.push(relation.to);
                    }
                }
            }
            let found = store
                .resources_by_ids(principal.workspace, &targets)
                .await?;
            frontier = found
                .iter()
                .filter(|resource| resource.kind == ResourceKind::View)
                .map(|resource| resource.id)
                .collect();
            graph
                .known
                .extend(found.into_iter().map(|resource| (resource.id, resource)));
        }
        Ok(graph)
    }

    /// Both gates and the guard, for a statement about to be described or run; refusals are
    /// audited. Returns the integration's sealed connection, the checked statement and the
    /// audit record's request part.
    async fn admit_sql(
        &self,
        principal: &Principal,
        input: &SqlInput,
    ) -> Result<(IntegrationRow, ReadOnlyQuery, serde_json::Value)> {
        if input.sql.chars().count() > SQL_MAX_CHARS {
            return Err(CatalogError::invalid(
                "sql",
                format!("must be at most {SQL_MAX_CHARS} characters"),
            ));
        }
        if input.sql.trim().is_empty() {
            return Err(CatalogError::invalid("sql", "must not be empty"));
        }
        let integration = IntegrationId(input.integration_id);
        let row = self.visible_integration(principal, integration).await?;
        let audit_base =
            json!({"integration_id": integration.0, "integration": row.name, "sql": input.sql});
        match self.sql_access(principal, integration).await? {
            SqlAccess::Allowed => {}
            denied => {
                let message = match denied {
                    SqlAccess::RunSqlDisabled => "Run SQL is off for this workspace; an admin can turn it on in the AI settings".to_string(),
                    _ => format!("you have no query permission on integration {}; an admin can grant it", row.name),
                };
                self.audit(
                    principal.workspace,
                    Some(principal.user),
                    "sql.denied",
                    json!({"request": audit_base, "reason": message}),
                )
                .await?;
                return Err(CatalogError::Forbidden(message));
            }
        }
        let checked = match self.check_sql(principal, integration, &input.sql).await {
            Ok(checked) => checked,
            Err(error) => {
                self.audit(
                    principal.workspace,
                    Some(principal.user),
                    "sql.refused",
                    json!({"request": audit_base, "reason": error.to_string()}),
                )
                .await?;
                return Err(error);
            }
        };
        Ok((row, checked, audit_base))
    }

    /// Checks a statement for the caller as the assistant's model may learn of it: both gates,
    /// the guard, then the database's own parse and plan without executing anything. Returns
    /// the statement's column names. Errors are our refusals or the database's refusal to
    /// prepare it (`query_invalid`), which depend on the statement and the schema only.
    pub async fn describe_sql(
        &self,
        principal: &Principal,
        input: SqlInput,
    ) -> Result<Vec<String>> {
        let (row, checked, _) = self.admit_sql(principal, &input).await?;
        let target = self.integration_target(&row).await?;
        let limits = Limits {
            timeout: Duration::from_secs(10),
            ..Limits::default()
        };
        query::describe(target.url(), &checked, &limits)
            .await
            .map_err(|error| match error {
                QueryError::Failed(message) => {
                    CatalogError::refused(Refusal::QueryInvalid, message)
                }
                QueryError::Connect(message) => {
                    CatalogError::refused(Refusal::Unreachable, message)
                }
                other => CatalogError::refused(Refusal::QueryFailed, other.to_string()),
            })
    }

    /// Runs a read-only statement for the caller, when both gates hold.
    pub async fn run_sql(&self, principal: &Principal, input: SqlInput) -> Result<QueryResult> {
        let (row, checked, audit_base) = self.admit_sql(principal, &input).await?;
        let target = self.integration_target(&row).await?;
        let limits = Limits {
            timeout: Duration::from_secs(30),
            ..Limits::default()
        };
        match query::run(target.url(), &checked, &limits).await {
            Ok(result) => {
                self.audit(
                    principal.workspace,
                    Some(principal.user),
                    "sql.run",
                    json!({"request": audit_base, "rows": result.rows.len(), "truncated": result.truncated, "elapsed_ms": result.elapsed_ms}),
                )
                .await?;
                Ok(result)
            }
            Err(error) => {
                let refusal = match error {
                    QueryError::Connect(_) => Refusal::Unreachable,
                    _ => Refusal::QueryFailed,
                };
                let message = error.to_string();
                self.audit(
                    principal.workspace,
                    Some(principal.user),
                    "sql.failed",
                    json!({"request": audit_base, "error": message}),
                )
                .await?;
                Err(CatalogError::Refused { refusal, message })
            }
        }
    }

    pub async fn query_permissions(
        &self,
        principal: &Principal,
        integration: IntegrationId,
    ) -> Result<PermissionsView> {
        self.visible_integration(principal, integration).await?;
        require_admin(principal, "manage query permissions")?;
        let (users, teams) = self
            .store()
            .query_permissions(principal.workspace, integration)
            .await?;
        Ok(PermissionsView {
            users: users.into_iter().map(|user| user.0).collect(),
            teams: self.team_names(principal.workspace, &teams).await?,
        })
    }

    pub async fn set_query_permissions(
        &self,
        principal: &Principal,
        integration: IntegrationId,
        input: PermissionsView,
    ) -> Result<PermissionsView> {
        self.visible_integration(principal, integration).await?;
        require_admin(principal, "manage query permissions")?;
        if input.users.len() > 1000 {
            return Err(CatalogError::invalid(
                "users",
                "must have at most 1000 entries",
            ));
        }
        let mut users = Vec::new();
        for id in &input.users {
            if self
                .store()
                .user(principal.workspace, UserId(*id))
                .await?
                .is_none()
            {
                return Err(CatalogError::invalid(
                    "users",
                    format!("no member with id {id}"),
                ));
            }
            if !users.contains(&UserId(*id)) {
                users.push(UserId(*id));
            }
        }
        let teams: Vec<TeamId> = self
            .team_ids_named(principal.workspace, &input.teams)
            .await?;
        self.store()
            .set_query_permissions(principal.workspace, integration, &users, &teams)
            .await?;
        let view = self.query_permissions(principal, integration).await?;
        self.audit(
            principal.workspace,
            Some(principal.user),
            "sql.permissions.updated",
            json!({"integration_id": integration.0, "permissions": view}),
        )
        .await?;
        Ok(view)
    }
}

/// What views read: each view followed to the tables and views it reads, and every resource
/// met on the way.
#[derive(Default)]
struct ViewGraph {
    reads: HashMap<ResourceId, Vec<ResourceId>>,
    known: HashMap<ResourceId, Resource>,
}

impl ViewGraph {
    /// Whether everything `view` reads is `fully_visible`, decided view by view, depth first;
    /// a view met again on its own path (a cycle, which databases do not allow) or beyond the
    /// depth followed counts as unreadable.
    fn readable(
        &self,
        view: ResourceId,
        fully_visible: &dyn Fn(&ResourceId) -> bool,
        path: &mut Vec<ResourceId>,
        decided: &mut HashMap<ResourceId, bool>,
    ) -> bool {
        if let Some(verdict) = decided.get(&view) {
            return *verdict;
        }
        let Some(targets) = self.reads.get(&view) else {
            // Beyond the depth followed.
            return false;
        };
        if path.contains(&view) || path.len() > MAX_VIEW_DEPTH {
            return false;
        }
        path.push(view);
        let verdict = targets.iter().all(|target| {
            fully_visible(target)
                && (self
                    .known
                    .get(target)
                    .is_none_or(|resource| resource.kind != ResourceKind::View)
                    || self.readable(*target, fully_visible, path, decided))
        });
        path.pop();
        decided.insert(view, verdict);
        verdict
    }
}
