//! Cairn's HTTP API: extract the request and the principal, call the catalog, answer JSON.

mod auth;
mod contract;
mod edge;
mod error;
mod mcp;
mod routes;

use std::time::Duration;

use axum::Router;
use cairn_catalog::Catalog;
use tokio::net::TcpListener;
use tokio::sync::watch;

pub use auth::{Auth, cookie};
pub use edge::ServeConfig;
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

/// Serves the API with the default limits until `shutdown` resolves, keeping the search index
/// following the change feed.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let router = app(state.clone());
    serve_router(listener, state, router, ServeConfig::default(), shutdown).await
}

/// Serves `router` (the API, possibly composed with the pages) within `config`'s limits, with the
/// background work: the search index follows the change feed, scheduled syncs run. When
/// `shutdown` resolves, stops accepting, lets requests in flight finish (for at most the
/// shutdown grace), then applies what the change feed still holds to the index and commits it.
pub async fn serve_router(
    listener: TcpListener,
    state: AppState,
    router: Router,
    config: ServeConfig,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let (stopping_tx, stopping) = watch::channel(false);
    let follower = tokio::spawn(follow_feed(state.catalog.clone(), stopping));
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
                if let Err(error) = catalog.operator().purge().await {
                    tracing::warn!(%error, "applying prompt retention failed");
                }
            }
        })
    };
    edge::run(listener, router, &config, shutdown).await;
    scheduler.abort();
    let _ = stopping_tx.send(true);
    if let Err(error) = follower.await {
        tracing::warn!(%error, "the change feed follower failed");
    }
    Ok(())
}

/// Keeps the search index following the store's change feed, once a second; when `stopping`
/// turns true, applies what the feed holds one last time, committing the index.
async fn follow_feed(catalog: Catalog, mut stopping: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stopping.wait_for(|stopping| *stopping) => break,
        }
        if let Err(error) = catalog.follow_changes().await {
            tracing::warn!(%error, "following the change feed failed");
        }
    }
    match catalog.follow_changes().await {
        Ok(()) => tracing::info!("search index committed"),
        Err(error) => tracing::warn!(%error, "committing the search index at shutdown failed"),
    }
}
