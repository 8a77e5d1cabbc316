//! Signing in and out, and what a caller holds of their own: who they are, their API tokens,
//! their export.

use std::net::SocketAddr;

use axum::Json;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use cairn_catalog::{Export, MeView, NewToken, SignIn, TokenId, TokenView};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{ApiResult, Caller, body_limit, created, json, no_content};
use crate::auth::{ApiJson, ApiPath, Auth, cookie};
use crate::{AppState, SESSION_COOKIE};

/// A sign-in is an address, a password and a workspace name: a few KiB at most. Anyone may send
/// one, so nothing larger is read.
const SIGN_IN_MAX_BODY_BYTES: usize = 4 * 1024;

/// Signing in and out, the caller, their export and their tokens.
pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(body_limit(
            routes!(sign_in, sign_out),
            SIGN_IN_MAX_BODY_BYTES,
        ))
        .routes(routes!(me))
        .routes(routes!(export))
        .routes(routes!(list_tokens, create_token))
        .routes(routes!(delete_token))
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
            password: body.password.into(),
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
async fn me(Caller { catalog, principal }: Caller) -> ApiResult<Json<MeView>> {
    json(catalog.me(&principal).await)
}

/// Everything Cairn holds about the caller.
#[utoipa::path(get, path = "/api/v1/me/export", responses((status = 200, body = Export)))]
async fn export(Caller { catalog, principal }: Caller) -> ApiResult<Json<Export>> {
    json(catalog.export(&principal).await)
}

/// The caller's API tokens (never their secrets).
#[utoipa::path(get, path = "/api/v1/tokens", responses((status = 200, body = Vec<TokenView>)))]
async fn list_tokens(Caller { catalog, principal }: Caller) -> ApiResult<Json<Vec<TokenView>>> {
    json(catalog.list_own_tokens(&principal).await)
}

/// A new API token; its secret is in this answer only.
#[utoipa::path(post, path = "/api/v1/tokens", request_body = NewToken,
    responses((status = 201, body = TokenView)))]
async fn create_token(
    Caller { catalog, principal }: Caller,
    ApiJson(body): ApiJson<NewToken>,
) -> ApiResult<(StatusCode, Json<TokenView>)> {
    created(catalog.create_own_token(&principal, body).await)
}

/// Revokes one of the caller's tokens.
#[utoipa::path(delete, path = "/api/v1/tokens/{id}", params(("id" = i64, Path)),
    responses((status = 204), (status = 404)))]
async fn delete_token(
    Caller { catalog, principal }: Caller,
    ApiPath(id): ApiPath<TokenId>,
) -> ApiResult<StatusCode> {
    no_content(catalog.revoke_own_token(&principal, id).await)
}
