//! The MCP server at `POST /mcp`: the protocol's own errors for bad requests, bearer tokens only,
//! and tools that show exactly what the caller may see (across teams and workspaces).

use crate::common;

use cairn_catalog::Role;
use common::{Member, TestApp};
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn raw(
    app: &TestApp,
    token: Option<&str>,
    body: &str,
    extra: &[(&str, &str)],
) -> (StatusCode, Value) {
    let mut request = app
        .client
        .post(app.url("/mcp"))
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(body.to_string());
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    for (name, value) in extra {
        request = request.header(*name, *value);
    }
    let response = request.send().await.expect("request");
    let status = response.status();
    let text = response.text().await.expect("body");
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

async fn rpc(app: &TestApp, member: &Member, method: &str, params: Value) -> Value {
    let body = json!({"jsonrpc": "2.0", "id": 7, "method": method, "params": params});
    let (status, answer) = raw(app, Some(&member.token), &body.to_string(), &[]).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["id"], 7, "{answer}");
    answer
}

async fn call(app: &TestApp, member: &Member, tool: &str, arguments: Value) -> Value {
    rpc(
        app,
        member,
        "tools/call",
        json!({"name": tool, "arguments": arguments}),
    )
    .await
}

fn error_code(answer: &Value) -> i64 {
    answer["error"]["code"]
        .as_i64()
        .unwrap_or_else(|| panic!("not an error: {answer}"))
}

async fn protocol_errors(app: TestApp) {
    let workspace = app.workspace("acme", &["red"]).await;
    let member = app
        .member(workspace, "ada@acme.example", Role::Viewer, &["red"])
        .await;
    let ping = json!({"jsonrpc": "2.0", "id": 1, "method": "ping"}).to_string();

    // Only a valid bearer token opens the door; a session cookie does not.
    let (status, body) = raw(&app, None, &ping, &[]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    let (status, _) = raw(&app, Some("cairn_not_a_token"), &ping, &[]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let signed_in = app
        .client
        .post(app.url("/api/v1/session"))
        .json(&json!({"email": member.email, "password": member.password}))
        .send()
        .await
        .expect("sign in");
    let cookie = signed_in
        .headers()
        .get("set-cookie")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .expect("session cookie")
        .to_string();
    let (status, _) = raw(&app, None, &ping, &[("cookie", &cookie)]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // The token counts only in the Authorization header: not in the URL, not in the body.
    for query in ["token", "access_token", "api_key"] {
        let response = app
            .client
            .post(app.url(&format!("/mcp?{query}={}", member.token)))
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .body(ping.clone())
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{query}");
    }
    let in_body =
        json!({"jsonrpc": "2.0", "id": 1, "method": "ping", "token": member.token}).to_string();
    let (status, _) = raw(&app, None, &in_body, &[]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, body) = raw(&app, Some(&member.token), &ping, &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, json!({"jsonrpc": "2.0", "id": 1, "result": {}}));

    // Malformed JSON-RPC.
    let (status, body) = raw(&app, Some(&member.token), "{not json", &[]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error_code(&body), -32700);
    for bad in [
        r#"[{"jsonrpc":"2.0","id":1,"method":"ping"}]"#,
        r#"{"id":1,"method":"ping"}"#,
        r#"{"jsonrpc":"2.0","id":{"a":1},"method":"ping"}"#,
        r#"{"jsonrpc":"2.0","id":1,"method":5}"#,
        r#"{"jsonrpc":"2.0","id":1}"#,
    ] {
        let (status, body) = raw(&app, Some(&member.token), bad, &[]).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
        assert_eq!(error_code(&body), -32600, "{bad}");
    }
    let (status, body) = raw(
        &app,
        Some(&member.token),
        &ping,
        &[("mcp-protocol-version", "1999-01-01")],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    // Notifications get 202 and no body; GET (no server stream here) is 405.
    let (status, _) = raw(
        &app,
        Some(&member.token),
        r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let stream = app
        .client
        .get(app.url("/mcp"))
        .bearer_auth(&member.token)
        .send()
        .await
        .expect("get");
    assert_eq!(stream.status(), StatusCode::METHOD_NOT_ALLOWED);

    // Initialise, and the tools a viewer gets: read-only, no run_sql.
    let init = rpc(
        &app,
        &member,
        "initialize",
        json!({"protocolVersion": "2025-03-26", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}),
    )
    .await;
    assert_eq!(init["result"]["protocolVersion"], "2025-03-26");
    assert!(init["result"]["capabilities"]["tools"].is_object());
    let tools = rpc(&app, &member, "tools/list", json!({})).await;
    let tools = tools["result"]["tools"].as_array().expect("tools").clone();
    let names: Vec<&str> = tools
        .iter()
        .filter_map(|tool| tool["name"].as_str())
        .collect();
    assert_eq!(
        names,
        [
            "search",
            "read_resource",
            "list_glossary",
            "join_path",
            "lineage"
        ]
    );
    assert!(
        tools
            .iter()
            .all(|tool| tool["annotations"]["readOnlyHint"] == true)
    );

    // Unknown methods, unknown tools and bad arguments: the protocol's errors.
    assert_eq!(
        error_code(&rpc(&app, &member, "tools/destroy", json!({})).await),
        -32601
    );
    for (tool, arguments) in [
        ("run_sql", json!({"integration_id": 1, "sql": "SELECT 1"})),
        ("drop_everything", json!({})),
        ("read_resource", json!({"id": "one"})),
        ("read_resource", json!({})),
        ("read_resource", json!({"id": 1, "colour": "blue"})),
        ("read_resource", json!({"id": 1, "max_bytes": 10})),
        ("search", json!({"query": ""})),
        ("search", json!({"query": "x", "limit": 5000})),
        ("search", json!({"query": "x", "cursor": "garbage"})),
        ("join_path", json!({"from_id": 1, "to_id": 2, "via": 3})),
        ("lineage", json!({"id": 1, "max_bytes": 10_000_000})),
        ("search", json!({"query": "x", "max_bytes": "big"})),
    ] {
        let answer = call(&app, &member, tool, arguments.clone()).await;
        assert_eq!(error_code(&answer), -32602, "{tool} {arguments}: {answer}");
    }
    let answer = rpc(&app, &member, "tools/call", json!({"arguments": {}})).await;
    assert_eq!(error_code(&answer), -32602);
    let answer = rpc(
        &app,
        &member,
        "resources/read",
        json!({"uri": "file:///etc/passwd"}),
    )
    .await;
    assert_eq!(error_code(&answer), -32002);

    // Every tool call is audited, refused ones included.
    let calls = app
        .catalog
        .operator()
        .store()
        .audit_entries(workspace, 0, 1000)
        .await
        .expect("audit");
    let tools_called: Vec<String> = calls
        .iter()
        .filter(|entry| entry.action == "mcp.tool_call")
        .filter_map(|entry| serde_json::from_str::<Value>(&entry.detail).ok())
        .filter_map(|detail| detail["tool"].as_str().map(str::to_string))
        .collect();
    assert!(tools_called.contains(&"drop_everything".to_string()));
    assert!(tools_called.contains(&"read_resource".to_string()));
}

async fn access_across_teams_and_workspaces(app: TestApp) {
    let acme = app.workspace("acme", &["red", "blue"]).await;
    let globex = app.workspace("globex", &["red"]).await;
    let admin = app
        .member(acme, "admin@acme.example", Role::Admin, &["red", "blue"])
        .await;
    let viewer = app
        .member(acme, "red@acme.example", Role::Viewer, &["red"])
        .await;
    let other = app
        .member(globex, "admin@globex.example", Role::Admin, &["red"])
        .await;
    let mut ids = Vec::new();
    for (member, name, team) in [
        (&admin, "Red revenue", "red"),
        (&admin, "Blue salaries", "blue"),
        (&other, "Globex revenue", "red"),
    ] {
        let (status, body) = app
            .post(
                member,
                "/api/v1/resources",
                json!({"kind": "term", "name": name, "teams": [team], "description": format!("{name} means something")}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        ids.push(body["id"].as_i64().expect("id"));
    }
    let (red, blue, globex_term) = (ids[0], ids[1], ids[2]);

    let names = |answer: &Value| -> Vec<String> {
        answer["result"]["structuredContent"]["items"]
            .as_array()
            .expect("items")
            .iter()
            .filter_map(|item| item["name"].as_str().map(str::to_string))
            .collect()
    };
    let seen = call(&app, &viewer, "list_glossary", json!({})).await;
    assert_eq!(names(&seen), ["Red revenue"], "{seen}");
    let seen = call(&app, &admin, "list_glossary", json!({})).await;
    assert_eq!(names(&seen), ["Red revenue", "Blue salaries"], "{seen}");
    let seen = call(&app, &other, "list_glossary", json!({})).await;
    assert_eq!(names(&seen), ["Globex revenue"], "{seen}");

    let card = call(&app, &viewer, "read_resource", json!({"id": red})).await;
    assert_eq!(card["result"]["isError"], false, "{card}");
    assert_eq!(card["result"]["structuredContent"]["name"], "Red revenue");
    // Hidden and missing look the same: "not found", from every tool.
    for (member, id) in [
        (&viewer, blue),
        (&viewer, globex_term),
        (&other, red),
        (&viewer, 999_999),
    ] {
        for (tool, arguments) in [
            ("read_resource", json!({"id": id})),
            ("lineage", json!({"id": id})),
            ("join_path", json!({"from_id": id, "to_id": id})),
        ] {
            let answer = call(&app, member, tool, arguments).await;
            assert_eq!(answer["result"]["isError"], true, "{tool}: {answer}");
            assert_eq!(answer["result"]["content"][0]["text"], "not found");
        }
        let answer = rpc(
            &app,
            member,
            "resources/read",
            json!({"uri": format!("cairn://resources/{id}")}),
        )
        .await;
        assert_eq!(error_code(&answer), -32002, "{answer}");
    }
    let answer = rpc(
        &app,
        &viewer,
        "resources/read",
        json!({"uri": format!("cairn://resources/{red}")}),
    )
    .await;
    let text = answer["result"]["contents"][0]["text"]
        .as_str()
        .expect("text");
    assert_eq!(
        serde_json::from_str::<Value>(text).expect("card")["id"],
        red
    );

    // Tools switched off by an admin disappear and cannot be called.
    let (status, body) = app
        .call(
            &admin,
            reqwest::Method::PUT,
            "/api/v1/settings/ai",
            Some(json!({"mcp_disabled_tools": ["list_glossary"]})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let tools = rpc(&app, &viewer, "tools/list", json!({})).await;
    assert!(!tools.to_string().contains("list_glossary"));
    let answer = call(&app, &viewer, "list_glossary", json!({})).await;
    assert_eq!(error_code(&answer), -32602);
    // Another workspace's settings are its own.
    let tools = rpc(&app, &other, "tools/list", json!({})).await;
    assert!(tools.to_string().contains("list_glossary"));
    let (status, _) = app
        .call(
            &viewer,
            reqwest::Method::PUT,
            "/api/v1/settings/ai",
            Some(json!({"mcp_sql_enabled": true})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

/// The structured answer of a successful tool call, and the bytes of its text content.
fn answer_of(answer: &Value) -> (Value, usize) {
    assert_eq!(answer["result"]["isError"], false, "{answer}");
    let text = answer["result"]["content"][0]["text"]
        .as_str()
        .unwrap_or_else(|| panic!("no text: {answer}"));
    let structured = answer["result"]["structuredContent"].clone();
    assert_eq!(
        serde_json::from_str::<Value>(text).expect("the text is the JSON"),
        structured
    );
    (structured, text.len())
}

/// A SQLite database with an 800-column table that references a narrow one.
async fn wide_database(file: &std::path::Path) {
    use sqlx::{Connection, Executor};
    let options = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(file)
        .create_if_missing(true);
    let mut connection = sqlx::SqliteConnection::connect_with(&options)
        .await
        .expect("create the SQLite file");
    let columns: Vec<String> = (1..=798)
        .map(|index| format!("measure_{index:03} REAL"))
        .collect();
    let schema = format!(
        "CREATE TABLE region (id INTEGER PRIMARY KEY, name TEXT);
         CREATE TABLE wide (id INTEGER PRIMARY KEY, region_id INTEGER REFERENCES region(id), {});",
        columns.join(", ")
    );
    connection
        .execute(sqlx::AssertSqlSafe(schema))
        .await
        .expect("schema");
    connection.close().await.expect("close");
}

async fn wide_tables_come_in_pages_within_the_budget(app: TestApp) {
    let workspace = app.workspace("acme", &["data"]).await;
    let admin = app
        .member(workspace, "admin@acme.example", Role::Admin, &["data"])
        .await;
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("wide.sqlite");
    wide_database(&file).await;
    app.connect_and_sync(&admin, json!({"name": "lake", "kind": "sqlite", "connection": format!("sqlite://{}", file.display()), "teams": ["data"]})).await;
    let (found, _) = answer_of(
        &call(
            &app,
            &admin,
            "search",
            json!({"query": "wide", "kind": "table"}),
        )
        .await,
    );
    let wide = common::id_named(&found, "wide");

    // The default budget and a larger one: pages within it that add up to every column, in order.
    let mut page_counts = Vec::new();
    for (max_bytes, budget) in [(None, 24_000), (Some(60_000), 60_000)] {
        let mut names: Vec<String> = Vec::new();
        let mut pages = 0;
        let mut cursor: Option<String> = None;
        loop {
            let mut arguments = json!({"id": wide});
            if let Some(bytes) = max_bytes {
                arguments["max_bytes"] = json!(bytes);
            }
            if let Some(cursor) = &cursor {
                arguments["column_cursor"] = json!(cursor);
            }
            let (page, bytes) = answer_of(&call(&app, &admin, "read_resource", arguments).await);
            assert!(bytes <= budget, "{bytes} bytes over {budget}");
            assert_eq!(page["column_count"], 800);
            assert_eq!(page["keys"]["primary_key"], json!(["id"]));
            let keys = &page["keys"]["foreign_keys"];
            assert_eq!(keys.as_array().map(Vec::len), Some(1), "{keys}");
            assert_eq!(keys[0]["direction"], "references");
            assert_eq!(keys[0]["path"], "lake.main.region");
            assert_eq!(
                keys[0]["columns"],
                json!([{"from": "region_id", "to": "id"}])
            );
            let shown = page["columns"].as_array().expect("columns");
            assert!(!shown.is_empty());
            names.extend(
                shown
                    .iter()
                    .map(|column| column["name"].as_str().expect("name").to_string()),
            );
            pages += 1;
            match page["next_column_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_string()),
                None => break,
            }
        }
        let mut expected = vec!["id".to_string(), "region_id".to_string()];
        expected.extend((1..=798).map(|index| format!("measure_{index:03}")));
        assert_eq!(names, expected);
        assert!(pages > 1, "800 columns in one page of {budget} bytes");
        page_counts.push(pages);
        if max_bytes.is_none() {
            // The card as an MCP resource is the first page at the default budget.
            let read = rpc(
                &app,
                &admin,
                "resources/read",
                json!({"uri": format!("cairn://resources/{wide}")}),
            )
            .await;
            let text = read["result"]["contents"][0]["text"]
                .as_str()
                .expect("text");
            assert!(text.len() <= budget);
            assert!(
                serde_json::from_str::<Value>(text).expect("card")["next_column_cursor"]
                    .is_string()
            );
        }
    }
    assert!(page_counts[0] > page_counts[1], "{page_counts:?}");
    // Search pages end early rather than pass the budget; their cursor continues after them.
    let (page, bytes) = answer_of(
        &call(
            &app,
            &admin,
            "search",
            json!({"query": "measure", "limit": 50, "max_bytes": 2000}),
        )
        .await,
    );
    assert!(bytes <= 2000, "{bytes}");
    let first: Vec<Value> = page["items"].as_array().expect("items").clone();
    assert!(!first.is_empty() && first.len() < 50, "{page}");
    let (next, _) = answer_of(
        &call(
            &app,
            &admin,
            "search",
            json!({"query": "measure", "limit": 50, "max_bytes": 2000, "cursor": page["next_cursor"]}),
        )
        .await,
    );
    let (whole, _) = answer_of(
        &call(
            &app,
            &admin,
            "search",
            json!({"query": "measure", "limit": 50, "max_bytes": 200_000}),
        )
        .await,
    );
    let ids = |items: &[Value]| -> Vec<i64> {
        items
            .iter()
            .map(|item| item["id"].as_i64().expect("id"))
            .collect()
    };
    let mut paged = ids(&first);
    paged.extend(ids(next["items"].as_array().expect("items")));
    let whole = ids(whole["items"].as_array().expect("items"));
    assert_eq!(paged, whole[..paged.len()]);
}

on_both_backends!(
    protocol_errors,
    access_across_teams_and_workspaces,
    wide_tables_come_in_pages_within_the_budget
);

/// join_path and lineage answer as the assistant's tools do (the catalog's own services, with
/// the caller's rights), cards carry table-level keys, and every call is audited.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relations_are_the_catalogs_and_every_call_is_audited() {
    let Some(app) = common::spawn_app(common::Backend::Sqlite).await else {
        return;
    };
    let seed = app.seed_demo().await;
    let admin = app
        .demo_member(seed.workspace, "admin@acme.example", String::new())
        .await;
    let viewer = app
        .demo_member(seed.workspace, "viewer@acme.example", String::new())
        .await;
    let table = |name: &'static str| {
        let app = &app;
        let admin = &admin;
        async move {
            let (found, _) = answer_of(
                &call(
                    app,
                    admin,
                    "search",
                    json!({"query": name, "kind": "table"}),
                )
                .await,
            );
            common::id_named(&found, name)
        }
    };
    let (orders, customers, payments, invoices) = (
        table("orders").await,
        table("customers").await,
        table("payments").await,
        table("invoices").await,
    );
    let text = |answer: &Value| -> String {
        assert_eq!(answer["result"]["isError"], false, "{answer}");
        answer["result"]["content"][0]["text"]
            .as_str()
            .expect("text")
            .to_string()
    };
    let principal = |member: &Member| {
        let catalog = app.catalog.clone();
        let (workspace, user) = (member.workspace, cairn_catalog::UserId(member.id));
        async move { catalog.principal(workspace, user).await.expect("principal") }
    };
    let admin_principal = principal(&admin).await;

    let path = text(
        &call(
            &app,
            &admin,
            "join_path",
            json!({"from_id": payments, "to_id": customers}),
        )
        .await,
    );
    assert!(
        path.contains("warehouse.main.payments.invoice_id → warehouse.main.invoices.id")
            && path.contains("warehouse.main.orders.customer_id → warehouse.main.customers.id"),
        "{path}"
    );
    assert_eq!(
        path,
        app.catalog
            .join_path(
                &admin_principal,
                cairn_catalog::ResourceId(payments),
                cairn_catalog::ResourceId(customers)
            )
            .await
            .expect("the catalog's join path")
    );
    let lineage = text(&call(&app, &admin, "lineage", json!({"id": orders})).await);
    assert!(lineage.contains("sales_monthly_revenue"), "{lineage}");

    // The admin's card of orders names finance's invoices among its keys; the sales viewer's
    // does not, and cannot join to it.
    let (card, _) = answer_of(&call(&app, &admin, "read_resource", json!({"id": orders})).await);
    let keys = card["keys"]["foreign_keys"]
        .as_array()
        .expect("keys")
        .clone();
    let key_to = |keys: &[Value], name: &str| {
        keys.iter()
            .find(|key| key["path"] == format!("warehouse.main.{name}"))
            .cloned()
    };
    let customer_key = key_to(&keys, "customers").expect("orders references customers");
    assert_eq!(customer_key["direction"], "references");
    assert_eq!(
        customer_key["columns"],
        json!([{"from": "customer_id", "to": "id"}])
    );
    let invoice_key = key_to(&keys, "invoices").expect("invoices reference orders");
    assert_eq!(invoice_key["direction"], "referenced_by");
    let (card, _) = answer_of(&call(&app, &viewer, "read_resource", json!({"id": orders})).await);
    let keys = card["keys"]["foreign_keys"]
        .as_array()
        .expect("keys")
        .clone();
    assert!(key_to(&keys, "customers").is_some(), "{card}");
    assert!(!card.to_string().contains("invoices"), "{card}");
    let answer = call(
        &app,
        &viewer,
        "join_path",
        json!({"from_id": orders, "to_id": invoices}),
    )
    .await;
    assert_eq!(answer["result"]["isError"], true, "{answer}");
    assert_eq!(answer["result"]["content"][0]["text"], "not found");

    // Every call is audited, with who made it and how it ended.
    let audited = || async {
        app.catalog
            .operator()
            .store()
            .audit_entries(seed.workspace, 0, 10_000)
            .await
            .expect("audit")
            .into_iter()
            .filter(|entry| entry.action == "mcp.tool_call")
            .collect::<Vec<_>>()
    };
    let before = audited().await.len();
    call(&app, &viewer, "search", json!({"query": "orders"})).await;
    call(&app, &viewer, "lineage", json!({"id": invoices})).await;
    call(&app, &viewer, "no_such_tool", json!({})).await;
    let after = audited().await;
    assert_eq!(after.len(), before + 3);
    let outcomes: Vec<(String, String)> = after[before..]
        .iter()
        .map(|entry| {
            assert_eq!(entry.actor, Some(cairn_catalog::UserId(viewer.id)));
            let detail: Value = serde_json::from_str(&entry.detail).expect("detail");
            (
                detail["tool"].as_str().expect("tool").to_string(),
                detail["outcome"].as_str().expect("outcome").to_string(),
            )
        })
        .collect();
    assert_eq!(outcomes[0], ("search".to_string(), "ok".to_string()));
    assert_eq!(
        outcomes[1],
        ("lineage".to_string(), "failed: not found".to_string())
    );
    assert_eq!(outcomes[2].0, "no_such_tool");
    assert!(
        outcomes[2].1.starts_with("rejected: unknown tool"),
        "{outcomes:?}"
    );
}
