//! Cairn's assistant core, independent of the store and of HTTP.
//!
//! - [`gate`]: the egress gate, the only way to build a [`gate::ModelRequest`]; it is made of
//!   catalog metadata and the user's own words, never of query results (promise 1).
//! - [`provider`]: the [`provider::Provider`] trait and an OpenAI-compatible client.
//! - [`agent`]: one bounded tool loop (retrieve, ask the model, run tools, answer with citations).
//! - [`builtin`]: the offline assistant, a question engine over the catalog with no model.
//! - [`pseudonym`]: people replaced by per-conversation placeholders, restored where visible.
//! - [`words`]: how question words and catalog names are compared.

pub mod agent;
pub mod builtin;
pub mod gate;
pub mod provider;
pub mod pseudonym;
pub mod words;

pub use agent::{
    AgentError, AgentErrorKind, AgentOptions, AgentOutcome, ToolHost, first_request, run,
    run_streaming,
};
pub use builtin::{BuiltinAnswer, answer};
pub use gate::{
    ColumnMeta, Conversation, GateError, GateLimits, GateSettings, MetadataItem, ModelRequest,
    Pseudonymizer, ResultShape, Role, ToolCallError, ToolOutput, ToolSet, Turn,
};
pub use provider::{
    ApiKey, EgressLedger, ModelReply, OpenAiConfig, OpenAiProvider, Provider, ProviderError,
    ToolCall, ignore_pieces, install_tls_provider,
};
