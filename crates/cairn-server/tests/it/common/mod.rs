//! `spawn_app()`: the real server on 127.0.0.1:0 over a fresh store, SQLite or PostgreSQL.
#![allow(dead_code)]

use std::time::Duration;

use cairn_catalog::{Catalog, CatalogConfig, NewUser, Role, SignInLimits, WorkspaceId};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sqlx::Row;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub struct TestApp {
    pub base: String,
    pub catalog: Catalog,
    pub client: reqwest::Client,
    /// The store's URL (its SQLite file lies outside the data directory).
    pub database_url: String,
    _dir: tempfile::TempDir,
}

/// Runs a test body on both backends; the PostgreSQL run skips (with a message) when no server
/// can be started here.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if let Some(app) = $crate::common::spawn_app($crate::common::Backend::Sqlite).await {
                        super::$name(app).await;
                    }
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if let Some(app) = $crate::common::spawn_app($crate::common::Backend::Postgres).await {
                        super::$name(app).await;
                    }
                }
            )*
        }
    };
}

pub fn database_url(backend: Backend, dir: &std::path::Path) -> Option<String> {
    match backend {
        Backend::Sqlite => Some(format!("sqlite://{}", dir.join("cairn.db").display())),
        Backend::Postgres => {
            let Some(server) = cairn_testkit::postgres() else {
                eprintln!("skipping the PostgreSQL run: no PostgreSQL server could be started");
                return None;
            };
            Some(server.create_database("cairn_api"))
        }
    }
}

pub async fn spawn_app(backend: Backend) -> Option<TestApp> {
    spawn_app_with(backend, |_| {}).await
}

pub async fn spawn_app_with(
    backend: Backend,
    adjust: impl FnOnce(&mut CatalogConfig),
) -> Option<TestApp> {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = database_url(backend, dir.path())?;
    Some(spawn_app_at(dir, url, adjust).await)
}

/// The server over the store at `url`, its data directory in `dir`.
pub async fn spawn_app_at(
    dir: tempfile::TempDir,
    url: String,
    adjust: impl FnOnce(&mut CatalogConfig),
) -> TestApp {
    let mut config = CatalogConfig::new(dir.path().join("data"));
    config.sign_in_limits = SignInLimits {
        per_account: 5,
        per_address: 1000,
        window: Duration::from_secs(60),
        ..SignInLimits::default()
    };
    config.scheduled_sync = false;
    // The throwaway servers listen on unix sockets and the test databases are files, all under
    // the temporary directory, or on loopback: the operator of a test server allows them (the
    // data directory and the store stay refused whatever the list says).
    // The shared sample databases (`../shared/data`) are allowed too.
    let shared = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data");
    let shared = std::fs::canonicalize(&shared).unwrap_or(shared);
    config.integration_policy = cairn_connect::TargetPolicy::parse(&format!(
        "{},{},127.0.0.0/8,::1",
        std::env::temp_dir().display(),
        shared.display()
    ))
    .expect("allow list");
    adjust(&mut config);
    cairn_assistant::install_tls_provider();
    let catalog = Catalog::open(&url, config).await.expect("open catalog");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("address"));
    let state = cairn_server::AppState {
        catalog: catalog.clone(),
        secure_cookies: false,
    };
    tokio::spawn(cairn_server::serve(listener, state, std::future::pending()));
    TestApp {
        base,
        catalog,
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client"),
        database_url: url,
        _dir: dir,
    }
}

/// A member with an API token and the password they sign in with.
#[derive(Debug, Clone)]
pub struct Member {
    pub id: i64,
    pub email: String,
    pub password: String,
    pub token: String,
    pub workspace: WorkspaceId,
}

pub const PASSWORD: &str = "correct horse battery staple";

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn workspace(&self, name: &str, teams: &[&str]) -> WorkspaceId {
        let workspace = self
            .catalog
            .operator()
            .create_workspace(name, None)
            .await
            .expect("workspace");
        for team in teams {
            self.catalog
                .operator()
                .add_team(workspace.id, team)
                .await
                .expect("team");
        }
        workspace.id
    }

    pub async fn member(
        &self,
        workspace: WorkspaceId,
        email: &str,
        role: Role,
        teams: &[&str],
    ) -> Member {
        self.member_named(workspace, None, email, role, teams).await
    }

    /// [`TestApp::member`] with a display name.
    pub async fn member_named(
        &self,
        workspace: WorkspaceId,
        name: Option<&str>,
        email: &str,
        role: Role,
        teams: &[&str],
    ) -> Member {
        let (user, _) = self
            .catalog
            .operator()
            .add_user(
                workspace,
                NewUser {
                    email: email.to_string(),
                    name: name.map(str::to_string),
                    role,
                    teams: teams.iter().map(|team| team.to_string()).collect(),
                    password: Some(PASSWORD.into()),
                },
            )
            .await
            .expect("member");
        let token = self
            .catalog
            .operator()
            .issue_token(workspace, cairn_catalog::UserId(user.id), None)
            .await
            .expect("token")
            .token
            .expect("secret");
        Member {
            id: user.id,
            email: email.to_string(),
            password: PASSWORD.to_string(),
            token,
            workspace,
        }
    }

    /// A request with a bearer token; returns status and JSON body (Null when empty).
    pub async fn call(
        &self,
        member: &Member,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = self
            .client
            .request(method, self.url(path))
            .bearer_auth(&member.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("request");
        let status = response.status();
        let text = response.text().await.expect("body");
        let value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        (status, value)
    }

    pub async fn get(&self, member: &Member, path: &str) -> (StatusCode, Value) {
        self.call(member, Method::GET, path, None).await
    }

    pub async fn post(&self, member: &Member, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(member, Method::POST, path, Some(body)).await
    }

    pub async fn patch(&self, member: &Member, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(member, Method::PATCH, path, Some(body)).await
    }

    /// Connects an integration (`input` as the API takes it) and syncs it once, as `admin`; its
    /// id.
    pub async fn connect_and_sync(&self, admin: &Member, input: Value) -> i64 {
        let (status, body) = self.post(admin, "/api/v1/integrations", input).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let integration = body["id"].as_i64().expect("the integration's id");
        self.sync(admin, integration).await;
        integration
    }

    /// A resource's details (`GET /api/v1/resources/ID`), which `member` may read.
    pub async fn resource(&self, member: &Member, id: i64) -> Value {
        let (status, body) = self.get(member, &format!("/api/v1/resources/{id}")).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body
    }

    /// `POST /api/v1/sql` as `member`: `statement` on `integration`.
    pub async fn sql(
        &self,
        member: &Member,
        integration: i64,
        statement: &str,
    ) -> (StatusCode, Value) {
        let body = serde_json::json!({"integration_id": integration, "sql": statement});
        self.post(member, "/api/v1/sql", body).await
    }

    /// Sets who may query `integration` (`PUT …/permissions`, as `admin`), which must succeed.
    pub async fn permit(&self, admin: &Member, integration: i64, permissions: Value) {
        let path = format!("/api/v1/integrations/{integration}/permissions");
        let (status, body) = self
            .call(admin, Method::PUT, &path, Some(permissions))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }

    /// The OpenAPI document (`GET /api/v1/openapi.json`, no credentials needed).
    pub async fn openapi(&self) -> Value {
        self.client
            .get(self.url("/api/v1/openapi.json"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// Syncs an integration now, as `admin`: the sync's counts.
    pub async fn sync(&self, admin: &Member, integration: i64) -> Value {
        let (status, body) = self.try_sync(admin, integration).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body
    }

    /// `POST /api/v1/integrations/ID/sync` as `member`, whatever it answers.
    pub async fn try_sync(&self, member: &Member, integration: i64) -> (StatusCode, Value) {
        let path = format!("/api/v1/integrations/{integration}/sync");
        self.post(member, &path, json!({})).await
    }

    /// A member of the demo workspace by address, with a new API token; `password` is what the
    /// demo gave them, when a test signs in.
    pub async fn demo_member(
        &self,
        workspace: WorkspaceId,
        email: &str,
        password: String,
    ) -> Member {
        let user = self
            .catalog
            .operator()
            .store()
            .user_by_email(workspace, email)
            .await
            .unwrap()
            .expect("a demo member");
        let token = self
            .catalog
            .operator()
            .issue_token(workspace, user.id, None)
            .await
            .unwrap()
            .token
            .unwrap();
        Member {
            id: user.id.0,
            email: email.to_string(),
            password,
            token,
            workspace,
        }
    }

    /// Every `(table, column)` of the store.
    pub async fn store_columns(&self) -> Vec<(String, String)> {
        let pool = self.catalog.operator().store().pool();
        let mut found = Vec::new();
        if self.database_url.starts_with("sqlite:") {
            let tables = sqlx::query("SELECT name FROM sqlite_master WHERE type = 'table'")
                .fetch_all(pool)
                .await
                .unwrap();
            for table in tables {
                let table: String = table.get(0);
                let names = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT name FROM pragma_table_info('{table}')"
                )))
                .fetch_all(pool)
                .await
                .unwrap();
                for name in names {
                    found.push((table.clone(), name.get::<String, _>(0)));
                }
            }
        } else {
            let rows = sqlx::query(
                "SELECT table_name::text, column_name::text FROM information_schema.columns
                 WHERE table_schema = current_schema()",
            )
            .fetch_all(pool)
            .await
            .unwrap();
            for row in rows {
                found.push((row.get(0), row.get(1)));
            }
        }
        found
    }

    /// Changes the workspace's AI settings as `admin`: the settings now.
    pub async fn put_ai_settings(&self, admin: &Member, settings: Value) -> Value {
        let (status, body) = self
            .call(admin, Method::PUT, "/api/v1/settings/ai", Some(settings))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body
    }

    /// Seeds the demo workspace, `acme`, into this fresh app.
    pub async fn seed_demo(&self) -> cairn_catalog::DemoSeed {
        let seeded = self
            .catalog
            .operator()
            .seed_demo()
            .await
            .expect("seeding the demo");
        seeded.expect("a fresh demo")
    }

    /// Names of every resource a member finds by browsing (all pages).
    pub async fn browse_names(&self, member: &Member, query: &str) -> Vec<String> {
        let mut names = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut path = format!("/api/v1/resources?limit=7{query}");
            if let Some(cursor) = &cursor {
                path.push_str(&format!("&cursor={cursor}"));
            }
            let (status, body) = self.get(member, &path).await;
            assert_eq!(status, StatusCode::OK, "{body}");
            for item in body["items"].as_array().expect("items") {
                names.push(item["name"].as_str().expect("name").to_string());
            }
            match body["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_string()),
                None => break,
            }
        }
        names.sort();
        names
    }
}

/// Asserts an error answer: status, the API's error shape, and the field it names.
pub fn assert_error(status: StatusCode, body: &Value, expected: StatusCode, field: Option<&str>) {
    assert_eq!(status, expected, "{body}");
    assert!(
        body["error"]["code"].is_string(),
        "error code missing: {body}"
    );
    assert!(
        body["error"]["message"].is_string(),
        "error message missing: {body}"
    );
    if let Some(field) = field {
        assert_eq!(body["error"]["field"], field, "{body}");
    }
}

/// Serves a stand-in model provider (or any other stand-in) on a free local port: its origin,
/// `http://127.0.0.1:PORT`.
pub async fn serve_stand_in(router: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.ok() });
    origin
}

/// Serves `handler` with `state` as a stand-in model provider's `POST /v1/chat/completions`: the
/// base URL to configure, `http://127.0.0.1:PORT/v1`.
pub async fn serve_chat_completions<H, T, S>(handler: H, state: S) -> String
where
    H: axum::handler::Handler<T, S>,
    T: 'static,
    S: Clone + Send + Sync + 'static,
{
    let router = axum::Router::new()
        .route("/v1/chat/completions", axum::routing::post(handler))
        .with_state(state);
    format!("{}/v1", serve_stand_in(router).await)
}

/// A stand-in provider's answer carrying the assistant `message`: as server-sent chunks when the
/// request asked to `stream` (a tool call's delta gets its index), else one JSON completion.
pub fn chat_answer(stream: bool, message: Value) -> axum::response::Response {
    use axum::response::IntoResponse;
    if stream {
        let mut delta = message;
        if let Some(calls) = delta.get_mut("tool_calls") {
            calls[0]["index"] = json!(0);
        }
        let chunk = json!({"id": "x", "object": "chat.completion.chunk", "model": "stand-in",
            "choices": [{"index": 0, "delta": delta, "finish_reason": null}]});
        let end = json!({"id": "x", "object": "chat.completion.chunk", "model": "stand-in",
            "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]});
        let text = format!("data: {chunk}\n\ndata: {end}\n\ndata: [DONE]\n\n");
        return ([("content-type", "text/event-stream")], text).into_response();
    }
    axum::Json(
        json!({"id": "x", "object": "chat.completion", "model": "stand-in",
        "choices": [{"index": 0, "message": message, "finish_reason": "stop"}]}),
    )
    .into_response()
}

/// The item named `name` in a list answer's `items`; panics naming what it looked for.
pub fn item_named<'a>(body: &'a Value, name: &str) -> &'a Value {
    body["items"]
        .as_array()
        .unwrap_or_else(|| panic!("no items in {body}"))
        .iter()
        .find(|item| item["name"] == name)
        .unwrap_or_else(|| panic!("no {name} in {body}"))
}

/// The id of the item named `name` in a list answer's `items`.
pub fn id_named(body: &Value, name: &str) -> i64 {
    item_named(body, name)["id"]
        .as_i64()
        .unwrap_or_else(|| panic!("{name} has no id in {body}"))
}

/// The `name=value` pair of the session cookie a response sets.
pub fn session_cookie(response: &reqwest::Response) -> String {
    response.headers()[reqwest::header::SET_COOKIE]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string()
}
