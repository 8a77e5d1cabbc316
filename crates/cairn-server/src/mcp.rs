//! The Model Context Protocol server at `POST /mcp`: JSON-RPC 2.0 over the streamable-HTTP
//! transport, answering every request with one `application/json` body (no server-sent stream,
//! no session). Callers authenticate with their own API token in `Authorization: Bearer`, checked
//! on every request, so a revoked token stops working at once. Every tool goes through the same
//! catalog services and principal as the HTTP API, and every tool call is audited.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use cairn_catalog::{
    CatalogError, ColumnView, McpPolicy, Principal, QueryResult, ResourceId, ResourceQuery,
    ResourceView, SqlInput,
};
use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::AppState;

/// Protocol versions this server speaks, newest first.
const VERSIONS: &[&str] = &["2025-06-18", "2025-03-26", "2024-11-05"];
const MAX_BODY_BYTES: usize = 256 * 1024;
/// The default and bounds of a tool answer's size, in bytes of JSON.
const DEFAULT_BUDGET: usize = 24_000;
const MIN_BUDGET: usize = 2_000;
const MAX_BUDGET: usize = 200_000;
/// The longest text (descriptions, definitions) shown in full inside a listing.
const TEXT_PREVIEW_CHARS: usize = 400;
const RESOURCE_URI: &str = "cairn://resources/";

// JSON-RPC error codes.
const PARSE_ERROR: i64 = -32700;
const INVALID_REQUEST: i64 = -32600;
const METHOD_NOT_FOUND: i64 = -32601;
const INVALID_PARAMS: i64 = -32602;
const INTERNAL_ERROR: i64 = -32603;
/// MCP's code for a resource URI that names nothing the caller may read.
const RESOURCE_NOT_FOUND: i64 = -32002;

pub(crate) fn router(state: AppState) -> Router {
    Router::new()
        .route(
            "/mcp",
            post(handle)
                .get(no_stream)
                .delete(no_stream)
                .layer(DefaultBodyLimit::max(MAX_BODY_BYTES)),
        )
        .with_state(state)
}

/// A JSON-RPC failure.
struct RpcError {
    code: i64,
    message: String,
}

impl RpcError {
    fn new(code: i64, message: impl Into<String>) -> RpcError {
        RpcError {
            code,
            message: message.into(),
        }
    }

    fn params(message: impl Into<String>) -> RpcError {
        RpcError::new(INVALID_PARAMS, message)
    }
}

fn rpc_error(id: Value, error: RpcError) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "error": {"code": error.code, "message": error.message}})
}

fn http_error(status: StatusCode, code: i64, message: &str) -> Response {
    let mut response = (
        status,
        axum::Json(rpc_error(Value::Null, RpcError::new(code, message))),
    )
        .into_response();
    if status == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"cairn\""),
        );
    }
    response
}

/// No server-initiated stream and no session to end: the spec's answer is 405.
async fn no_stream() -> Response {
    let mut response = http_error(
        StatusCode::METHOD_NOT_ALLOWED,
        INVALID_REQUEST,
        "this MCP server answers POST requests only",
    );
    response
        .headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static("POST"));
    response
}

/// The bearer token: the only credential `/mcp` accepts (never a cookie, never the URL).
fn bearer(headers: &HeaderMap) -> Option<String> {
    let text = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = text.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then(|| token.to_string())
}

fn accepts_json(headers: &HeaderMap) -> bool {
    headers.get_all(header::ACCEPT).iter().all(|value| {
        value.to_str().is_ok_and(|text| {
            text.split(',').any(|part| {
                let media = part.split(';').next().unwrap_or_default().trim();
                matches!(media, "application/json" | "application/*" | "*/*")
            })
        })
    })
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|text| text.split(';').next())
        .is_some_and(|media| media.trim().eq_ignore_ascii_case("application/json"))
}

async fn handle(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    match answer(&state, &headers, &body).await {
        Ok(answer) => answer,
        Err(error) => http_error(error.status, error.code, &error.message),
    }
}

/// A request refused before any method ran, answered with an HTTP error status.
struct Refused {
    status: StatusCode,
    code: i64,
    message: String,
}

impl Refused {
    fn new(status: StatusCode, code: i64, message: impl Into<String>) -> Refused {
        Refused {
            status,
            code,
            message: message.into(),
        }
    }
}

/// The answer to one POST: every check in the order the transport asks for (credential,
/// headers, message), then the request itself.
async fn answer(state: &AppState, headers: &HeaderMap, body: &[u8]) -> Result<Response, Refused> {
    let principal = authenticate(state, headers).await?;
    check_headers(headers)?;
    let message = read_message(body)?;
    let request = match read_request(&message)? {
        Incoming::Request(request) => request,
        Incoming::NoAnswer => return Ok(StatusCode::ACCEPTED.into_response()),
        Incoming::Invalid(id, error) => {
            return Ok((StatusCode::OK, axum::Json(rpc_error(id, error))).into_response());
        }
    };
    let server = Server {
        state,
        principal: &principal,
    };
    let answer = match server.request(&request.method, &request.params).await {
        Ok(result) => json!({"jsonrpc": "2.0", "id": request.id, "result": result}),
        Err(error) => rpc_error(request.id, error),
    };
    Ok(axum::Json(answer).into_response())
}

/// The caller of the bearer token, checked on every request.
async fn authenticate(state: &AppState, headers: &HeaderMap) -> Result<Principal, Refused> {
    let Some(token) = bearer(headers) else {
        return Err(Refused::new(
            StatusCode::UNAUTHORIZED,
            INVALID_REQUEST,
            "send your Cairn API token as `Authorization: Bearer TOKEN`",
        ));
    };
    match state.catalog.authenticate_token(&token).await {
        Ok((principal, _)) => Ok(principal),
        Err(CatalogError::Unauthenticated | CatalogError::NotFound) => Err(Refused::new(
            StatusCode::UNAUTHORIZED,
            INVALID_REQUEST,
            "the token is unknown, expired or revoked",
        )),
        Err(error) => {
            tracing::warn!(%error, "authenticating an MCP request failed");
            Err(Refused::new(
                StatusCode::SERVICE_UNAVAILABLE,
                INTERNAL_ERROR,
                "the catalog is unavailable",
            ))
        }
    }
}

/// What the transport asks of the headers: JSON accepted, JSON sent, a protocol version this
/// server speaks (when one is named).
fn check_headers(headers: &HeaderMap) -> Result<(), Refused> {
    if !accepts_json(headers) {
        return Err(Refused::new(
            StatusCode::NOT_ACCEPTABLE,
            INVALID_REQUEST,
            "this server answers application/json; include it in Accept",
        ));
    }
    if !is_json(headers) {
        return Err(Refused::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            INVALID_REQUEST,
            "send one JSON-RPC message with Content-Type: application/json",
        ));
    }
    if let Some(version) = headers
        .get("mcp-protocol-version")
        .map(|value| value.to_str().unwrap_or_default())
        && !VERSIONS.contains(&version)
    {
        return Err(Refused::new(
            StatusCode::BAD_REQUEST,
            INVALID_REQUEST,
            format!(
                "unsupported MCP-Protocol-Version; this server speaks {}",
                VERSIONS.join(", ")
            ),
        ));
    }
    Ok(())
}

/// One JSON-RPC 2.0 message: a JSON object with `"jsonrpc": "2.0"` and, when it has an `id`, a
/// string or integer one.
fn read_message(body: &[u8]) -> Result<Map<String, Value>, Refused> {
    let message: Value = serde_json::from_slice(body).map_err(|error| {
        Refused::new(
            StatusCode::BAD_REQUEST,
            PARSE_ERROR,
            format!("the body is not JSON: {error}"),
        )
    })?;
    let Value::Object(message) = message else {
        return Err(Refused::new(
            StatusCode::BAD_REQUEST,
            INVALID_REQUEST,
            "send one JSON-RPC message (an object); batches are not supported",
        ));
    };
    let valid_id = match message.get("id") {
        None | Some(Value::String(_)) => true,
        Some(Value::Number(number)) => number.is_i64() || number.is_u64(),
        Some(_) => false,
    };
    if message.get("jsonrpc") != Some(&json!("2.0")) || !valid_id {
        return Err(Refused::new(
            StatusCode::BAD_REQUEST,
            INVALID_REQUEST,
            "not a JSON-RPC 2.0 message: `jsonrpc` must be \"2.0\" and `id` a string or integer",
        ));
    }
    Ok(message)
}

/// What a JSON-RPC message asks of this server.
enum Incoming {
    Request(RpcRequest),
    /// A notification, or the client's answer to a request: acknowledged with 202.
    NoAnswer,
    /// A request this server cannot read, answered with a JSON-RPC error.
    Invalid(Value, RpcError),
}

/// A request this server answers.
struct RpcRequest {
    id: Value,
    method: String,
    params: Map<String, Value>,
}

/// The request in a message; notifications and the client's own answers need none from this
/// server (202), and a malformed request is answered here.
fn read_request(message: &Map<String, Value>) -> Result<Incoming, Refused> {
    let id = message.get("id").cloned();
    let Some(method) = message.get("method") else {
        // A response or error from the client (to a request this server never sends).
        if id.is_some() && (message.contains_key("result") || message.contains_key("error")) {
            return Ok(Incoming::NoAnswer);
        }
        return Err(Refused::new(
            StatusCode::BAD_REQUEST,
            INVALID_REQUEST,
            "a JSON-RPC request needs a `method`",
        ));
    };
    let Some(method) = method.as_str() else {
        return Err(Refused::new(
            StatusCode::BAD_REQUEST,
            INVALID_REQUEST,
            "`method` must be a string",
        ));
    };
    let params = match message.get("params") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(params)) => params.clone(),
        Some(_) => {
            let error = RpcError::new(INVALID_REQUEST, "`params` must be an object");
            return Ok(match id {
                Some(id) => Incoming::Invalid(id, error),
                None => Incoming::NoAnswer,
            });
        }
    };
    let Some(id) = id else {
        // Notifications (`notifications/initialized`, cancellations …) need no answer.
        return Ok(Incoming::NoAnswer);
    };
    Ok(Incoming::Request(RpcRequest {
        id,
        method: method.to_string(),
        params,
    }))
}

struct Server<'a> {
    state: &'a AppState,
    principal: &'a Principal,
}

fn internal(error: CatalogError) -> RpcError {
    tracing::warn!(%error, "an MCP request failed");
    RpcError::new(INTERNAL_ERROR, "internal error")
}

impl Server<'_> {
    async fn request(&self, method: &str, params: &Map<String, Value>) -> Result<Value, RpcError> {
        match method {
            "initialize" => Ok(initialize(params)),
            "ping" => Ok(json!({})),
            "tools/list" => {
                let policy = self.policy().await?;
                let tools: Vec<Value> = tool_definitions(&policy)
                    .into_iter()
                    .filter(|tool| {
                        tool["name"]
                            .as_str()
                            .is_some_and(|name| policy.offers(name))
                    })
                    .collect();
                Ok(json!({"tools": tools}))
            }
            "tools/call" => self.call_tool(params).await,
            "resources/list" => self.list_resources(params).await,
            "resources/templates/list" => Ok(json!({"resourceTemplates": [{
                "uriTemplate": format!("{RESOURCE_URI}{{id}}"),
                "name": "resource card",
                "description": "A table, view, term or other catalog resource by id: its description, columns (first page), keys, relations, owners and tags.",
                "mimeType": "application/json",
            }]})),
            "resources/read" => self.read_resource_uri(params).await,
            "prompts/list" => Ok(json!({"prompts": []})),
            _ => Err(RpcError::new(
                METHOD_NOT_FOUND,
                format!("method {method:?} is not offered by this server"),
            )),
        }
    }

    async fn policy(&self) -> Result<McpPolicy, RpcError> {
        self.state
            .catalog
            .mcp_policy(self.principal)
            .await
            .map_err(internal)
    }

    async fn call_tool(&self, params: &Map<String, Value>) -> Result<Value, RpcError> {
        let Some(name) = params.get("name").and_then(Value::as_str) else {
            return Err(RpcError::params("tools/call needs the tool's `name`"));
        };
        let arguments = match params.get("arguments") {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(arguments)) => arguments.clone(),
            Some(_) => return Err(RpcError::params("`arguments` must be an object")),
        };
        let policy = self.policy().await?;
        let outcome = if policy.offers(name) {
            self.run_tool(name, &arguments, &policy).await
        } else {
            Err(RpcError::params(format!(
                "unknown tool {name:?}; tools/list names the tools you may call"
            )))
        };
        let summary = match &outcome {
            Ok(ToolOutcome::Done(_) | ToolOutcome::Text(_)) => "ok".to_string(),
            Ok(ToolOutcome::Failed(message)) => format!("failed: {message}"),
            Err(error) => format!("rejected: {}", error.message),
        };
        self.state
            .catalog
            .audit_mcp_call(self.principal, name, summarise(&arguments), &summary)
            .await
            .map_err(internal)?;
        match outcome? {
            ToolOutcome::Done(value) => {
                let text = serde_json::to_string(&value).unwrap_or_default();
                Ok(json!({
                    "content": [{"type": "text", "text": text}],
                    "structuredContent": value,
                    "isError": false,
                }))
            }
            ToolOutcome::Text(text) => Ok(json!({
                "content": [{"type": "text", "text": text}],
                "isError": false,
            })),
            ToolOutcome::Failed(message) => Ok(json!({
                "content": [{"type": "text", "text": message}],
                "isError": true,
            })),
        }
    }

    async fn run_tool(
        &self,
        name: &str,
        arguments: &Map<String, Value>,
        policy: &McpPolicy,
    ) -> Result<ToolOutcome, RpcError> {
        let args = Args(arguments);
        match name {
            "search" => self.search_tool(&args).await,
            "list_glossary" => self.glossary_tool(&args).await,
            "read_resource" => self.read_resource_tool(&args).await,
            "lineage" => self.lineage_tool(&args).await,
            "join_path" => self.join_path_tool(&args).await,
            "run_sql" => self.run_sql_tool(&args, policy).await,
            _ => Err(RpcError::params(format!("unknown tool {name:?}"))),
        }
    }

    async fn search_tool(&self, args: &Args<'_>) -> Result<ToolOutcome, RpcError> {
        args.only(&["query", "kind", "limit", "cursor", "max_bytes"])?;
        let query = args.text("query")?.ok_or_else(|| missing("query"))?;
        if query.trim().is_empty() {
            return Err(RpcError::params("`query` must not be empty"));
        }
        let page = args.page()?;
        let found = self.search(Some(query), args.text("kind")?, page).await;
        finish(found.map(ToolOutcome::Done))
    }

    async fn glossary_tool(&self, args: &Args<'_>) -> Result<ToolOutcome, RpcError> {
        args.only(&["query", "limit", "cursor", "max_bytes"])?;
        let page = args.page()?;
        let found = self
            .search(args.text("query")?, Some("term".to_string()), page)
            .await;
        finish(found.map(ToolOutcome::Done))
    }

    async fn read_resource_tool(&self, args: &Args<'_>) -> Result<ToolOutcome, RpcError> {
        args.only(&["id", "column_cursor", "max_bytes"])?;
        let id = args.resource_id("id")?;
        let offset = match args.text("column_cursor")? {
            None => 0,
            Some(text) => text.parse::<usize>().map_err(|_| {
                RpcError::params("`column_cursor` is not a cursor this server returned")
            })?,
        };
        let budget = args.budget()?;
        let resource = self.resource(id).await;
        finish(resource.map(|resource| ToolOutcome::Done(card(resource, offset, budget))))
    }

    async fn lineage_tool(&self, args: &Args<'_>) -> Result<ToolOutcome, RpcError> {
        args.only(&["id", "max_bytes"])?;
        let id = args.resource_id("id")?;
        let budget = args.budget()?;
        let text = self.state.catalog.lineage(self.principal, id).await;
        finish(text.map(|text| ToolOutcome::Text(fit_text(&text, budget))))
    }

    async fn join_path_tool(&self, args: &Args<'_>) -> Result<ToolOutcome, RpcError> {
        args.only(&["from_id", "to_id", "max_bytes"])?;
        let from = args.resource_id("from_id")?;
        let to = args.resource_id("to_id")?;
        let budget = args.budget()?;
        let text = self.state.catalog.join_path(self.principal, from, to).await;
        finish(text.map(|text| ToolOutcome::Text(fit_text(&text, budget))))
    }

    async fn run_sql_tool(
        &self,
        args: &Args<'_>,
        policy: &McpPolicy,
    ) -> Result<ToolOutcome, RpcError> {
        args.only(&["integration_id", "sql", "max_bytes"])?;
        let integration = args
            .id("integration_id")?
            .ok_or_else(|| missing("integration_id"))?;
        let sql = args.text("sql")?.ok_or_else(|| missing("sql"))?;
        let budget = args.budget()?;
        if !policy
            .sql_integrations
            .iter()
            .any(|(id, _)| *id == integration)
        {
            return Ok(ToolOutcome::Failed(format!(
                "you may not run SQL on integration {integration} through MCP; one of: {}",
                integration_list(policy)
            )));
        }
        let input = SqlInput {
            integration_id: integration,
            sql,
        };
        let result = self.state.catalog.run_sql(self.principal, input).await;
        finish(result.map(|result| ToolOutcome::Done(fit_rows(result, budget))))
    }

    /// One page of search hits (or glossary terms) that fits the budget: when the page asked
    /// for does not, a shorter page is read so its cursor continues right after it.
    async fn search(
        &self,
        q: Option<String>,
        kind: Option<String>,
        page: Page,
    ) -> Result<Value, CatalogError> {
        let query = |limit: usize| ResourceQuery {
            q: q.clone(),
            kind: kind.clone(),
            limit: Some(limit),
            cursor: page.cursor.clone(),
            ..ResourceQuery::default()
        };
        let limit = page.limit.unwrap_or(20);
        let catalog = &self.state.catalog;
        let mut found = catalog.list_resources(self.principal, query(limit)).await?;
        let mut items: Vec<Value> = found.items.iter().map(summary).collect();
        let fitting = fitting(&items, page.budget);
        if fitting < items.len() {
            found = catalog
                .list_resources(self.principal, query(fitting))
                .await?;
            items = found.items.iter().map(summary).collect();
        }
        Ok(json!({"items": items, "next_cursor": found.next_cursor}))
    }

    async fn resource(&self, id: ResourceId) -> Result<ResourceView, CatalogError> {
        self.state.catalog.get_resource(self.principal, id).await
    }

    async fn list_resources(&self, params: &Map<String, Value>) -> Result<Value, RpcError> {
        let cursor = match params.get("cursor") {
            None | Some(Value::Null) => None,
            Some(Value::String(cursor)) => Some(cursor.clone()),
            Some(_) => return Err(RpcError::params("`cursor` must be a string")),
        };
        let page = self
            .state
            .catalog
            .list_resources(
                self.principal,
                ResourceQuery {
                    kind: Some("table".to_string()),
                    limit: Some(100),
                    cursor,
                    ..ResourceQuery::default()
                },
            )
            .await
            .map_err(|error| match error {
                CatalogError::Invalid(error) => RpcError::params(error.message),
                other => internal(other),
            })?;
        let resources: Vec<Value> = page
            .items
            .iter()
            .map(|resource| {
                let mut entry = json!({
                    "uri": format!("{RESOURCE_URI}{}", resource.id),
                    "name": resource.path,
                    "title": resource.name,
                    "mimeType": "application/json",
                });
                if let Some(description) = &resource.description {
                    entry["description"] = json!(preview(description));
                }
                entry
            })
            .collect();
        let mut result = json!({"resources": resources});
        if let Some(cursor) = page.next_cursor {
            result["nextCursor"] = json!(cursor);
        }
        Ok(result)
    }

    async fn read_resource_uri(&self, params: &Map<String, Value>) -> Result<Value, RpcError> {
        let Some(uri) = params.get("uri").and_then(Value::as_str) else {
            return Err(RpcError::params("resources/read needs a `uri`"));
        };
        let not_found = || RpcError::new(RESOURCE_NOT_FOUND, format!("resource not found: {uri}"));
        let id = uri
            .strip_prefix(RESOURCE_URI)
            .and_then(|id| id.parse::<i64>().ok())
            .map(ResourceId)
            .ok_or_else(not_found)?;
        let resource = match self.resource(id).await {
            Ok(resource) => resource,
            Err(CatalogError::NotFound) => return Err(not_found()),
            Err(error) => return Err(internal(error)),
        };
        self.state
            .catalog
            .audit_mcp_call(self.principal, "resources/read", json!({"uri": uri}), "ok")
            .await
            .map_err(internal)?;
        let text = card(resource, 0, DEFAULT_BUDGET).to_string();
        Ok(json!({"contents": [{"uri": uri, "mimeType": "application/json", "text": text}]}))
    }
}

enum ToolOutcome {
    /// A JSON answer, also given as the call's structured content.
    Done(Value),
    /// A text answer (join paths, lineage: the words the assistant's tools use).
    Text(String),
    /// The tool ran and refused (not found, not allowed, the guard's verdict): the agent sees
    /// the message as the tool's result.
    Failed(String),
}

/// A tool's verdict from the catalog's: its refusals (not found, not allowed, the guard's) are
/// the tool's result; bad arguments and failures of the catalog itself are protocol errors.
fn finish(result: Result<ToolOutcome, CatalogError>) -> Result<ToolOutcome, RpcError> {
    match result {
        Ok(outcome) => Ok(outcome),
        Err(CatalogError::Invalid(error)) => Err(RpcError::params(format!(
            "`{}` {}",
            error.field, error.message
        ))),
        Err(
            error @ (CatalogError::Store(_)
            | CatalogError::Unavailable(_)
            | CatalogError::Search(_)
            | CatalogError::Internal(_)),
        ) => Err(internal(error)),
        Err(error) => Ok(ToolOutcome::Failed(error.to_string())),
    }
}

/// Where a page starts, how many items it may hold, and how many bytes of JSON.
struct Page {
    limit: Option<usize>,
    cursor: Option<String>,
    budget: usize,
}

fn missing(name: &str) -> RpcError {
    RpcError::params(format!("missing argument `{name}`"))
}

/// Typed access to a tool's arguments; anything else is the protocol's invalid-params error.
struct Args<'a>(&'a Map<String, Value>);

impl Args<'_> {
    fn only(&self, known: &[&str]) -> Result<(), RpcError> {
        match self.0.keys().find(|key| !known.contains(&key.as_str())) {
            Some(key) => Err(RpcError::params(format!(
                "unknown argument `{key}`; this tool takes {}",
                known.join(", ")
            ))),
            None => Ok(()),
        }
    }

    fn text(&self, name: &str) -> Result<Option<String>, RpcError> {
        match self.0.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(text)) => Ok(Some(text.clone())),
            Some(_) => Err(RpcError::params(format!("`{name}` must be a string"))),
        }
    }

    fn integer(&self, name: &str) -> Result<Option<i64>, RpcError> {
        match self.0.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(value) => value
                .as_i64()
                .map(Some)
                .ok_or_else(|| RpcError::params(format!("`{name}` must be an integer"))),
        }
    }

    fn id(&self, name: &str) -> Result<Option<i64>, RpcError> {
        match self.integer(name)? {
            Some(id) if id <= 0 => Err(RpcError::params(format!("`{name}` must be a positive id"))),
            other => Ok(other),
        }
    }

    /// A required resource id.
    fn resource_id(&self, name: &str) -> Result<ResourceId, RpcError> {
        let id = self.id(name)?.ok_or_else(|| missing(name))?;
        Ok(ResourceId(id))
    }

    /// Where a page starts, how many items it holds and how many bytes it may take: `cursor`,
    /// `limit` and `max_bytes`.
    fn page(&self) -> Result<Page, RpcError> {
        Ok(Page {
            limit: self.limit()?,
            cursor: self.text("cursor")?,
            budget: self.budget()?,
        })
    }

    /// The answer's size budget, `max_bytes`.
    fn budget(&self) -> Result<usize, RpcError> {
        match self.integer("max_bytes")? {
            None => Ok(DEFAULT_BUDGET),
            Some(bytes) => usize::try_from(bytes)
                .ok()
                .filter(|bytes| (MIN_BUDGET..=MAX_BUDGET).contains(bytes))
                .ok_or_else(|| {
                    RpcError::params(format!(
                        "`max_bytes` must be between {MIN_BUDGET} and {MAX_BUDGET}"
                    ))
                }),
        }
    }

    fn limit(&self) -> Result<Option<usize>, RpcError> {
        match self.integer("limit")? {
            None => Ok(None),
            Some(limit) => usize::try_from(limit)
                .ok()
                .filter(|limit| (1..=50).contains(limit))
                .map(Some)
                .ok_or_else(|| RpcError::params("`limit` must be between 1 and 50")),
        }
    }
}

/// The arguments as the audit log keeps them: long strings cut short.
fn summarise(arguments: &Map<String, Value>) -> Value {
    Value::Object(
        arguments
            .iter()
            .map(|(key, value)| {
                let value = match value {
                    Value::String(text) if text.chars().count() > 500 => {
                        json!(format!("{}…", text.chars().take(500).collect::<String>()))
                    }
                    Value::String(_) | Value::Number(_) | Value::Bool(_) | Value::Null => {
                        value.clone()
                    }
                    other => json!(preview(&other.to_string())),
                };
                (key.clone(), value)
            })
            .collect(),
    )
}

fn preview(text: &str) -> String {
    if text.chars().count() <= TEXT_PREVIEW_CHARS {
        text.to_string()
    } else {
        let cut: String = text.chars().take(TEXT_PREVIEW_CHARS).collect();
        format!("{cut}…")
    }
}

fn summary(resource: &ResourceView) -> Value {
    json!({
        "id": resource.id,
        "kind": resource.kind,
        "name": resource.name,
        "path": resource.path,
        "description": resource.description.as_deref().map(preview),
        "tags": resource.tags,
        "owners": resource.owners,
    })
}

fn size(value: &Value) -> usize {
    serde_json::to_string(value).map_or(0, |text| text.len())
}

/// Room kept in every budget for the answer's own fields (cursors, flags, notes).
const ENVELOPE_BYTES: usize = 400;

/// How many of `items`, from the first, fit `budget` bytes; at least one.
fn fitting(items: &[Value], budget: usize) -> usize {
    let mut used = ENVELOPE_BYTES;
    for (index, item) in items.iter().enumerate() {
        used += size(item) + 1;
        if used > budget {
            return index.max(1);
        }
    }
    items.len()
}

/// Text cut at a line within `budget` bytes, saying how much was left out.
fn fit_text(text: &str, budget: usize) -> String {
    if text.len() <= budget {
        return text.to_string();
    }
    let lines: Vec<&str> = text.lines().collect();
    let mut kept = String::new();
    let mut shown = 0;
    for line in &lines {
        if kept.len() + line.len() + 1 > budget - ENVELOPE_BYTES {
            break;
        }
        kept.push_str(line);
        kept.push('\n');
        shown += 1;
    }
    if shown == 0 {
        let mut end = budget - ENVELOPE_BYTES;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        kept.push_str(&text[..end]);
        kept.push('\n');
    }
    kept.push_str(&format!(
        "… {} more lines left out to fit max_bytes ({budget})",
        lines.len() - shown
    ));
    kept
}

/// A query's answer within `budget` bytes: the rows from the first while they fit, and
/// `truncated` when any were left out (here or by the query's own row limit).
fn fit_rows(result: QueryResult, budget: usize) -> Value {
    let mut used = ENVELOPE_BYTES + size(&json!(result.columns));
    let mut rows = Vec::new();
    let total = result.rows.len();
    for row in result.rows {
        let row = json!(row);
        used += size(&row) + 1;
        if used > budget {
            break;
        }
        rows.push(row);
    }
    let cut = rows.len() < total;
    json!({
        "columns": result.columns,
        "rows": rows,
        "truncated": result.truncated || cut,
        "rows_left_out": total - rows.len(),
    })
}

/// A resource's card: everything but the columns in full (long texts previewed), then columns
/// from `offset` while the whole stays within `budget` bytes.
fn card(resource: ResourceView, offset: usize, budget: usize) -> Value {
    let columns = resource.columns.clone().unwrap_or_default();
    let (foreign_keys, relations) = keys_and_relations(&resource);
    let mut card = card_head(&resource, &columns, &foreign_keys, &relations);
    if let Some(description) = &resource.description
        && size(&card) > budget / 2
    {
        card["description"] = json!(preview(description));
    }
    cut_relations(&mut card, foreign_keys, relations, budget / 2);
    add_columns(&mut card, &columns, offset, budget);
    card
}

/// A card's foreign keys and its other relations. A table's are the catalog's table-level
/// relations (foreign keys with their column pairs); other resources show their own relations.
fn keys_and_relations(resource: &ResourceView) -> (Vec<Value>, Vec<Value>) {
    let Some(table_relations) = &resource.table_relations else {
        let relations = resource.relations.iter().flatten().map(relation_entry);
        return (Vec::new(), relations.collect());
    };
    let (keys, others): (Vec<_>, Vec<_>) = table_relations
        .iter()
        .partition(|relation| relation.kind == "foreign_key");
    let keys = keys.iter().map(|relation| {
        json!({
            "direction": if relation.direction == "out" { "references" } else { "referenced_by" },
            "id": relation.id,
            "kind": relation.resource_kind,
            "path": relation.path,
            "columns": relation.columns,
        })
    });
    let others = others.into_iter().map(relation_entry);
    (keys.collect(), others.collect())
}

/// A relation other than a foreign key, as a card lists it: its kind and direction, and the
/// resource at its other end.
fn relation_entry(relation: &impl Serialize) -> Value {
    let whole = json!(relation);
    let fields = ["kind", "direction", "id", "resource_kind", "path"];
    let entry = fields.map(|field| (field.to_string(), whole[field].clone()));
    Value::Object(entry.into_iter().collect())
}

/// Everything on a card but its columns, which follow in pages.
fn card_head(
    resource: &ResourceView,
    columns: &[ColumnView],
    foreign_keys: &[Value],
    relations: &[Value],
) -> Value {
    let primary_key: Vec<&str> = columns
        .iter()
        .filter(|column| column.primary_key)
        .map(|column| column.name.as_str())
        .collect();
    json!({
        "id": resource.id,
        "kind": resource.kind,
        "name": resource.name,
        "path": resource.path,
        "description": resource.description.clone(),
        "owners": resource.owners,
        "tags": resource.tags,
        "teams": resource.teams,
        "data_type": resource.data_type,
        "definition": resource.definition.as_deref().map(preview),
        "keys": {"primary_key": primary_key, "foreign_keys": foreign_keys},
        "relations": relations,
        "column_count": columns.len(),
        "columns": [],
        "next_column_cursor": null,
    })
}

/// Keys and relations beyond `room` bytes are cut, halving the longer list until the card fits;
/// join_path and lineage reach them all.
fn cut_relations(
    card: &mut Value,
    mut foreign_keys: Vec<Value>,
    mut relations: Vec<Value>,
    room: usize,
) {
    while size(card) > room && (!foreign_keys.is_empty() || !relations.is_empty()) {
        if relations.len() >= foreign_keys.len() {
            relations.truncate(relations.len() / 2);
        } else {
            foreign_keys.truncate(foreign_keys.len() / 2);
        }
        card["keys"]["foreign_keys"] = json!(foreign_keys);
        card["relations"] = json!(relations);
        card["relations_truncated"] = json!(true);
    }
}

/// The columns from `offset` while the card stays within `budget` bytes (at least one), and the
/// cursor of the next one left out.
fn add_columns(card: &mut Value, columns: &[ColumnView], offset: usize, budget: usize) {
    // Room for the cursor that replaces `null`.
    let mut used = size(card) + 24;
    let mut shown = Vec::new();
    let mut next = None;
    for (index, column) in columns.iter().enumerate().skip(offset) {
        let entry = json!({
            "name": column.name,
            "data_type": column.data_type,
            "description": column.description.as_deref().map(preview),
            "nullable": column.nullable,
            "primary_key": column.primary_key,
        });
        let cost = size(&entry) + 1;
        if used + cost > budget && !shown.is_empty() {
            next = Some(index.to_string());
            break;
        }
        used += cost;
        shown.push(entry);
    }
    card["columns"] = json!(shown);
    card["next_column_cursor"] = json!(next);
}

fn integration_list(policy: &McpPolicy) -> String {
    policy
        .sql_integrations
        .iter()
        .map(|(id, name)| format!("{id} ({name})"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn initialize(params: &Map<String, Value>) -> Value {
    let asked = params.get("protocolVersion").and_then(Value::as_str);
    let version = asked
        .filter(|version| VERSIONS.contains(version))
        .unwrap_or(VERSIONS[0]);
    json!({
        "protocolVersion": version,
        "capabilities": {
            "tools": {"listChanged": false},
            "resources": {"listChanged": false, "subscribe": false},
        },
        "serverInfo": {"name": "cairn", "title": "Cairn data catalog", "version": env!("CARGO_PKG_VERSION")},
        "instructions": "Cairn's data catalog, with exactly your rights: search finds tables, columns, terms and documents; read_resource shows a table's columns (paged), keys, relations, owners and tags; join_path and lineage follow relations. You only ever see what your Cairn account may see.",
    })
}

fn read_only() -> Value {
    json!({"readOnlyHint": true, "destructiveHint": false, "idempotentHint": true, "openWorldHint": false})
}

fn tool_definitions(policy: &McpPolicy) -> Vec<Value> {
    let id = || json!({"type": "integer", "minimum": 1});
    let max_bytes = || {
        json!({"type": "integer", "minimum": MIN_BUDGET, "maximum": MAX_BUDGET, "default": DEFAULT_BUDGET,
            "description": "The most bytes of JSON or text this answer may take"})
    };
    let limit = || json!({"type": "integer", "minimum": 1, "maximum": 50, "default": 20});
    vec![
        json!({
            "name": "search",
            "title": "Search the catalog",
            "description": "Search tables, views, columns, glossary terms and documents you may see, ranked as Cairn's own search. Returns ids for read_resource, and next_cursor for the next page (a page ends early when it would pass max_bytes).",
            "inputSchema": {"type": "object", "properties": {
                "query": {"type": "string", "description": "Words to search for"},
                "kind": {"type": "string", "description": "Only this kind: database, schema, table, view, column, term, document"},
                "limit": limit(),
                "cursor": {"type": "string", "description": "next_cursor from a previous page"},
                "max_bytes": max_bytes(),
            }, "required": ["query"], "additionalProperties": false},
            "annotations": read_only(),
        }),
        json!({
            "name": "read_resource",
            "title": "Read a resource",
            "description": "A resource's card: description, owners, tags, primary key, foreign keys with their column pairs, other relations (view dependencies, lineage) and columns. Columns come in pages that fit max_bytes; pass next_column_cursor back as column_cursor to read on.",
            "inputSchema": {"type": "object", "properties": {
                "id": id(),
                "column_cursor": {"type": "string"},
                "max_bytes": max_bytes(),
            }, "required": ["id"], "additionalProperties": false},
            "annotations": read_only(),
        }),
        json!({
            "name": "list_glossary",
            "title": "List glossary terms",
            "description": "The workspace's glossary terms you may see, optionally matching a query.",
            "inputSchema": {"type": "object", "properties": {
                "query": {"type": "string"},
                "limit": limit(),
                "cursor": {"type": "string"},
                "max_bytes": max_bytes(),
            }, "additionalProperties": false},
            "annotations": read_only(),
        }),
        json!({
            "name": "join_path",
            "title": "Join path between two tables",
            "description": "The shortest chain of foreign keys joining two tables or views, through tables you may see, with the columns each step joins on (from metadata; no data is read).",
            "inputSchema": {"type": "object", "properties": {
                "from_id": id(), "to_id": id(), "max_bytes": max_bytes(),
            }, "required": ["from_id", "to_id"], "additionalProperties": false},
            "annotations": read_only(),
        }),
        json!({
            "name": "lineage",
            "title": "Lineage of a table",
            "description": "What a table or view reads from (view definitions, dbt lineage) and what reads from it, among the tables you may see.",
            "inputSchema": {"type": "object", "properties": {"id": id(), "max_bytes": max_bytes()},
                "required": ["id"], "additionalProperties": false},
            "annotations": read_only(),
        }),
        json!({
            "name": "run_sql",
            "title": "Run read-only SQL",
            "description": format!(
                "Runs one read-only SQL statement, checked by Cairn's SQL guard against the tables you may see, on an integration you may query: {}. The result ROWS are returned to you, this MCP client (your own agent and whatever model it uses), not to Cairn's assistant. Rows beyond the query's row limit or max_bytes are left out (truncated, rows_left_out). Every statement is audited.",
                integration_list(policy)
            ),
            "inputSchema": {"type": "object", "properties": {
                "integration_id": {"type": "integer", "enum": policy.sql_integrations.iter().map(|(id, _)| *id).collect::<Vec<_>>()},
                "sql": {"type": "string"},
                "max_bytes": max_bytes(),
            }, "required": ["integration_id", "sql"], "additionalProperties": false},
            "annotations": {"readOnlyHint": true, "destructiveHint": false, "idempotentHint": false, "openWorldHint": false},
        }),
    ]
}
