//! The workspace's people (admins): members, their tokens, teams, and deleting the workspace.

use axum::Json;
use axum::http::StatusCode;
use cairn_catalog::{NewUser, TeamId, TeamView, TokenId, TokenView, UserId, UserPatch, UserView};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{ApiResult, Caller, created, json, no_content};
use crate::auth::{ApiJson, ApiPath};

/// Members of the workspace (admins).
#[utoipa::path(get, path = "/api/v1/users", responses((status = 200, body = Vec<UserView>), (status = 403)))]
pub(super) async fn list_users(caller: Caller) -> ApiResult<Json<Vec<UserView>>> {
    json(caller.catalog.list_users(&caller.principal).await)
}

#[derive(Debug, Serialize, ToSchema)]
pub(super) struct CreatedUser {
    user: UserView,
    /// The generated password, when none was given; shown once.
    #[serde(skip_serializing_if = "Option::is_none")]
    password: Option<String>,
}

/// Adds a member (admins).
#[utoipa::path(post, path = "/api/v1/users", request_body = NewUser,
    responses((status = 201, body = CreatedUser), (status = 400), (status = 403),
        (status = 409, description = "the address is already a member")))]
pub(super) async fn create_user(
    caller: Caller,
    ApiJson(body): ApiJson<NewUser>,
) -> ApiResult<(StatusCode, Json<CreatedUser>)> {
    let created_user = caller.catalog.create_user(&caller.principal, body).await;
    created(created_user.map(|(user, password)| CreatedUser { user, password }))
}

/// Changes a member's name, role or password (admins).
#[utoipa::path(patch, path = "/api/v1/users/{id}", params(("id" = i64, Path)), request_body = UserPatch,
    responses((status = 200, body = UserView), (status = 404),
        (status = 409, description = "the workspace would be left without an admin")))]
pub(super) async fn update_user(
    caller: Caller,
    ApiPath(id): ApiPath<UserId>,
    ApiJson(body): ApiJson<UserPatch>,
) -> ApiResult<Json<UserView>> {
    json(
        caller
            .catalog
            .update_user(&caller.principal, id, body)
            .await,
    )
}

/// Removes a member and erases their data (admins).
#[utoipa::path(delete, path = "/api/v1/users/{id}", params(("id" = i64, Path)),
    responses((status = 204), (status = 404),
        (status = 409, description = "the workspace would be left without an admin")))]
pub(super) async fn delete_user(
    caller: Caller,
    ApiPath(id): ApiPath<UserId>,
) -> ApiResult<StatusCode> {
    no_content(caller.catalog.delete_user(&caller.principal, id).await)
}

/// A member's API tokens, never their secrets (admins).
#[utoipa::path(get, path = "/api/v1/users/{id}/tokens", params(("id" = i64, Path)),
    responses((status = 200, body = Vec<TokenView>), (status = 403), (status = 404)))]
pub(super) async fn list_user_tokens(
    caller: Caller,
    ApiPath(id): ApiPath<UserId>,
) -> ApiResult<Json<Vec<TokenView>>> {
    json(caller.catalog.list_user_tokens(&caller.principal, id).await)
}

/// Revokes one of a member's API tokens (admins).
#[utoipa::path(delete, path = "/api/v1/users/{id}/tokens/{token_id}",
    params(("id" = i64, Path), ("token_id" = i64, Path)),
    responses((status = 204), (status = 403), (status = 404)))]
pub(super) async fn revoke_user_token(
    caller: Caller,
    ApiPath((user, token)): ApiPath<(UserId, TokenId)>,
) -> ApiResult<StatusCode> {
    no_content(
        caller
            .catalog
            .revoke_user_token(&caller.principal, user, token)
            .await,
    )
}

/// Teams and their members (admins).
#[utoipa::path(get, path = "/api/v1/teams", responses((status = 200, body = Vec<TeamView>)))]
pub(super) async fn list_teams(caller: Caller) -> ApiResult<Json<Vec<TeamView>>> {
    json(caller.catalog.list_teams(&caller.principal).await)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct NewTeam {
    name: String,
}

/// Creates a team (admins).
#[utoipa::path(post, path = "/api/v1/teams", request_body = NewTeam,
    responses((status = 201, body = TeamView), (status = 400),
        (status = 409, description = "a team of that name exists")))]
pub(super) async fn create_team(
    caller: Caller,
    ApiJson(body): ApiJson<NewTeam>,
) -> ApiResult<(StatusCode, Json<TeamView>)> {
    created(
        caller
            .catalog
            .create_team(&caller.principal, &body.name)
            .await,
    )
}

/// Adds a member to a team (admins).
#[utoipa::path(put, path = "/api/v1/teams/{id}/members/{user_id}",
    params(("id" = i64, Path), ("user_id" = i64, Path)), responses((status = 204), (status = 404)))]
pub(super) async fn add_team_member(
    caller: Caller,
    ApiPath((team, user)): ApiPath<(TeamId, UserId)>,
) -> ApiResult<StatusCode> {
    no_content(
        caller
            .catalog
            .add_team_member(&caller.principal, team, user)
            .await,
    )
}

/// Removes a member from a team (admins); effective on the member's next request.
#[utoipa::path(delete, path = "/api/v1/teams/{id}/members/{user_id}",
    params(("id" = i64, Path), ("user_id" = i64, Path)), responses((status = 204), (status = 404)))]
pub(super) async fn remove_team_member(
    caller: Caller,
    ApiPath((team, user)): ApiPath<(TeamId, UserId)>,
) -> ApiResult<StatusCode> {
    no_content(
        caller
            .catalog
            .remove_team_member(&caller.principal, team, user)
            .await,
    )
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct WorkspaceDeletion {
    /// The workspace's name, repeated to confirm.
    name: String,
}

/// Deletes the caller's workspace with everything in it: people, resources, integrations,
/// prompts, the ledger and the audit log (admins; the name repeated to confirm).
#[utoipa::path(delete, path = "/api/v1/workspace", request_body = WorkspaceDeletion,
    responses((status = 204), (status = 400, description = "the name does not match"),
        (status = 403)))]
pub(super) async fn delete_workspace(
    caller: Caller,
    ApiJson(body): ApiJson<WorkspaceDeletion>,
) -> ApiResult<StatusCode> {
    no_content(
        caller
            .catalog
            .delete_workspace(&caller.principal, &body.name)
            .await,
    )
}
