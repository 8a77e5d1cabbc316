//! Cairn's web app: pages rendered on the server, calling the same catalog services with the
//! same principal as the JSON API. Writes go from the pages' own script to `/api/v1` with the
//! session's CSRF token, so every rule of the API holds for the browser too.

mod account;
mod ai;
mod assets;
mod graph;
mod layout;
mod resource;
mod search;
mod session;
mod settings;
mod signin;
mod text;

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use cairn_server::{ApiError, AppState};

/// What every response may load: only this origin's own script and style files, nothing inline,
/// nothing remote, never framed.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/// The pages, the API beside them, and the fallbacks: a JSON 404 under `/api`, a page elsewhere.
pub fn app(state: AppState) -> Router {
    let pages = Router::new()
        .route("/", get(ai::page))
        .route("/signin", get(signin::page))
        .route("/search", get(search::page))
        .route("/resources/{id}", get(resource::page))
        .route("/settings", get(settings::ai_page))
        .route("/settings/integrations", get(settings::integrations_page))
        .route("/settings/people", get(settings::people_page))
        .route("/settings/audit", get(settings::audit_page))
        .route("/settings/egress", get(settings::egress_page))
        .route("/account", get(account::page))
        .route("/static/{file}", get(assets::serve))
        .with_state(state.clone());
    pages
        .merge(cairn_server::api(state))
        .fallback(not_found)
        .layer(middleware::from_fn(security_headers))
}

async fn not_found(request: Request) -> Response {
    let path = request.uri().path();
    if path == "/api" || path.starts_with("/api/") {
        return ApiError::not_found().into_response();
    }
    layout::error_page(
        axum::http::StatusCode::NOT_FOUND,
        "Not found",
        "There is nothing at this address, or it is not yours to see.",
    )
}

async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    let fixed: [(HeaderName, &'static str); 4] = [
        (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::X_FRAME_OPTIONS, "DENY"),
    ];
    for (name, value) in fixed {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}
