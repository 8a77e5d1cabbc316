//! The assistant: asking it, previewing what it would send, the caller's own history, and the
//! egress ledger of what was sent to model providers.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use cairn_catalog::{AskInput, AskView, EgressPreview, EgressView, HistoryPage, PreviewInput};
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{ApiResult, Caller, json, no_content};
use crate::AppState;
use crate::auth::{ApiJson, ApiPath, ApiQuery, Auth};

/// The assistant, the caller's history and the egress ledger.
pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(history, delete_history))
        .routes(routes!(delete_prompt))
        .routes(routes!(prompt_egress))
        .routes(routes!(egress))
        .routes(routes!(ask))
        .routes(routes!(preview))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct PageQuery {
    /// The `next_cursor` of the previous page.
    cursor: Option<String>,
    /// At most this many entries.
    limit: Option<usize>,
}

/// The caller's own prompts and answers, newest first.
#[utoipa::path(get, path = "/api/v1/ai/history", params(PageQuery), responses((status = 200, body = HistoryPage)))]
async fn history(
    Caller { catalog, principal }: Caller,
    ApiQuery(PageQuery { cursor, limit }): ApiQuery<PageQuery>,
) -> ApiResult<Json<HistoryPage>> {
    json(catalog.history(&principal, cursor.as_deref(), limit).await)
}

/// Deletes all of the caller's prompts: the assistant forgets them.
#[utoipa::path(delete, path = "/api/v1/ai/history", responses((status = 204)))]
async fn delete_history(Caller { catalog, principal }: Caller) -> ApiResult<StatusCode> {
    no_content(catalog.delete_history(&principal).await)
}

/// Deletes one of the caller's prompts.
#[utoipa::path(delete, path = "/api/v1/ai/history/{id}", params(("id" = i64, Path)), responses((status = 204), (status = 404)))]
async fn delete_prompt(
    Caller { catalog, principal }: Caller,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<StatusCode> {
    no_content(catalog.delete_prompt(&principal, id).await)
}

/// What was sent to a model provider for one of the caller's own prompts (empty when nothing
/// left the server).
#[utoipa::path(get, path = "/api/v1/ai/history/{id}/egress", params(("id" = i64, Path)),
    responses((status = 200, body = Vec<EgressView>), (status = 404)))]
async fn prompt_egress(
    Caller { catalog, principal }: Caller,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<Vec<EgressView>>> {
    json(catalog.prompt_egress(&principal, id).await)
}

/// The egress ledger: every request sent to a model provider, newest first (admins).
#[utoipa::path(get, path = "/api/v1/egress", params(PageQuery), responses((status = 200, body = Vec<EgressView>), (status = 403)))]
async fn egress(
    Caller { catalog, principal }: Caller,
    ApiQuery(PageQuery { cursor, limit }): ApiQuery<PageQuery>,
) -> ApiResult<Json<Vec<EgressView>>> {
    json(catalog.egress(&principal, cursor.as_deref(), limit).await)
}

/// The exact first request the assistant would send to the workspace's provider for the caller
/// and this question, with its SHA-256; nothing is sent and nothing is written to the ledger.
#[utoipa::path(post, path = "/api/v1/ai/preview", request_body = PreviewInput,
    responses((status = 200, body = EgressPreview), (status = 400), (status = 422)))]
async fn preview(
    Caller { catalog, principal }: Caller,
    ApiJson(body): ApiJson<PreviewInput>,
) -> ApiResult<Json<EgressPreview>> {
    json(catalog.preview_egress(&principal, body).await)
}

/// Asks the assistant. With `Accept: text/event-stream` the answer comes as server-sent events:
/// `delta` events with pieces of the text, then one `done` event with the whole answer.
#[utoipa::path(post, path = "/api/v1/ai/ask", request_body = AskInput,
    responses(
        (status = 200, description = "the answer, or with `Accept: text/event-stream` the answer as events",
            content((AskView = "application/json"), (String = "text/event-stream"))),
        (status = 400), (status = 404), (status = 422)))]
async fn ask(
    State(state): State<AppState>,
    auth: Auth,
    headers: HeaderMap,
    ApiJson(body): ApiJson<AskInput>,
) -> ApiResult<Response> {
    let answer = state.catalog.ask(&auth.principal, body).await?;
    let wants_stream = headers
        .get(header::ACCEPT)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|accept| accept.contains("text/event-stream"));
    if !wants_stream {
        return Ok(Json(answer).into_response());
    }
    let mut events = String::new();
    let words: Vec<&str> = answer.answer.split_inclusive(' ').collect();
    for piece in words.chunks(8) {
        let text = serde_json::json!({"text": piece.concat()});
        events.push_str(&format!("event: delta\ndata: {text}\n\n"));
    }
    let done = serde_json::to_string(&answer).unwrap_or_default();
    events.push_str(&format!("event: done\ndata: {done}\n\n"));
    let mut response = events.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    Ok(response)
}
