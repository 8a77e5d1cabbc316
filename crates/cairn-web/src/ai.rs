//! The AI page: the conversation in the middle (answers stream in from `POST /api/v1/ai/ask`),
//! the person's previous prompts on the right.

use axum::extract::{Query, State};
use cairn_catalog::{AiSettings, EgressView, PromptView, ProviderSetting, ResourceId};
use cairn_server::AppState;
use maud::{Markup, html};
use serde::Deserialize;

use crate::layout::{Nav, PageResult, json_block, kind_badge, shell};
use crate::session::Viewer;
use crate::text::{clip, time};

#[derive(Debug, Deserialize)]
pub struct AiQuery {
    thread: Option<i64>,
}

/// A citation as the page shows it.
struct Cited {
    id: i64,
    kind: String,
    name: String,
    path: String,
}

pub async fn page(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(query): Query<AiQuery>,
) -> PageResult {
    let catalog = &state.catalog;
    let principal = &viewer.principal;
    let history = catalog.history(principal, None, Some(100)).await?;
    let settings = catalog.ai_settings(principal).await?;
    let mut turns = Vec::new();
    if let Some(thread) = query.thread {
        for prompt in catalog.thread(principal, thread).await? {
            let mut cited = Vec::new();
            for id in &prompt.citations {
                // A citation the person may no longer see is left out, as the API would.
                if let Ok(resource) = catalog.get_resource(principal, ResourceId(*id)).await {
                    cited.push(Cited {
                        id: resource.id,
                        kind: resource.kind.as_str().to_string(),
                        name: resource.name,
                        path: resource.path,
                    });
                }
            }
            let sent = catalog.prompt_egress(principal, prompt.id).await?;
            turns.push((prompt, cited, sent));
        }
    }
    let body = html! {
        div class="ai-layout" {
            section class="conversation" aria-labelledby="ai-title" {
                div class="page-head" {
                    h1 id="ai-title" { "Ask Cairn" }
                    (provider_note(&settings))
                }
                div id="thread" class="thread" aria-live="polite" {
                    @if turns.is_empty() {
                        (welcome())
                    }
                    @for (prompt, cited, sent) in &turns {
                        (turn(prompt, cited, sent))
                    }
                }
                form id="ask-form" class="composer" {
                    input type="hidden" name="thread_id" id="thread-id" value=[query.thread];
                    label for="question" class="visually-hidden" { "Your question" }
                    textarea id="question" name="question" rows="2" maxlength="4000" required
                        placeholder="Ask about your data, e.g. which table holds refunds?" {}
                    div class="composer-foot" {
                        span class="muted small" { "Enter sends · Shift+Enter adds a line" }
                        span class="spacer" {}
                        @if query.thread.is_some() {
                            a class="button subtle small" href="/" { "New conversation" }
                        }
                        button type="submit" class="button primary" id="ask-button" { "Ask" }
                    }
                }
            }
            aside class="history-panel" aria-labelledby="history-title" {
                div class="history-head" {
                    h2 id="history-title" { "Your prompts" }
                    button type="button" class="button subtle small" id="clear-history"
                        hidden[history.items.is_empty()] { "Clear history" }
                }
                p class="muted small" { "Only you see these. They are the assistant's memory of your conversations." }
                ul id="history-list" class="history-list" {
                    @for item in &history.items {
                        (history_item(item, query.thread))
                    }
                }
                p id="history-empty" class="empty" hidden[!history.items.is_empty()] { "No prompts yet." }
            }
        }
    };
    Ok(shell(&viewer, "Ask", Nav::Ask, "ai", body))
}

fn provider_note(settings: &AiSettings) -> Markup {
    html! {
        p class="provider-note" {
            @match &settings.provider {
                ProviderSetting::Builtin => {
                    span class="dot ok" aria-hidden="true" {}
                    "Built-in assistant, offline: nothing leaves this server."
                }
                ProviderSetting::Openai { model, region, .. } => {
                    span class="dot warn" aria-hidden="true" {}
                    "Model " code { (model) }
                    @if let Some(region) = region { " in region " (region) }
                    ": metadata and your words are sent, every request is on the egress ledger."
                }
            }
            @if settings.run_sql_enabled { " Run SQL is on." }
        }
    }
}

fn welcome() -> Markup {
    html! {
        div class="welcome" id="welcome" {
            h2 { "What would you like to know?" }
            p class="muted" { "Cairn answers from the catalog you may see and cites the tables, columns and terms it used." }
            ul class="suggestions" {
                @for suggestion in ["Which table holds refunds?", "Who owns customer churn?", "How many orders are there?", "What does ARR mean?"] {
                    li { button type="button" class="suggestion" data-question=(suggestion) { (suggestion) } }
                }
            }
        }
    }
}

fn history_item(item: &PromptView, current_thread: Option<i64>) -> Markup {
    let label = clip(&item.question, 90);
    html! {
        li class={"history-item" @if current_thread == Some(item.thread_id) { " current" }}
            data-prompt-id=(item.id) data-thread-id=(item.thread_id) {
            a href={"/?thread=" (item.thread_id) "#prompt-" (item.id)} {
                span class="history-q" { (label) }
                span class="history-time" { (time(item.created_at)) }
            }
            button type="button" class="icon-button" data-delete-prompt=(item.id)
                aria-label={"Delete prompt: " (label)} title="Delete" {
                svg viewBox="0 0 24 24" width="16" height="16" aria-hidden="true" focusable="false" {
                    path d="M6 6l12 12M18 6L6 18" stroke="currentColor" stroke-width="2" stroke-linecap="round" {}
                }
            }
        }
    }
}

fn turn(prompt: &PromptView, cited: &[Cited], sent: &[EgressView]) -> Markup {
    let sql = prompt.sql.as_ref().and_then(|sql| {
        Some((
            sql.get("integration_id")?.as_i64()?,
            sql.get("sql")?.as_str()?.to_string(),
        ))
    });
    html! {
        article class="turn" id={"prompt-" (prompt.id)} data-prompt-id=(prompt.id) {
            div class="question" { p { (prompt.question) } }
            div class="answer" {
                div class="answer-text" { (answer_body(&prompt.answer)) }
                @if !cited.is_empty() {
                    div class="citations" {
                        p class="mini-head" { "Sources" }
                        ul {
                            @for citation in cited {
                                li { a href={"/resources/" (citation.id)} { (kind_badge(&citation.kind)) " " span class="cite-name" { (citation.name) } " " span class="cite-path" { (citation.path) } } }
                            }
                        }
                    }
                }
                @if let Some((integration, statement)) = &sql {
                    div class="sql-answer" {
                        p class="mini-head" { "SQL" }
                        pre class="code" { code { (statement) } }
                        p class="muted small" { "Results are shown to you only and never sent to a model. They are not kept: run it again to see them." }
                        button type="button" class="button small" data-run-sql=(statement) data-integration=(integration) { "Run again" }
                        div class="sql-result" {}
                    }
                }
                (sent_disclosure(sent))
            }
        }
    }
}

/// An answer's text, with its fenced code blocks (```sql … ```) set apart. All of it escaped;
/// nothing in it is ever fetched.
fn answer_body(text: &str) -> Markup {
    html! {
        @for (index, part) in text.split("```").enumerate() {
            @if index % 2 == 1 {
                @let code = match part.split_once('\n') {
                    Some((language, rest)) if language.chars().all(|c| c.is_ascii_alphanumeric()) => rest,
                    _ => part,
                };
                pre class="code" { code { (code.trim_end()) } }
            } @else if !part.trim().is_empty() {
                span { (part.trim_matches('\n')) }
            }
        }
    }
}

/// The egress-ledger entries of one answer, or the statement that nothing left.
fn sent_disclosure(sent: &[EgressView]) -> Markup {
    html! {
        details class="sent" {
            summary { "What was sent" }
            @if sent.is_empty() {
                p class="nothing-sent" { "Nothing left this server for this answer: no entry on the egress ledger." }
            }
            @for entry in sent {
                dl class="facts" {
                    dt { "Ledger entry" } dd { "#" (entry.id) " at " (time(entry.at)) }
                    dt { "Provider" } dd { (entry.provider) " · " (entry.model) }
                    dt { "Endpoint" } dd { code { (entry.endpoint) } }
                    dt { "Region" } dd { (entry.region.as_deref().unwrap_or("unspecified")) }
                    dt { "Size" } dd { (entry.bytes) " bytes, SHA-256 " code class="hash" { (entry.body_sha256) } }
                }
                @match serde_json::from_str::<serde_json::Value>(&entry.body) {
                    Ok(value) => (json_block(&value)),
                    Err(_) => pre class="code" { code { (entry.body) } },
                }
            }
        }
    }
}
