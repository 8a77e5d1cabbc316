//! Promise 1 as noninterference: two databases with the same schema and different rows make
//! Cairn send byte-identical requests to the model, however the model probes them through
//! run_sql (counts, value-dependent errors, sizes, limits, timeouts). The rows still reach the
//! user, beside the model's answer.
//!
//! Each engine (real PostgreSQL, MariaDB and SQLite) is loaded twice under the same names, once
//! with rows A and once with rows B, each time behind a fresh Cairn and a fresh recording
//! stand-in for an OpenAI-compatible server that follows the same script.

use crate::common;

use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::response::Response;
use cairn_catalog::Role;
use common::{Member, TestApp};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// One set of rows. The schema is the same for both; only values differ.
struct Rows {
    /// Canaries planted in rows: none may appear in any request.
    canaries: [&'static str; 2],
    /// (id, email, score) for `customers`; `orders` get (id, customer_id, note).
    customers: [(i64, &'static str, i64); 3],
    notes: [&'static str; 3],
}

const ROWS_A: Rows = Rows {
    canaries: ["alpha.canary@rows-a.example", "needle-a-41f9"],
    customers: [
        (1, "alpha.canary@rows-a.example", 7),
        (2, "avery@rows-a.example", 1),
        (3, "bo@rows-a.example", 900),
    ],
    notes: ["17", "needle-a-41f9", "{\"a\": 1}"],
};

const ROWS_B: Rows = Rows {
    canaries: ["zulu.canary@rows-b.example", "needle-b-77c2"],
    customers: [
        (1, "zulu.canary@rows-b.example", 2),
        (2, "yara@rows-b.example", 3),
        (3, "xi@rows-b.example", 5),
    ],
    notes: ["(", "needle-b-77c2", "not json"],
};

fn inserts(rows: &Rows) -> String {
    let mut script = String::new();
    for (id, email, score) in rows.customers {
        script.push_str(&format!(
            "INSERT INTO customers (id, email, score) VALUES ({id}, '{email}', {score});\n"
        ));
    }
    for (index, note) in rows.notes.iter().enumerate() {
        let id = index + 1;
        script.push_str(&format!(
            "INSERT INTO orders (id, customer_id, note) VALUES ({id}, {id}, '{note}');\n"
        ));
    }
    script
}

const SCHEMA: &str = "CREATE TABLE customers (id integer PRIMARY KEY, email varchar(200) NOT NULL, \
     score integer NOT NULL);\n\
     CREATE TABLE orders (id integer PRIMARY KEY, customer_id integer NOT NULL, \
     note varchar(200) NOT NULL);\n";

/// Probes a model could use to read rows through side channels: counts, value-dependent
/// errors, sizes, limits, long runs. Three per question (the cap), then a fourth that is over
/// it. The third of each question is plain, so the user gets rows.
fn probes(engine: &str) -> Vec<[&'static str; 4]> {
    let common = [
        "SELECT (SELECT id FROM customers WHERE email LIKE 'a%')",
        "SELECT 1 / (score - 7) FROM customers",
        "SELECT email, score FROM customers ORDER BY id",
        "SELECT email FROM customers",
    ];
    let limits = [
        "SELECT email FROM customers ORDER BY score DESC LIMIT 1",
        "SELECT nope FROM customers",
        "SELECT id, note FROM orders ORDER BY id",
        "SELECT 1",
    ];
    let engine_probes: Vec<[&'static str; 4]> = match engine {
        "postgres" => vec![
            [
                "SELECT * FROM generate_series(1, ascii(substr((SELECT email FROM customers WHERE id = 1), 1, 1)))",
                "SELECT CAST(note AS integer) FROM orders WHERE id = 1",
                "SELECT id, email FROM customers ORDER BY id",
                "SELECT 2",
            ],
            [
                "SELECT repeat(email, score * 100000) FROM customers",
                "SELECT count(*) FROM generate_series(1, (SELECT max(score) FROM customers) * 100000) a, generate_series(1, 1000) b",
                "SELECT id FROM orders ORDER BY id",
                "SELECT 3",
            ],
        ],
        "mysql" => vec![
            [
                "SELECT * FROM customers WHERE id <= ascii(substr((SELECT email FROM customers WHERE id = 1), 1, 1))",
                "SELECT email REGEXP (SELECT note FROM orders WHERE id = 1) FROM customers",
                "SELECT id, email FROM customers ORDER BY id",
                "SELECT 2",
            ],
            [
                "SELECT REPEAT(email, score * 100000) FROM customers",
                "SELECT CAST(note AS JSON) FROM orders WHERE id = 3",
                "SELECT id FROM orders ORDER BY id",
                "SELECT 3",
            ],
        ],
        _ => vec![
            [
                "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < (SELECT unicode(email) FROM customers WHERE id = 1)) SELECT i FROM n",
                "SELECT abs(-9223372036854775807 - score) FROM customers",
                "SELECT id, email FROM customers ORDER BY id",
                "SELECT 2",
            ],
            [
                "SELECT json_extract(note, '$.a') FROM orders",
                "SELECT substr(email, 1, score) FROM customers",
                "SELECT id FROM orders ORDER BY id",
                "SELECT 3",
            ],
        ],
    };
    let mut all = vec![common, limits];
    all.extend(engine_probes);
    all
}

/// A recording stand-in answering from a script, one reply per request.
#[derive(Clone, Default)]
struct StandIn {
    bodies: Arc<Mutex<Vec<String>>>,
    script: Arc<Mutex<Vec<Value>>>,
}

async fn completions(State(stand_in): State<StandIn>, body: String) -> Response {
    let parsed: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    stand_in.bodies.lock().unwrap().push(body);
    let reply = {
        let mut script = stand_in.script.lock().unwrap();
        if script.is_empty() {
            json!({"content": "Nothing more."})
        } else {
            script.remove(0)
        }
    };
    let message = match reply.get("sql") {
        Some(sql) => json!({"role": "assistant", "content": null, "tool_calls": [{"id": "call_1",
            "type": "function", "function": {"name": "run_sql", "arguments":
            json!({"integration_id": reply["integration"], "sql": sql}).to_string()}}]}),
        None => json!({"role": "assistant", "content": reply["content"]}),
    };
    common::chat_answer(parsed["stream"] == true, message)
}

async fn stand_in() -> (String, StandIn) {
    let stand_in = StandIn::default();
    let base = common::serve_chat_completions(completions, stand_in.clone()).await;
    (base, stand_in)
}

/// What one phase produced: every request body sent to the model, and the answers.
struct Phase {
    bodies: Vec<String>,
    answers: Vec<Value>,
    /// Requests of a thread the built-in assistant answered first (with rows), then a model.
    thread_bodies: Vec<String>,
    /// The built-in assistant's answer in that thread, as the user saw it.
    offline_answer: String,
}

/// A fresh Cairn over the database at `url`, asked every probe through the stand-in.
async fn phase(kind: &str, url: &str) -> Phase {
    let app = common::spawn_app(common::Backend::Sqlite).await.unwrap();
    let workspace = app.workspace("probe", &["data"]).await;
    let admin = app
        .member(workspace, "admin@probe.example", Role::Admin, &["data"])
        .await;
    let (base, recorder) = stand_in().await;
    app.put_ai_settings(
        &admin,
        json!({"run_sql_enabled": true,
        "provider": {"kind": "openai", "base_url": base, "model": "stand-in"}}),
    )
    .await;
    let integration = app
        .connect_and_sync(
            &admin,
            json!({"name": "shop", "kind": kind, "connection": url, "teams": ["data"]}),
        )
        .await;
    app.permit(&admin, integration, json!({"users": [admin.id]}))
        .await;

    let mut answers = Vec::new();
    for (number, question) in probes(kind).into_iter().enumerate() {
        let mut script: Vec<Value> = question
            .iter()
            .map(|sql| json!({"integration": integration, "sql": sql}))
            .collect();
        script.push(json!({"content": "The result is shown beside this answer."}));
        *recorder.script.lock().unwrap() = script;
        answers.push(
            ask(
                &app,
                &admin,
                &format!("Question {number}: what is in the shop?"),
            )
            .await,
        );
    }
    let bodies = recorder.bodies.lock().unwrap().clone();

    // A thread the built-in assistant answers first, stating rows; then the workspace connects
    // a model and the thread goes on. The model hears the question, not the rows.
    app.put_ai_settings(&admin, json!({"provider": {"kind": "builtin"}}))
        .await;
    let offline = ask(&app, &admin, "list the customers").await;
    assert_eq!(offline["provider"], "builtin", "{offline}");
    app.put_ai_settings(
        &admin,
        json!({"provider": {"kind": "openai", "base_url": base, "model": "stand-in"}}),
    )
    .await;
    *recorder.script.lock().unwrap() = vec![json!({"content": "Noted."})];
    let (status, answer) = app
        .post(
            &admin,
            "/api/v1/ai/ask",
            json!({"question": "and what else is in the shop?", "thread_id": offline["thread_id"]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let thread_bodies = recorder.bodies.lock().unwrap()[bodies.len()..].to_vec();
    Phase {
        bodies,
        answers,
        thread_bodies,
        offline_answer: offline["answer"].as_str().unwrap_or_default().to_string(),
    }
}

async fn ask(app: &TestApp, member: &Member, question: &str) -> Value {
    let (status, answer) = app
        .post(member, "/api/v1/ai/ask", json!({"question": question}))
        .await;
    assert_eq!(status, StatusCode::OK, "{question}: {answer}");
    answer
}

/// Runs both phases and compares them.
async fn requests_are_identical(kind: &str, load: impl AsyncFnMut(&Rows) -> String) {
    let mut load = load;
    let url = load(&ROWS_A).await;
    let first = phase(kind, &url).await;
    let url = load(&ROWS_B).await;
    let second = phase(kind, &url).await;

    let questions = probes(kind).len();
    // Five model requests per question: three statements, the one over the cap, the answer.
    assert_eq!(first.bodies.len(), questions * 5, "{kind}");
    let tool_outputs: Vec<String> = first
        .bodies
        .iter()
        .map(|body| serde_json::from_str::<Value>(body).unwrap())
        .flat_map(|body| body["messages"].as_array().unwrap().clone())
        .filter(|message| message["role"] == "tool")
        .map(|message| message["content"].as_str().unwrap().to_string())
        .collect();
    let checked = tool_outputs
        .iter()
        .filter(|text| text.contains("the statement was checked"))
        .count();
    assert!(
        checked >= questions * 2,
        "{kind}: too few probes got past the guard to the database ({checked}): {tool_outputs:#?}"
    );
    assert!(
        tool_outputs
            .iter()
            .any(|text| text.contains("at most 3 run_sql calls")),
        "{kind}: the cap on statements per question"
    );
    for body in first.bodies.iter().chain(&second.bodies) {
        for canary in ROWS_A.canaries.iter().chain(&ROWS_B.canaries) {
            assert!(!body.contains(canary), "{kind}: a row value left: {body}");
        }
        assert!(!body.contains("row_count") && !body.contains("truncated"));
    }
    for (index, (a, b)) in first.bodies.iter().zip(&second.bodies).enumerate() {
        assert_eq!(
            a, b,
            "{kind}: request {index} differs between the two databases"
        );
    }
    assert_eq!(first.bodies.len(), second.bodies.len());

    // A thread continued by a model after the built-in assistant showed rows: the model is sent
    // the user's words and the catalog's metadata, never the rows the user saw.
    assert!(
        first.offline_answer.contains(ROWS_A.canaries[0]),
        "{kind}: the built-in assistant showed the rows: {}",
        first.offline_answer
    );
    assert!(
        !first.thread_bodies.is_empty(),
        "{kind}: the model was asked"
    );
    for body in first.thread_bodies.iter().chain(&second.thread_bodies) {
        assert!(
            body.contains("list the customers"),
            "{kind}: the thread's question"
        );
        for canary in ROWS_A.canaries.iter().chain(&ROWS_B.canaries) {
            assert!(
                !body.contains(canary),
                "{kind}: a row the built-in assistant showed reached the model: {body}"
            );
        }
    }
    assert_eq!(
        first.thread_bodies, second.thread_bodies,
        "{kind}: a continued thread's requests differ between the two databases"
    );

    // The user got the rows: each phase its own.
    let shown = |phase: &Phase| -> String {
        phase
            .answers
            .iter()
            .map(|answer| answer["sql"]["rows"].to_string())
            .collect()
    };
    assert!(shown(&first).contains(ROWS_A.canaries[0]), "{kind}");
    assert!(shown(&first).contains(ROWS_A.canaries[1]), "{kind}");
    assert!(shown(&second).contains(ROWS_B.canaries[0]), "{kind}");
    assert!(!shown(&second).contains(ROWS_A.canaries[0]), "{kind}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_rows_do_not_change_what_the_model_is_sent() {
    let Some(server) = cairn_testkit::postgres() else {
        eprintln!("skipping: no PostgreSQL server could be started");
        return;
    };
    let name = format!("noninterference_{}", std::process::id());
    requests_are_identical("postgres", async |rows: &Rows| {
        server
            .psql(
                "postgres",
                format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)").as_str(),
            )
            .unwrap();
        server
            .psql("postgres", format!("CREATE DATABASE \"{name}\"").as_str())
            .unwrap();
        let script = format!("{SCHEMA}{}", inserts(rows));
        server.psql(&name, script.as_str()).unwrap();
        server.url(&name)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mariadb_rows_do_not_change_what_the_model_is_sent() {
    let Some(server) = cairn_testkit::mariadb() else {
        eprintln!("skipping: no MariaDB server could be started");
        return;
    };
    let name = format!("noninterference_{}", std::process::id());
    requests_are_identical("mysql", async |rows: &Rows| {
        let script = format!(
            "DROP DATABASE IF EXISTS `{name}`; CREATE DATABASE `{name}` CHARACTER SET utf8mb4;"
        );
        server.mysql("", script.as_str()).unwrap();
        let script = format!("{SCHEMA}{}", inserts(rows));
        server.mysql(&name, script.as_str()).unwrap();
        server.url(&name)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_rows_do_not_change_what_the_model_is_sent() {
    let dir = tempfile::tempdir().unwrap();
    let mut generation = 0;
    requests_are_identical("sqlite", async |rows: &Rows| {
        generation += 1;
        let path = dir.path().join(format!("shop-{generation}.db"));
        let url = format!("sqlite://{}", path.display());
        let options = <sqlx::sqlite::SqliteConnectOptions as std::str::FromStr>::from_str(&url)
            .unwrap()
            .create_if_missing(true);
        let mut connection = <sqlx::SqliteConnection as sqlx::Connection>::connect_with(&options)
            .await
            .unwrap();
        let script = format!("{SCHEMA}{}", inserts(rows));
        sqlx::raw_sql(sqlx::AssertSqlSafe(script))
            .execute(&mut connection)
            .await
            .unwrap();
        sqlx::Connection::close(connection).await.unwrap();
        url
    })
    .await;
}
