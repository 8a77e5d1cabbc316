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

use super::{ApiResult, Caller, created, json, no_content};
use crate::auth::{ApiJson, ApiPath, ApiQuery};

/// Integrations the caller may see (never their connections).
#[utoipa::path(get, path = "/api/v1/integrations", responses((status = 200, body = Vec<IntegrationView>)))]
pub(super) async fn list_integrations(caller: Caller) -> ApiResult<Json<Vec<IntegrationView>>> {
    json(caller.catalog.list_integrations(&caller.principal).await)
}

/// Connects a database (admins). The connection URL is encrypted at rest and never returned.
#[utoipa::path(post, path = "/api/v1/integrations", request_body = IntegrationInput,
    responses((status = 201, body = IntegrationView), (status = 400), (status = 403),
        (status = 409, description = "an integration of that name exists")))]
pub(super) async fn create_integration(
    caller: Caller,
    ApiJson(body): ApiJson<IntegrationInput>,
) -> ApiResult<(StatusCode, Json<IntegrationView>)> {
    created(
        caller
            .catalog
            .create_integration(&caller.principal, body)
            .await,
    )
}

/// One integration.
#[utoipa::path(get, path = "/api/v1/integrations/{id}", params(("id" = i64, Path)),
    responses((status = 200, body = IntegrationView), (status = 404)))]
pub(super) async fn get_integration(
    caller: Caller,
    ApiPath(id): ApiPath<IntegrationId>,
) -> ApiResult<Json<IntegrationView>> {
    json(caller.catalog.get_integration(&caller.principal, id).await)
}

/// Changes an integration's connection, teams or sync interval (admins).
#[utoipa::path(patch, path = "/api/v1/integrations/{id}", params(("id" = i64, Path)), request_body = IntegrationPatch,
    responses((status = 200, body = IntegrationView), (status = 400), (status = 404),
        (status = 409, description = "an integration of that name exists")))]
pub(super) async fn update_integration(
    caller: Caller,
    ApiPath(id): ApiPath<IntegrationId>,
    ApiJson(body): ApiJson<IntegrationPatch>,
) -> ApiResult<Json<IntegrationView>> {
    json(
        caller
            .catalog
            .update_integration(&caller.principal, id, body)
            .await,
    )
}

/// Removes an integration and everything crawled from it (admins).
#[utoipa::path(delete, path = "/api/v1/integrations/{id}", params(("id" = i64, Path)),
    responses((status = 204), (status = 404)))]
pub(super) async fn delete_integration(
    caller: Caller,
    ApiPath(id): ApiPath<IntegrationId>,
) -> ApiResult<StatusCode> {
    no_content(
        caller
            .catalog
            .delete_integration(&caller.principal, id)
            .await,
    )
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(super) struct SyncQuery {
    /// `false` starts the sync in the background and answers 202 with its id at once;
    /// by default the answer comes when the sync is done.
    wait: Option<bool>,
}

/// Crawls now (admins): counts of resources added, changed and removed; with `wait=false`,
/// starts the sync in the background and answers with its id.
#[utoipa::path(post, path = "/api/v1/integrations/{id}/sync", params(("id" = i64, Path), SyncQuery),
    responses((status = 200, body = SyncView), (status = 202, body = SyncStartedView), (status = 404),
        (status = 409, description = "the integration is already syncing"), (status = 422)))]
pub(super) async fn sync_integration(
    caller: Caller,
    ApiPath(id): ApiPath<IntegrationId>,
    ApiQuery(query): ApiQuery<SyncQuery>,
) -> ApiResult<Response> {
    if query.wait == Some(false) {
        let started = caller.catalog.start_sync(&caller.principal, id).await?;
        return Ok((StatusCode::ACCEPTED, Json(started)).into_response());
    }
    let done = caller
        .catalog
        .sync_integration(&caller.principal, id)
        .await?;
    Ok(Json(done).into_response())
}

/// A sync's phase, counts and time so far (admins).
#[utoipa::path(get, path = "/api/v1/integrations/{id}/syncs/{sync_id}",
    params(("id" = i64, Path), ("sync_id" = i64, Path)),
    responses((status = 200, body = SyncProgressView), (status = 404)))]
pub(super) async fn sync_progress(
    caller: Caller,
    ApiPath((id, sync_id)): ApiPath<(IntegrationId, i64)>,
) -> ApiResult<Json<SyncProgressView>> {
    json(
        caller
            .catalog
            .sync_progress(&caller.principal, id, sync_id)
            .await,
    )
}

/// Tries the integration's connection (admins), through the integration policy and the
/// connector a sync uses; writes nothing. A connection that does not work answers 422 with the
/// connector's code (`unreachable`, `auth_failed`, `not_allowed`, …).
#[utoipa::path(post, path = "/api/v1/integrations/{id}/test", params(("id" = i64, Path)),
    responses((status = 200, body = ConnectionTest), (status = 404),
        (status = 422, description = "the connection does not work; the error says why")))]
pub(super) async fn test_integration(
    caller: Caller,
    ApiPath(id): ApiPath<IntegrationId>,
) -> ApiResult<Json<ConnectionTest>> {
    json(caller.catalog.test_integration(&caller.principal, id).await)
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(super) struct DbtImportQuery {
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
pub(super) async fn import_dbt(
    caller: Caller,
    ApiPath(id): ApiPath<IntegrationId>,
    ApiQuery(query): ApiQuery<DbtImportQuery>,
    request: axum::extract::Request,
) -> ApiResult<Json<DbtImportView>> {
    // Authorise before reading the body: nobody else makes the server read and parse a manifest.
    caller
        .catalog
        .visible_integration(&caller.principal, id)
        .await?;
    if !caller.principal.can_administer() {
        return Err(CatalogError::forbidden("only workspace admins manage integrations").into());
    }
    // Reading a JSON body needs no state.
    let ApiJson(body) = ApiJson::<DbtImportInput>::from_request(request, &()).await?;
    let replace = query.replace.unwrap_or(false);
    json(
        caller
            .catalog
            .import_dbt(&caller.principal, id, body, replace)
            .await,
    )
}

/// Who may run SQL on an integration (admins).
#[utoipa::path(get, path = "/api/v1/integrations/{id}/permissions", params(("id" = i64, Path)),
    responses((status = 200, body = PermissionsView), (status = 403), (status = 404)))]
pub(super) async fn get_permissions(
    caller: Caller,
    ApiPath(id): ApiPath<IntegrationId>,
) -> ApiResult<Json<PermissionsView>> {
    json(
        caller
            .catalog
            .query_permissions(&caller.principal, id)
            .await,
    )
}

/// Replaces who may run SQL on an integration (admins).
#[utoipa::path(put, path = "/api/v1/integrations/{id}/permissions", params(("id" = i64, Path)), request_body = PermissionsView,
    responses((status = 200, body = PermissionsView), (status = 400), (status = 403), (status = 404)))]
pub(super) async fn put_permissions(
    caller: Caller,
    ApiPath(id): ApiPath<IntegrationId>,
    ApiJson(body): ApiJson<PermissionsView>,
) -> ApiResult<Json<PermissionsView>> {
    json(
        caller
            .catalog
            .set_query_permissions(&caller.principal, id, body)
            .await,
    )
}

/// Runs one read-only statement when Run SQL is on and the caller may query the integration.
/// The result goes to the caller only.
#[utoipa::path(post, path = "/api/v1/sql", request_body = SqlInput,
    responses((status = 200, body = SqlResult), (status = 403), (status = 404), (status = 422)))]
pub(super) async fn run_sql(
    caller: Caller,
    ApiJson(body): ApiJson<SqlInput>,
) -> ApiResult<Json<SqlResult>> {
    let result = caller.catalog.run_sql(&caller.principal, body).await;
    json(result.map(SqlResult::from))
}

/// The rows of a query, for the caller only.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct SqlResult {
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
