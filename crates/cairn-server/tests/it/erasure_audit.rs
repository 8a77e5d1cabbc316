//! A person erased through the API leaves no trace of their address in the audit log, which
//! outlives the erasure: entries name people by id.

use crate::common;

use cairn_catalog::Role;
use common::TestApp;
use reqwest::{Method, StatusCode};
use serde_json::json;

on_both_backends!(an_erased_persons_address_is_nowhere_in_the_audit_log);

async fn an_erased_persons_address_is_nowhere_in_the_audit_log(app: TestApp) {
    let workspace = app.workspace("acme", &["data"]).await;
    let admin = app
        .member(workspace, "admin@acme.test", Role::Admin, &[])
        .await;
    let address = "Zoe.Erased@acme.test";
    let (status, created) = app
        .post(
            &admin,
            "/api/v1/users",
            json!({"email": address, "role": "viewer", "teams": ["data"]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["user"]["id"].as_i64().unwrap();
    let (status, _) = app
        .call(&admin, Method::DELETE, &format!("/api/v1/users/{id}"), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, log) = app.get(&admin, "/api/v1/audit?limit=1000").await;
    assert_eq!(status, StatusCode::OK, "{log}");
    let text = log.to_string().to_lowercase();
    assert!(text.contains("user.created"), "{log}");
    assert!(
        !text.contains("zoe.erased"),
        "the erased address stays in the audit log: {log}"
    );
}
