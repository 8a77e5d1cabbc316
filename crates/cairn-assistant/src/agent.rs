//! The agent loop: retrieve, ask the model, run the tools it asks for, answer with citations.
//!
//! The loop is bounded (at most [`AgentOptions::max_model_calls`] requests) and every tool call
//! from the model is validated strictly before the host sees it. Every request goes through the
//! gate's [`Conversation`], and every request sent is returned for the egress ledger.

use std::future::Future;

use cairn_domain::{IntegrationId, ResourceId};
use serde_json::{Map, Value};

use crate::gate::{
    Conversation, GateError, GateLimits, GateSettings, MetadataItem, ModelRequest, ToolCallError,
    ToolOutput, ToolSet, Turn,
};
use crate::provider::{EgressLedger, ModelReply, Provider, ProviderError, ToolCall, ignore_pieces};

/// What the agent may do inside the workspace, for the asking user. The host applies the user's
/// access to everything it returns.
pub trait ToolHost {
    fn search(&self, query: &str, limit: usize) -> impl Future<Output = Vec<MetadataItem>> + Send;

    fn read(&self, id: ResourceId) -> impl Future<Output = Option<MetadataItem>> + Send;

    /// Checks a statement for the user without running it: the guard, then the database's own
    /// parse and plan (prepare, nothing executed). Returns [`ToolOutput::Shape`] (the columns),
    /// [`ToolOutput::Refused`], [`ToolOutput::Invalid`] or [`ToolOutput::Unchecked`]: nothing
    /// that depends on rows. The last accepted statement runs for the user after the loop.
    fn run_sql(
        &self,
        integration: IntegrationId,
        sql: &str,
    ) -> impl Future<Output = ToolOutput> + Send;

    /// Integrations the user may run SQL on; empty means the `run_sql` tool is not offered.
    fn sql_integrations(&self) -> Vec<IntegrationId>;

    /// Writes a request to the workspace's egress ledger; called before each attempt to send
    /// it. An error stops the send.
    fn record_egress(
        &self,
        request: &ModelRequest,
    ) -> impl Future<Output = Result<(), String>> + Send;

    /// The join path between two tables the user may see, as text from metadata; `None` when
    /// either is not visible.
    fn join_path(
        &self,
        _from: ResourceId,
        _to: ResourceId,
    ) -> impl Future<Output = Option<String>> + Send {
        async { None }
    }

    /// What a table reads from and what reads it, from metadata.
    fn lineage(&self, _table: ResourceId) -> impl Future<Output = Option<String>> + Send {
        async { None }
    }

    /// A table's columns and references, from metadata.
    fn table_columns(&self, _table: ResourceId) -> impl Future<Output = Option<String>> + Send {
        async { None }
    }
}

/// The host as the provider's ledger.
struct HostLedger<'a, H>(&'a H);

impl<H: ToolHost + Sync> EgressLedger for HostLedger<'_, H> {
    fn record(&self, request: &ModelRequest) -> impl Future<Output = Result<(), String>> + Send {
        self.0.record_egress(request)
    }
}

/// Settings of one run of the loop.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentOptions {
    pub pseudonymize: bool,
    /// People to pseudonymise from the first request on (the workspace's members and owners).
    pub known_people: Vec<String>,
    /// Forms of people the asker may see: the only ones an answer gives back (besides owners
    /// of resources shown and the asker's own words).
    pub restorable_people: Vec<String>,
    /// Requests sent to the model at most; the last one offers no tools.
    pub max_model_calls: usize,
    /// Items retrieved for the question before the first request.
    pub retrieval_limit: usize,
    /// Items a `search_catalog` call returns.
    pub search_limit: usize,
    /// Tool calls run per model reply; further ones get an error output.
    pub max_tool_calls_per_reply: usize,
    /// `run_sql` calls per question; further ones get a fixed error output.
    pub max_sql_calls: usize,
    pub limits: GateLimits,
}

impl Default for AgentOptions {
    fn default() -> AgentOptions {
        AgentOptions {
            pseudonymize: false,
            known_people: Vec::new(),
            restorable_people: Vec::new(),
            max_model_calls: 6,
            retrieval_limit: 8,
            search_limit: 10,
            max_tool_calls_per_reply: 8,
            max_sql_calls: 3,
            limits: GateLimits::default(),
        }
    }
}

/// The loop's answer.
#[derive(Debug, Clone)]
pub struct AgentOutcome {
    /// The model's answer, people's names and addresses restored.
    pub answer: String,
    /// Ids the host returned to this loop, in order, without repeats. The caller re-checks access.
    pub citations: Vec<ResourceId>,
    /// Every request sent, for the egress ledger.
    pub requests: Vec<ModelRequest>,
    /// The last statement the host accepted, for the caller to run and show its rows.
    pub sql: Option<(IntegrationId, String)>,
    /// The model name the provider reported.
    pub model: String,
}

/// Why the loop gave no answer.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AgentErrorKind {
    #[error(transparent)]
    Provider(#[from] ProviderError),
    #[error(transparent)]
    Gate(#[from] GateError),
    #[error("the model did not answer within {0} requests")]
    StepLimit(usize),
    #[error("the model gave an empty answer")]
    EmptyAnswer,
}

/// A failed run, with the requests that were sent before it failed (they belong in the ledger).
#[derive(Debug, thiserror::Error)]
#[error("{kind}")]
pub struct AgentError {
    pub kind: AgentErrorKind,
    pub requests: Vec<ModelRequest>,
}

/// A validated tool call.
#[derive(Debug, Clone, PartialEq, Eq)]
enum ToolRequest {
    Search {
        query: String,
    },
    Read {
        id: ResourceId,
    },
    RunSql {
        integration: IntegrationId,
        sql: String,
    },
    JoinPath {
        from: ResourceId,
        to: ResourceId,
    },
    Lineage {
        id: ResourceId,
    },
    TableColumns {
        id: ResourceId,
    },
}

const MAX_QUERY_CHARS: usize = 500;
const MAX_SQL_CHARS: usize = 20_000;

/// Checks a tool call from the model against the offered tools, strictly.
fn validate(call: &ToolCall, tools: &ToolSet) -> Result<ToolRequest, ToolCallError> {
    let arguments = Arguments::parse(&call.arguments)?;
    match call.name.as_str() {
        "search_catalog" => {
            arguments.only(&["query"])?;
            let query = arguments.text("query", MAX_QUERY_CHARS)?;
            Ok(ToolRequest::Search { query })
        }
        "read_resource" => {
            arguments.only(&["id"])?;
            let id = ResourceId(arguments.integer("id")?);
            Ok(ToolRequest::Read { id })
        }
        "run_sql" if !tools.sql_integrations().is_empty() => {
            arguments.only(&["integration_id", "sql"])?;
            let integration = IntegrationId(arguments.integer("integration_id")?);
            let sql = arguments.text("sql", MAX_SQL_CHARS)?;
            if !tools.sql_integrations().contains(&integration) {
                return Err(ToolCallError::IntegrationNotAllowed(integration));
            }
            Ok(ToolRequest::RunSql { integration, sql })
        }
        "join_path" => {
            arguments.only(&["from_id", "to_id"])?;
            Ok(ToolRequest::JoinPath {
                from: ResourceId(arguments.integer("from_id")?),
                to: ResourceId(arguments.integer("to_id")?),
            })
        }
        "lineage" | "table_columns" => {
            arguments.only(&["id"])?;
            let id = ResourceId(arguments.integer("id")?);
            Ok(if call.name == "lineage" {
                ToolRequest::Lineage { id }
            } else {
                ToolRequest::TableColumns { id }
            })
        }
        other => Err(ToolCallError::UnknownTool(other.to_string())),
    }
}

/// A tool call's arguments: a JSON object, read field by field.
struct Arguments(Map<String, Value>);

impl Arguments {
    /// Empty arguments are an empty object.
    fn parse(text: &str) -> Result<Arguments, ToolCallError> {
        let arguments = if text.trim().is_empty() {
            Value::Object(Map::new())
        } else {
            serde_json::from_str::<Value>(text)
                .map_err(|_| invalid("arguments are not valid json"))?
        };
        match arguments {
            Value::Object(arguments) => Ok(Arguments(arguments)),
            _ => Err(invalid("arguments must be a json object")),
        }
    }

    /// No field but these.
    fn only(&self, allowed: &[&str]) -> Result<(), ToolCallError> {
        match self.0.keys().find(|key| !allowed.contains(&key.as_str())) {
            Some(key) => Err(invalid(&format!("unexpected field `{key}`"))),
            None => Ok(()),
        }
    }

    /// A non-empty string, trimmed, of at most `max_chars` characters.
    fn text(&self, field: &str, max_chars: usize) -> Result<String, ToolCallError> {
        let text = self
            .0
            .get(field)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|text| !text.is_empty())
            .ok_or_else(|| invalid(&format!("`{field}` must be a non-empty string")))?;
        if text.chars().count() > max_chars {
            return Err(invalid(&format!("`{field}` is too long")));
        }
        Ok(text.to_string())
    }

    fn integer(&self, field: &str) -> Result<i64, ToolCallError> {
        self.0
            .get(field)
            .and_then(integer)
            .ok_or_else(|| invalid(&format!("`{field}` must be an integer")))
    }
}

fn invalid(why: &str) -> ToolCallError {
    ToolCallError::InvalidArguments(why.to_string())
}

/// An integer, or a string of digits (some models quote numbers).
fn integer(value: &Value) -> Option<i64> {
    match value {
        Value::Number(number) => number.as_i64(),
        Value::String(text) => text.trim().parse().ok(),
        _ => None,
    }
}

fn cite(citations: &mut Vec<ResourceId>, items: &[MetadataItem]) {
    for item in items {
        if !citations.contains(&item.id) {
            citations.push(item.id);
        }
    }
}

fn relation_output(
    conversation: &mut Conversation,
    call_id: &str,
    id: ResourceId,
    text: Option<String>,
) {
    match text {
        Some(text) => conversation.push_tool_output(call_id, &ToolOutput::Relations(text)),
        None => conversation.push_tool_error(call_id, &ToolCallError::NotFound(id)),
    }
}

/// Retrieves what the question needs and starts its conversation; returns it with the
/// resources retrieved, cited.
async fn start_conversation<P, H>(
    provider: &P,
    host: &H,
    question: &str,
    history: &[Turn],
    options: &AgentOptions,
) -> (Conversation, Vec<ResourceId>)
where
    P: Provider + Sync,
    H: ToolHost + Sync,
{
    let retrieved = host.search(question, options.retrieval_limit).await;
    let mut citations = Vec::new();
    cite(&mut citations, &retrieved);
    let tools = ToolSet::new(host.sql_integrations());
    let settings = GateSettings {
        model: provider.model().to_string(),
        stream: provider.streams(),
        pseudonymize: options.pseudonymize,
        known_people: options.known_people.clone(),
        restorable_people: options.restorable_people.clone(),
        limits: options.limits.clone(),
    };
    let conversation = Conversation::start(settings, tools, history, question, &retrieved);
    (conversation, citations)
}

/// The first request [`run`] would send for this question, built the same way and sent
/// nowhere: what a reviewer inspects before a provider is switched on.
pub async fn first_request<P, H>(
    provider: &P,
    host: &H,
    question: &str,
    history: &[Turn],
    options: &AgentOptions,
) -> Result<ModelRequest, AgentError>
where
    P: Provider + Sync,
    H: ToolHost + Sync,
{
    let (mut conversation, _) =
        start_conversation(provider, host, question, history, options).await;
    let offer_tools = options.max_model_calls.max(1) > 1;
    conversation
        .request(offer_tools)
        .map_err(|error| AgentError {
            kind: error.into(),
            requests: Vec::new(),
        })
}

/// Runs the loop for one question.
pub async fn run<P, H>(
    provider: &P,
    host: &H,
    question: &str,
    history: &[Turn],
    options: &AgentOptions,
) -> Result<AgentOutcome, AgentError>
where
    P: Provider + Sync,
    H: ToolHost + Sync,
{
    run_streaming(provider, host, question, history, options, &ignore_pieces).await
}

/// Runs the loop for one question, handing the text of the model's replies to `pieces` as it
/// streams in, people put back as in the answer. Text a model writes beside a tool call is
/// handed on too; the outcome's answer is the answer.
pub async fn run_streaming<P, H>(
    provider: &P,
    host: &H,
    question: &str,
    history: &[Turn],
    options: &AgentOptions,
    pieces: &(dyn Fn(&str) + Sync),
) -> Result<AgentOutcome, AgentError>
where
    P: Provider + Sync,
    H: ToolHost + Sync,
{
    let started = start_conversation(provider, host, question, history, options).await;
    let mut requests = Vec::new();
    match run_inner(provider, host, started, options, pieces, &mut requests).await {
        Ok(mut outcome) => {
            outcome.requests = requests;
            Ok(outcome)
        }
        Err(kind) => Err(AgentError { kind, requests }),
    }
}

/// What the loop gathers across the model's replies.
struct Gathered {
    /// Resources the host returned, in order, without repeats.
    citations: Vec<ResourceId>,
    /// The last statement the host accepted.
    sql: Option<(IntegrationId, String)>,
    /// `run_sql` calls made.
    sql_calls: usize,
}

/// The loop over a started conversation and the resources it cites so far.
async fn run_inner<P, H>(
    provider: &P,
    host: &H,
    (mut conversation, citations): (Conversation, Vec<ResourceId>),
    options: &AgentOptions,
    pieces: &(dyn Fn(&str) + Sync),
    requests: &mut Vec<ModelRequest>,
) -> Result<AgentOutcome, AgentErrorKind>
where
    P: Provider + Sync,
    H: ToolHost + Sync,
{
    let mut gathered = Gathered {
        citations,
        sql: None,
        sql_calls: 0,
    };
    let max_calls = options.max_model_calls.max(1);

    for call_number in 1..=max_calls {
        let offer_tools = call_number < max_calls;
        let request = conversation.request(offer_tools)?;
        tracing::debug!(
            call_number,
            bytes = request.byte_len(),
            sha256 = request.sha256_hex(),
            "sending model request"
        );
        requests.push(request);
        let streamed = StreamedText::new(&conversation, pieces);
        let reply = provider
            .complete_streaming(&requests[requests.len() - 1], &HostLedger(host), &|piece| {
                streamed.push(piece)
            })
            .await;
        streamed.finish();
        let reply = reply?;

        // On the last request no tools are offered: take its text even if it asked for some.
        if reply.tool_calls.is_empty() || !offer_tools {
            return final_answer(&conversation, reply, gathered, max_calls);
        }

        conversation.push_tool_calls(reply.content.as_deref(), &reply.tool_calls);
        for (position, call) in reply.tool_calls.iter().enumerate() {
            if position >= options.max_tool_calls_per_reply {
                conversation.push_tool_error(&call.id, &ToolCallError::TooManyCalls);
                continue;
            }
            match validate(call, conversation.tools()) {
                Ok(request) => {
                    run_tool(
                        host,
                        &mut conversation,
                        &call.id,
                        request,
                        options,
                        &mut gathered,
                    )
                    .await;
                }
                Err(error) => {
                    tracing::info!(tool = %call.name, error = ?error, "tool call refused");
                    conversation.push_tool_error(&call.id, &error);
                }
            }
        }
    }
    Err(AgentErrorKind::StepLimit(max_calls))
}

/// The model's text as the answer, people restored; an empty text is no answer.
fn final_answer(
    conversation: &Conversation,
    reply: ModelReply,
    gathered: Gathered,
    max_calls: usize,
) -> Result<AgentOutcome, AgentErrorKind> {
    let text = reply.content.unwrap_or_default();
    if text.trim().is_empty() {
        return Err(if reply.tool_calls.is_empty() {
            AgentErrorKind::EmptyAnswer
        } else {
            AgentErrorKind::StepLimit(max_calls)
        });
    }
    Ok(AgentOutcome {
        answer: conversation.restore(&text),
        citations: gathered.citations,
        requests: Vec::new(),
        sql: gathered.sql,
        model: reply.model,
    })
}

/// Runs one validated tool call on the host and puts its output (or why it was not run) into
/// the conversation.
async fn run_tool<H>(
    host: &H,
    conversation: &mut Conversation,
    call_id: &str,
    request: ToolRequest,
    options: &AgentOptions,
    gathered: &mut Gathered,
) where
    H: ToolHost + Sync,
{
    match request {
        ToolRequest::Search { query } => {
            let query = conversation.restore(&query);
            let items = host.search(&query, options.search_limit).await;
            cite(&mut gathered.citations, &items);
            conversation.push_tool_output(call_id, &ToolOutput::Metadata(items));
        }
        ToolRequest::Read { id } => match host.read(id).await {
            Some(item) => {
                let items = vec![item];
                cite(&mut gathered.citations, &items);
                conversation.push_tool_output(call_id, &ToolOutput::Metadata(items));
            }
            None => conversation.push_tool_error(call_id, &ToolCallError::NotFound(id)),
        },
        ToolRequest::JoinPath { from, to } => {
            let text = host.join_path(from, to).await;
            relation_output(conversation, call_id, from, text);
        }
        ToolRequest::Lineage { id } => {
            relation_output(conversation, call_id, id, host.lineage(id).await);
        }
        ToolRequest::TableColumns { id } => {
            relation_output(conversation, call_id, id, host.table_columns(id).await);
        }
        ToolRequest::RunSql { integration, sql } => {
            if gathered.sql_calls >= options.max_sql_calls {
                let error = ToolCallError::TooManyStatements(options.max_sql_calls);
                conversation.push_tool_error(call_id, &error);
                return;
            }
            gathered.sql_calls += 1;
            let sql = conversation.restore(&sql);
            let output = host.run_sql(integration, &sql).await;
            if matches!(output, ToolOutput::Shape(_)) {
                gathered.sql = Some((integration, sql));
            }
            if let ToolOutput::Metadata(items) = &output {
                cite(&mut gathered.citations, items);
            }
            conversation.push_tool_output(call_id, &output);
        }
    }
}

/// A reply's text handed on as it streams in, with placeholders put back. It is cut only
/// after whitespace, which no placeholder holds, so the pieces restored one by one read as the
/// whole text restored at once.
struct StreamedText<'a> {
    conversation: &'a Conversation,
    pieces: &'a (dyn Fn(&str) + Sync),
    /// Text since the last whitespace, held back.
    pending: std::sync::Mutex<String>,
}

impl<'a> StreamedText<'a> {
    fn new(conversation: &'a Conversation, pieces: &'a (dyn Fn(&str) + Sync)) -> Self {
        StreamedText {
            conversation,
            pieces,
            pending: std::sync::Mutex::new(String::new()),
        }
    }

    fn push(&self, piece: &str) {
        let mut pending = self
            .pending
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        pending.push_str(piece);
        if let Some((at, space)) = pending.char_indices().rfind(|(_, c)| c.is_whitespace()) {
            let ready: String = pending.drain(..at + space.len_utf8()).collect();
            (self.pieces)(&self.conversation.restore(&ready));
        }
    }

    /// Hands on what is held back.
    fn finish(self) {
        let rest = self
            .pending
            .into_inner()
            .unwrap_or_else(|poison| poison.into_inner());
        if !rest.is_empty() {
            (self.pieces)(&self.conversation.restore(&rest));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streamed_pieces_read_as_the_whole_answer_restored() {
        let ada = "Ada Admin <ada@shop.example>".to_string();
        let settings = crate::gate::GateSettings {
            model: "m".into(),
            stream: true,
            pseudonymize: true,
            known_people: vec![ada.clone()],
            restorable_people: vec![ada],
            limits: crate::gate::GateLimits::default(),
        };
        let question = "What does ada@shop.example own?";
        let mut conversation =
            Conversation::start(settings, ToolSet::new(Vec::new()), &[], question, &[]);
        let request = conversation.request(false).unwrap();
        let body = String::from_utf8_lossy(request.body_bytes()).into_owned();
        let at = body.find("person_").expect("a placeholder in the request");
        let placeholder = &body[at..at + "person_".len() + 10];
        let text = format!("Ask {placeholder} first, then\n{placeholder}: they own it.");
        let whole = conversation.restore(&text);
        assert!(!whole.contains("person_"), "{whole}");
        // Cut anywhere, even inside a placeholder: the pieces read as the whole, restored.
        for cut in (1..text.len()).filter(|cut| text.is_char_boundary(*cut)) {
            let pieces = std::sync::Mutex::new(Vec::<String>::new());
            let sink = |piece: &str| pieces.lock().unwrap().push(piece.to_string());
            let streamed = StreamedText::new(&conversation, &sink);
            streamed.push(&text[..cut]);
            streamed.push(&text[cut..]);
            streamed.finish();
            let pieces = pieces.into_inner().unwrap();
            assert_eq!(pieces.concat(), whole, "cut at {cut}: {pieces:?}");
            assert!(
                pieces.iter().all(|piece| !piece.contains("person_")),
                "{pieces:?}"
            );
        }
    }

    fn call(name: &str, arguments: &str) -> ToolCall {
        ToolCall {
            id: "c".into(),
            name: name.into(),
            arguments: arguments.into(),
        }
    }

    #[test]
    fn validates_tool_calls_strictly() {
        let with_sql = ToolSet::new(vec![IntegrationId(3)]);
        let without_sql = ToolSet::new(vec![]);
        assert_eq!(
            validate(
                &call("search_catalog", r#"{"query":" refunds "}"#),
                &with_sql
            ),
            Ok(ToolRequest::Search {
                query: "refunds".into()
            })
        );
        assert_eq!(
            validate(&call("read_resource", r#"{"id":"12"}"#), &with_sql),
            Ok(ToolRequest::Read { id: ResourceId(12) })
        );
        assert_eq!(
            validate(
                &call("run_sql", r#"{"integration_id":3,"sql":"select 1"}"#),
                &with_sql
            ),
            Ok(ToolRequest::RunSql {
                integration: IntegrationId(3),
                sql: "select 1".into()
            })
        );
        assert_eq!(
            validate(
                &call("join_path", r#"{"from_id":1,"to_id":"2"}"#),
                &without_sql
            ),
            Ok(ToolRequest::JoinPath {
                from: ResourceId(1),
                to: ResourceId(2)
            })
        );
        assert_eq!(
            validate(&call("table_columns", r#"{"id":4}"#), &without_sql),
            Ok(ToolRequest::TableColumns { id: ResourceId(4) })
        );
        let refused = [
            (call("join_path", r#"{"from_id":1}"#), &with_sql),
            (call("lineage", r#"{"id":1,"sql":"x"}"#), &with_sql),
            (call("drop_table", "{}"), &with_sql),
            (
                call("run_sql", r#"{"integration_id":3,"sql":"x"}"#),
                &without_sql,
            ),
            (
                call("run_sql", r#"{"integration_id":4,"sql":"x"}"#),
                &with_sql,
            ),
            (call("run_sql", r#"{"integration_id":3}"#), &with_sql),
            (
                call("run_sql", r#"{"integration_id":true,"sql":"x"}"#),
                &with_sql,
            ),
            (call("search_catalog", r#"{"query":5}"#), &with_sql),
            (
                call("search_catalog", r#"{"query":"x","extra":1}"#),
                &with_sql,
            ),
            (call("search_catalog", r#"["query"]"#), &with_sql),
            (call("search_catalog", "{not json"), &with_sql),
            (call("read_resource", r#"{"id":{"a":1}}"#), &with_sql),
            (call("read_resource", r#"{"id":1.5}"#), &with_sql),
        ];
        for (tool_call, tools) in refused {
            assert!(validate(&tool_call, tools).is_err(), "{tool_call:?}");
        }
    }
}
