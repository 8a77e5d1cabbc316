//! The server's edge: accepting connections, bounding how long a client may take to send a
//! request, capping the requests in flight per client address and in total, and shutting down
//! gracefully (stop accepting, let what is in flight finish within a bound).

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::{Pin, pin};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Request};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use cairn_domain::ErrorCode;
use hyper::body::{Body as HttpBody, Frame, Incoming, SizeHint};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tower_service::Service;

use crate::error::ApiError;

/// The limits `cairn serve` applies to every connection and request.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// How long a client may take to send a request's headers (and how long an idle
    /// keep-alive connection stays open): a client sending them a byte at a time is cut off.
    pub header_read_timeout: Duration,
    /// How long a client may take to send a request's body, counted from its headers.
    pub body_read_timeout: Duration,
    /// Requests in flight at once over all clients; beyond it, 503 with `Retry-After`.
    pub max_in_flight: usize,
    /// Requests in flight at once from one client address; beyond it, 429 with `Retry-After`.
    /// A response streaming its body (server-sent events) counts until the stream ends.
    pub max_in_flight_per_client: usize,
    /// How long shutdown waits for requests in flight before closing their connections.
    pub shutdown_grace: Duration,
}

impl Default for ServeConfig {
    fn default() -> Self {
        ServeConfig {
            header_read_timeout: Duration::from_secs(10),
            body_read_timeout: Duration::from_secs(30),
            max_in_flight: 512,
            max_in_flight_per_client: 64,
            shutdown_grace: Duration::from_secs(20),
        }
    }
}

/// What a refused request suggests in `Retry-After`, in seconds.
const RETRY_AFTER_SECS: u64 = 1;

/// Accepts connections and serves `router` on each until `shutdown` resolves; then stops
/// accepting (new connections are refused), lets requests in flight finish for at most
/// `shutdown_grace`, and closes what remains.
pub(crate) async fn run(
    listener: TcpListener,
    router: Router,
    config: &ServeConfig,
    shutdown: impl Future<Output = ()>,
) {
    let gate = Arc::new(Gate::new(config));
    let (closing_tx, closing) = watch::channel(false);
    let mut connections = JoinSet::new();
    let mut shutdown = pin!(shutdown);
    loop {
        let (stream, remote) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors and the like: wait rather than spin.
                    tracing::warn!(%error, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        while connections.try_join_next().is_some() {}
        connections.spawn(serve_connection(
            stream,
            remote,
            router.clone(),
            Arc::clone(&gate),
            closing.clone(),
        ));
    }
    drop(listener);
    tracing::info!(
        connections = connections.len(),
        "stopped accepting connections, finishing requests in flight"
    );
    let _ = closing_tx.send(true);
    let drained = tokio::time::timeout(config.shutdown_grace, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            connections = connections.len(),
            grace_secs = config.shutdown_grace.as_secs(),
            "requests still in flight after the shutdown grace, closing their connections"
        );
        connections.shutdown().await;
    }
}

/// Serves one connection (HTTP/1.1, keep-alive) until the client closes it, a timeout cuts it
/// off, or shutdown lets its request in flight finish and closes it.
async fn serve_connection(
    stream: TcpStream,
    remote: SocketAddr,
    router: Router,
    gate: Arc<Gate>,
    mut closing: watch::Receiver<bool>,
) {
    // Answers are small and written whole: do not hold them back waiting for more.
    let _ = stream.set_nodelay(true);
    let header_read_timeout = gate.header_read_timeout;
    let service = hyper::service::service_fn(move |request: Request<Incoming>| {
        handle(request, remote, router.clone(), Arc::clone(&gate))
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(header_read_timeout);
    let mut connection = pin!(builder.serve_connection(TokioIo::new(stream), service));
    tokio::select! {
        outcome = connection.as_mut() => {
            if let Err(error) = outcome {
                tracing::debug!(%error, %remote, "connection ended with an error");
            }
            return;
        }
        _ = closing.wait_for(|closing| *closing) => {}
    }
    // Shutting down: finish the request in flight, if any, then close.
    connection.as_mut().graceful_shutdown();
    if let Err(error) = connection.await {
        tracing::debug!(%error, %remote, "connection ended with an error while closing");
    }
}

/// One request: admitted if the caps allow it, its body read against a deadline, its response
/// holding its place among those in flight until the body has been sent.
async fn handle(
    request: Request<Incoming>,
    remote: SocketAddr,
    mut router: Router,
    gate: Arc<Gate>,
) -> Result<Response, Infallible> {
    let permit = match gate.admit(remote.ip()) {
        Ok(permit) => permit,
        Err(refusal) => return Ok(refusal.into_response()),
    };
    let (mut parts, body) = request.into_parts();
    parts.extensions.insert(ConnectInfo(remote));
    let body = if body.is_end_stream() {
        Body::new(body)
    } else {
        Body::new(DeadlineBody {
            body,
            deadline: tokio::time::Instant::now() + gate.body_read_timeout,
            timeout: gate.body_read_timeout,
            timer: None,
        })
    };
    let response = router.call(Request::from_parts(parts, body)).await?;
    Ok(response.map(|body| {
        Body::new(HeldBody {
            body,
            _permit: permit,
        })
    }))
}

/// Counts requests in flight, per client address and in total.
struct Gate {
    header_read_timeout: Duration,
    body_read_timeout: Duration,
    max_in_flight: usize,
    max_in_flight_per_client: usize,
    counts: Mutex<Counts>,
}

#[derive(Default)]
struct Counts {
    total: usize,
    per_client: HashMap<IpAddr, usize>,
}

impl Gate {
    fn new(config: &ServeConfig) -> Gate {
        Gate {
            header_read_timeout: config.header_read_timeout,
            body_read_timeout: config.body_read_timeout,
            max_in_flight: config.max_in_flight.max(1),
            max_in_flight_per_client: config.max_in_flight_per_client.max(1),
            counts: Mutex::new(Counts::default()),
        }
    }

    /// A place among the requests in flight, or the answer refusing one.
    fn admit(self: &Arc<Gate>, client: IpAddr) -> Result<Permit, ApiError> {
        let mut counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        if counts.total >= self.max_in_flight {
            return Err(refusal(
                StatusCode::SERVICE_UNAVAILABLE,
                ErrorCode::Unavailable,
                format!(
                    "the server is answering its limit of {} requests at once; retry shortly",
                    self.max_in_flight
                ),
            ));
        }
        let mine = counts.per_client.entry(client).or_default();
        if *mine >= self.max_in_flight_per_client {
            return Err(refusal(
                StatusCode::TOO_MANY_REQUESTS,
                ErrorCode::RateLimited,
                format!(
                    "too many requests in flight from your address (at most {} at once); \
                     retry when one has finished",
                    self.max_in_flight_per_client
                ),
            ));
        }
        *mine += 1;
        counts.total += 1;
        Ok(Permit {
            gate: Arc::clone(self),
            client,
        })
    }
}

fn refusal(status: StatusCode, code: ErrorCode, message: String) -> ApiError {
    let mut error = ApiError::new(status, code.as_str(), message);
    error.retry_after = Some(RETRY_AFTER_SECS);
    error
}

/// A request's place among those in flight, given back when dropped.
struct Permit {
    gate: Arc<Gate>,
    client: IpAddr,
}

impl Drop for Permit {
    fn drop(&mut self) {
        let mut counts = self
            .gate
            .counts
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        counts.total = counts.total.saturating_sub(1);
        if let Some(mine) = counts.per_client.get_mut(&self.client) {
            *mine = mine.saturating_sub(1);
            if *mine == 0 {
                counts.per_client.remove(&self.client);
            }
        }
    }
}

/// A response body that keeps its request counted as in flight until it has been sent (or the
/// client went away): a stream counts for as long as it is open.
struct HeldBody {
    body: Body,
    _permit: Permit,
}

impl HttpBody for HeldBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        context: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.get_mut().body).poll_frame(context)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// A request body that fails with [`BodyTimedOut`] when it has not all arrived by `deadline`.
struct DeadlineBody {
    body: Incoming,
    deadline: tokio::time::Instant,
    timeout: Duration,
    /// Armed the first time the body is not ready at once.
    timer: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl HttpBody for DeadlineBody {
    type Data = Bytes;
    type Error = axum::BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        context: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::BoxError>>> {
        let this = self.get_mut();
        if let Poll::Ready(frame) = Pin::new(&mut this.body).poll_frame(context) {
            return Poll::Ready(frame.map(|frame| frame.map_err(axum::BoxError::from)));
        }
        let deadline = this.deadline;
        let timer = this
            .timer
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        match timer.as_mut().poll(context) {
            Poll::Ready(()) => Poll::Ready(Some(Err(Box::new(BodyTimedOut(this.timeout))))),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// A request body that did not all arrive within the body read timeout.
#[derive(Debug)]
pub(crate) struct BodyTimedOut(Duration);

impl std::fmt::Display for BodyTimedOut {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            formatter,
            "the request body did not arrive within {} s",
            self.0.as_secs()
        )
    }
}

impl std::error::Error for BodyTimedOut {}

/// The body timeout somewhere in `error`'s chain of sources, if that is what failed.
pub(crate) fn body_timed_out<'a>(
    error: &'a (dyn std::error::Error + 'static),
) -> Option<&'a BodyTimedOut> {
    let mut current = Some(error);
    while let Some(error) = current {
        if let Some(timed_out) = error.downcast_ref::<BodyTimedOut>() {
            return Some(timed_out);
        }
        current = error.source();
    }
    None
}
