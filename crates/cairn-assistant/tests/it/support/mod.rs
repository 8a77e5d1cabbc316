//! A recording stand-in for an OpenAI-compatible server, speaking just enough HTTP/1.1 by hand.
//!
//! It records every request (headers and body) and answers with scripted replies in order; once
//! the script is used up it repeats its last reply.

#![allow(dead_code)]

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// One scripted reply.
#[derive(Debug, Clone)]
pub enum Reply {
    /// A JSON (or any) body with a status and extra headers.
    Json {
        status: u16,
        headers: Vec<(String, String)>,
        body: String,
    },
    /// A `text/event-stream` reply written in the given pieces, with a short pause between.
    Sse(Vec<String>),
    /// Accepts the request and never answers.
    Hang,
    /// A reply made from the request's body (e.g. to echo the placeholders it was sent).
    Dynamic(fn(&Value) -> Reply),
}

impl Reply {
    pub fn ok(body: Value) -> Reply {
        Reply::Json {
            status: 200,
            headers: Vec::new(),
            body: body.to_string(),
        }
    }

    pub fn status(status: u16, body: &str) -> Reply {
        Reply::Json {
            status,
            headers: Vec::new(),
            body: body.to_string(),
        }
    }

    pub fn text(content: &str) -> Reply {
        Reply::ok(completion(json!({"role": "assistant", "content": content})))
    }

    /// A reply asking for tool calls: (id, name, arguments).
    pub fn tools(calls: &[(&str, &str, &str)]) -> Reply {
        let calls: Vec<Value> = calls
            .iter()
            .map(|(id, name, arguments)| {
                json!({"id": id, "type": "function",
                       "function": {"name": name, "arguments": arguments}})
            })
            .collect();
        Reply::ok(completion(
            json!({"role": "assistant", "content": null, "tool_calls": calls}),
        ))
    }
}

pub fn completion(message: Value) -> Value {
    json!({
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "created": 0,
        "model": "stub-model",
        "choices": [{"index": 0, "message": message, "finish_reason": "stop"}]
    })
}

/// A request the stub received.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub raw_body: String,
    pub body: Value,
    pub at: Instant,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }
}

pub struct StubServer {
    pub base_url: String,
    recorded: Arc<Mutex<Vec<Recorded>>>,
}

impl StubServer {
    pub async fn start(script: Vec<Reply>) -> StubServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let recorded = Arc::new(Mutex::new(Vec::new()));
        let script = Arc::new(script);
        let log = recorded.clone();
        tokio::spawn(async move {
            let mut served = 0usize;
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let reply = script
                    .get(served)
                    .or_else(|| script.last())
                    .cloned()
                    .unwrap_or(Reply::status(500, "no script"));
                served += 1;
                let log = log.clone();
                tokio::spawn(async move {
                    let _ = serve(stream, reply, log).await;
                });
            }
        });
        StubServer {
            base_url: format!("http://{address}/v1"),
            recorded,
        }
    }

    pub fn recorded(&self) -> Vec<Recorded> {
        self.recorded.lock().unwrap().clone()
    }
}

async fn serve(
    mut stream: TcpStream,
    reply: Reply,
    log: Arc<Mutex<Vec<Recorded>>>,
) -> std::io::Result<()> {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 8192];
    let header_end = loop {
        let read = stream.read(&mut chunk).await?;
        if read == 0 {
            return Ok(());
        }
        buffer.extend_from_slice(&chunk[..read]);
        if let Some(at) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break at;
        }
    };
    let head = String::from_utf8_lossy(&buffer[..header_end]).to_string();
    let mut lines = head.split("\r\n");
    let request_line = lines.next().unwrap_or_default();
    let path = request_line
        .split(' ')
        .nth(1)
        .unwrap_or_default()
        .to_string();
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(key, value)| (key.trim().to_string(), value.trim().to_string()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(key, _)| key.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, value)| value.parse().ok())
        .unwrap_or(0);
    let mut body = buffer[header_end + 4..].to_vec();
    while body.len() < length {
        let read = stream.read(&mut chunk).await?;
        if read == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..read]);
    }
    let raw_body = String::from_utf8_lossy(&body).to_string();
    let parsed: Value = serde_json::from_str(&raw_body).unwrap_or(Value::Null);
    log.lock().unwrap().push(Recorded {
        path,
        headers,
        body: parsed.clone(),
        raw_body,
        at: Instant::now(),
    });

    let reply = match reply {
        Reply::Dynamic(make) => make(&parsed),
        other => other,
    };
    match reply {
        Reply::Dynamic(_) => {}
        Reply::Json {
            status,
            headers,
            body,
        } => {
            let mut response = format!(
                "HTTP/1.1 {status} Stub\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n",
                body.len()
            );
            for (key, value) in headers {
                response.push_str(&format!("{key}: {value}\r\n"));
            }
            response.push_str("\r\n");
            response.push_str(&body);
            stream.write_all(response.as_bytes()).await?;
        }
        Reply::Sse(pieces) => {
            stream
                .write_all(
                    b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\nConnection: close\r\n\r\n",
                )
                .await?;
            for piece in pieces {
                stream.write_all(piece.as_bytes()).await?;
                stream.flush().await?;
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
        Reply::Hang => {
            tokio::time::sleep(Duration::from_secs(60)).await;
        }
    }
    stream.shutdown().await?;
    Ok(())
}

/// Checks the fields `CreateChatCompletionRequest` requires, and the shapes of messages and tools.
pub fn assert_chat_completion_request(body: &Value) {
    let model = body["model"].as_str().expect("model is a string");
    assert!(!model.is_empty());
    let messages = body["messages"].as_array().expect("messages is an array");
    assert!(!messages.is_empty(), "messages has at least one item");
    let mut tool_call_ids = Vec::new();
    for message in messages {
        let role = message["role"].as_str().expect("role is a string");
        match role {
            "system" | "user" => assert!(message["content"].is_string(), "{message}"),
            "assistant" => {
                let has_calls = message["tool_calls"]
                    .as_array()
                    .is_some_and(|c| !c.is_empty());
                assert!(message["content"].is_string() || has_calls, "{message}");
                for call in message["tool_calls"].as_array().into_iter().flatten() {
                    assert!(call["id"].is_string());
                    assert_eq!(call["type"], "function");
                    assert!(call["function"]["name"].is_string());
                    assert!(call["function"]["arguments"].is_string());
                    tool_call_ids.push(call["id"].as_str().unwrap().to_string());
                }
            }
            "tool" => {
                assert!(message["content"].is_string(), "{message}");
                let id = message["tool_call_id"].as_str().expect("tool_call_id");
                assert!(tool_call_ids.iter().any(|known| known == id), "{id}");
            }
            other => panic!("invalid role {other}"),
        }
    }
    if let Some(tools) = body.get("tools") {
        for tool in tools.as_array().expect("tools is an array") {
            assert_eq!(tool["type"], "function");
            let name = tool["function"]["name"].as_str().expect("function.name");
            assert!(!name.is_empty() && name.len() <= 64);
            assert!(
                name.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            );
            assert_eq!(tool["function"]["parameters"]["type"], "object");
        }
    }
    if let Some(stream) = body.get("stream") {
        assert!(stream.is_boolean());
    }
}
