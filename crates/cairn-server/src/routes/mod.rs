//! Routes and handlers, one module per area of the API. Each handler extracts the request and
//! the caller, then calls one catalog service. The OpenAPI document is generated from these
//! handlers.

mod ai;
mod integrations;
mod people;
mod resources;
mod session;
mod settings;

use axum::Json;
use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::routing::get;
use cairn_catalog::{Catalog, CatalogError, Principal};
use utoipa::OpenApi;
use utoipa::openapi::RefOr;
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouter};
use utoipa_axum::routes;

use crate::AppState;
use crate::auth::Auth;
use crate::contract::{self, BODY_LIMIT_EXTENSION};
use crate::error::{ApiError, ErrorBody};

type ApiResult<T> = Result<T, ApiError>;

/// Every route but the dbt import: descriptions, permissions, questions and SQL are small.
const MAX_BODY_BYTES: usize = 2 * 1024 * 1024;

/// The catalog and the authenticated caller: what every handler past sign-in starts from.
struct Caller {
    catalog: Catalog,
    principal: Principal,
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> ApiResult<Self> {
        let auth = Auth::from_request_parts(parts, state).await?;
        Ok(Caller {
            catalog: state.catalog.clone(),
            principal: auth.principal,
        })
    }
}

/// 200 with the service's answer as JSON.
fn json<T>(answer: Result<T, CatalogError>) -> ApiResult<Json<T>> {
    Ok(Json(answer?))
}

/// 201 with what the service created.
fn created<T>(answer: Result<T, CatalogError>) -> ApiResult<(StatusCode, Json<T>)> {
    Ok((StatusCode::CREATED, Json(answer?)))
}

/// 204 once the service has done it; what it counted is not answered.
fn no_content<T>(answer: Result<T, CatalogError>) -> ApiResult<StatusCode> {
    answer?;
    Ok(StatusCode::NO_CONTENT)
}

/// Gives one route its own body limit, read before the router-wide default, and says so in
/// the document.
fn body_limit<S>(
    (schemas, mut paths, router): UtoipaMethodRouter<S>,
    max: usize,
) -> UtoipaMethodRouter<S>
where
    S: Clone + Send + Sync + 'static,
{
    for item in paths.paths.values_mut() {
        let operations = [
            &mut item.get,
            &mut item.post,
            &mut item.put,
            &mut item.patch,
            &mut item.delete,
        ];
        for operation in operations.into_iter().flatten() {
            if let Some(RefOr::T(body)) = operation.request_body.as_mut() {
                body.extensions
                    .get_or_insert_with(Default::default)
                    .insert(BODY_LIMIT_EXTENSION.to_owned(), max.into());
            }
        }
    }
    (
        schemas,
        paths,
        router.layer(axum::extract::DefaultBodyLimit::max(max)),
    )
}

#[derive(OpenApi)]
#[openapi(
    info(title = "Cairn", description = "A data catalog with a governed AI assistant."),
    components(schemas(ErrorBody)),
    tags((name = "cairn"))
)]
struct ApiDoc;

fn api_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(healthz))
        .merge(session::routes())
        .merge(people::routes())
        .merge(resources::routes())
        .merge(integrations::routes())
        .merge(ai::routes())
        .merge(settings::routes())
}

/// The OpenAPI 3.1 document of this API, generated from the handlers and completed with what
/// every operation shares (security, error answers, body limits).
pub fn openapi() -> serde_json::Value {
    document(api_router().split_for_parts().1)
}

fn document(generated: utoipa::openapi::OpenApi) -> serde_json::Value {
    let mut document = serde_json::to_value(&generated).unwrap_or_default();
    contract::complete(&mut document, MAX_BODY_BYTES);
    document
}

pub(crate) fn router(state: AppState) -> axum::Router {
    let (router, generated) = api_router().split_for_parts();
    let document = document(generated);
    router
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY_BYTES))
        .route(
            "/api/v1/openapi.json",
            get(move || async move { Json(document) }),
        )
        .method_not_allowed_fallback(|| async { ApiError::method_not_allowed() })
        .with_state(state)
}

/// Ready.
#[utoipa::path(get, path = "/healthz",
    responses((status = 200, description = "ready", body = String, content_type = "text/plain")))]
async fn healthz() -> &'static str {
    "ok"
}
