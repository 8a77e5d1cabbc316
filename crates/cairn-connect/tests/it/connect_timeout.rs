//! A server that accepts connections but never answers counts as unreachable after the connect
//! timeout, for every network engine.

use crate::common;

use std::time::{Duration, Instant};

use cairn_connect::{CONNECT_TIMEOUT, EngineKind, crawl};
use common::assert_secret_free;

const PASSWORD: &str = "Canary-Silent-Secret-2718";

#[tokio::test]
async fn a_silent_server_is_unreachable_after_the_timeout() {
    // accepts on loopback and keeps the sockets open without a word
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let silent = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });

    let started = Instant::now();
    let postgres_url =
        format!("postgres://reader:{PASSWORD}@127.0.0.1:{port}/sales?sslmode=disable");
    let mysql_url = format!("mysql://reader:{PASSWORD}@127.0.0.1:{port}/sales");
    let (postgres, mysql) = tokio::join!(
        crawl(EngineKind::Postgres, &postgres_url),
        crawl(EngineKind::Mysql, &mysql_url)
    );
    let elapsed = started.elapsed();
    for (result, url) in [(postgres, postgres_url), (mysql, mysql_url)] {
        let error = result.unwrap_err();
        assert_eq!(error.code(), "unreachable", "{error}");
        assert!(
            error.to_string().contains(&format!("127.0.0.1:{port}")),
            "{error}"
        );
        assert_secret_free(&error, PASSWORD, &url);
    }
    assert!(elapsed >= CONNECT_TIMEOUT, "{elapsed:?}");
    assert!(
        elapsed < CONNECT_TIMEOUT + Duration::from_secs(3),
        "{elapsed:?}"
    );
    silent.abort();
}
