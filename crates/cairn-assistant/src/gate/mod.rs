//! The egress gate: the only code that builds a request for a model provider.
//!
//! A [`ModelRequest`] can only be made here, and only from the types of this module: catalog
//! metadata ([`MetadataItem`]), the shape of a checked SQL statement ([`ResultShape`]: its column
//! names, known before it runs), our own refusal texts, the database's refusal of a statement it
//! would not plan, and the user's own words. No type in this crate can carry a row value, a row
//! count or anything else learnt by running a statement, so nothing that depends on rows can
//! reach a model (promise 1).
//!
//! Metadata is untrusted. Every name, description and comment is sanitised (invisible and
//! bidirectional control characters removed), capped in length and put in as JSON inside a
//! delimited block that the system prompt declares to be data, not instructions. The characters
//! `<` and `>` are escaped inside the block, so its end marker cannot be forged from metadata.
//!
//! - this file: the gate's types, [`ModelRequest`] (its constructor private to this module) and
//!   the [`Conversation`] that builds requests and keeps them under their byte limit;
//! - [`render`]: a conversation's parts as an OpenAI request body;
//! - [`pseudonymize`]: every text that leaves, sanitised, capped and pseudonymised;
//! - [`tools`]: the tools offered to the model, their outputs and the errors it is told.

mod pseudonymize;
mod render;
#[cfg(test)]
mod tests;
mod tools;

use std::collections::HashSet;

use cairn_domain::{IntegrationId, ResourceId, ResourceKind};
use serde_json::Value;
use sha2::{Digest, Sha256};

use self::pseudonymize::register_owners;
pub use self::pseudonymize::sanitize;
pub use self::tools::{ToolCallError, ToolOutput, ToolSet};
use crate::provider::ToolCall;
pub use crate::pseudonym::Pseudonymizer;

/// Start marker of a block of catalog data inside a message.
pub const DATA_START: &str = "<<<CAIRN_DATA>>>";
/// End marker of a block of catalog data inside a message.
pub const DATA_END: &str = "<<<END_CAIRN_DATA>>>";

/// Metadata about one catalog resource, as the store and search know it.
#[derive(Debug, Clone, PartialEq)]
pub struct MetadataItem {
    pub id: ResourceId,
    pub kind: ResourceKind,
    pub name: String,
    /// Dotted path, e.g. `shop.public.orders`.
    pub path: String,
    pub description: Option<String>,
    pub owners: Vec<String>,
    pub tags: Vec<String>,
    pub data_type: Option<String>,
    pub popularity: Option<f64>,
    /// A view's definition.
    pub definition: Option<String>,
    pub columns: Vec<ColumnMeta>,
    /// Lineage and foreign keys, e.g. `shop.public.orders.customer_id -> shop.public.customers.id`.
    pub relations: Vec<String>,
    /// The engine of the integration the resource lives in: `postgres`, `mysql` or `sqlite`.
    pub engine: Option<String>,
    /// The integration the resource lives in, when it has one.
    pub integration: Option<IntegrationId>,
}

impl MetadataItem {
    /// An item with its identity only; the other fields start empty.
    pub fn new(
        id: ResourceId,
        kind: ResourceKind,
        name: impl Into<String>,
        path: impl Into<String>,
    ) -> MetadataItem {
        MetadataItem {
            id,
            kind,
            name: name.into(),
            path: path.into(),
            description: None,
            owners: Vec::new(),
            tags: Vec::new(),
            data_type: None,
            popularity: None,
            definition: None,
            columns: Vec::new(),
            relations: Vec::new(),
            engine: None,
            integration: None,
        }
    }
}

/// A column of a table or view, as metadata.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnMeta {
    pub name: String,
    pub data_type: Option<String>,
    pub description: Option<String>,
    pub primary_key: bool,
}

/// The shape of a statement, known from the statement and the schema before it runs: what the
/// model may learn about SQL it wrote. No values, no counts, no outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResultShape {
    pub columns: Vec<String>,
}

/// Who said a turn of the assistant's memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    User,
    Assistant,
}

/// One turn of the assistant's memory: a question or an answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Turn {
    pub role: Role,
    pub text: String,
}

/// Length caps applied by the gate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GateLimits {
    /// Names, paths, tags, owners, types: characters per field.
    pub short_field_chars: usize,
    /// Descriptions and definitions: characters per field.
    pub long_field_chars: usize,
    /// The question and each turn of memory: characters.
    pub turn_chars: usize,
    /// Columns listed per item.
    pub columns_per_item: usize,
    /// Characters of JSON per block of metadata; items past it are left out.
    pub block_chars: usize,
    /// Turns of memory put in at most (the latest ones).
    pub history_turns: usize,
    /// Bytes of one serialized request at most.
    pub request_bytes: usize,
}

impl Default for GateLimits {
    fn default() -> GateLimits {
        GateLimits {
            short_field_chars: 256,
            long_field_chars: 2_000,
            turn_chars: 4_000,
            columns_per_item: 60,
            block_chars: 24_000,
            history_turns: 10,
            request_bytes: 128_000,
        }
    }
}

/// How the gate builds requests for one conversation.
#[derive(Debug, Clone, PartialEq)]
pub struct GateSettings {
    pub model: String,
    pub stream: bool,
    pub pseudonymize: bool,
    /// Everyone to pseudonymise, registered before anything is rendered (names, addresses, or
    /// `Name <address>`), e.g. the workspace's members and owners. Used only when
    /// `pseudonymize` is on.
    pub known_people: Vec<String>,
    /// The forms of people the asker may see, which the answer may give back (owners of the
    /// resources rendered and the asker's own words are restorable anyway).
    pub restorable_people: Vec<String>,
    pub limits: GateLimits,
}

/// Errors of the gate.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum GateError {
    #[error("model request of {bytes} bytes exceeds the limit of {limit} bytes")]
    TooLarge { bytes: usize, limit: usize },
}

/// A request for a model provider: an OpenAI `CreateChatCompletionRequest`, built only by the gate.
///
/// Its constructor and fields are private to the gate module, so no other code (in this crate
/// or outside it) can make one:
///
/// ```compile_fail,E0624
/// let request = cairn_assistant::gate::ModelRequest::new(Default::default(), Vec::new());
/// ```
///
/// ```compile_fail,E0451
/// let request = cairn_assistant::gate::ModelRequest {
///     body: Default::default(),
///     bytes: Vec::new(),
///     mentioned: Vec::new(),
///     sha256_hex: String::new(),
/// };
/// ```
#[derive(Clone)]
pub struct ModelRequest {
    body: Value,
    bytes: Vec<u8>,
    mentioned: Vec<ResourceId>,
    sha256_hex: String,
}

impl ModelRequest {
    fn new(body: Value, mentioned: Vec<ResourceId>) -> ModelRequest {
        let bytes = serde_json::to_vec(&body).unwrap_or_default();
        let digest = Sha256::digest(&bytes);
        let sha256_hex = digest.iter().map(|byte| format!("{byte:02x}")).collect();
        ModelRequest {
            body,
            bytes,
            mentioned,
            sha256_hex,
        }
    }

    /// The JSON body.
    pub fn body(&self) -> &Value {
        &self.body
    }

    /// The exact bytes sent to the provider.
    pub fn body_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The resources whose metadata is in the request, in order of first appearance.
    pub fn mentioned(&self) -> &[ResourceId] {
        &self.mentioned
    }

    pub fn byte_len(&self) -> usize {
        self.bytes.len()
    }

    /// SHA-256 of [`ModelRequest::body_bytes`], lowercase hex.
    pub fn sha256_hex(&self) -> &str {
        &self.sha256_hex
    }

    pub fn model(&self) -> &str {
        self.body["model"].as_str().unwrap_or_default()
    }

    pub fn is_streaming(&self) -> bool {
        self.body["stream"].as_bool().unwrap_or(false)
    }
}

impl std::fmt::Debug for ModelRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModelRequest")
            .field("model", &self.model())
            .field("byte_len", &self.byte_len())
            .field("sha256_hex", &self.sha256_hex)
            .field("mentioned", &self.mentioned)
            .finish()
    }
}

/// One part of a conversation, kept as typed data and rendered at each request.
#[derive(Debug, Clone)]
enum Part {
    History(Turn),
    Question(String),
    ToolCalls {
        content: Option<String>,
        calls: Vec<ToolCall>,
    },
    ToolOutput {
        call_id: String,
        output: ToolOutput,
    },
    ToolError {
        call_id: String,
        error: ToolCallError,
    },
}

/// The state of one conversation with a model: the only way to build [`ModelRequest`]s.
#[derive(Debug, Clone)]
pub struct Conversation {
    settings: GateSettings,
    tools: ToolSet,
    retrieved: Vec<MetadataItem>,
    parts: Vec<Part>,
    pseudonymizer: Pseudonymizer,
}

impl Conversation {
    /// Starts a conversation from the user's memory, their question and the retrieved metadata.
    pub fn start(
        settings: GateSettings,
        tools: ToolSet,
        history: &[Turn],
        question: &str,
        retrieved: &[MetadataItem],
    ) -> Conversation {
        let keep = settings.limits.history_turns;
        let skip = history.len().saturating_sub(keep);
        let mut parts: Vec<Part> = history[skip..].iter().cloned().map(Part::History).collect();
        parts.push(Part::Question(question.to_string()));
        let mut pseudonymizer = Pseudonymizer::new(settings.pseudonymize);
        let short = settings.limits.short_field_chars;
        for person in &settings.known_people {
            pseudonymizer.register(&sanitize(person, short));
        }
        for person in &settings.restorable_people {
            pseudonymizer.allow_restore(&sanitize(person, short));
        }
        register_owners(&mut pseudonymizer, retrieved, short);
        Conversation {
            pseudonymizer,
            settings,
            tools,
            retrieved: retrieved.to_vec(),
            parts,
        }
    }

    /// Appends the model's reply that asked for tool calls.
    pub fn push_tool_calls(&mut self, content: Option<&str>, calls: &[ToolCall]) {
        self.parts.push(Part::ToolCalls {
            content: content.map(str::to_string),
            calls: calls.to_vec(),
        });
    }

    /// Appends what a tool gave back.
    pub fn push_tool_output(&mut self, call_id: &str, output: &ToolOutput) {
        if let ToolOutput::Metadata(items) = output {
            let short = self.settings.limits.short_field_chars;
            register_owners(&mut self.pseudonymizer, items, short);
        }
        self.parts.push(Part::ToolOutput {
            call_id: call_id.to_string(),
            output: output.clone(),
        });
    }

    /// Appends why a tool call was not run.
    pub fn push_tool_error(&mut self, call_id: &str, error: &ToolCallError) {
        self.parts.push(Part::ToolError {
            call_id: call_id.to_string(),
            error: error.clone(),
        });
    }

    /// Puts people's names and addresses back into the model's text.
    pub fn restore(&self, text: &str) -> String {
        self.pseudonymizer.restore(text)
    }

    pub fn tools(&self) -> &ToolSet {
        &self.tools
    }

    /// Builds the next request. With `offer_tools` false the model must answer in text.
    ///
    /// When the request is too large, the oldest turns of memory are left out first, then the
    /// oldest tool outputs are collapsed; if it still does not fit, [`GateError::TooLarge`].
    pub fn request(&mut self, offer_tools: bool) -> Result<ModelRequest, GateError> {
        let history_count = self
            .parts
            .iter()
            .filter(|part| matches!(part, Part::History(_)))
            .count();
        let tool_outputs: Vec<usize> = self
            .parts
            .iter()
            .enumerate()
            .filter(|(_, part)| matches!(part, Part::ToolOutput { .. }))
            .map(|(index, _)| index)
            .collect();
        let mut dropped_history = 0;
        let mut collapsed = HashSet::new();
        loop {
            let request = self.render(offer_tools, dropped_history, &collapsed);
            if request.byte_len() <= self.settings.limits.request_bytes {
                return Ok(request);
            }
            if dropped_history < history_count {
                dropped_history += 1;
            } else if let Some(index) = tool_outputs.iter().find(|i| !collapsed.contains(*i)) {
                collapsed.insert(*index);
            } else {
                return Err(GateError::TooLarge {
                    bytes: request.byte_len(),
                    limit: self.settings.limits.request_bytes,
                });
            }
        }
    }
}
