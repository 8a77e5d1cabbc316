//! No query or path parameter makes the server abort or answer 5xx: every route of the OpenAPI
//! document, every parameter it declares plus the paging and filter names any route might read,
//! filled with hostile values (huge and negative numbers, crafted cursors, long and odd text).
//! The review's reproduction was a search cursor with offset 10^12, which made the index try to
//! allocate 8 TB and aborted the process.

use crate::common;

use common::{Backend, spawn_app};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use reqwest::Method;
use serde_json::Value;

/// Names routes read from the query string, whether or not the document declares them.
const COMMON_NAMES: &[&str] = &[
    "limit", "cursor", "after", "q", "kind", "tag", "owner", "team", "offset", "wait", "replace",
];

fn hostile_value() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("1000000000000".to_owned()),
        Just("18446744073709551615".to_owned()),
        Just("18446744073709551616".to_owned()),
        Just("9223372036854775807".to_owned()),
        Just("-9223372036854775808".to_owned()),
        Just("-1".to_owned()),
        Just("0".to_owned()),
        Just("1e308".to_owned()),
        Just("NaN".to_owned()),
        Just(String::new()),
        // base64url of "o1000000000000", "o18446744073709551615", "a-9223…", "o9999", "a9…9"
        Just("bzEwMDAwMDAwMDAwMDA".to_owned()),
        Just("bzE4NDQ2NzQ0MDczNzA5NTUxNjE1".to_owned()),
        Just("YS05MjIzMzcyMDM2ODU0Nzc1ODA4".to_owned()),
        Just("bzk5OTk".to_owned()),
        Just("YTk5OTk5OTk5OTk5OTk5OTk5OTk5".to_owned()),
        Just("%00%ff%fe".to_owned()),
        Just("x".repeat(20_000)),
        Just("\"; DROP TABLE users; --".to_owned()),
        Just("*:* OR title:\"".to_owned()),
        Just("((((((((((((((((((((a".to_owned()),
        any::<u64>().prop_map(|number| number.to_string()),
        any::<i64>().prop_map(|number| number.to_string()),
        "\\PC{0,40}",
    ]
}

#[derive(Debug, Clone)]
struct Operation {
    method: Method,
    path: String,
    query_names: Vec<String>,
}

fn operations(document: &Value) -> Vec<Operation> {
    let mut found = Vec::new();
    for (path, item) in document["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("path item") {
            let Ok(method) = method.to_ascii_uppercase().parse::<Method>() else {
                continue;
            };
            let mut query_names: Vec<String> =
                COMMON_NAMES.iter().map(|name| name.to_string()).collect();
            for parameter in operation["parameters"].as_array().into_iter().flatten() {
                if let Some(name) = parameter["name"].as_str()
                    && !path.contains(&format!("{{{name}}}"))
                    && !query_names.iter().any(|known| known == name)
                {
                    query_names.push(name.to_owned());
                }
            }
            found.push(Operation {
                method,
                path: path.clone(),
                query_names,
            });
        }
    }
    found
}

fn encode(text: &str) -> String {
    text.bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (byte as char).to_string()
            }
            _ => format!("%{byte:02X}"),
        })
        .collect()
}

/// `path` with each `{name}` replaced by the next value.
fn fill_path(path: &str, values: &mut impl Iterator<Item = String>) -> String {
    let mut filled = String::new();
    let mut rest = path;
    while let Some(open) = rest.find('{') {
        filled.push_str(&rest[..open]);
        let close = rest[open..].find('}').map_or(rest.len(), |at| open + at);
        filled.push_str(&encode(&values.next().unwrap_or_default()));
        rest = &rest[(close + 1).min(rest.len())..];
    }
    filled.push_str(rest);
    filled
}

#[test]
fn no_parameter_makes_the_server_fail() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let Some(app) = runtime.block_on(spawn_app(Backend::Sqlite)) else {
        return;
    };
    let (admin, document) = runtime.block_on(async {
        let workspace = app.workspace("acme", &["analytics"]).await;
        let admin = app
            .member(
                workspace,
                "admin@acme.test",
                cairn_catalog::Role::Admin,
                &[],
            )
            .await;
        for index in 0..30 {
            let (status, body) = app
                .post(
                    &admin,
                    "/api/v1/resources",
                    serde_json::json!({"kind": "term", "name": format!("refund term {index}"),
                        "description": "refunds and their orders", "teams": ["analytics"]}),
                )
                .await;
            assert!(status.is_success(), "{body}");
        }
        let document = app.openapi().await;
        (admin, document)
    });
    let operations = operations(&document);
    assert!(operations.len() > 20, "the document lists the routes");
    let cases = std::env::var("CAIRN_PROPTEST_CASES")
        .ok()
        .and_then(|text| text.parse::<u32>().ok())
        .map_or(400, |cases| cases.max(400));
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    let strategy = (
        0..operations.len(),
        proptest::collection::vec(hostile_value(), 4),
        proptest::collection::vec((0..32usize, hostile_value()), 1..5),
    );
    runner
        .run(&strategy, |(which, path_values, query)| {
            let operation = &operations[which];
            let mut values = path_values.into_iter();
            let mut url = app.url(&fill_path(&operation.path, &mut values));
            let pairs: Vec<String> = query
                .iter()
                .map(|(name, value)| {
                    let name = &operation.query_names[name % operation.query_names.len()];
                    format!("{}={}", encode(name), encode(value))
                })
                .collect();
            url.push('?');
            url.push_str(&pairs.join("&"));
            let status = runtime.block_on(async {
                let mut request = app
                    .client
                    .request(operation.method.clone(), &url)
                    .bearer_auth(&admin.token);
                if operation.method != Method::GET && operation.method != Method::DELETE {
                    request = request.json(&serde_json::json!({}));
                }
                request.send().await.expect("the server answers").status()
            });
            prop_assert!(
                !status.is_server_error(),
                "{} {url} answered {status}",
                operation.method
            );
            Ok(())
        })
        .unwrap();
    // The process is still serving.
    let alive = runtime.block_on(async {
        app.client
            .get(app.url("/healthz"))
            .send()
            .await
            .map(|response| response.status().is_success())
            .unwrap_or(false)
    });
    assert!(alive);
}

#[test]
fn a_deep_search_cursor_is_refused_not_allocated() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let Some(app) = runtime.block_on(spawn_app(Backend::Sqlite)) else {
        return;
    };
    runtime.block_on(async {
        let workspace = app.workspace("acme", &["analytics"]).await;
        let admin = app
            .member(
                workspace,
                "admin@acme.test",
                cairn_catalog::Role::Admin,
                &[],
            )
            .await;
        // base64url("o1000000000000"): offset 10^12
        let (status, body) = app
            .get(
                &admin,
                "/api/v1/resources?q=refund&cursor=bzEwMDAwMDAwMDAwMDA",
            )
            .await;
        assert_eq!(status, reqwest::StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(body["error"]["field"], "cursor", "{body}");
    });
}
