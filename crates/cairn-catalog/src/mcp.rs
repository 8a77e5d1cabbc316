//! What the MCP server may offer a caller: the workspace's switched-off tools, and whether the
//! run-SQL tool is on for them. Every tool call is audited here.

use cairn_domain::{IntegrationId, Principal, SqlAccess};
use serde_json::{Value, json};

use crate::{Catalog, Result};

/// Every tool the MCP server knows, by the name clients call it.
pub const MCP_TOOLS: &[&str] = &[
    "search",
    "read_resource",
    "list_glossary",
    "join_path",
    "lineage",
    "run_sql",
];

/// The MCP tools a caller gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct McpPolicy {
    /// Tools an admin switched off for the workspace.
    pub disabled: Vec<String>,
    /// Integrations the caller may run SQL on through MCP: empty unless an admin turned on
    /// MCP SQL, Run SQL is on, and the caller holds a query permission.
    pub sql_integrations: Vec<(i64, String)>,
}

impl McpPolicy {
    /// Whether the caller gets this tool.
    pub fn offers(&self, tool: &str) -> bool {
        MCP_TOOLS.contains(&tool)
            && !self.disabled.iter().any(|name| name == tool)
            && (tool != "run_sql" || !self.sql_integrations.is_empty())
    }
}

impl Catalog {
    /// The caller's MCP tools, read afresh on every request.
    pub async fn mcp_policy(&self, principal: &Principal) -> Result<McpPolicy> {
        let (_, settings) = self.stored_settings(principal.workspace).await?;
        let mut sql_integrations = Vec::new();
        if settings.mcp_sql_enabled
            && settings.run_sql_enabled
            && !settings
                .mcp_disabled_tools
                .iter()
                .any(|tool| tool == "run_sql")
        {
            for integration in self.list_integrations(principal).await? {
                let access = self
                    .sql_access(principal, IntegrationId(integration.id))
                    .await?;
                if access == SqlAccess::Allowed {
                    sql_integrations.push((integration.id, integration.name));
                }
            }
        }
        Ok(McpPolicy {
            disabled: settings.mcp_disabled_tools,
            sql_integrations,
        })
    }

    /// Records one MCP tool call: the tool, a summary of its arguments and how it ended.
    pub async fn audit_mcp_call(
        &self,
        principal: &Principal,
        tool: &str,
        arguments: Value,
        outcome: &str,
    ) -> Result<()> {
        self.audit(
            principal.workspace,
            Some(principal.user),
            "mcp.tool_call",
            json!({"tool": tool, "arguments": arguments, "outcome": outcome}),
        )
        .await
    }
}
