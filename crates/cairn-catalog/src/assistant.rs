//! The assistant as the catalog serves it: the caller's question, their memory, retrieval over
//! what they may see, the workspace's provider behind the egress gate, the ledger, citations
//! re-checked, and the answer saved to their history.

use std::collections::HashMap;

use cairn_assistant::{
    AgentOptions, ColumnMeta, MetadataItem, OpenAiConfig, OpenAiProvider, ResultShape,
    Role as TurnRole, ToolHost, ToolOutput, Turn,
};
use cairn_connect::query::QueryResult;
use cairn_domain::{
    EngineKind, IntegrationId, Principal, Refusal, ResourceId, ResourceKind, SqlAccess, validate,
};
use cairn_store::{NewEgress, NewPrompt, Resource};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use cairn_assistant::builtin::ThreadContext;

use crate::resources::{ResourceDetails, ResourceQuery};
use crate::settings::{ProviderSetting, check_region};
use crate::sql::SqlInput;
use crate::{Catalog, CatalogError, Result};

const QUESTION_MAX_CHARS: usize = 4000;

/// What a model continuing a thread is told of an answer the built-in assistant gave: that answer
/// may hold results, which never go to a model.
const OFFLINE_TURN: &str =
    "(Answered by Cairn's built-in assistant; that answer is shown to the user only.)";

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

/// SQL the assistant ran for the caller, with its rows (for the caller only). It runs after the
/// model has answered, so nothing about its outcome can reach the model.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SqlAnswer {
    pub integration_id: i64,
    pub sql: String,
    pub columns: Vec<String>,
    #[schema(value_type = Vec<Vec<Object>>)]
    pub rows: Vec<Vec<serde_json::Value>>,
    pub truncated: bool,
    /// Why the statement gave no rows, when the database failed it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
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
    /// Integration → engine, to tell the model where a crawled resource lives.
    integrations: HashMap<IntegrationId, EngineKind>,
    /// The provider requests go to, for the egress ledger.
    egress: Option<EgressTarget>,
}

/// Where model requests go: written on every ledger entry.
#[derive(Debug, Clone)]
struct EgressTarget {
    endpoint: String,
    region: Option<String>,
}

impl Catalog {
    /// Runs a statement the assistant settled on, for the caller: its rows, or why there are
    /// none.
    async fn sql_answer(
        &self,
        principal: &Principal,
        integration: IntegrationId,
        statement: &str,
    ) -> SqlAnswer {
        let input = SqlInput {
            integration_id: integration.0,
            sql: statement.to_string(),
        };
        let (result, error): (Option<QueryResult>, Option<String>) =
            match self.run_sql(principal, input).await {
                Ok(result) => (Some(result), None),
                Err(error) => (None, Some(error.to_string())),
            };
        let result = result.unwrap_or(QueryResult {
            columns: Vec::new(),
            rows: Vec::new(),
            truncated: false,
            elapsed_ms: 0,
        });
        SqlAnswer {
            integration_id: integration.0,
            sql: statement.to_string(),
            columns: result.columns,
            rows: result.rows,
            truncated: result.truncated,
            error,
        }
    }

    /// Writes one request to the egress ledger, before it is sent.
    async fn record_egress(
        &self,
        principal: &Principal,
        target: Option<&EgressTarget>,
        request: &cairn_assistant::ModelRequest,
    ) -> std::result::Result<(), String> {
        let Some(target) = target else {
            return Err("no provider endpoint is set".to_string());
        };
        let mentioned: Vec<i64> = request.mentioned().iter().map(|id| id.0).collect();
        let entry = NewEgress {
            user: Some(principal.user),
            provider: "openai".to_string(),
            endpoint: target.endpoint.clone(),
            region: target.region.clone(),
            model: request.model().to_string(),
            body: String::from_utf8_lossy(request.body_bytes()).into_owned(),
            body_sha256: request.sha256_hex().to_string(),
            resources: json!(mentioned).to_string(),
        };
        self.store()
            .record_egress(principal.workspace, &entry)
            .await
            .map(|_| ())
            .map_err(|error| match error {
                cairn_store::StoreError::NotFound => {
                    "the person asking no longer exists; nothing was sent".to_string()
                }
                other => other.to_string(),
            })
    }
}

impl Host<'_> {
    /// Metadata for resources the caller may see, in the order asked: a handful of batched
    /// store reads, whatever the number of resources.
    pub(crate) async fn items(&self, ids: &[ResourceId]) -> Vec<MetadataItem> {
        self.try_items(ids).await.unwrap_or_default()
    }

    async fn try_items(&self, ids: &[ResourceId]) -> Result<Vec<MetadataItem>> {
        let details = self.catalog.resource_details(self.principal, ids).await?;
        Ok(details
            .into_iter()
            .map(|details| self.item(details))
            .collect())
    }

    /// What the model (and the built-in assistant) is shown of a resource.
    fn item(&self, details: ResourceDetails) -> MetadataItem {
        let ResourceDetails {
            resource,
            columns,
            relations,
            ..
        } = details;
        let mut item = MetadataItem::new(
            resource.id,
            resource.kind,
            resource.name.clone(),
            resource.path.clone(),
        );
        item.description = resource.effective_description().map(str::to_string);
        item.data_type = resource.data_type.clone();
        item.popularity = resource.popularity;
        if let Some((integration, engine)) = self.integration_of(&resource) {
            item.integration = Some(integration);
            item.engine = Some(engine);
        }
        item.columns = columns
            .iter()
            .map(|column| ColumnMeta {
                name: column.name.clone(),
                data_type: column.data_type.clone(),
                description: column.effective_description().map(str::to_string),
                primary_key: crate::resources::attributes_of(column).primary_key,
            })
            .collect();
        item.relations = relations
            .iter()
            .map(|related| {
                let (from, to) = if related.outgoing {
                    (&resource.path, &related.other.path)
                } else {
                    (&related.other.path, &resource.path)
                };
                format!("{from} -> {to} ({})", related.kind)
            })
            .collect();
        item.owners = resource.owners;
        item.tags = resource.tags;
        item.definition = resource.definition;
        item
    }

    /// The integration a crawled resource lives in and its engine, when the caller may see
    /// the integration.
    fn integration_of(&self, resource: &Resource) -> Option<(IntegrationId, String)> {
        if resource.kind.is_authored() {
            return None;
        }
        let integration = resource.integration?;
        let engine = self.integrations.get(&integration)?;
        Some((integration, engine.as_str().to_string()))
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
        // Checked, never run here: it runs for the user after the model's answer.
        match self.catalog.describe_sql(self.principal, input).await {
            Ok(columns) => ToolOutput::Shape(ResultShape { columns }),
            // Our own refusals (guard, gates) are our words.
            Err(CatalogError::Refused {
                refusal: Refusal::SqlNotAllowed,
                message,
            }) => ToolOutput::Refused { reason: message },
            Err(CatalogError::Forbidden(message)) => ToolOutput::Refused { reason: message },
            Err(CatalogError::NotFound) => ToolOutput::Refused {
                reason: "no such integration".to_string(),
            },
            Err(CatalogError::Invalid(error)) => ToolOutput::Refused {
                reason: error.to_string(),
            },
            // The database's refusal to prepare it: parse and plan only, nothing read.
            Err(CatalogError::Refused {
                refusal: Refusal::QueryInvalid,
                message,
            }) => ToolOutput::Invalid { reason: message },
            Err(_) => ToolOutput::Unchecked,
        }
    }

    fn sql_integrations(&self) -> Vec<IntegrationId> {
        self.sql_integrations.clone()
    }

    async fn record_egress(
        &self,
        request: &cairn_assistant::ModelRequest,
    ) -> std::result::Result<(), String> {
        self.catalog
            .record_egress(self.principal, self.egress.as_ref(), request)
            .await
    }

    async fn join_path(&self, from: ResourceId, to: ResourceId) -> Option<String> {
        self.join_path_text(from, to).await.ok().flatten()
    }

    async fn lineage(&self, table: ResourceId) -> Option<String> {
        self.lineage_text(table).await.ok().flatten()
    }

    async fn table_columns(&self, table: ResourceId) -> Option<String> {
        self.table_columns_text(table).await.ok().flatten()
    }
}

impl Host<'_> {
    /// The join path between two tables, through the tables around them the caller may see;
    /// `None` when either is not a table or view the caller may see.
    async fn join_path_text(&self, from: ResourceId, to: ResourceId) -> Result<Option<String>> {
        let schema = self
            .catalog
            .schema_around(self.principal, self, &[from, to])
            .await?;
        let visible = |id: ResourceId| schema.tables.iter().any(|table| table.id == id);
        Ok((visible(from) && visible(to))
            .then(|| cairn_assistant::builtin::join_path_text(&schema, from, to)))
    }

    /// What a table reads from and what reads it; `None` when it is not a table or view the
    /// caller may see.
    async fn lineage_text(&self, table: ResourceId) -> Result<Option<String>> {
        self.table_text(table, cairn_assistant::builtin::lineage_text)
            .await
    }

    /// A table's columns and references; `None` when it is not a table or view the caller
    /// may see.
    async fn table_columns_text(&self, table: ResourceId) -> Result<Option<String>> {
        self.table_text(table, cairn_assistant::builtin::columns_text)
            .await
    }

    /// `text` of the schema around `table`; `None` when it is not a table or view the caller
    /// may see.
    async fn table_text(
        &self,
        table: ResourceId,
        text: fn(&cairn_assistant::builtin::Schema, ResourceId) -> String,
    ) -> Result<Option<String>> {
        let schema = self
            .catalog
            .schema_around(self.principal, self, &[table])
            .await?;
        Ok(schema
            .tables
            .iter()
            .any(|item| item.id == table)
            .then(|| text(&schema, table)))
    }
}

/// The assistant's metadata tools as services, for MCP and any other caller: the same answers a
/// connected model gets, with the caller's rights.
impl Catalog {
    /// The shortest chain of foreign keys joining two tables, through tables the caller may see,
    /// with the column pairs of each step. `NotFound` when either is not a table or view the
    /// caller may see.
    pub async fn join_path(
        &self,
        principal: &Principal,
        from: ResourceId,
        to: ResourceId,
    ) -> Result<String> {
        self.host(principal)
            .await?
            .join_path_text(from, to)
            .await?
            .ok_or(CatalogError::NotFound)
    }

    /// What a table or view reads from (view definitions, dbt lineage) and what reads it, among
    /// the tables the caller may see. `NotFound` when it is not a table or view the caller may
    /// see.
    pub async fn lineage(&self, principal: &Principal, table: ResourceId) -> Result<String> {
        self.host(principal)
            .await?
            .lineage_text(table)
            .await?
            .ok_or(CatalogError::NotFound)
    }
}

/// The workspace's model provider, ready to be asked, and where its requests go.
struct Connected {
    provider: OpenAiProvider,
    egress: EgressTarget,
}

impl Catalog {
    /// The workspace's model provider; `None` when the built-in assistant answers. Refused
    /// when the provider's region is not the workspace's.
    fn connect(
        &self,
        principal: &Principal,
        region: Option<&str>,
        settings: &crate::settings::StoredSettings,
    ) -> Result<Option<Connected>> {
        let ProviderSetting::Openai {
            base_url,
            model,
            region: provider_region,
            ..
        } = &settings.provider
        else {
            return Ok(None);
        };
        check_region(region, provider_region.as_deref())?;
        Ok(Some(Connected {
            provider: self.openai_provider(principal, base_url, model, settings)?,
            egress: EgressTarget {
                endpoint: crate::settings::without_credentials(base_url),
                region: provider_region.clone(),
            },
        }))
    }

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
            refusal: Refusal::ProviderUnavailable,
            message: error.to_string(),
        })
    }

    /// The loop's options from the workspace's settings. With pseudonymisation on, every
    /// member and every owner named in the workspace is known to the gate before anything is
    /// rendered; an answer gives back only people the caller may see: every member for an
    /// admin, the caller themselves, the owners of resources shown to them and whom they named.
    async fn agent_options(
        &self,
        principal: &Principal,
        settings: &crate::settings::StoredSettings,
    ) -> Result<AgentOptions> {
        let mut known_people = Vec::new();
        let mut restorable_people = Vec::new();
        if settings.pseudonymize_people {
            for member in self.store().list_users(principal.workspace).await? {
                let person = format!("{} <{}>", member.name, member.email);
                if member.id == principal.user || principal.can_administer() {
                    restorable_people.push(person.clone());
                }
                known_people.push(person);
            }
            known_people.extend(self.store().owner_names(principal.workspace).await?);
        }
        Ok(AgentOptions {
            pseudonymize: settings.pseudonymize_people,
            known_people,
            restorable_people,
            ..AgentOptions::default()
        })
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
            integrations.insert(row.id, row.kind);
        }
        Ok(Host {
            catalog: self,
            principal,
            sql_integrations,
            integrations,
            egress: None,
        })
    }

    /// Answers a question for the caller. The work runs on its own task: a caller who goes away
    /// (a dropped HTTP connection) does not cut a question short between a request sent and
    /// its answer saved.
    pub async fn ask(&self, principal: &Principal, input: AskInput) -> Result<AskView> {
        let (pieces, _) = tokio::sync::mpsc::unbounded_channel();
        self.ask_streaming(principal, input, pieces).await
    }

    /// As [`Catalog::ask`], sending the answer's text to `pieces` as it is written: a model's
    /// streamed reply as it arrives, the built-in assistant's answer once it is found. The
    /// sender is dropped when the answer is saved; a receiver that goes away stops nothing.
    pub async fn ask_streaming(
        &self,
        principal: &Principal,
        input: AskInput,
        pieces: AnswerPieces,
    ) -> Result<AskView> {
        // Which prompt, never its words: the audit log cannot be erased.
        let detail = |view: &AskView| json!({"prompt": view.prompt_id, "thread": view.thread_id, "provider": view.provider});
        let work = move |catalog: Catalog, principal: Principal| async move {
            catalog.ask_to_the_end(&principal, input, &pieces).await
        };
        self.to_the_end(principal, "question", ("ai.asked", detail), work)
            .await
    }

    /// Runs `work` for the caller on a task of its own, then writes `action` to the audit
    /// log: a caller who goes away (a dropped HTTP connection) does not cut it short between
    /// a request sent and its outcome saved.
    async fn to_the_end<T, Work, Done>(
        &self,
        principal: &Principal,
        task: &'static str,
        (action, detail): (&'static str, fn(&T) -> serde_json::Value),
        work: Work,
    ) -> Result<T>
    where
        T: Send + 'static,
        Work: FnOnce(Catalog, Principal) -> Done + Send + 'static,
        Done: std::future::Future<Output = Result<T>> + Send + 'static,
    {
        let catalog = self.clone();
        let principal = principal.clone();
        tokio::spawn(async move {
            let done = work(catalog.clone(), principal.clone()).await?;
            catalog
                .audit(
                    principal.workspace,
                    Some(principal.user),
                    action,
                    detail(&done),
                )
                .await?;
            Ok(done)
        })
        .await
        .map_err(|error| CatalogError::Internal(format!("the {task}'s task failed: {error}")))?
    }

    async fn ask_to_the_end(
        &self,
        principal: &Principal,
        input: AskInput,
        pieces: &AnswerPieces,
    ) -> Result<AskView> {
        let question = checked_question(&input.question)?;
        let thread = self.thread_memory(principal, input.thread_id).await?;
        let drafted = self
            .draft_answer(principal, &question, &thread, pieces)
            .await?;
        // The statement runs for the caller only now, after the model's last word.
        let (sql, sql_answer) = match (drafted.offline_sql, drafted.sql) {
            (Some(offline), _) => (
                Some((IntegrationId(offline.integration_id), offline.sql.clone())),
                Some(offline),
            ),
            (None, Some((integration, statement))) => {
                let answer = self.sql_answer(principal, integration, &statement).await;
                (Some((integration, statement)), Some(answer))
            }
            (None, None) => (None, None),
        };
        let citations = self.visible_citations(principal, &drafted.cited).await?;
        let citation_ids: Vec<i64> = citations.iter().map(|citation| citation.id).collect();
        let sql_json = sql.as_ref().map(|(integration, statement)| {
            json!({"integration_id": integration.0, "sql": statement}).to_string()
        });
        let context_json = drafted
            .context
            .as_ref()
            .and_then(|context| serde_json::to_string(context).ok());
        let prompt_id = self
            .store()
            .save_prompt(
                principal.workspace,
                principal.user,
                &NewPrompt {
                    thread: thread.id,
                    question: &question,
                    answer: &drafted.answer,
                    citations: &json!(citation_ids).to_string(),
                    sql: sql_json.as_deref(),
                    context: context_json.as_deref(),
                },
            )
            .await?;
        Ok(AskView {
            answer: drafted.answer,
            citations,
            thread_id: thread.id,
            prompt_id,
            sql: sql_answer,
            provider: drafted.provider.to_string(),
        })
    }

    /// Opens the caller's thread (a new one without an id) and reads what it remembers.
    async fn thread_memory(
        &self,
        principal: &Principal,
        thread_id: Option<i64>,
    ) -> Result<ThreadMemory> {
        let id = match self
            .store()
            .open_thread(principal.workspace, principal.user, thread_id)
            .await
        {
            Err(cairn_store::StoreError::NotFound) => return Err(CatalogError::NotFound),
            other => other?,
        };
        let prompts = self
            .store()
            .thread_prompts(principal.workspace, principal.user, id)
            .await?;
        // What the thread remembers for the offline engine's follow-ups.
        let context: ThreadContext = prompts
            .last()
            .and_then(|prompt| prompt.context.as_deref())
            .and_then(|context| serde_json::from_str(context).ok())
            .unwrap_or_default();
        // An answer of the built-in assistant may state results (counts, rows, values it looked
        // up), so a model that later continues the thread is told only that it was given.
        let turns: Vec<Turn> = prompts
            .into_iter()
            .flat_map(|prompt| {
                let answer = if prompt.context.is_some() {
                    OFFLINE_TURN.to_string()
                } else {
                    prompt.answer
                };
                [
                    Turn {
                        role: TurnRole::User,
                        text: prompt.question,
                    },
                    Turn {
                        role: TurnRole::Assistant,
                        text: answer,
                    },
                ]
            })
            .collect();
        Ok(ThreadMemory { id, context, turns })
    }

    /// The answer of the workspace's assistant, its text sent to `pieces` as it is written.
    async fn draft_answer(
        &self,
        principal: &Principal,
        question: &str,
        thread: &ThreadMemory,
        pieces: &AnswerPieces,
    ) -> Result<Drafted> {
        let (region, settings) = self.stored_settings(principal.workspace).await?;
        let mut host = self.host(principal).await?;
        let Some(connected) = self.connect(principal, region.as_deref(), &settings)? else {
            let offline = self
                .answer_offline(principal, &host, question, &thread.context)
                .await?;
            send_in_pieces(pieces, &offline.text);
            return Ok(Drafted {
                answer: offline.text,
                cited: offline.citations,
                sql: None,
                offline_sql: offline.sql,
                context: Some(offline.context),
                provider: "builtin",
            });
        };
        let options = self.agent_options(principal, &settings).await?;
        host.egress = Some(connected.egress);
        let send = |piece: &str| {
            // A receiver gone away (the asker left) stops nothing: the answer is still saved.
            let _ = pieces.send(piece.to_string());
        };
        let outcome = cairn_assistant::run_streaming(
            &connected.provider,
            &host,
            question,
            &thread.turns,
            &options,
            &send,
        )
        .await
        .map_err(|error| CatalogError::Refused {
            refusal: Refusal::ProviderFailed,
            message: error.to_string(),
        })?;
        Ok(Drafted {
            answer: outcome.answer,
            cited: outcome.citations,
            sql: outcome.sql,
            offline_sql: None,
            context: None,
            provider: "openai",
        })
    }

    /// The cited resources the caller may see: every citation is re-checked against the
    /// caller's access before it is returned.
    async fn visible_citations(
        &self,
        principal: &Principal,
        cited: &[ResourceId],
    ) -> Result<Vec<CitationView>> {
        Ok(self
            .store()
            .resources_by_ids(principal.workspace, cited)
            .await?
            .into_iter()
            .filter(|resource| principal.can_see(resource.workspace, &resource.teams))
            .map(|resource| CitationView {
                id: resource.id.0,
                kind: resource.kind,
                name: resource.name,
                path: resource.path,
            })
            .collect())
    }
}

/// Where the pieces of an answer's text go as they are written. The receiving end may go away
/// at any time; the answer is saved all the same.
pub type AnswerPieces = tokio::sync::mpsc::UnboundedSender<String>;

/// A thread as a question continues it.
struct ThreadMemory {
    id: i64,
    /// What the built-in assistant remembers of the thread's last answer.
    context: ThreadContext,
    /// The thread's questions and answers, oldest first, as a model is told them.
    turns: Vec<Turn>,
}

/// An answer before its statement runs and it is saved.
struct Drafted {
    answer: String,
    cited: Vec<ResourceId>,
    /// A statement a model settled on, to run for the caller.
    sql: Option<(IntegrationId, String)>,
    /// The built-in assistant's statement, already run for the caller.
    offline_sql: Option<SqlAnswer>,
    context: Option<ThreadContext>,
    /// `builtin` or `openai`.
    provider: &'static str,
}

/// Sends an answer found whole in pieces of a few words, as a streamed one arrives.
fn send_in_pieces(pieces: &AnswerPieces, text: &str) {
    let words: Vec<&str> = text.split_inclusive(' ').collect();
    for piece in words.chunks(8) {
        if pieces.send(piece.concat()).is_err() {
            return;
        }
    }
}

/// A question trimmed, neither empty nor too long.
fn checked_question(text: &str) -> Result<String> {
    let question = text.trim().to_string();
    if question.is_empty() {
        return Err(CatalogError::invalid("question", "must not be empty"));
    }
    if question.chars().count() > QUESTION_MAX_CHARS {
        return Err(CatalogError::invalid(
            "question",
            format!("must be at most {QUESTION_MAX_CHARS} characters"),
        ));
    }
    Ok(question)
}

/// What the assistant would send first for a question, sent nowhere.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EgressPreview {
    /// `builtin` (nothing leaves the server) or `openai`.
    pub provider: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// The request body exactly as it would be sent; absent when nothing would be.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body_sha256: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes: Option<u64>,
}

/// A question to preview.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PreviewInput {
    pub question: String,
}

impl Catalog {
    /// The exact first request the assistant would send to the workspace's provider for the
    /// caller and this question (a new conversation): built by the same gate, sent nowhere,
    /// not written to the ledger. Any member, for their own question.
    pub async fn preview_egress(
        &self,
        principal: &Principal,
        input: PreviewInput,
    ) -> Result<EgressPreview> {
        let question = checked_question(&input.question)?;
        let (region, settings) = self.stored_settings(principal.workspace).await?;
        let preview = match self.connect(principal, region.as_deref(), &settings)? {
            None => EgressPreview {
                provider: "builtin".into(),
                model: None,
                region: None,
                body: None,
                body_sha256: None,
                bytes: None,
            },
            Some(Connected { provider, egress }) => {
                let options = self.agent_options(principal, &settings).await?;
                let host = self.host(principal).await?;
                let request =
                    cairn_assistant::first_request(&provider, &host, &question, &[], &options)
                        .await
                        .map_err(|error| CatalogError::Refused {
                            refusal: Refusal::ProviderFailed,
                            message: error.to_string(),
                        })?;
                EgressPreview {
                    provider: "openai".into(),
                    model: Some(request.model().to_string()),
                    region: egress.region,
                    body: Some(String::from_utf8_lossy(request.body_bytes()).into_owned()),
                    body_sha256: Some(request.sha256_hex().to_string()),
                    bytes: Some(request.byte_len() as u64),
                }
            }
        };
        self.audit(
            principal.workspace,
            Some(principal.user),
            "ai.previewed",
            json!({"provider": preview.provider, "body_sha256": preview.body_sha256}),
        )
        .await?;
        Ok(preview)
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
struct DescribeHost<'a> {
    item: MetadataItem,
    catalog: &'a Catalog,
    principal: &'a Principal,
    egress: EgressTarget,
}

impl ToolHost for DescribeHost<'_> {
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

    async fn record_egress(
        &self,
        request: &cairn_assistant::ModelRequest,
    ) -> std::result::Result<(), String> {
        self.catalog
            .record_egress(self.principal, Some(&self.egress), request)
            .await
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
    /// Drafts a description of a resource the caller may edit, from its metadata only. Like
    /// [`Catalog::ask`], it runs to the end on its own task whatever the caller does.
    pub async fn describe(
        &self,
        principal: &Principal,
        id: ResourceId,
    ) -> Result<DescriptionDraft> {
        let detail = |draft: &DescriptionDraft| json!({"resource": draft.resource_id, "provider": draft.provider});
        let work = move |catalog: Catalog, principal: Principal| async move {
            catalog.describe_to_the_end(&principal, id).await
        };
        self.to_the_end(principal, "draft", ("ai.described", detail), work)
            .await
    }

    async fn describe_to_the_end(
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
        let Some(Connected { provider, egress }) =
            self.connect(principal, region.as_deref(), &settings)?
        else {
            return Ok(DescriptionDraft {
                resource_id: id.0,
                description: drafted_offline(&item),
                provider: "builtin".into(),
            });
        };
        let options = AgentOptions {
            max_model_calls: 1,
            ..self.agent_options(principal, &settings).await?
        };
        let question = format!(
            "Draft a short description (two or three sentences) of the {} {} for a data catalog, from its metadata only.",
            item.kind.as_str(),
            item.path
        );
        let host = DescribeHost {
            item,
            catalog: self,
            principal,
            egress,
        };
        let outcome = cairn_assistant::run(&provider, &host, &question, &[], &options).await;
        let outcome = outcome.map_err(|error| CatalogError::Refused {
            refusal: Refusal::ProviderFailed,
            message: error.to_string(),
        })?;
        Ok(DescriptionDraft {
            resource_id: id.0,
            description: outcome.answer,
            provider: "openai".into(),
        })
    }
}
