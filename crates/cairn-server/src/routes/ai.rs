//! The assistant: asking it, previewing what it would send, the caller's own history, and the
//! egress ledger of what was sent to model providers.

use axum::Json;
use axum::extract::State;
use std::future::Future;
use std::pin::Pin;

use axum::http::{HeaderMap, StatusCode, header};
use axum::response::sse::{Event, Sse};
use axum::response::{IntoResponse, Response};
use cairn_catalog::{AskInput, AskView, EgressPreview, EgressView, HistoryPage, PreviewInput};
use futures_util::Stream;
use serde::Deserialize;
use tokio::sync::mpsc::UnboundedReceiver;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{ApiResult, Caller, json, no_content};
use crate::AppState;
use crate::auth::{ApiJson, ApiPath, ApiQuery, Auth};
use crate::error::{ApiError, ErrorBody, ErrorDetail};

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
/// `delta` events with pieces of the text as it is written, then one `done` event with the whole
/// answer (or, when it fails after its first piece, one `error` event with the error body).
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
    let wants_stream = headers
        .get(header::ACCEPT)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|accept| accept.contains("text/event-stream"));
    if !wants_stream {
        return Ok(Json(state.catalog.ask(&auth.principal, body).await?).into_response());
    }
    // The question runs on a task of its own: a client that goes away stops nothing, and the
    // thread keeps the turn.
    let (pieces, mut received) = tokio::sync::mpsc::unbounded_channel::<String>();
    let (catalog, principal) = (state.catalog.clone(), auth.principal.clone());
    let answer = tokio::spawn(async move { catalog.ask_streaming(&principal, body, pieces).await });
    let answer = async move {
        answer
            .await
            .map_err(|error| {
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    cairn_domain::ErrorCode::Internal.as_str(),
                    format!("the question's task failed: {error}"),
                )
            })?
            .map_err(ApiError::from)
    };
    // An answer that fails before its first piece is an error response, as without streaming.
    let first = received.recv().await;
    let answer: PendingAnswer = if first.is_none() {
        let view = answer.await?;
        Box::pin(async move { Ok(view) })
    } else {
        Box::pin(answer)
    };
    Ok(Sse::new(answer_events(first, received, answer)).into_response())
}

/// The answer still being written.
type PendingAnswer = Pin<Box<dyn Future<Output = ApiResult<AskView>> + Send>>;

/// `delta` events as the pieces arrive, then `done` with the whole answer (or `error` with the
/// error body when it failed after its first piece).
fn answer_events(
    first: Option<String>,
    received: UnboundedReceiver<String>,
    answer: PendingAnswer,
) -> impl Stream<Item = Result<Event, axum::Error>> {
    futures_util::stream::unfold(
        (first, received, Some(answer)),
        |(next, mut received, answer)| async move {
            let next = match next {
                Some(piece) => Some(piece),
                None => received.recv().await,
            };
            if let Some(text) = next {
                let delta = Event::default()
                    .event("delta")
                    .json_data(serde_json::json!({ "text": text }));
                return Some((delta, (None, received, answer)));
            }
            let last = match answer?.await {
                Ok(view) => Event::default().event("done").json_data(&view),
                Err(error) => Event::default().event("error").json_data(ErrorBody {
                    error: ErrorDetail {
                        code: error.code.to_string(),
                        message: error.message,
                        field: error.field,
                    },
                }),
            };
            Some((last, (None, received, None)))
        },
    )
}
