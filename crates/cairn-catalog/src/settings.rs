//! The workspace's AI settings: Run SQL, model provider, data region, prompt retention and
//! pseudonymisation. Members read them; admins change them. Provider keys are write-only.

use cairn_domain::{Principal, Refusal, WorkspaceId, validate};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;

use crate::{Catalog, CatalogError, Result, require_admin};

/// Where the assistant's model runs.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum ProviderSetting {
    /// In-process and offline: nothing leaves the machine.
    Builtin,
    /// Any endpoint speaking OpenAI chat completions.
    Openai {
        /// Shown to admins only; never holds credentials (the key has its own field).
        #[serde(default, skip_serializing_if = "String::is_empty")]
        base_url: String,
        model: String,
        #[serde(default)]
        region: Option<String>,
        /// Never returned; the stored key is sealed like integration credentials.
        #[serde(default, skip_serializing)]
        #[schema(value_type = Option<String>)]
        api_key: Option<SecretString>,
    },
}

/// The stored settings (the key sealed).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct StoredSettings {
    #[serde(default)]
    pub run_sql_enabled: bool,
    #[serde(default = "builtin")]
    pub provider: ProviderSetting,
    #[serde(default)]
    pub retention_days: Option<u32>,
    #[serde(default)]
    pub pseudonymize_people: bool,
    /// The provider's API key, sealed.
    #[serde(default)]
    pub provider_key: Option<String>,
    /// Whether the MCP server offers its run-SQL tool (besides Run SQL and a query permission).
    #[serde(default)]
    pub mcp_sql_enabled: bool,
    /// MCP tools an admin switched off for the workspace.
    #[serde(default)]
    pub mcp_disabled_tools: Vec<String>,
}

/// The region rule: a workspace with a region sends to a provider declaring that region only.
/// Checked before anything is sent to a model.
pub(crate) fn check_region(workspace: Option<&str>, provider: Option<&str>) -> Result<()> {
    region_rule(workspace, provider, "; nothing was sent")
}

/// The region rule, its refusal ending with `consequence`.
fn region_rule(workspace: Option<&str>, provider: Option<&str>, consequence: &str) -> Result<()> {
    match workspace {
        Some(wanted) if provider != Some(wanted) => Err(CatalogError::refused(
            Refusal::RegionMismatch,
            format!(
                "the provider's region ({}) is not the workspace's region ({wanted}){consequence}",
                provider.unwrap_or("unspecified")
            ),
        )),
        _ => Ok(()),
    }
}

fn builtin() -> ProviderSetting {
    ProviderSetting::Builtin
}

impl Default for StoredSettings {
    fn default() -> Self {
        StoredSettings {
            run_sql_enabled: false,
            provider: ProviderSetting::Builtin,
            retention_days: None,
            pseudonymize_people: false,
            provider_key: None,
            mcp_sql_enabled: false,
            mcp_disabled_tools: Vec::new(),
        }
    }
}

/// The AI settings as the API shows them.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AiSettings {
    pub run_sql_enabled: bool,
    pub provider: ProviderSetting,
    /// Whether a provider API key is stored (the key itself is never returned).
    pub provider_key_set: bool,
    pub region: Option<String>,
    pub retention_days: Option<u32>,
    pub pseudonymize_people: bool,
    /// Whether MCP clients (the user's own agents) get the run-SQL tool; off by default.
    pub mcp_sql_enabled: bool,
    /// MCP tools switched off for this workspace.
    pub mcp_disabled_tools: Vec<String>,
}

/// A change of AI settings: absent fields stay as they are; `region: null` clears it.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AiSettingsInput {
    #[serde(default)]
    pub run_sql_enabled: Option<bool>,
    #[serde(default)]
    pub provider: Option<ProviderSetting>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub region: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<u32>)]
    pub retention_days: Option<Value>,
    #[serde(default)]
    pub pseudonymize_people: Option<bool>,
    #[serde(default)]
    pub mcp_sql_enabled: Option<bool>,
    /// Names of MCP tools to switch off (replaces the list).
    #[serde(default)]
    pub mcp_disabled_tools: Option<Vec<String>>,
}

/// Scheme, host and port of an endpoint URL (`https://api.example:443`), lower-cased, with the
/// scheme's default port made explicit; `None` when it is not an http(s) URL with a host.
fn endpoint_origin(base_url: &str) -> Option<String> {
    let url = url::Url::parse(base_url).ok()?;
    if !matches!(url.scheme(), "http" | "https") {
        return None;
    }
    let host = url.host_str()?;
    let port = url.port_or_known_default()?;
    Some(format!("{}://{host}:{port}", url.scheme()))
}

/// Whether a URL carries a user name or password (`https://user:secret@host/`).
fn has_credentials(base_url: &str) -> bool {
    url::Url::parse(base_url)
        .map(|url| !url.username().is_empty() || url.password().is_some())
        .unwrap_or(false)
}

/// The URL without user name and password, for settings stored before they were refused.
pub(crate) fn without_credentials(base_url: &str) -> String {
    match url::Url::parse(base_url) {
        Ok(mut url) if has_credentials(base_url) => {
            let _ = url.set_username("");
            let _ = url.set_password(None);
            url.to_string().trim_end_matches('/').to_string()
        }
        _ => base_url.to_string(),
    }
}

/// A field that is present, even as `null`: `Some(Value::Null)` clears, absence (`None`, from
/// `#[serde(default)]`) keeps. A plain `Option<Value>` would read `null` as absent.
fn present<'de, D>(deserializer: D) -> std::result::Result<Option<Value>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    Value::deserialize(deserializer).map(Some)
}

impl Catalog {
    pub(crate) async fn stored_settings(
        &self,
        workspace: WorkspaceId,
    ) -> Result<(Option<String>, StoredSettings)> {
        let row = self.store().workspace(workspace).await?;
        let settings = serde_json::from_str(&row.settings).unwrap_or_default();
        Ok((row.region, settings))
    }

    /// The settings; members see the provider's kind, model and region, admins also its URL.
    pub async fn ai_settings(&self, principal: &Principal) -> Result<AiSettings> {
        let (region, stored) = self.stored_settings(principal.workspace).await?;
        let provider = match stored.provider {
            ProviderSetting::Openai {
                base_url,
                model,
                region,
                api_key: _,
            } => ProviderSetting::Openai {
                base_url: if principal.can_administer() {
                    without_credentials(&base_url)
                } else {
                    String::new()
                },
                model,
                region,
                api_key: None,
            },
            ProviderSetting::Builtin => ProviderSetting::Builtin,
        };
        Ok(AiSettings {
            run_sql_enabled: stored.run_sql_enabled,
            provider,
            provider_key_set: stored.provider_key.is_some(),
            region,
            retention_days: stored.retention_days,
            pseudonymize_people: stored.pseudonymize_people,
            mcp_sql_enabled: stored.mcp_sql_enabled,
            mcp_disabled_tools: stored.mcp_disabled_tools,
        })
    }

    pub async fn update_ai_settings(
        &self,
        principal: &Principal,
        input: AiSettingsInput,
    ) -> Result<AiSettings> {
        require_admin(principal, "change AI settings")?;
        let (mut region, mut stored) = self.stored_settings(principal.workspace).await?;
        if let Some(value) = &input.region {
            region = region_input(value)?;
        }
        if let Some(value) = &input.retention_days {
            stored.retention_days = retention_input(value)?;
        }
        if let Some(enabled) = input.run_sql_enabled {
            stored.run_sql_enabled = enabled;
        }
        if let Some(enabled) = input.pseudonymize_people {
            stored.pseudonymize_people = enabled;
        }
        if let Some(enabled) = input.mcp_sql_enabled {
            stored.mcp_sql_enabled = enabled;
        }
        if let Some(tools) = input.mcp_disabled_tools {
            stored.mcp_disabled_tools = mcp_tools_input(tools)?;
        }
        if let Some(provider) = input.provider {
            self.set_provider(principal.workspace, &mut stored, provider)?;
        }
        if let ProviderSetting::Openai {
            region: provider_region,
            ..
        } = &stored.provider
        {
            region_rule(region.as_deref(), provider_region.as_deref(), "")?;
        }
        let text = serde_json::to_string(&stored)
            .map_err(|error| CatalogError::Internal(error.to_string()))?;
        self.store()
            .update_workspace_settings(principal.workspace, region.as_deref(), &text)
            .await?;
        let view = self.ai_settings(principal).await?;
        self.audit(
            principal.workspace,
            Some(principal.user),
            "settings.ai.updated",
            json!(view),
        )
        .await?;
        Ok(view)
    }
}

/// The workspace's region as given: a label, or `null` to clear it.
fn region_input(value: &Value) -> Result<Option<String>> {
    match value {
        Value::Null => Ok(None),
        Value::String(text) => Ok(Some(validate::label("region", text)?)),
        _ => Err(CatalogError::invalid("region", "must be a string or null")),
    }
}

/// Prompt retention as given: 1 to 36,500 days, or `null` to keep prompts.
fn retention_input(value: &Value) -> Result<Option<u32>> {
    match value {
        Value::Null => Ok(None),
        Value::Number(number) => match number.as_u64() {
            Some(days @ 1..=36_500) => Ok(Some(u32::try_from(days).unwrap_or(36_500))),
            _ => Err(CatalogError::invalid(
                "retention_days",
                "must be between 1 and 36500, or null",
            )),
        },
        _ => Err(CatalogError::invalid(
            "retention_days",
            "must be a number of days or null",
        )),
    }
}

/// MCP tools switched off: known tools only, sorted, each once.
fn mcp_tools_input(mut tools: Vec<String>) -> Result<Vec<String>> {
    if let Some(unknown) = tools
        .iter()
        .find(|tool| !crate::mcp::MCP_TOOLS.contains(&tool.as_str()))
    {
        return Err(CatalogError::invalid(
            "mcp_disabled_tools",
            format!(
                "unknown tool {unknown:?}; one of {}",
                crate::mcp::MCP_TOOLS.join(", ")
            ),
        ));
    }
    tools.sort();
    tools.dedup();
    Ok(tools)
}

/// An OpenAI-compatible endpoint's URL as given, trimmed: http(s) only.
fn endpoint_input(base_url: &str) -> Result<String> {
    let base_url = base_url.trim().trim_end_matches('/').to_string();
    if !(base_url.starts_with("https://") || base_url.starts_with("http://"))
        || base_url.len() > 500
    {
        return Err(CatalogError::invalid(
            "provider.base_url",
            "must be an http(s) URL",
        ));
    }
    Ok(base_url)
}

/// The origin of an endpoint's URL, which must carry no credentials.
fn credential_free_origin(base_url: &str) -> Result<String> {
    let origin = endpoint_origin(base_url)
        .ok_or_else(|| CatalogError::invalid("provider.base_url", "must be an http(s) URL"))?;
    if has_credentials(base_url) {
        return Err(CatalogError::invalid(
            "provider.base_url",
            "must not contain a user name or password; give the key in \
             provider.api_key, which is never shown",
        ));
    }
    Ok(origin)
}

impl Catalog {
    /// Sets the model provider; a key given is sealed, a stored key dropped when the endpoint's
    /// origin changes (it never follows to another host).
    fn set_provider(
        &self,
        workspace: WorkspaceId,
        stored: &mut StoredSettings,
        provider: ProviderSetting,
    ) -> Result<()> {
        let ProviderSetting::Openai {
            base_url,
            model,
            region: provider_region,
            api_key,
        } = provider
        else {
            stored.provider_key = None;
            stored.provider = ProviderSetting::Builtin;
            return Ok(());
        };
        let base_url = endpoint_input(&base_url)?;
        let model = validate::label("provider.model", &model)?;
        let provider_region = provider_region
            .map(|text| validate::label("provider.region", &text))
            .transpose()?;
        let origin = credential_free_origin(&base_url)?;
        let previous_origin = match &stored.provider {
            ProviderSetting::Openai { base_url, .. } => endpoint_origin(base_url),
            ProviderSetting::Builtin => None,
        };
        if previous_origin.as_deref() != Some(origin.as_str()) {
            stored.provider_key = None;
        }
        if let Some(key) = api_key {
            let key = key.expose_secret();
            if key.len() > 4096 || key.chars().any(char::is_control) {
                return Err(CatalogError::invalid("provider.api_key", "is not a key"));
            }
            stored.provider_key = Some(self.inner.vault.seal(workspace, key)?);
        }
        stored.provider = ProviderSetting::Openai {
            base_url,
            model,
            region: provider_region,
            api_key: None,
        };
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::endpoint_origin;

    #[test]
    fn origins_compare_scheme_host_and_port() {
        assert_eq!(
            endpoint_origin("https://API.example.com/v1").as_deref(),
            Some("https://api.example.com:443")
        );
        assert_eq!(
            endpoint_origin("https://api.example.com:443/other"),
            endpoint_origin("https://api.example.com/v1")
        );
        assert_ne!(
            endpoint_origin("http://api.example.com/v1"),
            endpoint_origin("https://api.example.com/v1")
        );
        assert_ne!(
            endpoint_origin("http://127.0.0.1:8001/v1"),
            endpoint_origin("http://127.0.0.1:8002/v1")
        );
        assert_eq!(endpoint_origin("ftp://example.com"), None);
        assert_eq!(endpoint_origin("http://"), None);
    }
}
