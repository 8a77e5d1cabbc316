//! The assistant as the catalog serves it: the caller's question, their memory, retrieval over
//! what they may see, the workspace's provider behind the egress gate, the ledger, citations
//! re-checked, and the answer saved to their history.

use std::collections::HashMap;
use std::sync::Mutex;

use cairn_assistant::{
    AgentOptions, ColumnMeta, MetadataItem, OpenAiConfig, OpenAiProvider, ResultShape,
    Role as TurnRole, ToolHost, ToolOutput, Turn,
};
use cairn_connect::query::QueryResult;
use cairn_domain::{IntegrationId, Principal, ResourceId, ResourceKind, SqlAccess, validate};
use cairn_store::{NewEgress, NewPrompt};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use crate::resources::ResourceQuery;
use crate::settings::ProviderSetting;
use crate::sql::SqlInput;
use crate::{Catalog, CatalogError, Result};

const QUESTION_MAX_CHARS: usize = 4000;

/// A question for the assistant.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AskInput {
    pub question: String,
    /// Continue a conversation; without it a new thread starts.
    #[serde(default)]
    pub thread_id: Option<i64>,
}

/// A resource the answer relied on.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CitationView {
    pub id: i64,
    pub kind: ResourceKind,
    pub name: String,
    pub path: String,
}

/// SQL the assistant ran for the caller, with its rows (for the caller only).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SqlAnswer {
    pub integration_id: i64,
    pub sql: String,
    pub columns: Vec<String>,
    #[schema(value_type = Vec<Vec<Object>>)]
    pub rows: Vec<Vec<serde_json::Value>>,
    pub truncated: bool,
}

/// The assistant's answer.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AskView {
    pub answer: String,
    pub citations: Vec<CitationView>,
    pub thread_id: i64,
    pub prompt_id: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sql: Option<SqlAnswer>,
    /// `builtin` or `openai`.
    pub provider: String,
}

/// The assistant's tools, acting with the caller's rights only.
pub(crate) struct Host<'a> {
    catalog: &'a Catalog,
    principal: &'a Principal,
    pub(crate) sql_integrations: Vec<IntegrationId>,
    /// Integration name → (id, engine), to tell the model where a crawled resource lives.
    integrations: HashMap<String, (IntegrationId, String)>,
    /// Rows of the last statement run, kept for the caller; the model gets only the shape.
    last_result: Mutex<Option<(IntegrationId, String, QueryResult)>>,
}

impl Host<'_> {
    /// Metadata for resources the caller may see, in the order asked: a handful of batched
    /// store reads, whatever the number of resources.
    pub(crate) async fn items(&self, ids: &[ResourceId]) -> Vec<MetadataItem> {
        self.try_items(ids).await.unwrap_or_default()
    }

    async fn try_items(&self, ids: &[ResourceId]) -> Result<Vec<MetadataItem>> {
        let principal = self.principal;
        let store = self.catalog.store();
        let resources: Vec<_> = store
            .resources_by_ids(principal.workspace, ids)
            .await?
            .into_iter()
            .filter(|resource| principal.can_see(resource.workspace, &resource.teams))
            .collect();
        let relational: Vec<ResourceId> = resources
            .iter()
            .filter(|resource| matches!(resource.kind, ResourceKind::Table | ResourceKind::View))
            .map(|resource| resource.id)
            .collect();
        let mut columns = store.children_of(principal.workspace, &relational).await?;
        columns.retain(|column| {
            column.kind == ResourceKind::Column
                && principal.can_see(column.workspace, &column.teams)
        });
        let shown: Vec<ResourceId> = resources.iter().map(|resource| resource.id).collect();
        let relations = store.relations_of_many(principal.workspace, &shown).await?;
        let others: Vec<ResourceId> = relations
            .iter()
            .flat_map(|relation| [relation.from, relation.to])
            .collect();
        let mut related = store.resources_by_ids(principal.workspace, &others).await?;
        related.retain(|resource| principal.can_see(resource.workspace, &resource.teams));
        let path_of = |id: ResourceId| {
            related
                .iter()
                .find(|resource| resource.id == id)
                .map(|resource| resource.path.clone())
        };
        let mut items = Vec::with_capacity(resources.len());
        for resource in resources {
            let mut item = MetadataItem::new(
                resource.id,
                resource.kind,
                resource.name.clone(),
                resource.path.clone(),
            );
            item.description = resource.effective_description().map(str::to_string);
            item.owners = resource.owners.clone();
            item.tags = resource.tags.clone();
            item.data_type = resource.data_type.clone();
            item.popularity = resource.popularity;
            item.definition = resource.definition.clone();
            let crawled = !matches!(resource.kind, ResourceKind::Term | ResourceKind::Document);
            if crawled
                && let Some((integration, engine)) = resource
                    .path
                    .split('.')
                    .next()
                    .and_then(|name| self.integrations.get(name))
            {
                item.integration = Some(*integration);
                item.engine = Some(engine.clone());
            }
            let mut own_columns: Vec<_> = columns
                .iter()
                .filter(|column| column.parent == Some(resource.id))
                .collect();
            own_columns.sort_by_key(|column| {
                let attributes: serde_json::Value =
                    serde_json::from_str(&column.attributes).unwrap_or_default();
                (
                    attributes["position"].as_i64().unwrap_or(i64::MAX),
                    column.id,
                )
            });
            item.columns = own_columns
                .into_iter()
                .map(|column| {
                    let attributes: serde_json::Value =
                        serde_json::from_str(&column.attributes).unwrap_or_default();
                    ColumnMeta {
                        name: column.name.clone(),
                        data_type: column.data_type.clone(),
                        description: column.effective_description().map(str::to_string),
                        primary_key: attributes["primary_key"].as_bool().unwrap_or(false),
                    }
                })
                .collect();
            item.relations = relations
                .iter()
                .filter(|relation| relation.from == resource.id || relation.to == resource.id)
                .filter_map(|relation| {
                    let from = if relation.from == resource.id {
                        Some(resource.path.clone())
                    } else {
                        path_of(relation.from)
                    }?;
                    let to = if relation.to == resource.id {
                        Some(resource.path.clone())
                    } else {
                        path_of(relation.to)
                    }?;
                    Some(format!("{from} -> {to} ({})", relation.kind))
                })
                .collect();
            items.push(item);
        }
        Ok(items)
    }
}

impl ToolHost for Host<'_> {
    async fn search(&self, query: &str, limit: usize) -> Vec<MetadataItem> {
        let query = ResourceQuery {
            q: Some(query.chars().take(validate::NAME_MAX).collect()),
            limit: Some(limit.clamp(1, 50)),
            ..ResourceQuery::default()
        };
        let Ok(found) = self.catalog.list_resources(self.principal, query).await else {
            return Vec::new();
        };
        let ids: Vec<ResourceId> = found.items.iter().map(|view| ResourceId(view.id)).collect();
        self.items(&ids).await
    }

    async fn read(&self, id: ResourceId) -> Option<MetadataItem> {
        self.items(&[id]).await.pop()
    }

    async fn run_sql(&self, integration: IntegrationId, sql: &str) -> ToolOutput {
        let input = SqlInput {
            integration_id: integration.0,
            sql: sql.to_string(),
        };
        match self.catalog.run_sql(self.principal, input).await {
            Ok(result) => {
                let shape = ResultShape {
                    columns: result.columns.clone(),
                    row_count: result.rows.len(),
                    truncated: result.truncated,
                };
                if let Ok(mut last) = self.last_result.lock() {
                    *last = Some((integration, sql.to_string(), result));
                }
                ToolOutput::Shape(shape)
            }
            // Our own refusals (guard, gates) are our words; the database's never reach the model.
            Err(CatalogError::Refused {
                code: "sql_not_allowed",
                message,
            }) => ToolOutput::Refused { reason: message },
            Err(CatalogError::Forbidden(message)) => ToolOutput::Refused { reason: message },
            Err(CatalogError::NotFound) => ToolOutput::Refused {
                reason: "no such integration".to_string(),
            },
            Err(_) => ToolOutput::Failed,
        }
    }

    fn sql_integrations(&self) -> Vec<IntegrationId> {
        self.sql_integrations.clone()
    }

    async fn join_path(&self, from: ResourceId, to: ResourceId) -> Option<String> {
        let schema = self
            .catalog
            .schema_around(self.principal, self, &[from, to])
            .await
            .ok()?;
        let visible = |id: ResourceId| schema.tables.iter().any(|table| table.id == id);
        (visible(from) && visible(to))
            .then(|| cairn_assistant::builtin::join_path_text(&schema, from, to))
    }

    async fn lineage(&self, table: ResourceId) -> Option<String> {
        let schema = self
            .catalog
            .schema_around(self.principal, self, &[table])
            .await
            .ok()?;
        schema
            .tables
            .iter()
            .any(|item| item.id == table)
            .then(|| cairn_assistant::builtin::lineage_text(&schema, table))
    }

    async fn table_columns(&self, table: ResourceId) -> Option<String> {
        let schema = self
            .catalog
            .schema_around(self.principal, self, &[table])
            .await
            .ok()?;
        schema
            .tables
            .iter()
            .any(|item| item.id == table)
            .then(|| cairn_assistant::builtin::columns_text(&schema, table))
    }
}

fn check_region(workspace: Option<&str>, provider: Option<&str>) -> Result<()> {
    match workspace {
        Some(wanted) if provider != Some(wanted) => Err(CatalogError::Refused {
            code: "region_mismatch",
            message: format!(
                "the provider's region ({}) is not the workspace's region ({wanted}); nothing was sent",
                provider.unwrap_or("unspecified")
            ),
        }),
        _ => Ok(()),
    }
}

impl Catalog {
    fn openai_provider(
        &self,
        principal: &Principal,
        base_url: &str,
        model: &str,
        settings: &crate::settings::StoredSettings,
    ) -> Result<OpenAiProvider> {
        let mut config = OpenAiConfig::new(base_url, model);
        if let Some(sealed) = &settings.provider_key {
            config.api_key = Some(cairn_assistant::ApiKey::new(
                self.inner.vault.open_secret(principal.workspace, sealed)?,
            ));
        }
        OpenAiProvider::new(config).map_err(|error| CatalogError::Refused {
            code: "provider_unavailable",
            message: error.to_string(),
        })
    }

    /// The loop's options from the workspace's settings: with pseudonymisation on, every
    /// member's name and address is known to the gate from the first request.
    async fn agent_options(
        &self,
        principal: &Principal,
        settings: &crate::settings::StoredSettings,
    ) -> Result<AgentOptions> {
        let mut known_people = Vec::new();
        if settings.pseudonymize_people {
            for member in self.store().list_users(principal.workspace).await? {
                known_people.push(member.email);
                known_people.push(member.name);
            }
        }
        Ok(AgentOptions {
            pseudonymize: settings.pseudonymize_people,
            known_people,
            ..AgentOptions::default()
        })
    }

    /// Writes every request a run sent to the egress ledger, whether the run succeeded or not.
    async fn record_requests(
        &self,
        principal: &Principal,
        endpoint: &str,
        region: Option<&str>,
        outcome: &std::result::Result<cairn_assistant::AgentOutcome, cairn_assistant::AgentError>,
    ) -> Result<()> {
        let requests = match outcome {
            Ok(outcome) => &outcome.requests,
            Err(error) => &error.requests,
        };
        for request in requests {
            let mentioned: Vec<i64> = request.mentioned().iter().map(|id| id.0).collect();
            let entry = NewEgress {
                user: Some(principal.user),
                provider: "openai".to_string(),
                endpoint: endpoint.to_string(),
                region: region.map(str::to_string),
                model: request.model().to_string(),
                body: String::from_utf8_lossy(request.body_bytes()).into_owned(),
                body_sha256: request.sha256_hex().to_string(),
                resources: json!(mentioned).to_string(),
            };
            self.store()
                .record_egress(principal.workspace, &entry)
                .await?;
        }
        Ok(())
    }

    async fn host<'a>(&'a self, principal: &'a Principal) -> Result<Host<'a>> {
        let mut sql_integrations = Vec::new();
        let mut integrations = HashMap::new();
        for row in self.store().list_integrations(principal.workspace).await? {
            let root = self.store().integration_root(row.workspace, row.id).await?;
            if !principal.can_see(root.workspace, &root.teams) {
                continue;
            }
            if self.sql_access(principal, row.id).await? == SqlAccess::Allowed {
                sql_integrations.push(row.id);
            }
            integrations.insert(row.name.clone(), (row.id, row.kind.clone()));
        }
        Ok(Host {
            catalog: self,
            principal,
            sql_integrations,
            integrations,
            last_result: Mutex::new(None),
        })
    }

    /// Answers a question for the caller.
    pub async fn ask(&self, principal: &Principal, input: AskInput) -> Result<AskView> {
        let question = input.question.trim().to_string();
        if question.is_empty() {
            return Err(CatalogError::invalid("question", "must not be empty"));
        }
        if question.chars().count() > QUESTION_MAX_CHARS {
            return Err(CatalogError::invalid(
                "question",
                format!("must be at most {QUESTION_MAX_CHARS} characters"),
            ));
        }
        let thread = match self
            .store()
            .open_thread(principal.workspace, principal.user, input.thread_id)
            .await
        {
            Err(cairn_store::StoreError::NotFound) => return Err(CatalogError::NotFound),
            other => other?,
        };
        let prompts = self
            .store()
            .thread_prompts(principal.workspace, principal.user, thread)
            .await?;
        // What the thread remembers for the offline engine's follow-ups.
        let thread_context: cairn_assistant::builtin::ThreadContext = prompts
            .last()
            .and_then(|prompt| prompt.context.as_deref())
            .and_then(|context| serde_json::from_str(context).ok())
            .unwrap_or_default();
        let mut next_context = None;
        let mut offline_sql = None;
        let memory: Vec<Turn> = prompts
            .into_iter()
            .flat_map(|prompt| {
                [
                    Turn {
                        role: TurnRole::User,
                        text: prompt.question,
                    },
                    Turn {
                        role: TurnRole::Assistant,
                        text: prompt.answer,
                    },
                ]
            })
            .collect();
        let (region, settings) = self.stored_settings(principal.workspace).await?;
        let host = self.host(principal).await?;
        let (answer, cited, mut sql, provider) = match &settings.provider {
            ProviderSetting::Builtin => {
                let offline = self
                    .answer_offline(principal, &host, &question, &thread_context)
                    .await?;
                next_context = Some(offline.context);
                offline_sql = offline.sql;
                (offline.text, offline.citations, None, "builtin")
            }
            ProviderSetting::Openai {
                base_url,
                model,
                region: provider_region,
                ..
            } => {
                check_region(region.as_deref(), provider_region.as_deref())?;
                let provider = self.openai_provider(principal, base_url, model, &settings)?;
                let options = self.agent_options(principal, &settings).await?;
                let outcome =
                    cairn_assistant::run(&provider, &host, &question, &memory, &options).await;
                self.record_requests(principal, base_url, provider_region.as_deref(), &outcome)
                    .await?;
                let outcome = outcome.map_err(|error| CatalogError::Refused {
                    code: "provider_failed",
                    message: error.to_string(),
                })?;
                (outcome.answer, outcome.citations, outcome.sql, "openai")
            }
        };
        let last = host
            .last_result
            .lock()
            .ok()
            .and_then(|mut last| last.take());
        let sql_answer = last.map(|(integration, statement, result)| {
            sql = Some((integration, statement.clone()));
            SqlAnswer {
                integration_id: integration.0,
                sql: statement,
                columns: result.columns,
                rows: result.rows,
                truncated: result.truncated,
            }
        });
        let sql_answer = match offline_sql {
            Some(offline) => {
                sql = Some((IntegrationId(offline.integration_id), offline.sql.clone()));
                Some(offline)
            }
            None => sql_answer,
        };
        let context_json = next_context
            .as_ref()
            .and_then(|context| serde_json::to_string(context).ok());
        // Every citation is re-checked against the caller's access before it is returned.
        let citations: Vec<CitationView> = self
            .store()
            .resources_by_ids(principal.workspace, &cited)
            .await?
            .into_iter()
            .filter(|resource| principal.can_see(resource.workspace, &resource.teams))
            .map(|resource| CitationView {
                id: resource.id.0,
                kind: resource.kind,
                name: resource.name,
                path: resource.path,
            })
            .collect();
        let citation_ids: Vec<i64> = citations.iter().map(|citation| citation.id).collect();
        let sql_json = sql.as_ref().map(|(integration, statement)| {
            json!({"integration_id": integration.0, "sql": statement}).to_string()
        });
        let prompt_id = self
            .store()
            .save_prompt(
                principal.workspace,
                principal.user,
                &NewPrompt {
                    thread,
                    question: &question,
                    answer: &answer,
                    citations: &json!(citation_ids).to_string(),
                    sql: sql_json.as_deref(),
                    context: context_json.as_deref(),
                },
            )
            .await?;
        Ok(AskView {
            answer,
            citations,
            thread_id: thread,
            prompt_id,
            sql: sql_answer,
            provider: provider.to_string(),
        })
    }
}

/// A drafted description for a resource; editors accept it with PATCH.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DescriptionDraft {
    pub resource_id: i64,
    pub description: String,
    /// `builtin` or `openai`.
    pub provider: String,
}

/// The one resource being described: the model may look at nothing else.
struct DescribeHost {
    item: MetadataItem,
}

impl ToolHost for DescribeHost {
    async fn search(&self, _query: &str, _limit: usize) -> Vec<MetadataItem> {
        vec![self.item.clone()]
    }

    async fn read(&self, id: ResourceId) -> Option<MetadataItem> {
        (id == self.item.id).then(|| self.item.clone())
    }

    async fn run_sql(&self, _integration: IntegrationId, _sql: &str) -> ToolOutput {
        ToolOutput::Refused {
            reason: "no SQL while drafting a description".to_string(),
        }
    }

    fn sql_integrations(&self) -> Vec<IntegrationId> {
        Vec::new()
    }
}

/// A description from metadata alone, without a model.
fn drafted_offline(item: &MetadataItem) -> String {
    let kind = item.kind.as_str();
    let mut text = format!("The {kind} {}", item.name);
    let columns: Vec<String> = item
        .columns
        .iter()
        .take(12)
        .map(|column| match &column.data_type {
            Some(data_type) => format!("{} ({data_type})", column.name),
            None => column.name.clone(),
        })
        .collect();
    if !columns.is_empty() {
        text.push_str(&format!(" holds {}", columns.join(", ")));
        if item.columns.len() > columns.len() {
            text.push_str(&format!(
                " and {} more columns",
                item.columns.len() - columns.len()
            ));
        }
    }
    let keys: Vec<&str> = item
        .columns
        .iter()
        .filter(|column| column.primary_key)
        .map(|column| column.name.as_str())
        .collect();
    if !keys.is_empty() {
        text.push_str(&format!("; it is keyed by {}", keys.join(", ")));
    }
    text.push('.');
    for relation in item.relations.iter().take(6) {
        text.push_str(&format!(" Related: {relation}."));
    }
    if let Some(data_type) = &item.data_type {
        text.push_str(&format!(" Its type is {data_type}."));
    }
    text.push_str(" (Drafted by Cairn's offline assistant from metadata; please review.)");
    text
}

impl Catalog {
    /// Drafts a description of a resource the caller may edit, from its metadata only.
    pub async fn describe(
        &self,
        principal: &Principal,
        id: ResourceId,
    ) -> Result<DescriptionDraft> {
        let resource = self.visible_resource(principal, id).await?;
        if !principal.can_edit_metadata(resource.workspace, &resource.teams) {
            return Err(CatalogError::forbidden("viewers cannot edit descriptions"));
        }
        let host = self.host(principal).await?;
        let item = host
            .items(&[id])
            .await
            .pop()
            .ok_or(CatalogError::NotFound)?;
        let (region, settings) = self.stored_settings(principal.workspace).await?;
        let ProviderSetting::Openai {
            base_url,
            model,
            region: provider_region,
            ..
        } = &settings.provider
        else {
            return Ok(DescriptionDraft {
                resource_id: id.0,
                description: drafted_offline(&item),
                provider: "builtin".into(),
            });
        };
        check_region(region.as_deref(), provider_region.as_deref())?;
        let provider = self.openai_provider(principal, base_url, model, &settings)?;
        let options = AgentOptions {
            max_model_calls: 1,
            ..self.agent_options(principal, &settings).await?
        };
        let question = format!(
            "Draft a short description (two or three sentences) of the {} {} for a data catalog, from its metadata only.",
            item.kind.as_str(),
            item.path
        );
        let outcome =
            cairn_assistant::run(&provider, &DescribeHost { item }, &question, &[], &options).await;
        self.record_requests(principal, base_url, provider_region.as_deref(), &outcome)
            .await?;
        let outcome = outcome.map_err(|error| CatalogError::Refused {
            code: "provider_failed",
            message: error.to_string(),
        })?;
        Ok(DescriptionDraft {
            resource_id: id.0,
            description: outcome.answer,
            provider: "openai".into(),
        })
    }
}
