//! Routes and handlers. Each handler extracts the request and the principal, then calls one
//! catalog service. The OpenAPI document is generated from these handlers.

use std::net::SocketAddr;

use axum::Json;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use cairn_catalog::{
    AiSettings, AiSettingsInput, AskInput, AskView, AuditEntry, AuditVerification, ConnectionTest,
    DbtImportInput, DbtImportView, DescriptionDraft, EgressPreview, EgressView, Export,
    HistoryPage, IntegrationInput, IntegrationPatch, IntegrationView, MeView, NewResourceInput,
    NewToken, NewUser, PermissionsView, PreviewInput, QueryResult, ResourceId, ResourceList,
    ResourcePatchInput, ResourceQuery, ResourceView, SignIn, SqlInput, SyncProgressView,
    SyncStartedView, SyncView, TeamId, TeamView, TokenId, TokenView, UserId, UserPatch, UserView,
};
use cairn_domain::IntegrationId;
use serde::{Deserialize, Serialize};
use utoipa::openapi::RefOr;
use utoipa::{OpenApi, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::{ApiJson, ApiPath, ApiQuery, Auth, cookie};
use crate::contract::{self, BODY_LIMIT_EXTENSION};
use crate::error::{ApiError, ErrorBody};
use crate::{AppState, SESSION_COOKIE};

type ApiResult<T> = Result<T, ApiError>;

/// Every route but the dbt import: descriptions, permissions, questions and SQL are small.
const MAX_BODY_BYTES: usize = 2 * 1024 * 1024;

/// Large enough for a dbt manifest of a big project; read only once the caller is known to be an
/// admin who sees the integration.
const DBT_MAX_BODY_BYTES: usize = 64 * 1024 * 1024;

/// A sign-in is an address, a password and a workspace name: a few KiB at most. Anyone may send
/// one, so nothing larger is read.
const SIGN_IN_MAX_BODY_BYTES: usize = 4 * 1024;

/// Gives one route its own body limit, read before the router-wide default, and says so in
/// the document.
fn body_limit<S>(
    (schemas, mut paths, router): utoipa_axum::router::UtoipaMethodRouter<S>,
    max: usize,
) -> utoipa_axum::router::UtoipaMethodRouter<S>
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
        .routes(body_limit(
            routes!(sign_in, sign_out),
            SIGN_IN_MAX_BODY_BYTES,
        ))
        .routes(routes!(me))
        .routes(routes!(list_tokens, create_token))
        .routes(routes!(delete_token))
        .routes(routes!(list_users, create_user))
        .routes(routes!(update_user, delete_user))
        .routes(routes!(list_user_tokens))
        .routes(routes!(delete_workspace))
        .routes(routes!(revoke_user_token))
        .routes(routes!(list_teams, create_team))
        .routes(routes!(add_team_member, remove_team_member))
        .routes(routes!(list_resources, create_resource))
        .routes(routes!(get_resource, update_resource))
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
        .routes(routes!(get_ai_settings, put_ai_settings))
        .routes(routes!(run_sql))
        .routes(routes!(audit_log))
        .routes(routes!(audit_verify))
        .routes(routes!(history, delete_history))
        .routes(routes!(delete_prompt))
        .routes(routes!(prompt_egress))
        .routes(routes!(export))
        .routes(routes!(egress))
        .routes(routes!(ask))
        .routes(routes!(preview))
        .routes(routes!(describe))
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

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct SignInBody {
    email: String,
    password: String,
    #[serde(default)]
    workspace: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
struct SessionView {
    #[serde(flatten)]
    me: MeView,
    /// Send this as `X-CSRF-Token` with every cookie-authenticated write.
    csrf_token: String,
}

fn session_cookie(state: &AppState, value: &str, max_age_secs: u64) -> HeaderValue {
    let secure = if state.secure_cookies { "; Secure" } else { "" };
    let text = format!(
        "{SESSION_COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age_secs}{secure}"
    );
    HeaderValue::from_str(&text)
        .unwrap_or_else(|_| HeaderValue::from_static("cairn_session=; Max-Age=0"))
}

/// Sign in: sets the session cookie and returns the CSRF token for writes.
#[utoipa::path(post, path = "/api/v1/session", request_body = SignInBody,
    responses((status = 200, body = SessionView), (status = 401), (status = 429)))]
async fn sign_in(
    State(state): State<AppState>,
    ConnectInfo(address): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<SignInBody>,
) -> ApiResult<Response> {
    let authenticated = state
        .catalog
        .sign_in(SignIn {
            email: body.email,
            password: body.password,
            workspace: body.workspace,
            client_address: address.ip().to_string(),
            previous_session: cookie(&headers, SESSION_COOKIE),
        })
        .await?;
    let me = state.catalog.me(&authenticated.principal).await?;
    let max_age = state.catalog.config().session_absolute.as_secs();
    let mut response = Json(SessionView {
        me,
        csrf_token: authenticated.csrf_token,
    })
    .into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        session_cookie(&state, &authenticated.session_token, max_age),
    );
    Ok(response)
}

/// Sign out: ends the session and clears the cookie.
#[utoipa::path(delete, path = "/api/v1/session", responses((status = 204)))]
async fn sign_out(State(state): State<AppState>, auth: Auth) -> ApiResult<Response> {
    if let Some(session) = &auth.session {
        state.catalog.sign_out(session).await?;
    }
    let mut response = StatusCode::NO_CONTENT.into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, session_cookie(&state, "", 0));
    Ok(response)
}

/// The caller: user, workspace, role and teams.
#[utoipa::path(get, path = "/api/v1/me", responses((status = 200, body = MeView), (status = 401)))]
async fn me(State(state): State<AppState>, auth: Auth) -> ApiResult<Json<MeView>> {
    Ok(Json(state.catalog.me(&auth.principal).await?))
}

/// The caller's API tokens (never their secrets).
#[utoipa::path(get, path = "/api/v1/tokens", responses((status = 200, body = Vec<TokenView>)))]
async fn list_tokens(State(state): State<AppState>, auth: Auth) -> ApiResult<Json<Vec<TokenView>>> {
    Ok(Json(state.catalog.list_own_tokens(&auth.principal).await?))
}

/// A new API token; its secret is in this answer only.
#[utoipa::path(post, path = "/api/v1/tokens", request_body = NewToken,
    responses((status = 201, body = TokenView)))]
async fn create_token(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(body): ApiJson<NewToken>,
) -> ApiResult<(StatusCode, Json<TokenView>)> {
    let token = state
        .catalog
        .create_own_token(&auth.principal, body)
        .await?;
    Ok((StatusCode::CREATED, Json(token)))
}

/// Revokes one of the caller's tokens.
#[utoipa::path(delete, path = "/api/v1/tokens/{id}", params(("id" = i64, Path)),
    responses((status = 204), (status = 404)))]
async fn delete_token(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<StatusCode> {
    state
        .catalog
        .revoke_own_token(&auth.principal, TokenId(id))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Members of the workspace (admins).
#[utoipa::path(get, path = "/api/v1/users", responses((status = 200, body = Vec<UserView>), (status = 403)))]
async fn list_users(State(state): State<AppState>, auth: Auth) -> ApiResult<Json<Vec<UserView>>> {
    Ok(Json(state.catalog.list_users(&auth.principal).await?))
}

#[derive(Debug, Serialize, ToSchema)]
struct CreatedUser {
    user: UserView,
    /// The generated password, when none was given; shown once.
    #[serde(skip_serializing_if = "Option::is_none")]
    password: Option<String>,
}

/// Adds a member (admins).
#[utoipa::path(post, path = "/api/v1/users", request_body = NewUser,
    responses((status = 201, body = CreatedUser), (status = 400), (status = 403),
        (status = 409, description = "the address is already a member")))]
async fn create_user(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(body): ApiJson<NewUser>,
) -> ApiResult<(StatusCode, Json<CreatedUser>)> {
    let (user, password) = state.catalog.create_user(&auth.principal, body).await?;
    Ok((StatusCode::CREATED, Json(CreatedUser { user, password })))
}

/// Changes a member's name, role or password (admins).
#[utoipa::path(patch, path = "/api/v1/users/{id}", params(("id" = i64, Path)), request_body = UserPatch,
    responses((status = 200, body = UserView), (status = 404),
        (status = 409, description = "the workspace would be left without an admin")))]
async fn update_user(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<UserPatch>,
) -> ApiResult<Json<UserView>> {
    Ok(Json(
        state
            .catalog
            .update_user(&auth.principal, UserId(id), body)
            .await?,
    ))
}

/// Removes a member and erases their data (admins).
#[utoipa::path(delete, path = "/api/v1/users/{id}", params(("id" = i64, Path)),
    responses((status = 204), (status = 404),
        (status = 409, description = "the workspace would be left without an admin")))]
async fn delete_user(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<StatusCode> {
    state
        .catalog
        .delete_user(&auth.principal, UserId(id))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct WorkspaceDeletion {
    /// The workspace's name, repeated to confirm.
    name: String,
}

/// Deletes the caller's workspace with everything in it: people, resources, integrations,
/// prompts, the ledger and the audit log (admins; the name repeated to confirm).
#[utoipa::path(delete, path = "/api/v1/workspace", request_body = WorkspaceDeletion,
    responses((status = 204), (status = 400, description = "the name does not match"),
        (status = 403)))]
async fn delete_workspace(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(body): ApiJson<WorkspaceDeletion>,
) -> ApiResult<StatusCode> {
    state
        .catalog
        .delete_workspace(&auth.principal, &body.name)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A member's API tokens, never their secrets (admins).
#[utoipa::path(get, path = "/api/v1/users/{id}/tokens", params(("id" = i64, Path)),
    responses((status = 200, body = Vec<TokenView>), (status = 403), (status = 404)))]
async fn list_user_tokens(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<Vec<TokenView>>> {
    Ok(Json(
        state
            .catalog
            .list_user_tokens(&auth.principal, UserId(id))
            .await?,
    ))
}

/// Revokes one of a member's API tokens (admins).
#[utoipa::path(delete, path = "/api/v1/users/{id}/tokens/{token_id}",
    params(("id" = i64, Path), ("token_id" = i64, Path)),
    responses((status = 204), (status = 403), (status = 404)))]
async fn revoke_user_token(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath((id, token_id)): ApiPath<(i64, i64)>,
) -> ApiResult<StatusCode> {
    state
        .catalog
        .revoke_user_token(&auth.principal, UserId(id), TokenId(token_id))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Teams and their members (admins).
#[utoipa::path(get, path = "/api/v1/teams", responses((status = 200, body = Vec<TeamView>)))]
async fn list_teams(State(state): State<AppState>, auth: Auth) -> ApiResult<Json<Vec<TeamView>>> {
    Ok(Json(state.catalog.list_teams(&auth.principal).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct NewTeam {
    name: String,
}

/// Creates a team (admins).
#[utoipa::path(post, path = "/api/v1/teams", request_body = NewTeam,
    responses((status = 201, body = TeamView), (status = 400),
        (status = 409, description = "a team of that name exists")))]
async fn create_team(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(body): ApiJson<NewTeam>,
) -> ApiResult<(StatusCode, Json<TeamView>)> {
    let team = state
        .catalog
        .create_team(&auth.principal, &body.name)
        .await?;
    Ok((StatusCode::CREATED, Json(team)))
}

/// Adds a member to a team (admins).
#[utoipa::path(put, path = "/api/v1/teams/{id}/members/{user_id}",
    params(("id" = i64, Path), ("user_id" = i64, Path)), responses((status = 204), (status = 404)))]
async fn add_team_member(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath((team, user)): ApiPath<(i64, i64)>,
) -> ApiResult<StatusCode> {
    state
        .catalog
        .add_team_member(&auth.principal, TeamId(team), UserId(user))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Removes a member from a team (admins); effective on the member's next request.
#[utoipa::path(delete, path = "/api/v1/teams/{id}/members/{user_id}",
    params(("id" = i64, Path), ("user_id" = i64, Path)), responses((status = 204), (status = 404)))]
async fn remove_team_member(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath((team, user)): ApiPath<(i64, i64)>,
) -> ApiResult<StatusCode> {
    state
        .catalog
        .remove_team_member(&auth.principal, TeamId(team), UserId(user))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Search (`q`) or browse what the caller may see.
#[utoipa::path(get, path = "/api/v1/resources", params(ResourceQuery),
    responses((status = 200, body = ResourceList), (status = 400)))]
async fn list_resources(
    State(state): State<AppState>,
    auth: Auth,
    ApiQuery(query): ApiQuery<ResourceQuery>,
) -> ApiResult<Json<ResourceList>> {
    Ok(Json(
        state.catalog.list_resources(&auth.principal, query).await?,
    ))
}

/// Creates a glossary term or a document (editors and admins).
#[utoipa::path(post, path = "/api/v1/resources", request_body = NewResourceInput,
    responses((status = 201, body = ResourceView), (status = 400), (status = 403),
        (status = 409, description = "a resource of that kind and name exists")))]
async fn create_resource(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(body): ApiJson<NewResourceInput>,
) -> ApiResult<(StatusCode, Json<ResourceView>)> {
    let resource = state.catalog.create_resource(&auth.principal, body).await?;
    Ok((StatusCode::CREATED, Json(resource)))
}

/// A resource and its metadata.
#[utoipa::path(get, path = "/api/v1/resources/{id}", params(("id" = i64, Path)),
    responses((status = 200, body = ResourceView), (status = 404)))]
async fn get_resource(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<ResourceView>> {
    Ok(Json(
        state
            .catalog
            .get_resource(&auth.principal, ResourceId(id))
            .await?,
    ))
}

/// Edits description, owners and tags (editors) or teams (admins).
#[utoipa::path(patch, path = "/api/v1/resources/{id}", params(("id" = i64, Path)),
    request_body = ResourcePatchInput,
    responses((status = 200, body = ResourceView), (status = 400), (status = 403), (status = 404)))]
async fn update_resource(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<ResourcePatchInput>,
) -> ApiResult<Json<ResourceView>> {
    Ok(Json(
        state
            .catalog
            .update_resource(&auth.principal, ResourceId(id), body)
            .await?,
    ))
}

/// Integrations the caller may see (never their connections).
#[utoipa::path(get, path = "/api/v1/integrations", responses((status = 200, body = Vec<IntegrationView>)))]
async fn list_integrations(
    State(state): State<AppState>,
    auth: Auth,
) -> ApiResult<Json<Vec<IntegrationView>>> {
    Ok(Json(
        state.catalog.list_integrations(&auth.principal).await?,
    ))
}

/// Connects a database (admins). The connection URL is encrypted at rest and never returned.
#[utoipa::path(post, path = "/api/v1/integrations", request_body = IntegrationInput,
    responses((status = 201, body = IntegrationView), (status = 400), (status = 403),
        (status = 409, description = "an integration of that name exists")))]
async fn create_integration(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(body): ApiJson<IntegrationInput>,
) -> ApiResult<(StatusCode, Json<IntegrationView>)> {
    let view = state
        .catalog
        .create_integration(&auth.principal, body)
        .await?;
    Ok((StatusCode::CREATED, Json(view)))
}

/// One integration.
#[utoipa::path(get, path = "/api/v1/integrations/{id}", params(("id" = i64, Path)),
    responses((status = 200, body = IntegrationView), (status = 404)))]
async fn get_integration(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<IntegrationView>> {
    Ok(Json(
        state
            .catalog
            .get_integration(&auth.principal, IntegrationId(id))
            .await?,
    ))
}

/// Changes an integration's connection, teams or sync interval (admins).
#[utoipa::path(patch, path = "/api/v1/integrations/{id}", params(("id" = i64, Path)), request_body = IntegrationPatch,
    responses((status = 200, body = IntegrationView), (status = 400), (status = 404),
        (status = 409, description = "an integration of that name exists")))]
async fn update_integration(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<IntegrationPatch>,
) -> ApiResult<Json<IntegrationView>> {
    Ok(Json(
        state
            .catalog
            .update_integration(&auth.principal, IntegrationId(id), body)
            .await?,
    ))
}

/// Removes an integration and everything crawled from it (admins).
#[utoipa::path(delete, path = "/api/v1/integrations/{id}", params(("id" = i64, Path)),
    responses((status = 204), (status = 404)))]
async fn delete_integration(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<StatusCode> {
    state
        .catalog
        .delete_integration(&auth.principal, IntegrationId(id))
        .await?;
    Ok(StatusCode::NO_CONTENT)
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
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(query): ApiQuery<SyncQuery>,
) -> ApiResult<Response> {
    let id = IntegrationId(id);
    if query.wait == Some(false) {
        let started = state.catalog.start_sync(&auth.principal, id).await?;
        return Ok((StatusCode::ACCEPTED, Json(started)).into_response());
    }
    let done = state.catalog.sync_integration(&auth.principal, id).await?;
    Ok(Json(done).into_response())
}

/// A sync's phase, counts and time so far (admins).
#[utoipa::path(get, path = "/api/v1/integrations/{id}/syncs/{sync_id}",
    params(("id" = i64, Path), ("sync_id" = i64, Path)),
    responses((status = 200, body = SyncProgressView), (status = 404)))]
async fn sync_progress(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath((id, sync_id)): ApiPath<(i64, i64)>,
) -> ApiResult<Json<SyncProgressView>> {
    Ok(Json(
        state
            .catalog
            .sync_progress(&auth.principal, IntegrationId(id), sync_id)
            .await?,
    ))
}

/// Tries the integration's connection (admins), through the integration policy and the
/// connector a sync uses; writes nothing. A connection that does not work answers 422 with the
/// connector's code (`unreachable`, `auth_failed`, `not_allowed`, …).
#[utoipa::path(post, path = "/api/v1/integrations/{id}/test", params(("id" = i64, Path)),
    responses((status = 200, body = ConnectionTest), (status = 404),
        (status = 422, description = "the connection does not work; the error says why")))]
async fn test_integration(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<ConnectionTest>> {
    Ok(Json(
        state
            .catalog
            .test_integration(&auth.principal, IntegrationId(id))
            .await?,
    ))
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
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(query): ApiQuery<DbtImportQuery>,
    request: axum::extract::Request,
) -> ApiResult<Json<DbtImportView>> {
    // Authorise before reading the body: nobody else makes the server read and parse a manifest.
    state
        .catalog
        .visible_integration(&auth.principal, IntegrationId(id))
        .await?;
    if !auth.principal.can_administer() {
        return Err(cairn_catalog::CatalogError::forbidden(
            "only workspace admins manage integrations",
        )
        .into());
    }
    let ApiJson(body) =
        <ApiJson<DbtImportInput> as axum::extract::FromRequest<AppState>>::from_request(
            request, &state,
        )
        .await?;
    Ok(Json(
        state
            .catalog
            .import_dbt(
                &auth.principal,
                IntegrationId(id),
                body,
                query.replace.unwrap_or(false),
            )
            .await?,
    ))
}

/// Who may run SQL on an integration (admins).
#[utoipa::path(get, path = "/api/v1/integrations/{id}/permissions", params(("id" = i64, Path)),
    responses((status = 200, body = PermissionsView), (status = 403), (status = 404)))]
async fn get_permissions(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<PermissionsView>> {
    Ok(Json(
        state
            .catalog
            .query_permissions(&auth.principal, IntegrationId(id))
            .await?,
    ))
}

/// Replaces who may run SQL on an integration (admins).
#[utoipa::path(put, path = "/api/v1/integrations/{id}/permissions", params(("id" = i64, Path)), request_body = PermissionsView,
    responses((status = 200, body = PermissionsView), (status = 400), (status = 403), (status = 404)))]
async fn put_permissions(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<PermissionsView>,
) -> ApiResult<Json<PermissionsView>> {
    Ok(Json(
        state
            .catalog
            .set_query_permissions(&auth.principal, IntegrationId(id), body)
            .await?,
    ))
}

/// The workspace's AI settings (members read, admins write).
#[utoipa::path(get, path = "/api/v1/settings/ai", responses((status = 200, body = AiSettings)))]
async fn get_ai_settings(State(state): State<AppState>, auth: Auth) -> ApiResult<Json<AiSettings>> {
    Ok(Json(state.catalog.ai_settings(&auth.principal).await?))
}

/// Changes the AI settings (admins); absent fields stay as they are.
#[utoipa::path(put, path = "/api/v1/settings/ai", request_body = AiSettingsInput,
    responses((status = 200, body = AiSettings), (status = 400), (status = 403), (status = 422)))]
async fn put_ai_settings(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(body): ApiJson<AiSettingsInput>,
) -> ApiResult<Json<AiSettings>> {
    Ok(Json(
        state
            .catalog
            .update_ai_settings(&auth.principal, body)
            .await?,
    ))
}

/// Runs one read-only statement when Run SQL is on and the caller may query the integration.
/// The result goes to the caller only.
#[utoipa::path(post, path = "/api/v1/sql", request_body = SqlInput,
    responses((status = 200, body = SqlResult), (status = 403), (status = 404), (status = 422)))]
async fn run_sql(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(body): ApiJson<SqlInput>,
) -> ApiResult<Json<SqlResult>> {
    let result = state.catalog.run_sql(&auth.principal, body).await?;
    Ok(Json(SqlResult::from(result)))
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

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct AuditQuery {
    /// Entries after this sequence number.
    after: Option<i64>,
    /// At most this many entries.
    limit: Option<usize>,
}

/// The audit log, oldest first (admins).
#[utoipa::path(get, path = "/api/v1/audit", params(AuditQuery), responses((status = 200, body = Vec<AuditEntry>), (status = 403)))]
async fn audit_log(
    State(state): State<AppState>,
    auth: Auth,
    ApiQuery(query): ApiQuery<AuditQuery>,
) -> ApiResult<Json<Vec<AuditEntry>>> {
    Ok(Json(
        state
            .catalog
            .audit_log(&auth.principal, query.after, query.limit)
            .await?,
    ))
}

/// Recomputes the audit log's hash chain (admins).
#[utoipa::path(get, path = "/api/v1/audit/verify", responses((status = 200, body = AuditVerification), (status = 403)))]
async fn audit_verify(
    State(state): State<AppState>,
    auth: Auth,
) -> ApiResult<Json<AuditVerification>> {
    Ok(Json(state.catalog.verify_own_audit(&auth.principal).await?))
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
    State(state): State<AppState>,
    auth: Auth,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> ApiResult<Json<HistoryPage>> {
    Ok(Json(
        state
            .catalog
            .history(&auth.principal, query.cursor.as_deref(), query.limit)
            .await?,
    ))
}

/// Deletes all of the caller's prompts: the assistant forgets them.
#[utoipa::path(delete, path = "/api/v1/ai/history", responses((status = 204)))]
async fn delete_history(State(state): State<AppState>, auth: Auth) -> ApiResult<StatusCode> {
    state.catalog.delete_history(&auth.principal).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Deletes one of the caller's prompts.
#[utoipa::path(delete, path = "/api/v1/ai/history/{id}", params(("id" = i64, Path)), responses((status = 204), (status = 404)))]
async fn delete_prompt(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<StatusCode> {
    state.catalog.delete_prompt(&auth.principal, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// What was sent to a model provider for one of the caller's own prompts (empty when nothing
/// left the server).
#[utoipa::path(get, path = "/api/v1/ai/history/{id}/egress", params(("id" = i64, Path)),
    responses((status = 200, body = Vec<EgressView>), (status = 404)))]
async fn prompt_egress(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<Vec<EgressView>>> {
    Ok(Json(
        state.catalog.prompt_egress(&auth.principal, id).await?,
    ))
}

/// Everything Cairn holds about the caller.
#[utoipa::path(get, path = "/api/v1/me/export", responses((status = 200, body = Export)))]
async fn export(State(state): State<AppState>, auth: Auth) -> ApiResult<Json<Export>> {
    Ok(Json(state.catalog.export(&auth.principal).await?))
}

/// The egress ledger: every request sent to a model provider, newest first (admins).
#[utoipa::path(get, path = "/api/v1/egress", params(PageQuery), responses((status = 200, body = Vec<EgressView>), (status = 403)))]
async fn egress(
    State(state): State<AppState>,
    auth: Auth,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> ApiResult<Json<Vec<EgressView>>> {
    Ok(Json(
        state
            .catalog
            .egress(&auth.principal, query.cursor.as_deref(), query.limit)
            .await?,
    ))
}

/// The exact first request the assistant would send to the workspace's provider for the caller
/// and this question, with its SHA-256; nothing is sent and nothing is written to the ledger.
#[utoipa::path(post, path = "/api/v1/ai/preview", request_body = PreviewInput,
    responses((status = 200, body = EgressPreview), (status = 400), (status = 422)))]
async fn preview(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(body): ApiJson<PreviewInput>,
) -> ApiResult<Json<EgressPreview>> {
    Ok(Json(
        state.catalog.preview_egress(&auth.principal, body).await?,
    ))
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
    use axum::response::sse::{Event, Sse};
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
    let answer: std::pin::Pin<Box<dyn Future<Output = ApiResult<AskView>> + Send>> =
        if first.is_none() {
            let view = answer.await?;
            Box::pin(async move { Ok(view) })
        } else {
            Box::pin(answer)
        };
    // `delta` events as the pieces arrive, then `done` with the whole answer (or `error` with
    // the error body when it failed after its first piece).
    let events = futures_util::stream::unfold(
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
                    error: crate::error::ErrorDetail {
                        code: error.code.to_string(),
                        message: error.message,
                        field: error.field,
                    },
                }),
            };
            Some((last, (None, received, None)))
        },
    );
    Ok(Sse::new(events).into_response())
}

/// Drafts a description of a resource from its metadata, through the egress gate (editors);
/// accept it with PATCH.
#[utoipa::path(post, path = "/api/v1/resources/{id}/describe", params(("id" = i64, Path)),
    responses((status = 200, body = DescriptionDraft), (status = 403), (status = 404), (status = 422)))]
async fn describe(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<DescriptionDraft>> {
    Ok(Json(
        state
            .catalog
            .describe(&auth.principal, ResourceId(id))
            .await?,
    ))
}
