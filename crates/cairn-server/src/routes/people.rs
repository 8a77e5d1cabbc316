//! The workspace's people (admins): members, their tokens, teams, and deleting the workspace.

use axum::Json;
use axum::http::StatusCode;
use cairn_catalog::{NewUser, TeamId, TeamView, TokenId, TokenView, UserId, UserPatch, UserView};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{ApiResult, Caller, created, json, no_content};
use crate::AppState;
use crate::auth::{ApiJson, ApiPath};

/// Members, their tokens, teams, and the workspace itself.
pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_users, create_user))
        .routes(routes!(update_user, delete_user))
        .routes(routes!(list_user_tokens))
        .routes(routes!(revoke_user_token))
        .routes(routes!(list_teams, create_team))
        .routes(routes!(add_team_member, remove_team_member))
        .routes(routes!(delete_workspace))
}

/// Members of the workspace (admins).
#[utoipa::path(get, path = "/api/v1/users", responses((status = 200, body = Vec<UserView>), (status = 403)))]
async fn list_users(Caller { catalog, principal }: Caller) -> ApiResult<Json<Vec<UserView>>> {
    json(catalog.list_users(&principal).await)
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
    Caller { catalog, principal }: Caller,
    ApiJson(body): ApiJson<NewUser>,
) -> ApiResult<(StatusCode, Json<CreatedUser>)> {
    let created_user = catalog.create_user(&principal, body).await;
    created(created_user.map(|(user, password)| CreatedUser { user, password }))
}

/// Changes a member's name, role or password (admins).
#[utoipa::path(patch, path = "/api/v1/users/{id}", params(("id" = i64, Path)), request_body = UserPatch,
    responses((status = 200, body = UserView), (status = 404),
        (status = 409, description = "the workspace would be left without an admin")))]
async fn update_user(
    Caller { catalog, principal }: Caller,
    ApiPath(id): ApiPath<UserId>,
    ApiJson(body): ApiJson<UserPatch>,
) -> ApiResult<Json<UserView>> {
    json(catalog.update_user(&principal, id, body).await)
}

/// Removes a member and erases their data (admins).
#[utoipa::path(delete, path = "/api/v1/users/{id}", params(("id" = i64, Path)),
    responses((status = 204), (status = 404),
        (status = 409, description = "the workspace would be left without an admin")))]
async fn delete_user(
    Caller { catalog, principal }: Caller,
    ApiPath(id): ApiPath<UserId>,
) -> ApiResult<StatusCode> {
    no_content(catalog.delete_user(&principal, id).await)
}

/// A member's API tokens, never their secrets (admins).
#[utoipa::path(get, path = "/api/v1/users/{id}/tokens", params(("id" = i64, Path)),
    responses((status = 200, body = Vec<TokenView>), (status = 403), (status = 404)))]
async fn list_user_tokens(
    Caller { catalog, principal }: Caller,
    ApiPath(id): ApiPath<UserId>,
) -> ApiResult<Json<Vec<TokenView>>> {
    json(catalog.list_user_tokens(&principal, id).await)
}

/// Revokes one of a member's API tokens (admins).
#[utoipa::path(delete, path = "/api/v1/users/{id}/tokens/{token_id}",
    params(("id" = i64, Path), ("token_id" = i64, Path)),
    responses((status = 204), (status = 403), (status = 404)))]
async fn revoke_user_token(
    Caller { catalog, principal }: Caller,
    ApiPath((user, token)): ApiPath<(UserId, TokenId)>,
) -> ApiResult<StatusCode> {
    no_content(catalog.revoke_user_token(&principal, user, token).await)
}

/// Teams and their members (admins).
#[utoipa::path(get, path = "/api/v1/teams", responses((status = 200, body = Vec<TeamView>)))]
async fn list_teams(Caller { catalog, principal }: Caller) -> ApiResult<Json<Vec<TeamView>>> {
    json(catalog.list_teams(&principal).await)
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
    Caller { catalog, principal }: Caller,
    ApiJson(body): ApiJson<NewTeam>,
) -> ApiResult<(StatusCode, Json<TeamView>)> {
    created(catalog.create_team(&principal, &body.name).await)
}

/// Adds a member to a team (admins).
#[utoipa::path(put, path = "/api/v1/teams/{id}/members/{user_id}",
    params(("id" = i64, Path), ("user_id" = i64, Path)), responses((status = 204), (status = 404)))]
async fn add_team_member(
    Caller { catalog, principal }: Caller,
    ApiPath((team, user)): ApiPath<(TeamId, UserId)>,
) -> ApiResult<StatusCode> {
    no_content(catalog.add_team_member(&principal, team, user).await)
}

/// Removes a member from a team (admins); effective on the member's next request.
#[utoipa::path(delete, path = "/api/v1/teams/{id}/members/{user_id}",
    params(("id" = i64, Path), ("user_id" = i64, Path)), responses((status = 204), (status = 404)))]
async fn remove_team_member(
    Caller { catalog, principal }: Caller,
    ApiPath((team, user)): ApiPath<(TeamId, UserId)>,
) -> ApiResult<StatusCode> {
    no_content(catalog.remove_team_member(&principal, team, user).await)
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
    Caller { catalog, principal }: Caller,
    ApiJson(body): ApiJson<WorkspaceDeletion>,
) -> ApiResult<StatusCode> {
    no_content(catalog.delete_workspace(&principal, &body.name).await)
}
