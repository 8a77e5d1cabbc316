//! The assistant's memory (threads and prompts) and the egress ledger.

use cairn_domain::{UserId, WorkspaceId};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{Result, Store, StoreError, now_ms};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PromptRow {
    pub id: i64,
    pub thread: i64,
    pub question: String,
    pub answer: String,
    /// JSON list of cited resource ids.
    pub citations: String,
    /// JSON `{integration_id, sql}` when the answer carried SQL.
    pub sql: Option<String>,
    /// JSON of what the thread remembers after this turn (tables, last query).
    pub context: Option<String>,
    pub created_at: i64,
}

/// A prompt and its answer to save.
#[derive(Debug, Clone, Copy)]
pub struct NewPrompt<'a> {
    pub thread: i64,
    pub question: &'a str,
    pub answer: &'a str,
    /// JSON list of cited resource ids.
    pub citations: &'a str,
    /// JSON `{integration_id, sql}` when the answer carried SQL.
    pub sql: Option<&'a str>,
    /// JSON of what the thread remembers after this turn.
    pub context: Option<&'a str>,
}

/// A ledger entry to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEgress {
    pub user: Option<UserId>,
    pub provider: String,
    pub endpoint: String,
    pub region: Option<String>,
    pub model: String,
    pub body: String,
    pub body_sha256: String,
    /// JSON list of resource ids the request mentioned.
    pub resources: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EgressRow {
    pub id: i64,
    pub user: Option<UserId>,
    pub at: i64,
    pub provider: String,
    pub endpoint: String,
    pub region: Option<String>,
    pub model: String,
    pub bytes: i64,
    pub body_sha256: String,
    pub body: String,
    pub resources: String,
}

const PROMPT_COLUMNS: &str =
    "id, thread_id, question, answer, citations, sql_text, created_at, context";

fn prompt_from(row: &AnyRow) -> PromptRow {
    PromptRow {
        id: row.get(0),
        thread: row.get(1),
        question: row.get(2),
        answer: row.get(3),
        citations: row.get(4),
        sql: row.get(5),
        created_at: row.get(6),
        context: row.get(7),
    }
}

/// What an egress ledger body becomes when the prompt it carried is erased; its hash, size,
/// provider and time stay.
pub const ERASED_PROMPT: &str = "[erased: the prompt was deleted]";
pub const ERASED_HISTORY: &str = "[erased: the history was cleared]";
pub const ERASED_RETENTION: &str = "[erased: past the retention period]";

impl Store {
    /// A thread of this person, or a new one when `thread` is `None`.
    pub async fn open_thread(
        &self,
        workspace: WorkspaceId,
        user: UserId,
        thread: Option<i64>,
    ) -> Result<i64> {
        if let Some(id) = thread {
            let found = sqlx::query(
                "SELECT id FROM threads WHERE workspace_id = $1 AND user_id = $2 AND id = $3",
            )
            .bind(workspace.0)
            .bind(user.0)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
            return found.map(|row| row.get(0)).ok_or(StoreError::NotFound);
        }
        let now = now_ms();
        let row = sqlx::query("INSERT INTO threads (workspace_id, user_id, created_at, updated_at) VALUES ($1, $2, $3, $3) RETURNING id")
            .bind(workspace.0)
            .bind(user.0)
            .bind(now)
            .fetch_one(&self.pool)
            .await?;
        Ok(row.get(0))
    }

    /// The thread's turns, oldest first: what the assistant remembers.
    pub async fn thread_prompts(
        &self,
        workspace: WorkspaceId,
        user: UserId,
        thread: i64,
    ) -> Result<Vec<PromptRow>> {
        let rows = crate::dynamic_query(&format!(
            "SELECT {PROMPT_COLUMNS} FROM prompts WHERE workspace_id = $1 AND user_id = $2 AND thread_id = $3 ORDER BY id"
        ))
        .bind(workspace.0)
        .bind(user.0)
        .bind(thread)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(prompt_from).collect())
    }

    pub async fn save_prompt(
        &self,
        workspace: WorkspaceId,
        user: UserId,
        prompt: &NewPrompt<'_>,
    ) -> Result<i64> {
        let now = now_ms();
        let row = sqlx::query(
            "INSERT INTO prompts (workspace_id, user_id, thread_id, question, answer, citations, sql_text, created_at, context)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
        )
        .bind(workspace.0)
        .bind(user.0)
        .bind(prompt.thread)
        .bind(prompt.question)
        .bind(prompt.answer)
        .bind(prompt.citations)
        .bind(prompt.sql)
        .bind(now)
        .bind(prompt.context)
        .fetch_one(&self.pool)
        .await?;
        sqlx::query("UPDATE threads SET updated_at = $1 WHERE id = $2")
            .bind(now)
            .bind(prompt.thread)
            .execute(&self.pool)
            .await?;
        Ok(row.get(0))
    }

    /// A person's prompts, newest first, before `before` (keyset pagination).
    pub async fn prompts_of(
        &self,
        workspace: WorkspaceId,
        user: UserId,
        before: Option<i64>,
        limit: usize,
    ) -> Result<Vec<PromptRow>> {
        let rows = crate::dynamic_query(&format!(
            "SELECT {PROMPT_COLUMNS} FROM prompts WHERE workspace_id = $1 AND user_id = $2 AND id < $3
             ORDER BY id DESC LIMIT {}",
            limit.max(1)
        ))
        .bind(workspace.0)
        .bind(user.0)
        .bind(before.unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(prompt_from).collect())
    }

    /// Deletes one of a person's prompts; returns whether it was theirs.
    pub async fn delete_prompt(
        &self,
        workspace: WorkspaceId,
        user: UserId,
        id: i64,
    ) -> Result<bool> {
        let mut transaction = self.begin_write().await?;
        // The ledger entries sent for this prompt (after the person's previous prompt, up to
        // this one) and for the later prompts of its thread, which carried it as context.
        let span = sqlx::query(
            "SELECT
                 (SELECT MAX(before.created_at) FROM prompts before
                  WHERE before.workspace_id = p.workspace_id AND before.user_id = p.user_id
                    AND before.id < p.id),
                 (SELECT MAX(later.created_at) FROM prompts later
                  WHERE later.thread_id = p.thread_id)
             FROM prompts p WHERE p.workspace_id = $1 AND p.user_id = $2 AND p.id = $3",
        )
        .bind(workspace.0)
        .bind(user.0)
        .bind(id)
        .fetch_optional(&mut *transaction)
        .await?;
        let Some(span) = span else {
            return Ok(false);
        };
        let after: Option<i64> = span.get(0);
        let until: Option<i64> = span.get(1);
        sqlx::query(
            "UPDATE egress_ledger SET body = $1
             WHERE workspace_id = $2 AND user_id = $3 AND at > $4 AND at <= $5",
        )
        .bind(ERASED_PROMPT)
        .bind(workspace.0)
        .bind(user.0)
        .bind(after.unwrap_or(i64::MIN))
        .bind(until.unwrap_or(i64::MAX))
        .execute(&mut *transaction)
        .await?;
        let done =
            sqlx::query("DELETE FROM prompts WHERE workspace_id = $1 AND user_id = $2 AND id = $3")
                .bind(workspace.0)
                .bind(user.0)
                .bind(id)
                .execute(&mut *transaction)
                .await?;
        transaction.commit().await?;
        Ok(done.rows_affected() > 0)
    }

    /// Deletes all of a person's prompts and threads; returns how many prompts went.
    pub async fn delete_prompts_of(&self, workspace: WorkspaceId, user: UserId) -> Result<u64> {
        let mut transaction = self.begin_write().await?;
        sqlx::query("UPDATE egress_ledger SET body = $1 WHERE workspace_id = $2 AND user_id = $3")
            .bind(ERASED_HISTORY)
            .bind(workspace.0)
            .bind(user.0)
            .execute(&mut *transaction)
            .await?;
        let done = sqlx::query("DELETE FROM prompts WHERE workspace_id = $1 AND user_id = $2")
            .bind(workspace.0)
            .bind(user.0)
            .execute(&mut *transaction)
            .await?;
        sqlx::query("DELETE FROM threads WHERE workspace_id = $1 AND user_id = $2")
            .bind(workspace.0)
            .bind(user.0)
            .execute(&mut *transaction)
            .await?;
        transaction.commit().await?;
        Ok(done.rows_affected())
    }

    /// Deletes a workspace's prompts older than `cutoff` and threads left empty.
    pub async fn purge_prompts(&self, workspace: WorkspaceId, cutoff: i64) -> Result<u64> {
        let mut transaction = self.begin_write().await?;
        // Entries sent before the cutoff, and a person's entries up to the last prompt of a
        // thread that carried a purged prompt as context.
        sqlx::query(
            "UPDATE egress_ledger SET body = $1
             WHERE workspace_id = $2 AND body <> $1 AND (at < $3 OR at <= (
                 SELECT MAX(later.created_at) FROM prompts later
                 WHERE later.workspace_id = $2 AND later.user_id = egress_ledger.user_id
                   AND later.thread_id IN (
                       SELECT old.thread_id FROM prompts old
                       WHERE old.workspace_id = $2 AND old.created_at < $3)))",
        )
        .bind(ERASED_RETENTION)
        .bind(workspace.0)
        .bind(cutoff)
        .execute(&mut *transaction)
        .await?;
        let done = sqlx::query("DELETE FROM prompts WHERE workspace_id = $1 AND created_at < $2")
            .bind(workspace.0)
            .bind(cutoff)
            .execute(&mut *transaction)
            .await?;
        sqlx::query(
            "DELETE FROM threads WHERE workspace_id = $1 AND updated_at < $2
               AND NOT EXISTS (SELECT 1 FROM prompts p WHERE p.thread_id = threads.id)",
        )
        .bind(workspace.0)
        .bind(cutoff)
        .execute(&mut *transaction)
        .await?;
        transaction.commit().await?;
        Ok(done.rows_affected())
    }

    pub async fn record_egress(&self, workspace: WorkspaceId, entry: &NewEgress) -> Result<i64> {
        let mut transaction = self.pool.begin().await?;
        // The entry is written only while the person it is for exists: their row is locked
        // first, so a deletion either comes after (and erases this entry) or before (and the
        // entry is refused, so nothing is sent).
        if let Some(user) = entry.user {
            let present =
                sqlx::query("UPDATE users SET name = name WHERE workspace_id = $1 AND id = $2")
                    .bind(workspace.0)
                    .bind(user.0)
                    .execute(&mut *transaction)
                    .await?;
            if present.rows_affected() == 0 {
                return Err(StoreError::NotFound);
            }
        }
        let row = sqlx::query(
            "INSERT INTO egress_ledger (workspace_id, user_id, at, provider, endpoint, region, model, bytes, body_sha256, body, resources)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id",
        )
        .bind(workspace.0)
        .bind(entry.user.map(|user| user.0))
        .bind(now_ms())
        .bind(&entry.provider)
        .bind(&entry.endpoint)
        .bind(entry.region.as_deref())
        .bind(&entry.model)
        .bind(i64::try_from(entry.body.len()).unwrap_or(i64::MAX))
        .bind(&entry.body_sha256)
        .bind(&entry.body)
        .bind(&entry.resources)
        .fetch_one(&mut *transaction)
        .await?;
        transaction.commit().await?;
        Ok(row.get(0))
    }

    /// One person's ledger entries written after `after` and up to `until` (ms), oldest first.
    pub async fn egress_of_user_between(
        &self,
        workspace: WorkspaceId,
        user: UserId,
        after: i64,
        until: i64,
    ) -> Result<Vec<EgressRow>> {
        let rows = sqlx::query(
            "SELECT id, user_id, at, provider, endpoint, region, model, bytes, body_sha256, body, resources
             FROM egress_ledger WHERE workspace_id = $1 AND user_id = $2 AND at > $3 AND at <= $4
             ORDER BY id LIMIT 100",
        )
        .bind(workspace.0)
        .bind(user.0)
        .bind(after)
        .bind(until)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(egress_from).collect())
    }

    /// The ledger, newest first, before `before`.
    pub async fn egress_entries(
        &self,
        workspace: WorkspaceId,
        before: Option<i64>,
        limit: usize,
    ) -> Result<Vec<EgressRow>> {
        let rows = crate::dynamic_query(&format!(
            "SELECT id, user_id, at, provider, endpoint, region, model, bytes, body_sha256, body, resources
             FROM egress_ledger WHERE workspace_id = $1 AND id < $2 ORDER BY id DESC LIMIT {}",
            limit.max(1)
        ))
        .bind(workspace.0)
        .bind(before.unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(egress_from).collect())
    }
}

fn egress_from(row: &AnyRow) -> EgressRow {
    EgressRow {
        id: row.get(0),
        user: row.get::<Option<i64>, _>(1).map(UserId),
        at: row.get(2),
        provider: row.get(3),
        endpoint: row.get(4),
        region: row.get(5),
        model: row.get(6),
        bytes: row.get(7),
        body_sha256: row.get(8),
        body: row.get(9),
        resources: row.get(10),
    }
}
