//! Accounts and sessions: the sign-in limit holds under parallel guesses and across nodes,
//! an admin's password reset ends the person's sessions, a role change takes effect at once,
//! and admins list and revoke any member's API tokens.

use crate::common;

use cairn_catalog::{Catalog, CatalogConfig, Role};
use common::{Backend, Member, TestApp, spawn_app_with};
use reqwest::{Method, StatusCode, header};
use serde_json::{Value, json};

on_both_backends!(
    parallel_wrong_passwords_get_at_most_the_limit_of_401s,
    a_password_reset_ends_every_session_and_a_role_change_applies_at_once,
    admins_list_and_revoke_any_members_tokens,
    non_admins_cannot_tell_real_team_names_from_made_up_ones,
    provider_urls_with_credentials_are_refused_and_only_admins_see_the_url,
);

const KEY: &str = "0001020304050607080910111213141516171819202122232425262728293031";

/// Another node on the same store, with its own data directory and HTTP server.
async fn second_node(app: &TestApp, dir: &std::path::Path) -> String {
    let mut config = CatalogConfig::new(dir.join("data"));
    config.secret_key = Some(KEY.into());
    config.scheduled_sync = false;
    config.sign_in_limits = app.catalog.config().sign_in_limits.clone();
    let catalog = Catalog::open(&app.database_url, config)
        .await
        .expect("second node");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("address"));
    let state = cairn_server::AppState {
        catalog,
        secure_cookies: false,
    };
    tokio::spawn(cairn_server::serve(listener, state, std::future::pending()));
    base
}

async fn sign_in_at(app: &TestApp, base: &str, email: &str, password: &str) -> StatusCode {
    app.client
        .post(format!("{base}/api/v1/session"))
        .json(&json!({"email": email, "password": password}))
        .send()
        .await
        .expect("sign in")
        .status()
}

/// A session cookie and CSRF token for `email`.
async fn session(app: &TestApp, email: &str, password: &str) -> (String, String) {
    let response = app
        .client
        .post(app.url("/api/v1/session"))
        .json(&json!({"email": email, "password": password}))
        .send()
        .await
        .expect("sign in");
    assert_eq!(response.status(), StatusCode::OK);
    let cookie = common::session_cookie(&response);
    let body: Value = response.json().await.unwrap();
    (cookie, body["csrf_token"].as_str().unwrap().to_string())
}

async fn me_with_cookie(app: &TestApp, cookie: &str) -> StatusCode {
    app.client
        .get(app.url("/api/v1/me"))
        .header(header::COOKIE, cookie)
        .send()
        .await
        .unwrap()
        .status()
}

async fn parallel_wrong_passwords_get_at_most_the_limit_of_401s(app: TestApp) {
    // The shared app has a random key; this test needs two nodes sharing one.
    let backend = if app.database_url.starts_with("sqlite:") {
        Backend::Sqlite
    } else {
        Backend::Postgres
    };
    drop(app);
    let Some(app) = spawn_app_with(backend, |config| {
        config.secret_key = Some(KEY.into());
    })
    .await
    else {
        return;
    };
    let limit = app.catalog.config().sign_in_limits.per_account;
    let workspace = app.workspace("raced", &[]).await;
    let owner = app
        .member(workspace, "owner@raced.example", Role::Viewer, &[])
        .await;
    let dir = tempfile::tempdir().unwrap();
    let other = second_node(&app, dir.path()).await;
    // 40 wrong passwords at once, split between the two nodes.
    let mut guesses = tokio::task::JoinSet::new();
    for n in 0..40 {
        let client = app.client.clone();
        let base = if n % 2 == 0 {
            app.base.clone()
        } else {
            other.clone()
        };
        let email = owner.email.clone();
        guesses.spawn(async move {
            client
                .post(format!("{base}/api/v1/session"))
                .json(&json!({"email": email, "password": format!("wrong guess {n}")}))
                .send()
                .await
                .expect("sign in")
                .status()
        });
    }
    let mut unauthorized = 0;
    let mut limited = 0;
    while let Some(status) = guesses.join_next().await {
        match status.unwrap() {
            StatusCode::UNAUTHORIZED => unauthorized += 1,
            StatusCode::TOO_MANY_REQUESTS => limited += 1,
            other => panic!("unexpected answer {other}"),
        }
    }
    assert!(
        unauthorized <= limit,
        "{unauthorized} passwords were checked, the limit is {limit}"
    );
    assert_eq!(unauthorized + limited, 40);
    // Even the right password now waits, on either node.
    for base in [&app.base, &other] {
        assert_eq!(
            sign_in_at(&app, base, &owner.email, &owner.password).await,
            StatusCode::TOO_MANY_REQUESTS
        );
    }
}

async fn acme(app: &TestApp) -> (Member, Member, Member) {
    let workspace = app.workspace("acme", &["data"]).await;
    let admin = app
        .member(workspace, "admin@acme.test", Role::Admin, &["data"])
        .await;
    let editor = app
        .member(workspace, "editor@acme.test", Role::Editor, &["data"])
        .await;
    let other = app.workspace("globex", &[]).await;
    let stranger = app
        .member(other, "admin@globex.test", Role::Admin, &[])
        .await;
    (admin, editor, stranger)
}

async fn a_password_reset_ends_every_session_and_a_role_change_applies_at_once(app: TestApp) {
    let (admin, editor, _) = acme(&app).await;
    let (first, _) = session(&app, &editor.email, &editor.password).await;
    let (second, _) = session(&app, &editor.email, &editor.password).await;
    assert_eq!(me_with_cookie(&app, &first).await, StatusCode::OK);
    // A role change: the very next request of the same session sees it.
    let (status, body) = app.get(&editor, "/api/v1/me").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["role"], "editor", "{body}");
    let (status, body) = app
        .patch(
            &admin,
            &format!("/api/v1/users/{}", editor.id),
            json!({"role": "viewer"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let me: Value = app
        .client
        .get(app.url("/api/v1/me"))
        .header(header::COOKIE, &first)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["role"], "viewer", "{me}");
    let (status, _) = app
        .post(
            &editor,
            "/api/v1/resources",
            json!({"kind": "term", "name": "Churn"}),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "a viewer's token no longer edits"
    );
    // A password reset by an admin ends every session of that person.
    let (status, body) = app
        .patch(
            &admin,
            &format!("/api/v1/users/{}", editor.id),
            json!({"password": "a brand new long passphrase"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(me_with_cookie(&app, &first).await, StatusCode::UNAUTHORIZED);
    assert_eq!(
        me_with_cookie(&app, &second).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        sign_in_at(&app, &app.base, &editor.email, &editor.password).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        sign_in_at(
            &app,
            &app.base,
            &editor.email,
            "a brand new long passphrase"
        )
        .await,
        StatusCode::OK
    );
    // The admin's own sessions are untouched.
    assert_eq!(app.get(&admin, "/api/v1/me").await.0, StatusCode::OK);
}

async fn admins_list_and_revoke_any_members_tokens(app: TestApp) {
    let (admin, editor, stranger) = acme(&app).await;
    let (status, created) = app
        .post(&editor, "/api/v1/tokens", json!({"name": "laptop"}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let laptop = Member {
        token: created["token"].as_str().unwrap().to_string(),
        ..editor.clone()
    };
    let path = format!("/api/v1/users/{}/tokens", editor.id);
    let (status, listed) = app.get(&admin, &path).await;
    assert_eq!(status, StatusCode::OK, "{listed}");
    let names: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|token| token["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"laptop"), "{listed}");
    assert_eq!(names.len(), 2, "the member's two tokens: {listed}");
    assert!(
        !listed.to_string().contains(&laptop.token),
        "no secret is listed"
    );
    // A non-admin may not; another workspace's admin does not see the person at all.
    assert_eq!(app.get(&editor, &path).await.0, StatusCode::FORBIDDEN);
    assert_eq!(app.get(&stranger, &path).await.0, StatusCode::NOT_FOUND);
    let token_id = created["id"].as_i64().unwrap();
    let token_path = format!("{path}/{token_id}");
    assert_eq!(
        app.call(&stranger, Method::DELETE, &token_path, None)
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.call(&editor, Method::DELETE, &token_path, None).await.0,
        StatusCode::FORBIDDEN
    );
    // Another member's token id under this person's path is not found.
    let admin_tokens = app.get(&admin, "/api/v1/tokens").await.1;
    let admin_token = admin_tokens[0]["id"].as_i64().unwrap();
    assert_eq!(
        app.call(
            &admin,
            Method::DELETE,
            &format!("{path}/{admin_token}"),
            None
        )
        .await
        .0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(app.get(&laptop, "/api/v1/me").await.0, StatusCode::OK);
    let (status, body) = app.call(&admin, Method::DELETE, &token_path, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert_eq!(
        app.get(&laptop, "/api/v1/me").await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(app.get(&editor, "/api/v1/me").await.0, StatusCode::OK);
    let (_, listed) = app.get(&admin, &path).await;
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
    assert_eq!(
        app.call(&admin, Method::DELETE, &token_path, None).await.0,
        StatusCode::NOT_FOUND
    );
}

async fn non_admins_cannot_tell_real_team_names_from_made_up_ones(app: TestApp) {
    let (admin, editor, _) = acme(&app).await;
    app.catalog
        .operator()
        .add_team(editor.workspace, "finance")
        .await
        .expect("team");
    let (status, term) = app
        .post(
            &editor,
            "/api/v1/resources",
            json!({"kind": "term", "name": "Margin"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{term}");
    let path = format!("/api/v1/resources/{}", term["id"]);
    {
        let member = &editor;
        let mut answers = Vec::new();
        for team in ["finance", "made-up-team"] {
            let created = app
                .post(
                    member,
                    "/api/v1/resources",
                    json!({"kind": "term", "name": "Revenue", "teams": [team]}),
                )
                .await;
            let patched = app.patch(member, &path, json!({"teams": [team]})).await;
            let listed = app
                .get(member, &format!("/api/v1/resources?team={team}"))
                .await;
            answers.push((created, patched, listed));
        }
        assert_eq!(
            answers[0], answers[1],
            "a real and a made-up team answer alike"
        );
        let ((created, _), (patched, _), (listed, _)) = &answers[0];
        assert_eq!(*created, StatusCode::FORBIDDEN);
        assert_eq!(*patched, StatusCode::FORBIDDEN);
        assert_eq!(*listed, StatusCode::OK);
    }
    // Admins, who manage teams, are told which name is unknown.
    let (status, body) = app
        .post(
            &admin,
            "/api/v1/resources",
            json!({"kind": "term", "name": "Revenue", "teams": ["made-up-team"]}),
        )
        .await;
    common::assert_error(status, &body, StatusCode::BAD_REQUEST, Some("teams"));
    let (status, body) = app
        .post(
            &admin,
            "/api/v1/resources",
            json!({"kind": "term", "name": "Revenue", "teams": ["finance"]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    // An editor still names their own team.
    let (status, body) = app
        .post(
            &editor,
            "/api/v1/resources",
            json!({"kind": "term", "name": "Cost", "teams": ["data"]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

async fn provider_urls_with_credentials_are_refused_and_only_admins_see_the_url(app: TestApp) {
    let (admin, editor, _) = acme(&app).await;
    let put = |body: Value| app.call(&admin, Method::PUT, "/api/v1/settings/ai", Some(body));
    for url in [
        "https://someone:hunter2secret@llm.example.test/v1",
        "https://hunter2secret@llm.example.test/v1",
        "http://:hunter2secret@llm.example.test",
    ] {
        let (status, body) = put(json!({"provider": {
            "kind": "openai", "base_url": url, "model": "small-model", "region": "eu"
        }}))
        .await;
        common::assert_error(
            status,
            &body,
            StatusCode::BAD_REQUEST,
            Some("provider.base_url"),
        );
        assert!(!body.to_string().contains("hunter2"), "{body}");
    }
    let (_, settings) = app.get(&admin, "/api/v1/settings/ai").await;
    assert_eq!(
        settings["provider"]["kind"], "builtin",
        "nothing stored: {settings}"
    );
    let (status, audit) = app.get(&admin, "/api/v1/audit?limit=1000").await;
    assert_eq!(status, StatusCode::OK, "{audit}");
    assert!(!audit.to_string().contains("hunter2"), "{audit}");

    let (status, body) = put(json!({"provider": {
        "kind": "openai", "base_url": "https://llm.example.test/v1",
        "model": "small-model", "region": "eu", "api_key": "sk-write-only"
    }}))
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, seen_by_admin) = app.get(&admin, "/api/v1/settings/ai").await;
    assert_eq!(
        seen_by_admin["provider"]["base_url"], "https://llm.example.test/v1",
        "{seen_by_admin}"
    );
    let (status, seen_by_member) = app.get(&editor, "/api/v1/settings/ai").await;
    assert_eq!(status, StatusCode::OK, "{seen_by_member}");
    let provider = &seen_by_member["provider"];
    assert_eq!(provider["kind"], "openai", "{seen_by_member}");
    assert_eq!(provider["model"], "small-model", "{seen_by_member}");
    assert_eq!(provider["region"], "eu", "{seen_by_member}");
    assert!(
        !seen_by_member.to_string().contains("llm.example.test"),
        "members do not see the URL: {seen_by_member}"
    );
    assert!(!seen_by_admin.to_string().contains("sk-write-only"));
}
