//! Path ids are typed (`ResourceId`, `UserId`, `TeamId`, `TokenId`, `IntegrationId`): an id that
//! is not one (not a number, or beyond 64 bits) names nothing, so every route answers the API's
//! 404 before anything runs; and the caller is checked before the path.

use crate::common;

use cairn_catalog::Role;
use common::Backend;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// Not ids: text, a fraction, and a number beyond 64 bits.
const NOT_IDS: [&str; 3] = ["abc", "1.5", "99999999999999999999"];

/// Every route with a path id, `{}` standing for the id tried; the other ids are real numbers.
fn routes() -> Vec<(Method, &'static str, Option<Value>)> {
    vec![
        (Method::GET, "/api/v1/resources/{}", None),
        (
            Method::PATCH,
            "/api/v1/resources/{}",
            Some(json!({"description": "x"})),
        ),
        (Method::POST, "/api/v1/resources/{}/describe", None),
        (Method::DELETE, "/api/v1/tokens/{}", None),
        (
            Method::PATCH,
            "/api/v1/users/{}",
            Some(json!({"role": "viewer"})),
        ),
        (Method::DELETE, "/api/v1/users/{}", None),
        (Method::GET, "/api/v1/users/{}/tokens", None),
        (Method::DELETE, "/api/v1/users/1/tokens/{}", None),
        (Method::DELETE, "/api/v1/users/{}/tokens/1", None),
        (Method::PUT, "/api/v1/teams/{}/members/1", None),
        (Method::DELETE, "/api/v1/teams/1/members/{}", None),
        (Method::GET, "/api/v1/integrations/{}", None),
        (
            Method::PATCH,
            "/api/v1/integrations/{}",
            Some(json!({"teams": []})),
        ),
        (Method::DELETE, "/api/v1/integrations/{}", None),
        (Method::POST, "/api/v1/integrations/{}/sync", None),
        (Method::GET, "/api/v1/integrations/1/syncs/{}", None),
        (Method::GET, "/api/v1/integrations/{}/syncs/1", None),
        (Method::POST, "/api/v1/integrations/{}/test", None),
        (Method::POST, "/api/v1/integrations/{}/dbt", Some(json!({}))),
        (Method::GET, "/api/v1/integrations/{}/permissions", None),
        (
            Method::PUT,
            "/api/v1/integrations/{}/permissions",
            Some(json!({"teams": [], "users": []})),
        ),
        (Method::DELETE, "/api/v1/ai/history/{}", None),
        (Method::GET, "/api/v1/ai/history/{}/egress", None),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_id_that_is_not_one_answers_404_on_every_route() {
    let Some(app) = common::spawn_app(Backend::Sqlite).await else {
        return;
    };
    let workspace = app.workspace("acme", &["data"]).await;
    let admin = app
        .member(workspace, "admin@acme.example", Role::Admin, &["data"])
        .await;
    for (method, path, body) in routes() {
        for id in NOT_IDS {
            let path = path.replace("{}", id);
            let (status, answer) = app.call(&admin, method.clone(), &path, body.clone()).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}: {answer}");
            assert_eq!(
                answer,
                json!({"error": {"code": "not_found", "message": "not found"}}),
                "{method} {path}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_caller_is_checked_before_the_path() {
    let Some(app) = common::spawn_app(Backend::Sqlite).await else {
        return;
    };
    let workspace = app.workspace("acme", &["data"]).await;
    let mut stranger = app
        .member(workspace, "admin@acme.example", Role::Admin, &["data"])
        .await;
    stranger.token = "not-a-token".to_string();
    for (method, path, body) in routes() {
        let path = path.replace("{}", "abc");
        let (status, answer) = app.call(&stranger, method.clone(), &path, body).await;
        assert_eq!(
            status,
            StatusCode::UNAUTHORIZED,
            "{method} {path}: {answer}"
        );
        assert_eq!(
            answer["error"]["code"], "unauthenticated",
            "{method} {path}"
        );
    }
}
