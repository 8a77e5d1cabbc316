//! Cairn's HTTP API: extract the request and the principal, call the catalog, answer JSON.

mod auth;
mod contract;
mod error;
mod mcp;
mod routes;

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use cairn_catalog::Catalog;
use tokio::net::TcpListener;

pub use auth::{Auth, cookie};
pub use error::ApiError;
pub use routes::openapi;

/// The cookie holding the session secret.
pub const SESSION_COOKIE: &str = "cairn_session";
/// The header cookie-authenticated writes must carry, with the session's CSRF token.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// What every handler shares.
#[derive(Clone, Debug)]
pub struct AppState {
    pub catalog: Catalog,
    /// Mark cookies `Secure` (set when Cairn is served over HTTPS).
    pub secure_cookies: bool,
}

/// The whole API: its routes, and a JSON 404 for every other path.
pub fn app(state: AppState) -> Router {
    api(state).fallback(|| async { ApiError::not_found() })
}

/// The API's routes without a fallback, to compose with other routers (the web app's pages).
pub fn api(state: AppState) -> Router {
    routes::router(state.clone()).merge(mcp::router(state))
}

/// Serves the API until `shutdown` resolves, keeping the search index following the change feed.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let router = app(state.clone());
    serve_router(listener, state, router, shutdown).await
}

/// Serves `router` (the API, possibly composed with the pages) with the same background work.
pub async fn serve_router(
    listener: TcpListener,
    state: AppState,
    router: Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let follower = {
        let catalog = state.catalog.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            loop {
                tick.tick().await;
                if let Err(error) = catalog.follow_changes().await {
                    tracing::warn!(%error, "following the change feed failed");
                }
            }
        })
    };
    let scheduler = {
        let catalog = state.catalog.clone();
        let enabled = catalog.config().scheduled_sync;
        tokio::spawn(async move {
            if !enabled {
                return;
            }
            let mut tick = tokio::time::interval(Duration::from_secs(30));
            loop {
                tick.tick().await;
                if let Err(error) = catalog.sync_due().await {
                    tracing::warn!(%error, "scheduling syncs failed");
                }
                if let Err(error) = catalog.purge().await {
                    tracing::warn!(%error, "applying prompt retention failed");
                }
            }
        })
    };
    let app = router.into_make_service_with_connect_info::<SocketAddr>();
    let outcome = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await;
    follower.abort();
    scheduler.abort();
    outcome
}
