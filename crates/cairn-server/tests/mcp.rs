//! The MCP server at `POST /mcp`: the protocol's own errors for bad requests, bearer tokens only,
//! and tools that show exactly what the caller may see (across teams and workspaces).

mod common;

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
        (
            "join_path",
            json!({"from_id": 1, "to_id": 2, "max_hops": 99}),
        ),
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

on_both_backends!(protocol_errors, access_across_teams_and_workspaces);
