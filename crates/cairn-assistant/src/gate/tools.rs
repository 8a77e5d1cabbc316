//! The tools the gate offers to the model, what they give back and the errors it is told.

use cairn_domain::{IntegrationId, ResourceId};
use serde_json::{Value, json};

use super::{MetadataItem, ResultShape, sanitize};

/// What a tool gives back to the model.
#[derive(Debug, Clone, PartialEq)]
pub enum ToolOutput {
    Metadata(Vec<MetadataItem>),
    /// The statement passed the guard and the database planned it without running it; it runs
    /// for the user once the model has answered.
    Shape(ResultShape),
    /// Our own SQL guard refused the statement; the reason is our text, not the database's.
    Refused {
        reason: String,
    },
    /// The database would not prepare the statement (parse and plan only, nothing executed), so
    /// its message depends on the statement and the schema alone.
    Invalid {
        reason: String,
    },
    /// The statement could not be checked (the database was unreachable or slow to answer).
    Unchecked,
    /// Relations, lineage or columns of tables, written from metadata only.
    Relations(String),
}

/// Why a tool call from the model was not run. The texts the model sees are written here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ToolCallError {
    UnknownTool(String),
    InvalidArguments(String),
    IntegrationNotAllowed(IntegrationId),
    NotFound(ResourceId),
    TooManyCalls,
    /// The question's run_sql calls are used up.
    TooManyStatements(usize),
}

impl ToolCallError {
    pub(super) fn message(&self) -> String {
        match self {
            ToolCallError::UnknownTool(name) => format!(
                "unknown tool `{}`: only the tools offered in this request can be called",
                sanitize(name, 64)
            ),
            ToolCallError::InvalidArguments(why) => {
                format!("invalid arguments: {}", sanitize(why, 300))
            }
            ToolCallError::IntegrationNotAllowed(id) => {
                format!("integration {id} is not one you may run SQL on")
            }
            ToolCallError::NotFound(id) => format!("no resource {id} is visible to this user"),
            ToolCallError::TooManyCalls => "too many tool calls in one reply".to_string(),
            ToolCallError::TooManyStatements(limit) => format!(
                "at most {limit} run_sql calls per question; answer with the statements you have"
            ),
        }
    }
}

/// The tools the agent offers to the model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolSet {
    sql_integrations: Vec<IntegrationId>,
}

impl ToolSet {
    /// `search_catalog` and `read_resource` always; `run_sql` only when `sql_integrations` is
    /// not empty.
    pub fn new(sql_integrations: Vec<IntegrationId>) -> ToolSet {
        ToolSet { sql_integrations }
    }

    pub fn sql_integrations(&self) -> &[IntegrationId] {
        &self.sql_integrations
    }

    pub(super) fn to_json(&self) -> Vec<Value> {
        let mut tools = vec![
            function_tool(
                "search_catalog",
                "Search the data catalog's metadata (tables, views, columns, glossary terms, \
                 documents) and return the best matches as metadata.",
                json!({
                    "type": "object",
                    "properties": {
                        "query": {"type": "string", "description": "words to search for"}
                    },
                    "required": ["query"],
                    "additionalProperties": false
                }),
            ),
            function_tool(
                "read_resource",
                "Read the full metadata of one catalog resource by its numeric id.",
                json!({
                    "type": "object",
                    "properties": {
                        "id": {"type": "integer", "description": "the resource id"}
                    },
                    "required": ["id"],
                    "additionalProperties": false
                }),
            ),
        ];
        if !self.sql_integrations.is_empty() {
            let ids: Vec<i64> = self.sql_integrations.iter().map(|id| id.0).collect();
            tools.push(function_tool(
                "run_sql",
                "Check one read-only SQL statement and have it run for the user on an \
                 integration when you answer. Its result goes to the user; you only get the \
                 column names, or why the statement was refused.",
                json!({
                    "type": "object",
                    "properties": {
                        "integration_id": {"type": "integer", "enum": ids},
                        "sql": {"type": "string", "description": "one read-only statement"}
                    },
                    "required": ["integration_id", "sql"],
                    "additionalProperties": false
                }),
            ));
        }
        tools.extend(relation_tools());
        tools
    }
}

/// Metadata-only tools over the catalog's relation graph: always offered.
fn relation_tools() -> Vec<Value> {
    let one_table = json!({
        "type": "object",
        "properties": {
            "id": {"type": "integer", "description": "the table's or view's resource id"}
        },
        "required": ["id"],
        "additionalProperties": false
    });
    vec![
        function_tool(
            "join_path",
            "The shortest join path between two tables through foreign keys, with the columns \
             of each step (metadata only).",
            json!({
                "type": "object",
                "properties": {
                    "from_id": {"type": "integer", "description": "resource id of the first table"},
                    "to_id": {"type": "integer", "description": "resource id of the second table"}
                },
                "required": ["from_id", "to_id"],
                "additionalProperties": false
            }),
        ),
        function_tool(
            "lineage",
            "What a table or view reads from (view definitions, dbt lineage) and what reads it.",
            one_table.clone(),
        ),
        function_tool(
            "table_columns",
            "A table's columns with types, keys and descriptions, and the tables it references.",
            one_table,
        ),
    ]
}

fn function_tool(name: &str, description: &str, parameters: Value) -> Value {
    json!({
        "type": "function",
        "function": {"name": name, "description": description, "parameters": parameters}
    })
}

/// Tool call ids echo the model's; OpenAI limits them to a short token.
pub(super) fn call_id(id: &str) -> String {
    let clean: String = id
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ':'))
        .take(64)
        .collect();
    if clean.is_empty() {
        "call".to_string()
    } else {
        clean
    }
}

/// Function names must match `^[a-zA-Z0-9_-]{1,64}$`.
pub(super) fn function_name(name: &str) -> String {
    let clean: String = name
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-'))
        .take(64)
        .collect();
    if clean.is_empty() {
        "unknown".to_string()
    } else {
        clean
    }
}
