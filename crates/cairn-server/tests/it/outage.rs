//! The metadata PostgreSQL goes away under a light concurrent load and comes back: while it is
//! gone every answer is a 503 with the API's error shape and `Retry-After` (never a 500, never a
//! hang), and once it is back the same server answers again, without a restart.

use crate::common;

use std::time::{Duration, Instant};

use cairn_catalog::Role;
use reqwest::StatusCode;
use serde_json::Value;

use common::{Member, TestApp};

/// What one request answered.
#[derive(Debug)]
struct Answer {
    path: &'static str,
    status: StatusCode,
    retry_after: Option<String>,
    body: Value,
}

/// `workers` clients at once, each sending `rounds` requests in turn over a mix of reads
/// (search, browse, one resource, the caller) and a write.
async fn load(app: &TestApp, member: &Member, workers: usize, rounds: usize) -> Vec<Answer> {
    let paths: [&'static str; 4] = [
        "/api/v1/resources?q=orders",
        "/api/v1/resources?limit=5",
        "/api/v1/me",
        "/api/v1/resources?q=revenue%20customers",
    ];
    let mut tasks = tokio::task::JoinSet::new();
    for worker in 0..workers {
        let client = app.client.clone();
        let base = app.base.clone();
        let token = member.token.clone();
        tasks.spawn(async move {
            let mut answers = Vec::new();
            for round in 0..rounds {
                let path = paths[(worker + round) % paths.len()];
                let response = client
                    .get(format!("{base}{path}"))
                    .bearer_auth(&token)
                    .timeout(Duration::from_secs(60))
                    .send()
                    .await
                    .unwrap_or_else(|error| panic!("{path} answers: {error}"));
                let status = response.status();
                let retry_after = response
                    .headers()
                    .get("retry-after")
                    .and_then(|value| value.to_str().ok())
                    .map(str::to_owned);
                let body = response.json().await.unwrap_or(Value::Null);
                answers.push(Answer {
                    path,
                    status,
                    retry_after,
                    body,
                });
            }
            answers
        });
    }
    let mut answers = Vec::new();
    while let Some(done) = tasks.join_next().await {
        answers.extend(done.expect("worker"));
    }
    answers
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_metadata_store_outage_answers_503_and_service_resumes_by_itself() {
    let Some(postgres) = cairn_testkit::postgres::private_postgres() else {
        return;
    };
    let url = postgres.create_database("cairn_outage");
    let app = common::spawn_app_at(tempfile::tempdir().unwrap(), url, |_| {}).await;
    let workspace = app.workspace("outage", &["sales"]).await;
    let member = app
        .member(workspace, "ada@outage.example", Role::Admin, &["sales"])
        .await;
    for name in ["orders", "customers", "revenue"] {
        let (status, body) = app
            .post(
                &member,
                "/api/v1/resources",
                serde_json::json!({"kind": "term", "name": name, "description": "a term"}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }

    let before = load(&app, &member, 4, 5).await;
    for answer in &before {
        assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    }

    let postgres = tokio::task::spawn_blocking(move || {
        postgres.stop().expect("postgresql stops");
        postgres
    })
    .await
    .unwrap();

    let during = load(&app, &member, 4, 5).await;
    for answer in &during {
        assert_eq!(
            answer.status,
            StatusCode::SERVICE_UNAVAILABLE,
            "while the store is away every answer is a 503: {answer:?}"
        );
        assert_eq!(answer.body["error"]["code"], "unavailable", "{answer:?}");
        let message = answer.body["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains("store"), "{answer:?}");
        assert!(answer.retry_after.is_some(), "{answer:?}");
    }

    let postgres = tokio::task::spawn_blocking(move || {
        postgres.start_again().expect("postgresql starts again");
        postgres
    })
    .await
    .unwrap();

    // The same server, not restarted, answers again once its pool reconnects.
    let started = Instant::now();
    loop {
        let (status, body) = app.get(&member, "/api/v1/me").await;
        if status == StatusCode::OK {
            break;
        }
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no recovery 60 s after postgresql came back: {body}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let after = load(&app, &member, 4, 5).await;
    for answer in &after {
        assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    }
    let found = after
        .iter()
        .find(|answer| answer.path == "/api/v1/resources?q=orders")
        .expect("a search after the outage");
    assert_eq!(found.body["items"][0]["name"], "orders", "{found:?}");
    drop(postgres);
}
