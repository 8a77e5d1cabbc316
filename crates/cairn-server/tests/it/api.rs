//! The HTTP API as people and scripts use it, on SQLite and on PostgreSQL.

use crate::common;

use std::time::Duration;

use cairn_catalog::Role;
use common::{Member, TestApp, assert_error, spawn_app_with};
use reqwest::{Method, StatusCode, header};
use serde_json::{Value, json};

on_both_backends!(
    session_cookie_is_hardened_and_writes_need_the_csrf_token,
    sessions_rotate_end_at_sign_out_and_when_the_person_is_removed,
    api_tokens_are_shown_once_listed_without_secret_and_revocable,
    bad_input_is_refused_naming_the_field_and_writes_nothing,
    editors_document_viewers_read_admins_move_teams,
    removal_from_a_team_takes_effect_on_the_next_request,
    another_workspace_is_invisible_on_every_endpoint,
    search_filters_and_pages,
    openapi_document_lists_every_route,
);

struct Acme {
    admin: Member,
    editor: Member,
    viewer: Member,
}

async fn acme(app: &TestApp) -> Acme {
    let workspace = app.workspace("acme", &["sales", "finance"]).await;
    Acme {
        admin: app
            .member(workspace, "admin@acme.test", Role::Admin, &[])
            .await,
        editor: app
            .member(workspace, "editor@acme.test", Role::Editor, &["sales"])
            .await,
        viewer: app
            .member(workspace, "viewer@acme.test", Role::Viewer, &["sales"])
            .await,
    }
}

async fn create(app: &TestApp, member: &Member, kind: &str, name: &str, teams: &[&str]) -> i64 {
    let (status, body) = app
        .post(member, "/api/v1/resources", json!({"kind": kind, "name": name, "teams": teams,
            "description": format!("about {name}"), "tags": ["gold"], "owners": ["ada@example.test"]}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["id"].as_i64().expect("id")
}

struct Session {
    cookie: String,
    csrf: String,
}

async fn sign_in(
    app: &TestApp,
    email: &str,
    password: &str,
    workspace: Option<&str>,
) -> (StatusCode, Option<Session>, Value) {
    let mut body = json!({"email": email, "password": password});
    if let Some(workspace) = workspace {
        body["workspace"] = json!(workspace);
    }
    let response = app
        .client
        .post(app.url("/api/v1/session"))
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let cookie = response
        .headers()
        .get(header::SET_COOKIE)
        .map(|value| value.to_str().unwrap().to_string());
    let body: Value = response.json().await.unwrap_or(Value::Null);
    let session = cookie
        .filter(|_| status == StatusCode::OK)
        .map(|cookie| Session {
            cookie,
            csrf: body["csrf_token"].as_str().unwrap_or_default().to_string(),
        });
    (status, session, body)
}

fn cookie_pair(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap().to_string()
}

async fn with_cookie(
    app: &TestApp,
    session: &Session,
    method: Method,
    path: &str,
    csrf: Option<&str>,
    body: Option<Value>,
) -> StatusCode {
    let mut request = app
        .client
        .request(method, app.url(path))
        .header(header::COOKIE, cookie_pair(&session.cookie));
    if let Some(csrf) = csrf {
        request = request.header("x-csrf-token", csrf);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.unwrap().status()
}

async fn session_cookie_is_hardened_and_writes_need_the_csrf_token(app: TestApp) {
    let people = acme(&app).await;
    let (status, session, body) = sign_in(&app, "Editor@Acme.test", common::PASSWORD, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let session = session.expect("cookie");
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(
            session.cookie.contains(attribute),
            "{} lacks {attribute}",
            session.cookie
        );
    }
    assert_eq!(body["workspace"]["name"], "acme");
    assert_eq!(body["role"], "editor");
    assert_eq!(body["teams"], json!(["sales"]));
    assert_eq!(
        with_cookie(&app, &session, Method::GET, "/api/v1/me", None, None).await,
        StatusCode::OK
    );
    let term = json!({"kind": "term", "name": "Bookings"});
    let no_csrf = with_cookie(
        &app,
        &session,
        Method::POST,
        "/api/v1/resources",
        None,
        Some(term.clone()),
    )
    .await;
    assert_eq!(no_csrf, StatusCode::FORBIDDEN);
    let wrong = with_cookie(
        &app,
        &session,
        Method::POST,
        "/api/v1/resources",
        Some("forged"),
        Some(term.clone()),
    )
    .await;
    assert_eq!(wrong, StatusCode::FORBIDDEN);
    assert!(
        app.browse_names(&people.admin, "&kind=term")
            .await
            .is_empty(),
        "a refused write wrote"
    );
    let right = with_cookie(
        &app,
        &session,
        Method::POST,
        "/api/v1/resources",
        Some(&session.csrf.clone()),
        Some(term),
    )
    .await;
    assert_eq!(right, StatusCode::CREATED);
    // Bearer tokens are not ambient credentials and need no CSRF token.
    let (status, _) = app
        .post(
            &people.editor,
            "/api/v1/resources",
            json!({"kind": "term", "name": "Quota"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    // Wrong password, unknown person: the same 401.
    let (wrong_password, _, body) =
        sign_in(&app, "editor@acme.test", "not the password", None).await;
    assert_error(wrong_password, &body, StatusCode::UNAUTHORIZED, None);
    let (unknown, _, _) = sign_in(&app, "nobody@acme.test", "not the password", None).await;
    assert_eq!(unknown, StatusCode::UNAUTHORIZED);
    let (status, body) = app
        .client
        .get(app.url("/api/v1/me"))
        .send()
        .await
        .map(|response| (response.status(), ()))
        .unwrap();
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body:?}");
}

async fn sessions_rotate_end_at_sign_out_and_when_the_person_is_removed(app: TestApp) {
    let people = acme(&app).await;
    let (_, first, _) = sign_in(&app, "viewer@acme.test", common::PASSWORD, None).await;
    let first = first.unwrap();
    // Signing in again from the same browser replaces the old session.
    let response = app
        .client
        .post(app.url("/api/v1/session"))
        .header(header::COOKIE, cookie_pair(&first.cookie))
        .json(&json!({"email": "viewer@acme.test", "password": common::PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let second_cookie = response.headers()[header::SET_COOKIE]
        .to_str()
        .unwrap()
        .to_string();
    let second_csrf = response.json::<Value>().await.unwrap()["csrf_token"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(cookie_pair(&first.cookie), cookie_pair(&second_cookie));
    assert_eq!(
        with_cookie(&app, &first, Method::GET, "/api/v1/me", None, None).await,
        StatusCode::UNAUTHORIZED
    );
    let second = Session {
        cookie: second_cookie,
        csrf: second_csrf,
    };
    assert_eq!(
        with_cookie(&app, &second, Method::GET, "/api/v1/me", None, None).await,
        StatusCode::OK
    );
    // Sign out ends it.
    let csrf = second.csrf.clone();
    assert_eq!(
        with_cookie(
            &app,
            &second,
            Method::DELETE,
            "/api/v1/session",
            Some(&csrf),
            None
        )
        .await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        with_cookie(&app, &second, Method::GET, "/api/v1/me", None, None).await,
        StatusCode::UNAUTHORIZED
    );
    // Removing the person ends their sessions and tokens at once.
    let (_, third, _) = sign_in(&app, "viewer@acme.test", common::PASSWORD, None).await;
    let third = third.unwrap();
    let (status, _) = app
        .call(
            &people.admin,
            Method::DELETE,
            &format!("/api/v1/users/{}", people.viewer.id),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(
        with_cookie(&app, &third, Method::GET, "/api/v1/me", None, None).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.get(&people.viewer, "/api/v1/me").await.0,
        StatusCode::UNAUTHORIZED
    );
    let (status, _, _) = sign_in(&app, "viewer@acme.test", common::PASSWORD, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // The last admin cannot be removed.
    let (status, _) = app
        .call(
            &people.admin,
            Method::DELETE,
            &format!("/api/v1/users/{}", people.admin.id),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
}

async fn api_tokens_are_shown_once_listed_without_secret_and_revocable(app: TestApp) {
    let people = acme(&app).await;
    let (status, created) = app
        .post(&people.viewer, "/api/v1/tokens", json!({"name": "laptop"}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let secret = created["token"].as_str().unwrap().to_string();
    assert!(
        secret.len() >= 43,
        "a 256-bit token is at least 43 base64 characters"
    );
    let laptop = Member {
        token: secret.clone(),
        ..people.viewer.clone()
    };
    assert_eq!(app.get(&laptop, "/api/v1/me").await.0, StatusCode::OK);
    let (_, listed) = app.get(&people.viewer, "/api/v1/tokens").await;
    let listed = listed.as_array().unwrap();
    assert_eq!(listed.len(), 2);
    assert!(
        listed.iter().all(|token| token.get("token").is_none()),
        "secrets must not be listed"
    );
    assert!(!serde_json::to_string(listed).unwrap().contains(&secret));
    // Nobody else can revoke it; its owner can.
    let path = format!("/api/v1/tokens/{}", created["id"]);
    assert_eq!(
        app.call(&people.admin, Method::DELETE, &path, None).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.call(&people.viewer, Method::DELETE, &path, None)
            .await
            .0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.get(&laptop, "/api/v1/me").await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.get(&people.viewer, "/api/v1/me").await.0,
        StatusCode::OK
    );
    let (status, body) = app
        .client
        .get(app.url("/api/v1/me"))
        .header(header::AUTHORIZATION, "Basic abc")
        .send()
        .await
        .map(|r| (r.status(), ()))
        .unwrap();
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body:?}");
}

async fn bad_input_is_refused_naming_the_field_and_writes_nothing(app: TestApp) {
    let people = acme(&app).await;
    create(&app, &people.editor, "term", "Revenue", &["sales"]).await;
    let before = app.browse_names(&people.admin, "").await;
    let cases: Vec<(Value, Option<&str>)> = vec![
        (
            json!({"kind": "term", "name": "X", "colour": "red"}),
            Some("colour"),
        ),
        (json!({"kind": "spaceship", "name": "X"}), Some("kind")),
        (json!({"kind": "table", "name": "X"}), Some("kind")),
        (json!({"kind": "term", "name": "   "}), Some("name")),
        (
            json!({"kind": "term", "name": "x".repeat(201)}),
            Some("name"),
        ),
        (
            json!({"kind": "term", "name": "Y", "description": "d".repeat(20_001)}),
            Some("description"),
        ),
        (
            json!({"kind": "term", "name": "Y", "tags": ["t".repeat(101)]}),
            Some("tags"),
        ),
        // An unknown team is bad input for admins only; an editor gets the 403 of a team they
        // are not in (tests/accounts.rs).
        (json!({"kind": "term"}), Some("name")),
        (json!({"kind": "term", "name": 5}), None),
    ];
    for (body, field) in cases {
        let (status, answer) = app
            .post(&people.editor, "/api/v1/resources", body.clone())
            .await;
        assert_error(status, &answer, StatusCode::BAD_REQUEST, field);
        let _ = body;
    }
    // A taken name is a conflict (API.md), not bad input; trimmed names are the same name.
    for name in ["Revenue", "  Revenue "] {
        let (status, answer) = app
            .post(
                &people.editor,
                "/api/v1/resources",
                json!({"kind": "term", "name": name}),
            )
            .await;
        assert_eq!(status, StatusCode::CONFLICT, "{answer}");
        assert_eq!(answer["error"]["code"], "conflict", "{answer}");
    }
    let malformed = app
        .client
        .post(app.url("/api/v1/resources"))
        .bearer_auth(&people.editor.token)
        .header(header::CONTENT_TYPE, "application/json")
        .body("{\"kind\": \"term\", \"name\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(malformed.status(), StatusCode::BAD_REQUEST);
    let body: Value = malformed.json().await.unwrap();
    assert_eq!(body["error"]["code"], "invalid_input");
    for query in [
        "?kind=spaceship",
        "?limit=0",
        "?limit=100000",
        "?cursor=garbage",
        "?sort=name",
        "?limit=abc",
    ] {
        let (status, body) = app
            .get(&people.admin, &format!("/api/v1/resources{query}"))
            .await;
        assert_error(status, &body, StatusCode::BAD_REQUEST, None);
    }
    let id = app.browse_names(&people.admin, "").await;
    assert_eq!(id, before, "refused requests must write nothing");
    let (_, list) = app.get(&people.admin, "/api/v1/resources").await;
    let revenue = list["items"][0]["id"].as_i64().unwrap();
    let (status, body) = app
        .patch(
            &people.editor,
            &format!("/api/v1/resources/{revenue}"),
            json!({"tags": ["ok", ""], "description": "new"}),
        )
        .await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, Some("tags"));
    let (_, unchanged) = app
        .get(&people.editor, &format!("/api/v1/resources/{revenue}"))
        .await;
    assert_eq!(
        unchanged["description"], "about Revenue",
        "a refused patch must change nothing"
    );
    let (status, body) = app
        .post(
            &people.admin,
            "/api/v1/users",
            json!({"email": "not-an-address", "role": "viewer"}),
        )
        .await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, Some("email"));
    let (status, body) = app
        .post(
            &people.admin,
            "/api/v1/users",
            json!({"email": "editor@acme.test", "role": "viewer"}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "a member already: {body}");
    let (status, body) = app
        .post(
            &people.admin,
            "/api/v1/users",
            json!({"email": "x@acme.test", "role": "owner"}),
        )
        .await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, Some("role"));
    let (status, body) = app
        .post(&people.admin, "/api/v1/teams", json!({"name": "sales"}))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "a taken team name: {body}");
    let (status, body) = app
        .get(&people.admin, "/api/v1/resources/not-a-number")
        .await;
    assert_error(status, &body, StatusCode::NOT_FOUND, None);
}

async fn editors_document_viewers_read_admins_move_teams(app: TestApp) {
    let people = acme(&app).await;
    let id = create(
        &app,
        &people.editor,
        "document",
        "Sales playbook",
        &["sales"],
    )
    .await;
    let path = format!("/api/v1/resources/{id}");
    let (status, body) = app.patch(&people.editor, &path, json!({"description": "How we sell", "tags": ["process"], "owners": ["editor@acme.test"]})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["description"], "How we sell");
    assert_eq!(body["tags"], json!(["process"]));
    assert_eq!(body["owners"], json!(["editor@acme.test"]));
    let (status, _) = app
        .patch(&people.viewer, &path, json!({"description": "vandalism"}))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = app
        .post(
            &people.viewer,
            "/api/v1/resources",
            json!({"kind": "term", "name": "Mine"}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = app
        .post(
            &people.editor,
            "/api/v1/resources",
            json!({"kind": "term", "name": "Theirs", "teams": ["finance"]}),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "editors create only for their own teams"
    );
    let (status, _) = app
        .patch(&people.editor, &path, json!({"teams": ["finance"]}))
        .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "only admins move resources between teams"
    );
    let (_, body) = app.get(&people.viewer, &path).await;
    assert_eq!(body["description"], "How we sell");
    let (status, body) = app
        .patch(&people.admin, &path, json!({"teams": ["finance"]}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["teams"], json!(["finance"]));
    assert_eq!(
        app.get(&people.viewer, &path).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.patch(&people.editor, &path, json!({"description": "x"}))
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    for member in [&people.editor, &people.viewer] {
        assert_eq!(
            app.get(member, "/api/v1/users").await.0,
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            app.post(member, "/api/v1/teams", json!({"name": "ops"}))
                .await
                .0,
            StatusCode::FORBIDDEN
        );
    }
}

async fn removal_from_a_team_takes_effect_on_the_next_request(app: TestApp) {
    let people = acme(&app).await;
    let id = create(&app, &people.admin, "term", "Pipeline", &["sales"]).await;
    let path = format!("/api/v1/resources/{id}");
    assert_eq!(app.get(&people.viewer, &path).await.0, StatusCode::OK);
    assert_eq!(
        app.browse_names(&people.viewer, "&q=pipeline").await,
        vec!["Pipeline"]
    );
    let (_, teams) = app.get(&people.admin, "/api/v1/teams").await;
    let sales = teams
        .as_array()
        .unwrap()
        .iter()
        .find(|team| team["name"] == "sales")
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    let member_path = format!("/api/v1/teams/{sales}/members/{}", people.viewer.id);
    assert_eq!(
        app.call(&people.admin, Method::DELETE, &member_path, None)
            .await
            .0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.get(&people.viewer, &path).await.0,
        StatusCode::NOT_FOUND
    );
    assert!(
        app.browse_names(&people.viewer, "&q=pipeline")
            .await
            .is_empty()
    );
    assert!(app.browse_names(&people.viewer, "").await.is_empty());
    assert_eq!(
        app.call(&people.admin, Method::DELETE, &member_path, None)
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.call(&people.admin, Method::PUT, &member_path, None)
            .await
            .0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(app.get(&people.viewer, &path).await.0, StatusCode::OK);
}

async fn another_workspace_is_invisible_on_every_endpoint(app: TestApp) {
    let people = acme(&app).await;
    let secret_id = create(&app, &people.admin, "term", "Zanzibar margin", &["finance"]).await;
    let (_, acme_teams) = app.get(&people.admin, "/api/v1/teams").await;
    let acme_team = acme_teams[0]["id"].as_i64().unwrap();
    let (_, acme_tokens) = app.get(&people.viewer, "/api/v1/tokens").await;
    let acme_token = acme_tokens[0]["id"].as_i64().unwrap();

    let globex = app.workspace("globex", &["ops"]).await;
    let intruder = app
        .member(globex, "admin@globex.test", Role::Admin, &["ops"])
        .await;
    let (_, globex_teams) = app.get(&intruder, "/api/v1/teams").await;
    let globex_team = globex_teams[0]["id"].as_i64().unwrap();
    let own = create(&app, &intruder, "term", "Globex glossary", &["ops"]).await;

    let not_found = [
        (Method::GET, format!("/api/v1/resources/{secret_id}"), None),
        (
            Method::PATCH,
            format!("/api/v1/resources/{secret_id}"),
            Some(json!({"description": "x"})),
        ),
        (
            Method::PATCH,
            format!("/api/v1/users/{}", people.viewer.id),
            Some(json!({"role": "admin"})),
        ),
        (
            Method::DELETE,
            format!("/api/v1/users/{}", people.viewer.id),
            None,
        ),
        (
            Method::PUT,
            format!("/api/v1/teams/{acme_team}/members/{}", intruder.id),
            None,
        ),
        (
            Method::PUT,
            format!("/api/v1/teams/{globex_team}/members/{}", people.viewer.id),
            None,
        ),
        (
            Method::DELETE,
            format!("/api/v1/teams/{acme_team}/members/{}", people.admin.id),
            None,
        ),
        (Method::DELETE, format!("/api/v1/tokens/{acme_token}"), None),
    ];
    for (method, path, body) in not_found {
        let (status, answer) = app.call(&intruder, method.clone(), &path, body).await;
        assert_error(status, &answer, StatusCode::NOT_FOUND, None);
        let text = answer.to_string();
        assert!(
            !text.contains("acme") && !text.contains("Zanzibar"),
            "{method} {path} leaked: {text}"
        );
    }
    for path in [
        "/api/v1/resources?q=zanzibar",
        "/api/v1/resources?q=margin",
        "/api/v1/resources",
        "/api/v1/users",
        "/api/v1/teams",
        "/api/v1/me",
        "/api/v1/tokens",
    ] {
        let (status, body) = app.get(&intruder, path).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        let text = body.to_string();
        assert!(
            !text.contains("acme") && !text.contains("Zanzibar"),
            "{path} leaked: {text}"
        );
    }
    assert_eq!(
        app.browse_names(&intruder, "").await,
        vec!["Globex glossary"]
    );
    assert_eq!(
        app.get(&people.admin, &format!("/api/v1/resources/{own}"))
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    // The acme viewer is still where they were.
    assert_eq!(
        app.get(&people.viewer, "/api/v1/me").await.0,
        StatusCode::OK
    );
    // Members of one workspace cannot sign in to another, even naming it.
    let (status, _, _) = sign_in(&app, "admin@globex.test", common::PASSWORD, Some("acme")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _, _) = sign_in(
        &app,
        "admin@globex.test",
        common::PASSWORD,
        Some("no-such-workspace"),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _, body) = sign_in(&app, "admin@globex.test", common::PASSWORD, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["workspace"]["name"], "globex");
    // The same address in two workspaces must name one, and gets exactly that one.
    app.member(globex, "editor@acme.test", Role::Viewer, &["ops"])
        .await;
    let (status, _, body) = sign_in(&app, "editor@acme.test", common::PASSWORD, None).await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, Some("workspace"));
    let (status, _, body) =
        sign_in(&app, "editor@acme.test", common::PASSWORD, Some("globex")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["workspace"]["name"], "globex");
    assert_eq!(body["role"], "viewer");
}

async fn search_filters_and_pages(app: TestApp) {
    let people = acme(&app).await;
    for index in 0..12 {
        create(
            &app,
            &people.admin,
            "term",
            &format!("Quarterly revenue {index}"),
            &["sales"],
        )
        .await;
    }
    create(
        &app,
        &people.admin,
        "document",
        "Revenue recognition policy",
        &["finance"],
    )
    .await;
    let id = create(&app, &people.admin, "term", "customer_refunds", &["sales"]).await;
    app.patch(
        &people.admin,
        &format!("/api/v1/resources/{id}"),
        json!({"tags": ["pii"], "owners": ["grace@acme.test"]}),
    )
    .await;
    let all = app.browse_names(&people.admin, "&q=revenues").await;
    assert_eq!(
        all.len(),
        13,
        "stemming finds revenue from revenues: {all:?}"
    );
    assert_eq!(
        app.browse_names(&people.viewer, "&q=revenue").await.len(),
        12
    );
    assert_eq!(
        app.browse_names(&people.admin, "&q=revenue&kind=document")
            .await,
        vec!["Revenue recognition policy"]
    );
    assert_eq!(
        app.browse_names(&people.admin, "&q=refund").await,
        vec!["customer_refunds"]
    );
    assert_eq!(
        app.browse_names(&people.admin, "&tag=pii").await,
        vec!["customer_refunds"]
    );
    assert_eq!(
        app.browse_names(&people.admin, "&owner=grace@acme.test")
            .await,
        vec!["customer_refunds"]
    );
    assert_eq!(
        app.browse_names(&people.admin, "&q=customer&tag=pii").await,
        vec!["customer_refunds"]
    );
    assert_eq!(app.browse_names(&people.admin, "").await.len(), 14);
    let (_, page) = app.get(&people.admin, "/api/v1/resources?limit=5").await;
    assert_eq!(page["items"].as_array().unwrap().len(), 5);
    assert!(page["next_cursor"].is_string());
}

async fn openapi_document_lists_every_route(app: TestApp) {
    let response = app
        .client
        .get(app.url("/api/v1/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let document: Value = response.json().await.unwrap();
    assert!(document["openapi"].as_str().unwrap().starts_with("3."));
    for path in [
        "/api/v1/session",
        "/api/v1/me",
        "/api/v1/tokens",
        "/api/v1/tokens/{id}",
        "/api/v1/users",
        "/api/v1/users/{id}",
        "/api/v1/teams",
        "/api/v1/teams/{id}/members/{user_id}",
        "/api/v1/resources",
        "/api/v1/resources/{id}",
    ] {
        assert!(
            document["paths"][path].is_object(),
            "{path} missing from the OpenAPI document"
        );
    }
    assert_eq!(document, cairn_server::openapi());
    assert_eq!(
        app.client
            .get(app.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_sign_ins_are_rate_limited_without_locking_the_owner_out_forever() {
    let app = spawn_app_with(common::Backend::Sqlite, |config| {
        config.sign_in_limits.per_account = 3;
        config.sign_in_limits.window = Duration::from_secs(2);
    })
    .await
    .unwrap();
    acme(&app).await;
    for _ in 0..3 {
        let (status, _, _) = sign_in(&app, "viewer@acme.test", "wrong password!", None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let response = app
        .client
        .post(app.url("/api/v1/session"))
        .json(&json!({"email": "viewer@acme.test", "password": common::PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "even the right password waits"
    );
    assert!(response.headers().get(header::RETRY_AFTER).is_some());
    let other = sign_in(&app, "editor@acme.test", common::PASSWORD, None)
        .await
        .0;
    assert_eq!(other, StatusCode::OK, "other accounts are unaffected");
    tokio::time::sleep(Duration::from_millis(2200)).await;
    let (status, _, _) = sign_in(&app, "viewer@acme.test", common::PASSWORD, None).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "the owner gets back in after the window"
    );
}
