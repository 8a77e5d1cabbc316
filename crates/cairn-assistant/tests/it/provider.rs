//! The OpenAI-compatible client against a recording stand-in server.

use crate::support;

use std::time::{Duration, Instant};

use cairn_assistant::gate::{Conversation, GateLimits, GateSettings, ModelRequest, ToolSet};
use cairn_assistant::provider::{
    ApiKey, EgressLedger, OpenAiConfig, OpenAiProvider, Provider, ProviderError, ToolCall,
};
use serde_json::json;
use support::{Reply, StubServer, assert_chat_completion_request};

/// These tests look at the wire only; the ledger is the agent's and the catalog's concern.
struct Unrecorded;

impl EgressLedger for Unrecorded {
    async fn record(&self, _request: &ModelRequest) -> Result<(), String> {
        Ok(())
    }
}

fn config(server: &StubServer) -> OpenAiConfig {
    let mut config = OpenAiConfig::new(server.base_url.clone(), "test-model");
    config.stream = false;
    config.timeout = Duration::from_secs(5);
    config.initial_backoff = Duration::from_millis(20);
    config.max_backoff = Duration::from_secs(5);
    config
}

fn request(stream: bool) -> ModelRequest {
    let settings = GateSettings {
        model: "test-model".into(),
        stream,
        pseudonymize: false,
        known_people: Vec::new(),
        restorable_people: Vec::new(),
        limits: GateLimits::default(),
    };
    Conversation::start(
        settings,
        ToolSet::new(vec![]),
        &[],
        "which table holds refunds?",
        &[],
    )
    .request(true)
    .unwrap()
}

#[tokio::test]
async fn sends_the_gate_bytes_with_the_key_and_parses_a_plain_reply() {
    let server = StubServer::start(vec![Reply::text("refunds live in shop.public.refunds")]).await;
    let mut config = config(&server);
    config.api_key = Some(ApiKey::new("sk-test-key"));
    let provider = OpenAiProvider::new(config).unwrap();
    let request = request(false);
    let reply = provider.complete(&request, &Unrecorded).await.unwrap();
    assert_eq!(
        reply.content.as_deref(),
        Some("refunds live in shop.public.refunds")
    );
    assert!(reply.tool_calls.is_empty());
    assert_eq!(reply.model, "stub-model");

    let recorded = server.recorded();
    assert_eq!(recorded.len(), 1);
    assert_eq!(recorded[0].path, "/v1/chat/completions");
    assert_eq!(
        recorded[0].header("authorization"),
        Some("Bearer sk-test-key")
    );
    assert_eq!(recorded[0].raw_body.as_bytes(), request.body_bytes());
    assert_chat_completion_request(&recorded[0].body);
    assert!(!format!("{provider:?}").contains("sk-test-key"));
}

#[tokio::test]
async fn retries_429_after_the_time_retry_after_names() {
    let server = StubServer::start(vec![
        Reply::Json {
            status: 429,
            headers: vec![("Retry-After".into(), "1".into())],
            body: json!({"error": {"message": "slow down"}}).to_string(),
        },
        Reply::text("done"),
    ])
    .await;
    let provider = OpenAiProvider::new(config(&server)).unwrap();
    let reply = provider
        .complete(&request(false), &Unrecorded)
        .await
        .unwrap();
    assert_eq!(reply.content.as_deref(), Some("done"));
    let recorded = server.recorded();
    assert_eq!(recorded.len(), 2);
    let waited = recorded[1].at - recorded[0].at;
    assert!(waited >= Duration::from_millis(950), "waited {waited:?}");
}

#[tokio::test]
async fn retries_5xx_with_exponential_backoff() {
    let server = StubServer::start(vec![
        Reply::status(500, "boom"),
        Reply::status(503, "busy"),
        Reply::status(502, "bad gateway"),
        Reply::text("finally"),
    ])
    .await;
    let mut config = config(&server);
    config.initial_backoff = Duration::from_millis(100);
    config.max_retries = 3;
    let provider = OpenAiProvider::new(config).unwrap();
    let reply = provider
        .complete(&request(false), &Unrecorded)
        .await
        .unwrap();
    assert_eq!(reply.content.as_deref(), Some("finally"));
    let recorded = server.recorded();
    assert_eq!(recorded.len(), 4);
    let gaps: Vec<Duration> = recorded.windows(2).map(|w| w[1].at - w[0].at).collect();
    assert!(gaps[0] >= Duration::from_millis(95), "{gaps:?}");
    assert!(gaps[1] >= Duration::from_millis(195), "{gaps:?}");
    assert!(gaps[2] >= Duration::from_millis(395), "{gaps:?}");
}

#[tokio::test]
async fn gives_up_after_max_retries_with_the_status() {
    let server = StubServer::start(vec![Reply::status(
        500,
        r#"{"error":{"message":"internal error"}}"#,
    )])
    .await;
    let mut config = config(&server);
    config.max_retries = 2;
    let provider = OpenAiProvider::new(config).unwrap();
    let error = provider
        .complete(&request(false), &Unrecorded)
        .await
        .unwrap_err();
    assert_eq!(
        error,
        ProviderError::Status {
            code: 500,
            message: "internal error".into()
        }
    );
    assert_eq!(server.recorded().len(), 3);
}

#[tokio::test]
async fn never_follows_a_redirect_to_another_host() {
    let elsewhere = StubServer::start(vec![Reply::text("caught the body")]).await;
    let server = StubServer::start(vec![Reply::Json {
        status: 307,
        headers: vec![(
            "Location".into(),
            format!("{}/chat/completions", elsewhere.base_url),
        )],
        body: String::new(),
    }])
    .await;
    let provider = OpenAiProvider::new(config(&server)).unwrap();
    let error = provider
        .complete(&request(false), &Unrecorded)
        .await
        .unwrap_err();
    assert!(
        matches!(error, ProviderError::Status { code: 307, .. }),
        "{error:?}"
    );
    assert_eq!(server.recorded().len(), 1, "a redirect is not retried");
    assert!(
        elsewhere.recorded().is_empty(),
        "the request body went to the redirect's target"
    );
}

#[tokio::test]
async fn does_not_retry_client_errors() {
    let server = StubServer::start(vec![Reply::status(
        400,
        r#"{"error":{"message":"unknown model"}}"#,
    )])
    .await;
    let provider = OpenAiProvider::new(config(&server)).unwrap();
    let error = provider
        .complete(&request(false), &Unrecorded)
        .await
        .unwrap_err();
    assert_eq!(
        error,
        ProviderError::Status {
            code: 400,
            message: "unknown model".into()
        }
    );
    assert_eq!(server.recorded().len(), 1);
}

#[tokio::test]
async fn times_out_on_a_server_that_hangs() {
    let server = StubServer::start(vec![Reply::Hang]).await;
    let mut config = config(&server);
    config.timeout = Duration::from_millis(300);
    let provider = OpenAiProvider::new(config).unwrap();
    let started = Instant::now();
    let error = provider
        .complete(&request(false), &Unrecorded)
        .await
        .unwrap_err();
    assert_eq!(error, ProviderError::Timeout);
    // Well past the deadline, yet far short of the stalled answer: a loaded machine still passes.
    assert!(started.elapsed() < Duration::from_secs(30));
}

#[tokio::test]
async fn reports_an_unreachable_server() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    drop(listener);
    let mut config = OpenAiConfig::new(format!("http://{address}/v1"), "m");
    config.max_retries = 1;
    config.initial_backoff = Duration::from_millis(10);
    let provider = OpenAiProvider::new(config).unwrap();
    let error = provider
        .complete(&request(false), &Unrecorded)
        .await
        .unwrap_err();
    assert!(matches!(error, ProviderError::Unreachable(_)), "{error:?}");
}

#[tokio::test]
async fn reports_malformed_replies() {
    let server = StubServer::start(vec![
        Reply::status(200, "this is not json"),
        Reply::ok(json!({"object": "chat.completion"})),
    ])
    .await;
    let provider = OpenAiProvider::new(config(&server)).unwrap();
    let first = provider
        .complete(&request(false), &Unrecorded)
        .await
        .unwrap_err();
    assert!(matches!(first, ProviderError::Malformed(_)), "{first:?}");
    let second = provider
        .complete(&request(false), &Unrecorded)
        .await
        .unwrap_err();
    assert!(matches!(second, ProviderError::Malformed(_)), "{second:?}");
}

fn event(delta: serde_json::Value) -> String {
    let chunk = json!({"id": "c", "object": "chat.completion.chunk", "model": "stub-stream",
                       "choices": [{"index": 0, "delta": delta}]});
    format!("data: {chunk}\n\n")
}

#[tokio::test]
async fn assembles_a_streamed_reply_of_content_and_tool_calls() {
    let mut pieces = vec![
        ": a comment the client ignores\n\n".to_string(),
        event(json!({"role": "assistant", "content": "Let me "})),
        event(json!({"content": "look."})),
        event(
            json!({"tool_calls": [{"index": 0, "id": "call_a", "type": "function",
                                     "function": {"name": "search_catalog", "arguments": ""}}]}),
        ),
        event(
            json!({"tool_calls": [{"index": 1, "id": "call_b", "type": "function",
                                     "function": {"name": "read_resource", "arguments": "{\"id\""}}]}),
        ),
        event(
            json!({"tool_calls": [{"index": 0, "function": {"arguments": "{\"query\": \"ref"}}]}),
        ),
        event(json!({"tool_calls": [{"index": 1, "function": {"arguments": ": 42}"}}]})),
        event(json!({"tool_calls": [{"index": 0, "function": {"arguments": "unds\"}"}}]})),
    ];
    // Split one event across two writes, in the middle of its JSON.
    let last = event(json!({"content": ""}));
    let (head, tail) = last.split_at(20);
    pieces.push(head.to_string());
    pieces.push(tail.to_string());
    pieces.push("data: [DONE]\n\n".to_string());
    let server = StubServer::start(vec![Reply::Sse(pieces)]).await;
    let mut config = config(&server);
    config.stream = true;
    let provider = OpenAiProvider::new(config).unwrap();
    let request = request(true);
    let reply = provider.complete(&request, &Unrecorded).await.unwrap();
    assert_eq!(reply.content.as_deref(), Some("Let me look."));
    assert_eq!(reply.model, "stub-stream");
    assert_eq!(
        reply.tool_calls,
        vec![
            ToolCall {
                id: "call_a".into(),
                name: "search_catalog".into(),
                arguments: r#"{"query": "refunds"}"#.into()
            },
            ToolCall {
                id: "call_b".into(),
                name: "read_resource".into(),
                arguments: r#"{"id": 42}"#.into()
            },
        ]
    );
    let recorded = server.recorded();
    assert_eq!(recorded[0].body["stream"], true);
    assert_eq!(recorded[0].header("accept"), Some("text/event-stream"));
}

#[tokio::test]
async fn accepts_a_plain_reply_to_a_streamed_request() {
    // Some servers ignore `stream: true` and answer with one JSON body.
    let server = StubServer::start(vec![Reply::text("plain")]).await;
    let provider = OpenAiProvider::new(config(&server)).unwrap();
    let reply = provider
        .complete(&request(true), &Unrecorded)
        .await
        .unwrap();
    assert_eq!(reply.content.as_deref(), Some("plain"));
}

#[tokio::test]
async fn reports_an_error_event_in_a_stream() {
    let server = StubServer::start(vec![Reply::Sse(vec![
        event(json!({"content": "partial"})),
        "data: {\"error\": {\"message\": \"context length exceeded\"}}\n\n".to_string(),
    ])])
    .await;
    let provider = OpenAiProvider::new(config(&server)).unwrap();
    let error = provider
        .complete(&request(true), &Unrecorded)
        .await
        .unwrap_err();
    match error {
        ProviderError::Malformed(message) => assert!(message.contains("context length")),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn speaks_https_to_providers() {
    use tokio::io::AsyncReadExt;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let first_byte = tokio::spawn(async move {
        let accepted = tokio::time::timeout(Duration::from_secs(5), listener.accept()).await;
        let Ok(Ok((mut socket, _))) = accepted else {
            return 0;
        };
        let mut record = [0u8; 5];
        socket
            .read_exact(&mut record)
            .await
            .map(|_| record[0])
            .unwrap_or(0)
    });
    let mut config = OpenAiConfig::new(format!("https://{address}/v1"), "m");
    config.max_retries = 0;
    config.timeout = Duration::from_secs(3);
    let provider = OpenAiProvider::new(config).unwrap();
    let error = provider
        .complete(&request(false), &Unrecorded)
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            ProviderError::Unreachable(_) | ProviderError::Timeout
        ),
        "{error:?}"
    );
    assert_eq!(
        first_byte.await.unwrap(),
        0x16,
        "the client opened with a TLS handshake record"
    );
}

/// Counts entries, noting for each how many requests the server had already seen.
struct CountingLedger<'a> {
    server: &'a StubServer,
    entries: std::sync::Mutex<Vec<usize>>,
    refuse: bool,
}

impl EgressLedger for CountingLedger<'_> {
    async fn record(&self, _request: &ModelRequest) -> Result<(), String> {
        if self.refuse {
            return Err("store unavailable".into());
        }
        let seen = self.server.recorded().len();
        self.entries.lock().unwrap().push(seen);
        Ok(())
    }
}

#[tokio::test]
async fn each_attempt_is_on_the_ledger_before_it_is_sent() {
    let server = StubServer::start(vec![
        Reply::status(503, "busy"),
        Reply::text("second time lucky"),
    ])
    .await;
    let provider = OpenAiProvider::new(config(&server)).unwrap();
    let ledger = CountingLedger {
        server: &server,
        entries: std::sync::Mutex::new(Vec::new()),
        refuse: false,
    };
    let reply = provider.complete(&request(false), &ledger).await.unwrap();
    assert_eq!(reply.content.as_deref(), Some("second time lucky"));
    assert_eq!(server.recorded().len(), 2);
    // Two attempts, two entries, each written while the server had not yet seen its request.
    assert_eq!(*ledger.entries.lock().unwrap(), vec![0, 1]);

    let refusing = CountingLedger {
        server: &server,
        entries: std::sync::Mutex::new(Vec::new()),
        refuse: true,
    };
    let error = provider
        .complete(&request(false), &refusing)
        .await
        .unwrap_err();
    assert!(matches!(error, ProviderError::NotRecorded(_)), "{error:?}");
    assert_eq!(server.recorded().len(), 2, "nothing is sent off the record");
}
