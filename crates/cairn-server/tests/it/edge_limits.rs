//! Limits at the server's edge: a client sending its headers a byte at a time is cut off, a body
//! that does not arrive in time answers 408, and requests in flight are capped per client address
//! (429) and in total (503), both with `Retry-After` and the API's error shape.

use crate::common;

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use cairn_server::ServeConfig;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

use common::{Backend, TestApp};

/// A second server with `config`'s limits over a fresh SQLite store; the app returned keeps
/// the store alive.
async fn serve_with(config: ServeConfig) -> (SocketAddr, TestApp) {
    let app = common::spawn_app(Backend::Sqlite)
        .await
        .expect("sqlite runs");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let state = cairn_server::AppState {
        catalog: app.catalog.clone(),
        secure_cookies: false,
    };
    let router = cairn_server::app(state.clone());
    tokio::spawn(cairn_server::serve_router(
        listener,
        state,
        router,
        config,
        std::future::pending(),
    ));
    (address, app)
}

/// A connection to `server` from the loopback address `from` (127.0.0.x: distinct clients).
async fn connect_from(from: [u8; 4], server: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(SocketAddr::new(IpAddr::from(from), 0)).unwrap();
    socket.connect(server).await.unwrap()
}

/// Sends a whole request on a fresh connection from `from`; the status and the answer's text.
async fn request(from: [u8; 4], server: SocketAddr, head: &str) -> (u16, String) {
    let mut stream = connect_from(from, server).await;
    stream
        .write_all(format!("{head}\r\nHost: cairn\r\nConnection: close\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut answer = String::new();
    tokio::time::timeout(Duration::from_secs(30), stream.read_to_string(&mut answer))
        .await
        .expect("an answer")
        .unwrap();
    let status = answer
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0);
    (status, answer)
}

/// A sign-in whose body never comes: it stays in flight, holding its place, until the body
/// timeout or until the connection is dropped (nothing before the body touches the store).
async fn stalled_request(from: [u8; 4], server: SocketAddr) -> TcpStream {
    let mut stream = connect_from(from, server).await;
    stream
        .write_all(
            b"POST /api/v1/session HTTP/1.1\r\nHost: cairn\r\n\
              Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"email\"",
        )
        .await
        .unwrap();
    stream
}

/// Repeats `head` from `from` until it answers `status` (the requests ahead of it may still be
/// on their way in); returns that answer.
async fn until_status(from: [u8; 4], server: SocketAddr, head: &str, status: u16) -> String {
    let started = Instant::now();
    loop {
        let (got, answer) = request(from, server, head).await;
        if got == status {
            return answer;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "{head} never answered {status}; last: {answer}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn error_body(answer: &str) -> serde_json::Value {
    let body = answer.split_once("\r\n\r\n").map_or("", |(_, body)| body);
    serde_json::from_str(body).unwrap_or_else(|error| panic!("{error}: {answer}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn headers_sent_a_byte_at_a_time_are_cut_off() {
    let (server, _app) = serve_with(ServeConfig {
        header_read_timeout: Duration::from_secs(1),
        ..ServeConfig::default()
    })
    .await;
    let mut stream = connect_from([127, 0, 0, 1], server).await;
    let header = format!("GET /healthz HTTP/1.1\r\nX-Slow: {}", "a".repeat(200));
    let mut sent = 0;
    for byte in header.bytes() {
        if stream.write_all(&[byte]).await.is_err() {
            break;
        }
        sent += 1;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        sent < header.len(),
        "the server took {sent} bytes of headers over {} s",
        sent / 10
    );
    // What the server said before closing, if anything, is not an answer to the request.
    let mut rest = Vec::new();
    let _ = stream.read_to_end(&mut rest).await;
    assert!(!String::from_utf8_lossy(&rest).contains(" 200 "));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_does_not_arrive_in_time_answers_408() {
    let (server, _app) = serve_with(ServeConfig {
        body_read_timeout: Duration::from_secs(1),
        ..ServeConfig::default()
    })
    .await;
    let mut stream = stalled_request([127, 0, 0, 1], server).await;
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(30), stream.read_to_end(&mut answer))
        .await
        .expect("the server answers and closes")
        .unwrap();
    let answer = String::from_utf8_lossy(&answer).into_owned();
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert_eq!(
        error_body(&answer)["error"]["code"],
        "request_timeout",
        "{answer}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_in_flight_are_capped_per_client_and_in_total() {
    let (server, _app) = serve_with(ServeConfig {
        max_in_flight: 3,
        max_in_flight_per_client: 2,
        ..ServeConfig::default()
    })
    .await;
    let first = [127, 0, 0, 1];
    let second = [127, 0, 0, 2];
    let third = [127, 0, 0, 3];
    let health = "GET /healthz HTTP/1.1";

    // Two requests in flight from the first client: its third waits its turn (429).
    let stalled_first = vec![
        stalled_request(first, server).await,
        stalled_request(first, server).await,
    ];
    // Let their headers reach the server before the first client asks again. Without this
    // pause the test failed about one run in five here (its 429 never came); the cause is not
    // found, and nothing in the server's admission changed when it began.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let answer = until_status(first, server, health, 429).await;
    assert!(
        answer.to_ascii_lowercase().contains("retry-after: 1"),
        "{answer}"
    );
    assert_eq!(error_body(&answer)["error"]["code"], "rate_limited");
    // Another client is still answered.
    let (status, answer) = request(second, server, health).await;
    assert_eq!(status, 200, "{answer}");

    // A third request in flight fills the server: everyone gets 503 until one finishes.
    let stalled_second = stalled_request(second, server).await;
    let answer = until_status(third, server, health, 503).await;
    assert!(
        answer.to_ascii_lowercase().contains("retry-after: 1"),
        "{answer}"
    );
    let body = error_body(&answer);
    assert_eq!(body["error"]["code"], "unavailable", "{answer}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("3 requests"),
        "{answer}"
    );

    // Requests that end give their places back.
    drop(stalled_first);
    drop(stalled_second);
    until_status(first, server, health, 200).await;
    until_status(third, server, health, 200).await;
}
