//! The assistant's memory as people manage it: history, deletion, retention, export; and the
//! egress ledger as admins read it.

use cairn_domain::{Principal, WorkspaceId};
use cairn_store::{EgressRow, PromptRow, now_ms};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use crate::{Catalog, CatalogError, MeView, Result, TokenView, require_admin};

const DAY_MS: i64 = 24 * 3600 * 1000;

/// One prompt and its answer.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PromptView {
    pub id: i64,
    pub thread_id: i64,
    pub question: String,
    pub answer: String,
    pub citations: Vec<i64>,
    #[schema(value_type = Option<Object>)]
    pub sql: Option<Value>,
    pub created_at: i64,
}

/// A page of history, newest first.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct HistoryPage {
    pub items: Vec<PromptView>,
    pub next_cursor: Option<String>,
}

/// Everything Cairn holds about the caller.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Export {
    pub me: MeView,
    pub tokens: Vec<TokenView>,
    pub prompts: Vec<PromptView>,
}

/// One ledger entry.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EgressView {
    pub id: i64,
    pub at: i64,
    pub user_id: Option<i64>,
    pub provider: String,
    /// The provider's URL, shown to admins only.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub endpoint: String,
    pub region: Option<String>,
    pub model: String,
    pub bytes: i64,
    pub body_sha256: String,
    /// The request exactly as sent.
    pub body: String,
    pub resources: Vec<i64>,
}

fn egress_view(row: EgressRow, principal: &Principal) -> EgressView {
    EgressView {
        id: row.id,
        at: row.at,
        user_id: row.user.map(|user| user.0),
        provider: row.provider,
        endpoint: if principal.can_administer() {
            crate::settings::without_credentials(&row.endpoint)
        } else {
            String::new()
        },
        region: row.region,
        model: row.model,
        bytes: row.bytes,
        body_sha256: row.body_sha256,
        body: row.body,
        resources: serde_json::from_str(&row.resources).unwrap_or_default(),
    }
}

pub(crate) fn prompt_view(row: PromptRow) -> PromptView {
    PromptView {
        id: row.id,
        thread_id: row.thread,
        question: row.question,
        answer: row.answer,
        citations: serde_json::from_str(&row.citations).unwrap_or_default(),
        sql: row.sql.and_then(|text| serde_json::from_str(&text).ok()),
        created_at: row.created_at,
    }
}

fn parse_cursor(cursor: Option<&str>) -> Result<Option<i64>> {
    cursor
        .map(|text| {
            text.parse::<i64>()
                .map_err(|_| CatalogError::invalid("cursor", "is not a cursor this API returned"))
        })
        .transpose()
}

fn check_limit(limit: Option<usize>) -> Result<usize> {
    match limit.unwrap_or(50) {
        limit @ 1..=200 => Ok(limit),
        _ => Err(CatalogError::invalid("limit", "must be between 1 and 200")),
    }
}

impl Catalog {
    pub async fn history(
        &self,
        principal: &Principal,
        cursor: Option<&str>,
        limit: Option<usize>,
    ) -> Result<HistoryPage> {
        let limit = check_limit(limit)?;
        let before = parse_cursor(cursor)?;
        let mut rows = self
            .store()
            .prompts_of(principal.workspace, principal.user, before, limit + 1)
            .await?;
        let more = rows.len() > limit;
        rows.truncate(limit);
        let next_cursor = more
            .then(|| rows.last().map(|row| row.id.to_string()))
            .flatten();
        Ok(HistoryPage {
            items: rows.into_iter().map(prompt_view).collect(),
            next_cursor,
        })
    }

    /// One of the caller's conversations, oldest turn first.
    pub async fn thread(&self, principal: &Principal, thread: i64) -> Result<Vec<PromptView>> {
        let rows = self
            .store()
            .thread_prompts(principal.workspace, principal.user, thread)
            .await?;
        if rows.is_empty() {
            return Err(CatalogError::NotFound);
        }
        Ok(rows.into_iter().map(prompt_view).collect())
    }

    pub async fn delete_prompt(&self, principal: &Principal, id: i64) -> Result<()> {
        if self
            .store()
            .delete_prompt(principal.workspace, principal.user, id)
            .await?
        {
            self.audit(
                principal.workspace,
                Some(principal.user),
                "history.prompt_deleted",
                serde_json::json!({"prompt": id}),
            )
            .await
        } else {
            Err(CatalogError::NotFound)
        }
    }

    pub async fn delete_history(&self, principal: &Principal) -> Result<u64> {
        let deleted = self
            .store()
            .delete_prompts_of(principal.workspace, principal.user)
            .await?;
        self.audit(
            principal.workspace,
            Some(principal.user),
            "history.cleared",
            serde_json::json!({"prompts": deleted}),
        )
        .await?;
        Ok(deleted)
    }

    pub async fn export(&self, principal: &Principal) -> Result<Export> {
        let mut prompts = Vec::new();
        let mut before = None;
        loop {
            let rows = self
                .store()
                .prompts_of(principal.workspace, principal.user, before, 500)
                .await?;
            let Some(last) = rows.last().map(|row| row.id) else {
                break;
            };
            prompts.extend(rows.into_iter().map(prompt_view));
            before = Some(last);
        }
        self.audit(
            principal.workspace,
            Some(principal.user),
            "export.downloaded",
            serde_json::json!({"prompts": prompts.len()}),
        )
        .await?;
        Ok(Export {
            me: self.me(principal).await?,
            tokens: self.list_own_tokens(principal).await?,
            prompts,
        })
    }

    pub async fn egress(
        &self,
        principal: &Principal,
        cursor: Option<&str>,
        limit: Option<usize>,
    ) -> Result<Vec<EgressView>> {
        require_admin(principal, "read the egress ledger")?;
        let limit = check_limit(limit)?;
        let rows = self
            .store()
            .egress_entries(principal.workspace, parse_cursor(cursor)?, limit)
            .await?;
        Ok(rows
            .into_iter()
            .map(|row| egress_view(row, principal))
            .collect())
    }

    /// What was sent to a model provider while one of the caller's own prompts was answered:
    /// the caller's ledger entries written after their previous prompt and up to this one.
    /// Empty when nothing left the server (the built-in assistant).
    pub async fn prompt_egress(&self, principal: &Principal, id: i64) -> Result<Vec<EgressView>> {
        let rows = self
            .store()
            .prompts_of(
                principal.workspace,
                principal.user,
                Some(id.saturating_add(1)),
                2,
            )
            .await?;
        let Some(prompt) = rows.first().filter(|row| row.id == id) else {
            return Err(CatalogError::NotFound);
        };
        let after = rows.get(1).map_or(i64::MIN, |previous| previous.created_at);
        let entries = self
            .store()
            .egress_of_user_between(
                principal.workspace,
                principal.user,
                after,
                prompt.created_at,
            )
            .await?;
        Ok(entries
            .into_iter()
            .map(|row| egress_view(row, principal))
            .collect())
    }

    /// Applies every workspace's prompt retention now; returns prompts deleted.
    pub(crate) async fn purge(&self) -> Result<u64> {
        let mut purged = 0;
        for workspace in self.store().list_workspaces().await? {
            purged += self.purge_workspace(workspace.id).await?;
        }
        Ok(purged)
    }

    async fn purge_workspace(&self, workspace: WorkspaceId) -> Result<u64> {
        let (_, settings) = self.stored_settings(workspace).await?;
        let Some(days) = settings.retention_days else {
            return Ok(0);
        };
        let cutoff = now_ms() - i64::from(days) * DAY_MS;
        let purged = self.store().purge_prompts(workspace, cutoff).await?;
        if purged > 0 {
            self.audit(
                workspace,
                None,
                "prompts.purged",
                serde_json::json!({"prompts": purged, "retention_days": days}),
            )
            .await?;
        }
        Ok(purged)
    }
}
