//! Integrations (admins): connected databases, their syncs, connection tests, dbt imports and
//! who may run SQL on them; and running SQL.

use axum::Json;
use axum::extract::FromRequest;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use cairn_catalog::{
    CatalogError, ConnectionTest, DbtImportInput, DbtImportView, IntegrationInput,
    IntegrationPatch, IntegrationView, PermissionsView, QueryResult, SqlInput, SyncProgressView,
    SyncStartedView, SyncView,
};
use cairn_domain::IntegrationId;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{ApiResult, Caller, body_limit, created, json, no_content};
use crate::AppState;
use crate::auth::{ApiJson, ApiPath, ApiQuery};

/// Large enough for a dbt manifest of a big project; read only once the caller is known to be an
/// admin who sees the integration.
const DBT_MAX_BODY_BYTES: usize = 64 * 1024 * 1024;

/// Integrations, their syncs, tests, dbt imports and permissions, and SQL.
pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_integrations, create_integration))
        .routes(routes!(
            get_integration,
            update_integration,
            delete_integration
        ))
        .routes(routes!(sync_integration))
        .routes(routes!(sync_progress))
        .routes(routes!(test_integration))
        .routes(body_limit(routes!(import_dbt), DBT_MAX_BODY_BYTES))
        .routes(routes!(get_permissions, put_permissions))
        .routes(routes!(run_sql))
}

/// Integrations the caller may see (never their connections).
#[utoipa::path(get, path = "/api/v1/integrations", responses((status = 200, body = Vec<IntegrationView>)))]
async fn list_integrations(
    Caller { catalog, principal }: Caller,
) -> ApiResult<Json<Vec<IntegrationView>>> {
    json(catalog.list_integrations(&principal).await)
}

/// Connects a database (admins). The connection URL is encrypted at rest and never returned.
#[utoipa::path(post, path = "/api/v1/integrations", request_body = IntegrationInput,
    responses((status = 201, body = IntegrationView), (status = 400), (status = 403),
        (status = 409, description = "an integration of that name exists")))]
async fn create_integration(
    Caller { catalog, principal }: Caller,
    ApiJson(body): ApiJson<IntegrationInput>,
) -> ApiResult<(StatusCode, Json<IntegrationView>)> {
    created(catalog.create_integration(&principal, body).await)
}

/// One integration.
#[utoipa::path(get, path = "/api/v1/integrations/{id}", params(("id" = i64, Path)),
    responses((status = 200, body = IntegrationView), (status = 404)))]
async fn get_integration(
    Caller { catalog, principal }: Caller,
    ApiPath(id): ApiPath<IntegrationId>,
) -> ApiResult<Json<IntegrationView>> {
    json(catalog.get_integration(&principal, id).await)
}

/// Changes an integration's connection, teams or sync interval (admins).
#[utoipa::path(patch, path = "/api/v1/integrations/{id}", params(("id" = i64, Path)), request_body = IntegrationPatch,
    responses((status = 200, body = IntegrationView), (status = 400), (status = 404),
        (status = 409, description = "an integration of that name exists")))]
async fn update_integration(
    Caller { catalog, principal }: Caller,
    ApiPath(id): ApiPath<IntegrationId>,
    ApiJson(body): ApiJson<IntegrationPatch>,
) -> ApiResult<Json<IntegrationView>> {
    json(catalog.update_integration(&principal, id, body).await)
}

/// Removes an integration and everything crawled from it (admins).
#[utoipa::path(delete, path = "/api/v1/integrations/{id}", params(("id" = i64, Path)),
    responses((status = 204), (status = 404)))]
async fn delete_integration(
    Caller { catalog, principal }: Caller,
    ApiPath(id): ApiPath<IntegrationId>,
) -> ApiResult<StatusCode> {
    no_content(catalog.delete_integration(&principal, id).await)
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct SyncQuery {
    /// `false` starts the sync in the background and answers 202 with its id at once;
    /// by default the answer comes when the sync is done.
    wait: Option<bool>,
}

/// Crawls now (admins): counts of resources added, changed and removed; with `wait=false`,
/// starts the sync in the background and answers with its id.
#[utoipa::path(post, path = "/api/v1/integrations/{id}/sync", params(("id" = i64, Path), SyncQuery),
    responses((status = 200, body = SyncView), (status = 202, body = SyncStartedView), (status = 404),
        (status = 409, description = "the integration is already syncing"), (status = 422)))]
async fn sync_integration(
    Caller { catalog, principal }: Caller,
    ApiPath(id): ApiPath<IntegrationId>,
    ApiQuery(query): ApiQuery<SyncQuery>,
) -> ApiResult<Response> {
    if query.wait == Some(false) {
        let started = catalog.start_sync(&principal, id).await?;
        return Ok((StatusCode::ACCEPTED, Json(started)).into_response());
    }
    let done = catalog.sync_integration(&principal, id).await?;
    Ok(Json(done).into_response())
}

/// A sync's phase, counts and time so far (admins).
#[utoipa::path(get, path = "/api/v1/integrations/{id}/syncs/{sync_id}",
    params(("id" = i64, Path), ("sync_id" = i64, Path)),
    responses((status = 200, body = SyncProgressView), (status = 404)))]
async fn sync_progress(
    Caller { catalog, principal }: Caller,
    ApiPath((id, sync_id)): ApiPath<(IntegrationId, i64)>,
) -> ApiResult<Json<SyncProgressView>> {
    json(catalog.sync_progress(&principal, id, sync_id).await)
}

/// Tries the integration's connection (admins), through the integration policy and the
/// connector a sync uses; writes nothing. A connection that does not work answers 422 with the
/// connector's code (`unreachable`, `auth_failed`, `not_allowed`, …).
#[utoipa::path(post, path = "/api/v1/integrations/{id}/test", params(("id" = i64, Path)),
    responses((status = 200, body = ConnectionTest), (status = 404),
        (status = 422, description = "the connection does not work; the error says why")))]
async fn test_integration(
    Caller { catalog, principal }: Caller,
    ApiPath(id): ApiPath<IntegrationId>,
) -> ApiResult<Json<ConnectionTest>> {
    json(catalog.test_integration(&principal, id).await)
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct DbtImportQuery {
    /// `true` removes the dbt documentation and lineage earlier imports attached and this one
    /// does not cover; by default they are kept.
    replace: Option<bool>,
}

/// Imports dbt docs, tags, owners and lineage onto crawled tables (admins): updates what it
/// matches, reports what it did not match, and keeps earlier dbt documentation it does not cover
/// unless `replace=true`.
#[utoipa::path(post, path = "/api/v1/integrations/{id}/dbt", params(("id" = i64, Path), DbtImportQuery),
    request_body = DbtImportInput,
    responses((status = 200, body = DbtImportView), (status = 404), (status = 422)))]
async fn import_dbt(
    Caller { catalog, principal }: Caller,
    ApiPath(id): ApiPath<IntegrationId>,
    ApiQuery(query): ApiQuery<DbtImportQuery>,
    request: axum::extract::Request,
) -> ApiResult<Json<DbtImportView>> {
    // Authorise before reading the body: nobody else makes the server read and parse a manifest.
    catalog.visible_integration(&principal, id).await?;
    if !principal.can_administer() {
        return Err(CatalogError::forbidden("only workspace admins manage integrations").into());
    }
    // Reading a JSON body needs no state.
    let ApiJson(body) = ApiJson::<DbtImportInput>::from_request(request, &()).await?;
    let replace = query.replace.unwrap_or(false);
    json(catalog.import_dbt(&principal, id, body, replace).await)
}

/// Who may run SQL on an integration (admins).
#[utoipa::path(get, path = "/api/v1/integrations/{id}/permissions", params(("id" = i64, Path)),
    responses((status = 200, body = PermissionsView), (status = 403), (status = 404)))]
async fn get_permissions(
    Caller { catalog, principal }: Caller,
    ApiPath(id): ApiPath<IntegrationId>,
) -> ApiResult<Json<PermissionsView>> {
    json(catalog.query_permissions(&principal, id).await)
}

/// Replaces who may run SQL on an integration (admins).
#[utoipa::path(put, path = "/api/v1/integrations/{id}/permissions", params(("id" = i64, Path)), request_body = PermissionsView,
    responses((status = 200, body = PermissionsView), (status = 400), (status = 403), (status = 404)))]
async fn put_permissions(
    Caller { catalog, principal }: Caller,
    ApiPath(id): ApiPath<IntegrationId>,
    ApiJson(body): ApiJson<PermissionsView>,
) -> ApiResult<Json<PermissionsView>> {
    json(catalog.set_query_permissions(&principal, id, body).await)
}

/// Runs one read-only statement when Run SQL is on and the caller may query the integration.
/// The result goes to the caller only.
#[utoipa::path(post, path = "/api/v1/sql", request_body = SqlInput,
    responses((status = 200, body = SqlResult), (status = 403), (status = 404), (status = 422)))]
async fn run_sql(
    Caller { catalog, principal }: Caller,
    ApiJson(body): ApiJson<SqlInput>,
) -> ApiResult<Json<SqlResult>> {
    let result = catalog.run_sql(&principal, body).await;
    json(result.map(SqlResult::from))
}

/// The rows of a query, for the caller only.
#[derive(Debug, Serialize, ToSchema)]
struct SqlResult {
    /// Column names, in the statement's order.
    columns: Vec<String>,
    /// One array per row, one value per column: JSON numbers, strings, booleans or null; values
    /// of other types in the database's own text form.
    #[schema(value_type = Vec<Vec<Object>>)]
    rows: Vec<Vec<serde_json::Value>>,
    /// More rows (or bytes) were available than the limits allow.
    truncated: bool,
    elapsed_ms: u64,
}

impl From<QueryResult> for SqlResult {
    fn from(result: QueryResult) -> Self {
        SqlResult {
            columns: result.columns,
            rows: result.rows,
            truncated: result.truncated,
            elapsed_ms: result.elapsed_ms,
        }
    }
}
