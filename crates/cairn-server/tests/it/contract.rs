//! The HTTP contract as a client reads it: the OpenAPI document describes every answer (with the
//! one error schema), declares who may call each operation and how large its body may be; and
//! the answers the framework would give on its own (405, 413, 415, a body that is not an object)
//! and the ones for a token that is not valid keep the API's error shape.

use crate::common;

use cairn_catalog::Role;
use common::{Backend, TestApp, assert_error, spawn_app};
use reqwest::StatusCode;
use serde_json::{Value, json};

const METHODS: &[&str] = &["get", "put", "post", "delete", "patch"];

fn operations(document: &Value) -> Vec<(String, String, Value)> {
    let mut found = Vec::new();
    for (path, item) in document["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("path item") {
            if METHODS.contains(&method.as_str()) {
                found.push((method.clone(), path.clone(), operation.clone()));
            }
        }
    }
    found
}

fn resolve<'a>(document: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["$ref"].as_str() {
        Some(reference) => {
            let name = reference
                .strip_prefix("#/components/schemas/")
                .expect("a schema reference");
            &document["components"]["schemas"][name]
        }
        None => schema,
    }
}

#[test]
fn every_operation_is_described_with_its_security_errors_and_limits() {
    let document = cairn_server::openapi();
    assert_eq!(document["openapi"], "3.1.0");
    let schemes = &document["components"]["securitySchemes"];
    assert_eq!(schemes["bearer"]["scheme"], "bearer");
    assert_eq!(schemes["session"]["in"], "cookie");
    assert_eq!(schemes["session"]["name"], cairn_server::SESSION_COOKIE);
    assert_eq!(schemes["csrf"]["in"], "header");
    assert!(
        schemes["csrf"]["name"]
            .as_str()
            .unwrap()
            .eq_ignore_ascii_case(cairn_server::CSRF_HEADER)
    );
    let error = &document["components"]["schemas"]["ErrorBody"];
    assert_eq!(error["required"], json!(["error"]), "{error}");
    let detail = resolve(&document, &error["properties"]["error"]);
    let mut required: Vec<&str> = detail["required"]
        .as_array()
        .unwrap()
        .iter()
        .map(|name| name.as_str().unwrap())
        .collect();
    required.sort();
    assert_eq!(required, ["code", "message"], "{detail}");
    assert!(detail["properties"]["field"].is_object(), "{detail}");

    let public = [
        ("get", "/healthz"),
        ("get", "/api/v1/openapi.json"),
        ("post", "/api/v1/session"),
    ];
    let all = operations(&document);
    assert!(all.len() > 40, "{} operations", all.len());
    for (method, path, operation) in &all {
        let name = format!("{} {path}", method.to_uppercase());
        let security = operation["security"]
            .as_array()
            .unwrap_or_else(|| panic!("{name} declares no security"));
        if public.contains(&(method.as_str(), path.as_str())) {
            assert!(security.is_empty(), "{name} is public");
        } else {
            assert!(security.contains(&json!({"bearer": []})), "{name}");
            let session = if method == "get" {
                json!({"session": []})
            } else {
                json!({"session": [], "csrf": []})
            };
            assert!(security.contains(&session), "{name}: {security:?}");
            assert!(operation["responses"]["401"].is_object(), "{name}");
        }
        for parameter in operation["parameters"].as_array().into_iter().flatten() {
            let parameter_name = parameter["name"].as_str().unwrap();
            let in_path = path.contains(&format!("{{{parameter_name}}}"));
            assert_eq!(
                parameter["in"],
                if in_path { "path" } else { "query" },
                "{name}: {parameter}"
            );
            if !in_path {
                assert_ne!(parameter["required"], true, "{name}: {parameter}");
            }
        }
        for (status, response) in operation["responses"].as_object().unwrap() {
            let description = response["description"].as_str().unwrap_or_default();
            assert!(
                !description.is_empty(),
                "{name} {status} has no description"
            );
            let code: u16 = status.parse().expect("numeric status");
            if code == 204 {
                assert!(response.get("content").is_none(), "{name} {status}");
                continue;
            }
            let content = response["content"]
                .as_object()
                .unwrap_or_else(|| panic!("{name} {status} has no content"));
            for media in content.values() {
                assert!(media["schema"].is_object(), "{name} {status}: {media}");
            }
            if code >= 400 {
                assert_eq!(
                    content["application/json"]["schema"]["$ref"], "#/components/schemas/ErrorBody",
                    "{name} {status}"
                );
            }
        }
        if let Some(body) = operation.get("requestBody") {
            let limit = body["x-max-body-bytes"].as_u64().expect("a body limit");
            let expected = match path.as_str() {
                "/api/v1/session" => 4 * 1024,
                "/api/v1/integrations/{id}/dbt" => 64 * 1024 * 1024,
                _ => 2 * 1024 * 1024,
            };
            assert_eq!(limit, expected, "{name}");
            assert!(
                body["description"].as_str().unwrap().contains("413"),
                "{name}"
            );
            for status in ["400", "413", "415"] {
                assert!(
                    operation["responses"][status].is_object(),
                    "{name} {status}"
                );
            }
        }
    }
    for (path, parameter) in [
        ("/api/v1/audit", "after"),
        ("/api/v1/audit", "limit"),
        ("/api/v1/egress", "cursor"),
        ("/api/v1/ai/history", "limit"),
    ] {
        let declared = document["paths"][path]["get"]["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|declared| declared["name"] == parameter)
            .cloned()
            .unwrap_or_else(|| panic!("{path} declares {parameter}"));
        assert_eq!(declared["in"], "query", "{path} {parameter}");
    }
    let sql = &document["paths"]["/api/v1/sql"]["post"]["responses"]["200"]["content"]["application/json"]
        ["schema"];
    let sql = resolve(&document, sql);
    for field in ["columns", "rows", "truncated", "elapsed_ms"] {
        assert!(sql["properties"][field].is_object(), "/sql {field}: {sql}");
    }
}

async fn raw(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    token: &str,
    content_type: Option<&str>,
    body: Vec<u8>,
) -> (StatusCode, reqwest::header::HeaderMap, Value) {
    let mut request = app
        .client
        .request(method, app.url(path))
        .bearer_auth(token)
        .body(body);
    if let Some(content_type) = content_type {
        request = request.header("content-type", content_type);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let text = response.text().await.unwrap();
    let value = serde_json::from_str(&text)
        .unwrap_or_else(|_| panic!("{status}: the body is not JSON: {text:?}"));
    (status, headers, value)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn framework_answers_keep_the_error_shape() {
    let app = spawn_app(Backend::Sqlite).await.unwrap();
    let workspace = app.workspace("acme", &["sales"]).await;
    let admin = app
        .member(workspace, "admin@acme.test", Role::Admin, &["sales"])
        .await;
    let json = Some("application/json");

    let (status, headers, body) = raw(
        &app,
        reqwest::Method::PUT,
        "/api/v1/me",
        &admin.token,
        None,
        vec![],
    )
    .await;
    assert_error(status, &body, StatusCode::METHOD_NOT_ALLOWED, None);
    assert_eq!(body["error"]["code"], "method_not_allowed");
    let allow = headers["allow"].to_str().unwrap();
    assert!(allow.contains("GET"), "{allow}");

    let team = br#"{"name": "finance"}"#.to_vec();
    for content_type in [
        None,
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
    ] {
        let (status, _, body) = raw(
            &app,
            reqwest::Method::POST,
            "/api/v1/teams",
            &admin.token,
            content_type,
            team.clone(),
        )
        .await;
        assert_error(status, &body, StatusCode::UNSUPPORTED_MEDIA_TYPE, None);
        assert_eq!(body["error"]["code"], "unsupported_media_type");
    }

    let mut large = br#"{"name": ""#.to_vec();
    large.extend(std::iter::repeat_n(b'a', 2 * 1024 * 1024 + 1));
    large.extend(br#""}"#);
    let (status, _, body) = raw(
        &app,
        reqwest::Method::POST,
        "/api/v1/teams",
        &admin.token,
        json,
        large,
    )
    .await;
    assert_error(status, &body, StatusCode::PAYLOAD_TOO_LARGE, None);
    assert_eq!(body["error"]["code"], "payload_too_large");

    let sign_in = json!({"email": "admin@acme.test", "password": "x".repeat(5000)});
    let response = app
        .client
        .post(app.url("/api/v1/session"))
        .json(&sign_in)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    assert_error(status, &body, StatusCode::PAYLOAD_TOO_LARGE, None);

    // serde would build a struct from an array; the API takes objects only, and changes nothing.
    for array in ["[null, null]", "[\"finance\"]", "\"finance\"", "7"] {
        let (status, _, body) = raw(
            &app,
            reqwest::Method::POST,
            "/api/v1/teams",
            &admin.token,
            json,
            array.as_bytes().to_vec(),
        )
        .await;
        assert_error(status, &body, StatusCode::BAD_REQUEST, None);
    }
    let (status, _, body) = raw(
        &app,
        reqwest::Method::PATCH,
        &format!("/api/v1/users/{}", admin.id),
        &admin.token,
        json,
        b"[null, \"viewer\"]".to_vec(),
    )
    .await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, None);
    let (_, me) = app.get(&admin, "/api/v1/me").await;
    assert_eq!(me["role"], "admin", "{me}");
    let (_, teams) = app.get(&admin, "/api/v1/teams").await;
    assert_eq!(teams.as_array().unwrap().len(), 1, "{teams}");

    // A well-formed request still works beside all of that.
    let (status, body) = app
        .post(&admin, "/api/v1/teams", json!({"name": "finance"}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_that_is_not_valid_is_told_so() {
    let app = spawn_app(Backend::Sqlite).await.unwrap();
    let workspace = app.workspace("acme", &[]).await;
    let mut admin = app
        .member(workspace, "admin@acme.test", Role::Admin, &[])
        .await;
    let (_, tokens) = app.get(&admin, "/api/v1/tokens").await;
    let id = tokens[0]["id"].as_i64().unwrap();
    let (status, body) = app
        .call(
            &admin,
            reqwest::Method::DELETE,
            &format!("/api/v1/tokens/{id}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");

    let revoked = admin.token.clone();
    for token in [revoked, "cairn_not_a_token_at_all".to_owned()] {
        admin.token = token;
        let (status, body) = app.get(&admin, "/api/v1/me").await;
        assert_error(status, &body, StatusCode::UNAUTHORIZED, None);
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains("token is not valid"), "{message}");
        assert!(!message.contains("password"), "{message}");
    }
}

/// Found by schemathesis: two deletes of one integration at once made SQLite answer "database
/// is locked" (500) to one of them. Writers now wait for each other: one 204, the rest 404.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_deletes_of_one_integration_answer_204_then_404() {
    let app = spawn_app(Backend::Sqlite).await.unwrap();
    let workspace = app.workspace("acme", &["sales"]).await;
    let admin = app
        .member(workspace, "admin@acme.test", Role::Admin, &["sales"])
        .await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("warehouse.sqlite");
    cairn_demo::write_demo_database(&file).unwrap();
    let url = format!("sqlite://{}", file.display());
    for round in 0..3 {
        let name = format!("warehouse{round}");
        let id = app
            .connect_and_sync(
                &admin,
                json!({"name": name, "kind": "sqlite", "connection": url, "teams": ["sales"]}),
            )
            .await;
        let path = format!("/api/v1/integrations/{id}");
        let delete = || app.call(&admin, reqwest::Method::DELETE, &path, None);
        let (a, b, c, d) = tokio::join!(delete(), delete(), delete(), delete());
        let mut statuses: Vec<u16> = [a, b, c, d]
            .into_iter()
            .map(|(status, body)| {
                assert!(!status.is_server_error(), "{status}: {body}");
                status.as_u16()
            })
            .collect();
        statuses.sort();
        assert_eq!(statuses, [204, 404, 404, 404]);
    }
}

/// Integrations are checked at creation (a team, a usable connection shape), can be tried with
/// `POST /integrations/{id}/test`, and report their last sync as a structure whose error only
/// admins read: a member sees that it failed, never the host or path it names.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn integrations_are_checked_tested_and_report_structured_syncs() {
    let app = spawn_app(Backend::Sqlite).await.unwrap();
    let workspace = app.workspace("acme", &["sales"]).await;
    let admin = app
        .member(workspace, "admin@acme.test", Role::Admin, &["sales"])
        .await;
    let viewer = app
        .member(workspace, "viewer@acme.test", Role::Viewer, &["sales"])
        .await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("warehouse.sqlite");
    cairn_demo::write_demo_database(&file).unwrap();
    let good = format!("sqlite://{}", file.display());

    for (body, field) in [
        (
            json!({"name": "w", "kind": "sqlite", "connection": good, "teams": []}),
            "teams",
        ),
        (
            json!({"name": "w", "kind": "sqlite", "connection": good}),
            "teams",
        ),
        (
            json!({"name": "w", "kind": "sqlite", "connection": "sqlite://warehouse.sqlite", "teams": ["sales"]}),
            "connection",
        ),
        (
            json!({"name": "w", "kind": "postgres", "connection": "postgres:///db", "teams": ["sales"]}),
            "connection",
        ),
        (
            json!({"name": "w", "kind": "sqlite", "connection": good, "teams": ["nobody"]}),
            "teams",
        ),
    ] {
        let (status, answer) = app.post(&admin, "/api/v1/integrations", body).await;
        assert_error(status, &answer, StatusCode::BAD_REQUEST, Some(field));
    }
    let (_, listed) = app.get(&admin, "/api/v1/integrations").await;
    assert_eq!(listed, json!([]), "nothing was created");

    let create = |name: &str, url: &str| json!({"name": name, "kind": "sqlite", "connection": url, "teams": ["sales"]});
    let (status, body) = app
        .post(&admin, "/api/v1/integrations", create("good", &good))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let working = body["id"].as_i64().unwrap();
    assert!(body["last_sync_status"].is_null(), "{body}");
    let absent = dir.path().join("absent-warehouse.sqlite");
    let (status, body) = app
        .post(
            &admin,
            "/api/v1/integrations",
            create("gone", &format!("sqlite://{}", absent.display())),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let broken = body["id"].as_i64().unwrap();

    let (status, tested) = app
        .post(
            &admin,
            &format!("/api/v1/integrations/{working}/test"),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{tested}");
    assert_eq!(tested["ok"], true, "{tested}");
    assert!(tested["tables"].as_u64().unwrap() > 0, "{tested}");
    let (status, tested) = app
        .post(
            &admin,
            &format!("/api/v1/integrations/{broken}/test"),
            json!({}),
        )
        .await;
    assert_error(status, &tested, StatusCode::UNPROCESSABLE_ENTITY, None);
    let (status, tested) = app
        .post(
            &viewer,
            &format!("/api/v1/integrations/{working}/test"),
            json!({}),
        )
        .await;
    assert_error(status, &tested, StatusCode::FORBIDDEN, None);
    let (_, tokens) = app.get(&admin, "/api/v1/resources?limit=200").await;
    assert!(
        tokens["items"].as_array().unwrap().len() <= 2,
        "a test writes nothing: {tokens}"
    );

    let (status, synced) = app.try_sync(&admin, working).await;
    assert_eq!(status, StatusCode::OK, "{synced}");
    let (_, view) = app
        .get(&viewer, &format!("/api/v1/integrations/{working}"))
        .await;
    let last = &view["last_sync_status"];
    assert_eq!(last["state"], "ok", "{view}");
    assert_eq!(last["added"], synced["added"], "{view}");
    assert_eq!(last["changed"], 0, "{view}");
    assert_eq!(last["removed"], 0, "{view}");
    assert!(last["finished_at"].as_i64().unwrap() > 0, "{view}");
    assert!(last.get("error").is_none(), "{view}");

    let (status, _) = app.try_sync(&admin, broken).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let path_text = absent.display().to_string();
    let (_, seen_by_admin) = app
        .get(&admin, &format!("/api/v1/integrations/{broken}"))
        .await;
    assert_eq!(seen_by_admin["last_sync_status"]["state"], "failed");
    let admin_error = seen_by_admin["last_sync_status"]["error"].as_str().unwrap();
    assert!(admin_error.contains("cannot connect"), "{seen_by_admin}");
    for path in [
        format!("/api/v1/integrations/{broken}"),
        "/api/v1/integrations".to_owned(),
    ] {
        let (status, seen) = app.get(&viewer, &path).await;
        assert_eq!(status, StatusCode::OK, "{seen}");
        let text = seen.to_string();
        assert!(text.contains("\"failed\""), "{text}");
        assert!(!text.contains(&path_text), "{text}");
        assert!(!text.contains("absent-warehouse"), "{text}");
        assert!(!text.contains(admin_error), "{text}");
        assert!(text.contains("a workspace admin can see why"), "{text}");
    }
}
