//! State that strangers can create must not grow the server's memory without bound. One test per
//! binary, so the resident set measured is this test's alone.

#[path = "it/common/mod.rs"]
mod common;

use cairn_catalog::Role;
use reqwest::StatusCode;
use serde_json::json;

/// The resident set of this process (server and client share it), in KiB.
fn resident_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS")
}

async fn sign_in(app: &common::TestApp, email: &str) -> StatusCode {
    app.client
        .post(app.url("/api/v1/session"))
        .json(&json!({"email": email, "password": "not the password at all"}))
        .send()
        .await
        .expect("request")
        .status()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strangers_signing_in_with_huge_addresses_do_not_grow_memory() {
    let Some(app) = common::spawn_app(common::Backend::Sqlite).await else {
        return;
    };
    let workspace = app.workspace("acme", &[]).await;
    app.member(workspace, "admin@acme.test", Role::Admin, &[])
        .await;
    // Warm up: a few ordinary failed sign-ins, so pools and allocator arenas exist before measuring.
    for n in 0..5 {
        assert_eq!(
            sign_in(&app, &format!("warm{n}@acme.test")).await,
            StatusCode::UNAUTHORIZED
        );
    }
    let before = resident_kib();
    let huge = "a".repeat(1024 * 1024);
    for n in 0..100 {
        // The server answers 413 without reading the body and closes the connection; the client
        // may still be sending and then sees the connection closed instead of the answer.
        let sent = app
            .client
            .post(app.url("/api/v1/session"))
            .json(&json!({"email": format!("{n}{huge}@acme.test"), "password": "not it"}))
            .send()
            .await;
        match sent {
            Ok(response) => {
                let status = response.status();
                assert!(
                    status == StatusCode::BAD_REQUEST || status == StatusCode::PAYLOAD_TOO_LARGE,
                    "a 1 MiB address is refused, got {status}"
                );
            }
            Err(error) => assert!(error.is_request(), "{error}"),
        }
    }
    drop(huge);
    let after = resident_kib();
    let grown_mib = after.saturating_sub(before) / 1024;
    println!(
        "resident set: {before} KiB before, {after} KiB after 100 sign-ins with 1 MiB addresses"
    );
    assert!(
        grown_mib < 40,
        "100 sign-ins with distinct 1 MiB addresses grew the resident set by {grown_mib} MiB"
    );
    // The real member still signs in, on a connection of its own: the server closes one after
    // refusing a body it will not read, and a pooled connection may not have noticed yet.
    let response = reqwest::Client::new()
        .post(app.url("/api/v1/session"))
        .json(&json!({"email": "admin@acme.test", "password": common::PASSWORD}))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::OK);
}
