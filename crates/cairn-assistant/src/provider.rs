//! Model providers: the [`Provider`] trait and an OpenAI-compatible chat-completions client.
//!
//! The client's reply types are hand-written and lenient: vLLM, Ollama and llama.cpp servers each
//! leave out or reshape some fields that OpenAI sends.

use std::future::Future;
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{ACCEPT, CONTENT_TYPE, RETRY_AFTER};
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;

use crate::gate::{ModelRequest, sanitize};

/// A language model that answers a [`ModelRequest`].
pub trait Provider {
    /// The model named in requests built for this provider.
    fn model(&self) -> &str;

    /// Whether requests for this provider ask for a streamed reply.
    fn streams(&self) -> bool {
        false
    }

    /// Sends `request`, writing it to `ledger` before each attempt's bytes leave (a retry is a
    /// second entry). When the ledger cannot take the entry, nothing is sent.
    fn complete<L: EgressLedger + Sync>(
        &self,
        request: &ModelRequest,
        ledger: &L,
    ) -> impl Future<Output = Result<ModelReply, ProviderError>> + Send {
        self.complete_streaming(request, ledger, &ignore_pieces)
    }

    /// As [`Provider::complete`], handing the reply's text to `pieces` piece by piece as it
    /// arrives when the reply is streamed.
    fn complete_streaming<L: EgressLedger + Sync>(
        &self,
        request: &ModelRequest,
        ledger: &L,
        pieces: &(dyn Fn(&str) + Sync),
    ) -> impl Future<Output = Result<ModelReply, ProviderError>> + Send;
}

/// A sink for a reply's text that keeps none of it.
pub fn ignore_pieces(_piece: &str) {}

/// Where every request is written before it is sent: the workspace's egress ledger (promise 7).
pub trait EgressLedger {
    /// Writes one entry for `request`, about to be sent. An error stops the send.
    fn record(&self, request: &ModelRequest) -> impl Future<Output = Result<(), String>> + Send;
}

/// What the model answered: text, tool calls, or both.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelReply {
    pub content: Option<String>,
    pub tool_calls: Vec<ToolCall>,
    pub model: String,
}

/// A tool call the model asked for. `arguments` is the model's JSON text, not yet validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolCall {
    pub id: String,
    pub name: String,
    pub arguments: String,
}

/// Why a provider gave no reply.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ProviderError {
    #[error("model provider unreachable: {0}")]
    Unreachable(String),
    #[error("model provider timed out")]
    Timeout,
    #[error("model provider answered {code}: {message}")]
    Status { code: u16, message: String },
    #[error("model provider reply malformed: {0}")]
    Malformed(String),
    #[error("the request could not be written to the egress ledger, so it was not sent: {0}")]
    NotRecorded(String),
}

/// An API key. Its `Debug` never shows it.
#[derive(Debug, Clone)]
pub struct ApiKey(SecretString);

impl ApiKey {
    pub fn new(key: impl Into<String>) -> ApiKey {
        ApiKey(SecretString::from(key.into()))
    }

    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

/// Settings of an OpenAI-compatible endpoint.
#[derive(Debug, Clone)]
pub struct OpenAiConfig {
    /// E.g. `http://127.0.0.1:11434/v1`; `/chat/completions` is appended.
    pub base_url: String,
    pub model: String,
    pub api_key: Option<ApiKey>,
    /// For a whole attempt, reading the reply included.
    pub timeout: Duration,
    /// Retries after the first attempt, on 429, 5xx and failed connections.
    pub max_retries: u32,
    pub stream: bool,
    /// First wait between attempts; it doubles each retry.
    pub initial_backoff: Duration,
    /// Longest wait between attempts, `Retry-After` included.
    pub max_backoff: Duration,
}

impl OpenAiConfig {
    pub fn new(base_url: impl Into<String>, model: impl Into<String>) -> OpenAiConfig {
        OpenAiConfig {
            base_url: base_url.into(),
            model: model.into(),
            api_key: None,
            timeout: Duration::from_secs(120),
            max_retries: 2,
            stream: true,
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(30),
        }
    }
}

/// Makes rustls (with the ring provider) the process's TLS implementation. Every HTTP client in
/// the process needs it before it is built; calling it again is harmless.
pub fn install_tls_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Largest reply body read, in bytes.
const MAX_REPLY_BYTES: usize = 8 * 1024 * 1024;

/// A client of an OpenAI-compatible `/chat/completions` endpoint.
#[derive(Debug, Clone)]
pub struct OpenAiProvider {
    config: OpenAiConfig,
    url: String,
    client: reqwest::Client,
}

impl OpenAiProvider {
    pub fn new(config: OpenAiConfig) -> Result<OpenAiProvider, ProviderError> {
        install_tls_provider();
        let client = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout.min(Duration::from_secs(10)))
            // The request goes to the configured host and nowhere else: a redirect would send the
            // whole body to a host the ledger does not name.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|error| ProviderError::Unreachable(error.to_string()))?;
        let url = format!("{}/chat/completions", config.base_url.trim_end_matches('/'));
        Ok(OpenAiProvider {
            config,
            url,
            client,
        })
    }

    pub fn config(&self) -> &OpenAiConfig {
        &self.config
    }

    fn backoff(&self, retry: u32) -> Duration {
        let factor = 2u32.saturating_pow(retry);
        self.config
            .initial_backoff
            .saturating_mul(factor)
            .min(self.config.max_backoff)
    }

    async fn attempt(
        &self,
        request: &ModelRequest,
        pieces: &(dyn Fn(&str) + Sync),
    ) -> Result<ModelReply, Failure> {
        let accept = if request.is_streaming() {
            "text/event-stream"
        } else {
            "application/json"
        };
        let mut builder = self
            .client
            .post(&self.url)
            .header(CONTENT_TYPE, "application/json")
            .header(ACCEPT, accept)
            .body(request.body_bytes().to_vec());
        if let Some(key) = &self.config.api_key {
            builder = builder.bearer_auth(key.expose());
        }
        let mut response = builder.send().await.map_err(Failure::from_send)?;
        let status = response.status();
        if !status.is_success() {
            let retry_after = response
                .headers()
                .get(RETRY_AFTER)
                .and_then(|value| value.to_str().ok())
                .and_then(|value| value.trim().parse::<u64>().ok())
                .map(Duration::from_secs);
            let body = read_capped(&mut response, 64 * 1024)
                .await
                .unwrap_or_default();
            let retryable = status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error();
            let message = if status.is_redirection() {
                "the provider answered with a redirect, which is never followed".to_string()
            } else {
                error_message(&body)
            };
            return Err(Failure {
                error: ProviderError::Status {
                    code: status.as_u16(),
                    message,
                },
                retryable,
                retry_after,
            });
        }
        let is_sse = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .is_some_and(|value| value.contains("text/event-stream"));
        if is_sse {
            read_stream(&mut response, request.model(), pieces).await
        } else {
            let body = read_capped(&mut response, MAX_REPLY_BYTES).await?;
            parse_completion(&body, request.model()).map_err(Failure::fatal)
        }
    }
}

/// Reads a streamed reply line by line, handing its text to `pieces` as it arrives.
async fn read_stream(
    response: &mut reqwest::Response,
    requested_model: &str,
    pieces: &(dyn Fn(&str) + Sync),
) -> Result<ModelReply, Failure> {
    let mut assembly = StreamAssembly::default();
    let feed = |assembly: &mut StreamAssembly, line: &[u8]| {
        let known = assembly.text_len();
        assembly
            .feed_line(&String::from_utf8_lossy(line))
            .map_err(Failure::fatal)?;
        assembly.hand_on(known, pieces);
        Ok::<(), Failure>(())
    };
    let mut pending: Vec<u8> = Vec::new();
    let mut total = 0;
    while let Some(chunk) = response.chunk().await.map_err(Failure::from_read)? {
        total += chunk.len();
        if total > MAX_REPLY_BYTES {
            return Err(Failure::fatal(ProviderError::Malformed(
                "reply too large".into(),
            )));
        }
        pending.extend_from_slice(&chunk);
        while let Some(end) = pending.iter().position(|byte| *byte == b'\n') {
            let line: Vec<u8> = pending.drain(..=end).collect();
            feed(&mut assembly, &line)?;
        }
        if assembly.done {
            break;
        }
    }
    if !pending.is_empty() {
        feed(&mut assembly, &pending)?;
    }
    assembly.finish(requested_model).map_err(Failure::fatal)
}

impl Provider for OpenAiProvider {
    fn model(&self) -> &str {
        &self.config.model
    }

    fn streams(&self) -> bool {
        self.config.stream
    }

    async fn complete_streaming<L: EgressLedger + Sync>(
        &self,
        request: &ModelRequest,
        ledger: &L,
        pieces: &(dyn Fn(&str) + Sync),
    ) -> Result<ModelReply, ProviderError> {
        let mut retry = 0;
        loop {
            // On the record before the bytes leave: one entry per attempt.
            ledger
                .record(request)
                .await
                .map_err(ProviderError::NotRecorded)?;
            match self.attempt(request, pieces).await {
                Ok(reply) => return Ok(reply),
                Err(failure) if failure.retryable && retry < self.config.max_retries => {
                    let wait = failure
                        .retry_after
                        .unwrap_or_else(|| self.backoff(retry))
                        .min(self.config.max_backoff);
                    tracing::warn!(
                        url = %self.url,
                        retry = retry + 1,
                        wait_ms = wait.as_millis() as u64,
                        error = %failure.error,
                        "model request failed, retrying"
                    );
                    tokio::time::sleep(wait).await;
                    retry += 1;
                }
                Err(failure) => return Err(failure.error),
            }
        }
    }
}

/// One failed attempt and whether another may follow.
struct Failure {
    error: ProviderError,
    retryable: bool,
    retry_after: Option<Duration>,
}

impl Failure {
    fn fatal(error: ProviderError) -> Failure {
        Failure {
            error,
            retryable: false,
            retry_after: None,
        }
    }

    fn from_send(error: reqwest::Error) -> Failure {
        if error.is_timeout() {
            Failure::fatal(ProviderError::Timeout)
        } else {
            Failure {
                retryable: error.is_connect(),
                error: ProviderError::Unreachable(error_chain(&error.without_url())),
                retry_after: None,
            }
        }
    }

    fn from_read(error: reqwest::Error) -> Failure {
        if error.is_timeout() {
            Failure::fatal(ProviderError::Timeout)
        } else {
            Failure::fatal(ProviderError::Unreachable(format!(
                "connection lost while reading the reply: {}",
                error_chain(&error.without_url())
            )))
        }
    }
}

/// The error and its sources, without the URL (which could carry credentials).
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(inner) = source {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        source = inner.source();
    }
    text
}

async fn read_capped(response: &mut reqwest::Response, limit: usize) -> Result<Vec<u8>, Failure> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(Failure::from_read)? {
        if body.len() + chunk.len() > limit {
            return Err(Failure::fatal(ProviderError::Malformed(
                "reply too large".into(),
            )));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// The message of an error reply: OpenAI's `error.message` when there is one, else the text.
fn error_message(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let from_json = serde_json::from_str::<Value>(&text).ok().and_then(|value| {
        value["error"]["message"]
            .as_str()
            .or_else(|| value["error"].as_str())
            .or_else(|| value["message"].as_str())
            .or_else(|| value["detail"].as_str())
            .map(str::to_string)
    });
    let message = from_json.unwrap_or_else(|| text.to_string());
    sanitize(&message, 300).trim().to_string()
}

fn text_of(content: &Value) -> Option<String> {
    match content {
        Value::String(text) => Some(text.clone()),
        Value::Array(parts) => {
            let text: String = parts
                .iter()
                .filter_map(|part| part["text"].as_str().or_else(|| part.as_str()))
                .collect();
            Some(text)
        }
        _ => None,
    }
}

fn arguments_of(arguments: &Value) -> String {
    match arguments {
        Value::String(text) => text.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// Parses a non-streamed `CreateChatCompletionResponse`.
fn parse_completion(body: &[u8], requested_model: &str) -> Result<ModelReply, ProviderError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|error| ProviderError::Malformed(format!("not json: {error}")))?;
    let Some(choice) = value["choices"].get(0) else {
        if !value["error"].is_null() {
            return Err(ProviderError::Malformed(format!(
                "error in reply: {}",
                error_message(body)
            )));
        }
        return Err(ProviderError::Malformed("reply has no choices".into()));
    };
    let message = &choice["message"];
    if !message.is_object() {
        return Err(ProviderError::Malformed("choice has no message".into()));
    }
    let tool_calls = message["tool_calls"]
        .as_array()
        .map(|calls| {
            calls
                .iter()
                .enumerate()
                .map(|(index, call)| ToolCall {
                    id: call["id"]
                        .as_str()
                        .filter(|id| !id.is_empty())
                        .map_or_else(|| format!("call_{index}"), str::to_string),
                    name: call["function"]["name"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string(),
                    arguments: arguments_of(&call["function"]["arguments"]),
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(ModelReply {
        content: text_of(&message["content"]),
        tool_calls,
        model: value["model"]
            .as_str()
            .unwrap_or(requested_model)
            .to_string(),
    })
}

/// A tool call being assembled from stream deltas.
#[derive(Debug, Default)]
struct PartialCall {
    index: u64,
    id: Option<String>,
    name: String,
    arguments: String,
}

/// Assembles a streamed reply from its server-sent events.
#[derive(Debug, Default)]
struct StreamAssembly {
    content: Option<String>,
    calls: Vec<PartialCall>,
    model: Option<String>,
    events: usize,
    done: bool,
}

impl StreamAssembly {
    /// How much text has arrived.
    fn text_len(&self) -> usize {
        self.content.as_ref().map_or(0, String::len)
    }

    /// Hands on the text that arrived after the first `known` bytes, if any did.
    fn hand_on(&self, known: usize, pieces: &(dyn Fn(&str) + Sync)) {
        if let Some(fresh) = self.content.as_deref().and_then(|text| text.get(known..))
            && !fresh.is_empty()
        {
            pieces(fresh);
        }
    }

    fn feed_line(&mut self, line: &str) -> Result<(), ProviderError> {
        let line = line.trim_end_matches(['\n', '\r']);
        let Some(data) = line.strip_prefix("data:") else {
            // Blank lines end events; `event:`, `id:`, `retry:` and `:` comments carry nothing
            // we use.
            return Ok(());
        };
        let data = data.trim();
        if data.is_empty() {
            return Ok(());
        }
        if data == "[DONE]" {
            self.done = true;
            return Ok(());
        }
        let chunk: Value = serde_json::from_str(data)
            .map_err(|error| ProviderError::Malformed(format!("bad stream event: {error}")))?;
        self.events += 1;
        if !chunk["error"].is_null() {
            return Err(ProviderError::Malformed(format!(
                "error in stream: {}",
                error_message(data.as_bytes())
            )));
        }
        if let Some(model) = chunk["model"].as_str().filter(|m| !m.is_empty()) {
            self.model.get_or_insert_with(|| model.to_string());
        }
        let Some(choice) = chunk["choices"].get(0) else {
            return Ok(());
        };
        let delta = if choice["delta"].is_object() {
            &choice["delta"]
        } else {
            &choice["message"]
        };
        if let Some(text) = text_of(&delta["content"]) {
            self.content.get_or_insert_with(String::new).push_str(&text);
        }
        if let Some(calls) = delta["tool_calls"].as_array() {
            for call in calls {
                self.feed_call(call);
            }
        }
        Ok(())
    }

    fn feed_call(&mut self, call: &Value) {
        let id = call["id"].as_str().filter(|id| !id.is_empty());
        let index = match call["index"].as_u64() {
            Some(index) => index,
            // Servers that leave out the index: a new id starts a new call, else continue the last.
            None => match (id, self.calls.last()) {
                (Some(id), Some(last)) if last.id.as_deref() == Some(id) => last.index,
                (None, Some(last)) => last.index,
                _ => self.calls.iter().map(|c| c.index + 1).max().unwrap_or(0),
            },
        };
        let position = match self.calls.iter().position(|c| c.index == index) {
            Some(position) => position,
            None => {
                self.calls.push(PartialCall {
                    index,
                    ..PartialCall::default()
                });
                self.calls.len() - 1
            }
        };
        let partial = &mut self.calls[position];
        if let (Some(id), None) = (id, &partial.id) {
            partial.id = Some(id.to_string());
        }
        let function = &call["function"];
        if let Some(name) = function["name"].as_str()
            && partial.name.is_empty()
        {
            partial.name = name.to_string();
        }
        match &function["arguments"] {
            Value::String(text) => partial.arguments.push_str(text),
            Value::Null => {}
            other => partial.arguments = other.to_string(),
        }
    }

    fn finish(mut self, requested_model: &str) -> Result<ModelReply, ProviderError> {
        if self.events == 0 {
            return Err(ProviderError::Malformed("empty stream".into()));
        }
        self.calls.sort_by_key(|call| call.index);
        let tool_calls = self
            .calls
            .into_iter()
            .filter(|call| !call.name.is_empty() || !call.arguments.is_empty())
            .map(|call| ToolCall {
                id: call.id.unwrap_or_else(|| format!("call_{}", call.index)),
                name: call.name,
                arguments: call.arguments,
            })
            .collect();
        Ok(ModelReply {
            content: self.content,
            tool_calls,
            model: self.model.unwrap_or_else(|| requested_model.to_string()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assembles_interleaved_tool_call_deltas_by_index() {
        let mut assembly = StreamAssembly::default();
        let lines = [
            r#"data: {"model":"m","choices":[{"delta":{"role":"assistant","content":"Hel"}}]}"#,
            r#"data: {"choices":[{"delta":{"content":"lo"}}]}"#,
            r#"data: {"choices":[{"delta":{"tool_calls":[{"index":1,"id":"b","function":{"name":"read_resource","arguments":""}}]}}]}"#,
            r#"data: {"choices":[{"delta":{"tool_calls":[{"index":0,"id":"a","function":{"name":"search_catalog","arguments":"{\"que"}}]}}]}"#,
            r#"data: {"choices":[{"delta":{"tool_calls":[{"index":1,"function":{"arguments":"{\"id\":7}"}}]}}]}"#,
            r#"data: {"choices":[{"delta":{"tool_calls":[{"index":0,"function":{"arguments":"ry\":\"x\"}"}}]}}]}"#,
            ": keep-alive",
            "",
            "data: [DONE]",
        ];
        for line in lines {
            assembly.feed_line(line).unwrap();
        }
        assert!(assembly.done);
        let reply = assembly.finish("requested").unwrap();
        assert_eq!(reply.content.as_deref(), Some("Hello"));
        assert_eq!(reply.model, "m");
        assert_eq!(
            reply.tool_calls,
            vec![
                ToolCall {
                    id: "a".into(),
                    name: "search_catalog".into(),
                    arguments: r#"{"query":"x"}"#.into()
                },
                ToolCall {
                    id: "b".into(),
                    name: "read_resource".into(),
                    arguments: r#"{"id":7}"#.into()
                },
            ]
        );
    }

    #[test]
    fn tolerates_missing_fields_in_plain_replies() {
        let body = br#"{"choices":[{"message":{"tool_calls":[{"function":{"name":"read_resource","arguments":{"id":3}}}]}}]}"#;
        let reply = parse_completion(body, "asked").unwrap();
        assert_eq!(reply.content, None);
        assert_eq!(reply.model, "asked");
        assert_eq!(reply.tool_calls[0].id, "call_0");
        assert_eq!(reply.tool_calls[0].arguments, r#"{"id":3}"#);
    }

    #[test]
    fn error_messages_come_from_openai_error_objects() {
        assert_eq!(
            error_message(br#"{"error":{"message":"model not found","type":"x"}}"#),
            "model not found"
        );
        assert_eq!(error_message(b"  bad gateway \x07 "), "bad gateway");
    }

    #[test]
    fn api_key_is_not_in_debug_output() {
        let mut config = OpenAiConfig::new("http://127.0.0.1:1/v1", "m");
        config.api_key = Some(ApiKey::new("sk-secret-123"));
        let provider = OpenAiProvider::new(config).unwrap();
        assert!(!format!("{provider:?}").contains("sk-secret-123"));
    }
}
