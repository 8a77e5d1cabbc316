//! `POST /ai/ask` as server-sent events: the model's words reach the asker while the model is
//! still writing, the `done` event is the answer the JSON call gives, and an asker who goes
//! away mid-answer still finds the turn in their history.

use crate::common;

use std::convert::Infallible;
use std::future::IntoFuture;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::response::Response;
use common::{Member, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::sync::Notify;

const FIRST: &str = "Churn is ";
const REST: &str = "the share of customers who leave.";

/// A model that streams its first words, then waits to be let go before the rest.
#[derive(Clone, Default)]
struct SlowModel {
    release: Arc<Notify>,
}

fn chunk(delta: Value) -> String {
    let chunk = json!({"id": "x", "object": "chat.completion.chunk", "model": "stand-in",
        "choices": [{"index": 0, "delta": delta, "finish_reason": null}]});
    format!("data: {chunk}\n\n")
}

async fn completions(State(model): State<SlowModel>) -> Response {
    let parts = futures_util::stream::unfold(0, move |step| {
        let release = model.release.clone();
        async move {
            let text = match step {
                0 => chunk(json!({"role": "assistant", "content": FIRST})),
                1 => {
                    release.notified().await;
                    chunk(json!({"content": REST}))
                }
                2 => "data: [DONE]\n\n".to_string(),
                _ => return None,
            };
            Some((Ok::<_, Infallible>(text), step + 1))
        }
    });
    Response::builder()
        .header("content-type", "text/event-stream")
        .body(Body::from_stream(parts))
        .unwrap()
}

/// The body of a call that must succeed.
fn ok((status, body): (StatusCode, Value)) -> Value {
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

/// Starts a [`SlowModel`] and makes it the workspace's provider.
async fn slow_model(app: &TestApp, admin: &Member) -> SlowModel {
    let model = SlowModel::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let provider = json!({"kind": "openai", "model": "stand-in",
        "base_url": format!("http://{}/v1", listener.local_addr().unwrap())});
    let router = axum::Router::new()
        .route("/v1/chat/completions", axum::routing::post(completions))
        .with_state(model.clone());
    tokio::spawn(axum::serve(listener, router).into_future());
    let settings = json!({ "provider": provider });
    ok(app
        .call(admin, Method::PUT, "/api/v1/settings/ai", Some(settings))
        .await);
    model
}

async fn asker(app: &TestApp) -> Member {
    let workspace = app.workspace("streams", &["data"]).await;
    app.member(
        workspace,
        "ada@streams.example",
        cairn_catalog::Role::Admin,
        &["data"],
    )
    .await
}

async fn ask_streaming(app: &TestApp, member: &Member) -> reqwest::Response {
    let response = app
        .client
        .post(app.url("/api/v1/ai/ask"))
        .bearer_auth(&member.token)
        .header("accept", "text/event-stream")
        .json(&json!({"question": "What is churn?"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    response
}

/// Reads the stream until it holds at least `count` whole events.
async fn read_events(response: &mut reqwest::Response, text: &mut String, count: usize) {
    while text.matches("\n\n").count() < count {
        let piece = response
            .chunk()
            .await
            .unwrap()
            .expect("the stream ended early");
        text.push_str(std::str::from_utf8(&piece).unwrap());
    }
}

/// The events of a stream: (name, data).
fn events(text: &str) -> Vec<(String, Value)> {
    text.split("\n\n")
        .filter(|event| !event.trim().is_empty())
        .map(|event| {
            let field = |name: &str| {
                event
                    .lines()
                    .find_map(|line| line.strip_prefix(name))
                    .unwrap_or_default()
                    .trim()
                    .to_string()
            };
            let data = serde_json::from_str(&field("data:")).unwrap();
            (field("event:"), data)
        })
        .collect()
}

/// A question asked as a stream of a model that is still writing, read up to its first event.
async fn first_delta() -> (TestApp, Member, SlowModel, reqwest::Response, String) {
    let app = common::spawn_app(common::Backend::Sqlite).await.unwrap();
    let admin = asker(&app).await;
    let model = slow_model(&app, &admin).await;
    let mut response = ask_streaming(&app, &admin).await;
    let mut text = String::new();
    read_events(&mut response, &mut text, 1).await;
    (app, admin, model, response, text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deltas_arrive_while_the_model_still_writes_and_done_is_the_answer() {
    let (app, admin, model, mut response, mut text) = first_delta().await;
    // The model has not been let go: what arrived is its first words, and no answer yet.
    assert_eq!(
        events(&text),
        vec![("delta".to_string(), json!({"text": FIRST}))]
    );
    model.release.notify_one();
    while let Some(piece) = response.chunk().await.unwrap() {
        text.push_str(std::str::from_utf8(&piece).unwrap());
    }
    let events = events(&text);
    let (last, done) = events.last().unwrap().clone();
    assert_eq!(last, "done", "{text}");
    let streamed: String = events
        .iter()
        .filter(|(name, _)| name == "delta")
        .map(|(_, data)| data["text"].as_str().unwrap())
        .collect();
    assert_eq!(streamed, format!("{FIRST}{REST}"));
    assert_eq!(done["answer"], streamed);

    // The same question as JSON: the same answer, field for field, but for its own ids.
    model.release.notify_one();
    let question = json!({"question": "What is churn?"});
    let mut answer = ok(app.post(&admin, "/api/v1/ai/ask", question).await);
    let mut done = done;
    for field in ["prompt_id", "thread_id"] {
        assert!(done[field].as_i64().is_some() && answer[field].as_i64().is_some());
        done[field] = Value::Null;
        answer[field] = Value::Null;
    }
    assert_eq!(done, answer);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_asker_who_leaves_mid_answer_keeps_the_turn() {
    let (app, admin, model, response, _) = first_delta().await;
    drop(response);
    model.release.notify_one();
    // The answer is saved once the model finishes, whoever still listens.
    let mut history = Value::Null;
    for _ in 0..200 {
        let page = ok(app.get(&admin, "/api/v1/ai/history").await);
        if !page["items"].as_array().unwrap().is_empty() {
            history = page;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let items = history["items"].as_array().expect("the turn was saved");
    assert_eq!(items[0]["question"], "What is churn?");
    assert_eq!(items[0]["answer"], format!("{FIRST}{REST}"));
}
