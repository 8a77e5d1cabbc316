//! Search and browse with filters: kind, tag, owner, team and integration.

use axum::extract::{Query, State};
use cairn_catalog::{ResourceList, ResourceQuery, ResourceView};
use cairn_domain::ResourceKind;
use cairn_server::AppState;
use maud::{Markup, html};
use serde::Deserialize;

use crate::layout::{Nav, PageResult, empty, kind_badge, shell};
use crate::session::Viewer;
use crate::text::{clip, highlight, search_words, url_encode};

/// Results per page.
const PAGE_SIZE: usize = 50;
/// Results per page when the integration filter applies (the API's largest page).
const FILTERED_PAGE_SIZE: usize = 200;

#[derive(Debug, Default, Deserialize)]
pub struct SearchParams {
    #[serde(default)]
    q: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    tag: String,
    #[serde(default)]
    owner: String,
    #[serde(default)]
    team: String,
    #[serde(default)]
    integration: String,
    #[serde(default)]
    cursor: String,
}

fn non_empty(text: &str) -> Option<String> {
    let trimmed = text.trim();
    (!trimmed.is_empty()).then(|| trimmed.to_string())
}

impl SearchParams {
    /// This search's address with another cursor.
    fn with_cursor(&self, cursor: &str) -> String {
        let pairs = [
            ("q", &self.q),
            ("kind", &self.kind),
            ("tag", &self.tag),
            ("owner", &self.owner),
            ("team", &self.team),
            ("integration", &self.integration),
        ];
        let mut address = String::from("/search?");
        for (key, value) in pairs {
            if !value.is_empty() {
                address.push_str(&format!("{key}={}&", url_encode(value)));
            }
        }
        address.push_str(&format!("cursor={}", url_encode(cursor)));
        address
    }
}

/// Whether a resource came from an integration (by the first segment of its path).
fn from_integration(resource: &ResourceView, integration: &str) -> bool {
    let crawled = !matches!(resource.kind, ResourceKind::Term | ResourceKind::Document);
    crawled && resource.path.split('.').next() == Some(integration)
}

pub async fn page(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(params): Query<SearchParams>,
) -> PageResult {
    let catalog = &state.catalog;
    let integrations = catalog.list_integrations(&viewer.principal).await?;
    let teams: Vec<String> = if viewer.is_admin() {
        catalog
            .list_teams(&viewer.principal)
            .await?
            .into_iter()
            .map(|team| team.name)
            .collect()
    } else {
        viewer.me.teams.clone()
    };
    let integration = non_empty(&params.integration);
    // The integration filter reads the path's first segment: with it, fetch the largest page.
    let limit = if integration.is_some() {
        FILTERED_PAGE_SIZE
    } else {
        PAGE_SIZE
    };
    let query = ResourceQuery {
        q: non_empty(&params.q),
        kind: non_empty(&params.kind),
        tag: non_empty(&params.tag),
        owner: non_empty(&params.owner),
        team: non_empty(&params.team),
        limit: Some(limit),
        cursor: non_empty(&params.cursor),
    };
    let searched = query.q.is_some();
    let ResourceList {
        mut items,
        next_cursor,
        semantic,
    } = catalog.list_resources(&viewer.principal, query).await?;
    if let Some(integration) = &integration {
        items.retain(|resource| from_integration(resource, integration));
    }
    let words = search_words(&params.q);
    let count = items.len();
    let mut count_text = match (count, next_cursor.is_some()) {
        (1, false) => "1 result".to_string(),
        (count, false) => format!("{count} results"),
        (count, true) => format!("{count} results on this page, more below"),
    };
    // Say how they were found: with the local model, tables match by meaning, not only words.
    if searched && semantic {
        count_text.push_str(", by words and meaning");
    }
    let kinds: Vec<&str> = ResourceKind::ALL.iter().map(|kind| kind.as_str()).collect();
    let body = html! {
        div class="page-head" {
            h1 { @if searched { "Search" } @else { "Browse the catalog" } }
        }
        form class="search-form card" action="/search" method="get" role="search" aria-label="Search with filters" {
            div class="search-main" {
                label for="search-q" class="visually-hidden" { "Search words" }
                input id="search-q" name="q" type="search" value=(params.q) autocomplete="off"
                    placeholder="Words in names, descriptions, tags…";
                button type="submit" class="button primary" { "Search" }
            }
            div class="filters" {
                div class="field" {
                    label for="f-kind" { "Kind" }
                    select id="f-kind" name="kind" {
                        option value="" { "Any kind" }
                        @for kind in &kinds {
                            option value=(kind) selected[params.kind == *kind] { (kind) }
                        }
                    }
                }
                div class="field" {
                    label for="f-tag" { "Tag" }
                    input id="f-tag" name="tag" type="text" value=(params.tag) placeholder="e.g. pii";
                }
                div class="field" {
                    label for="f-owner" { "Owner" }
                    input id="f-owner" name="owner" type="text" value=(params.owner) placeholder="e-mail";
                }
                div class="field" {
                    label for="f-team" { "Team" }
                    select id="f-team" name="team" {
                        option value="" { "Any team" }
                        @for team in &teams {
                            option value=(team) selected[params.team == *team] { (team) }
                        }
                    }
                }
                div class="field" {
                    label for="f-integration" { "Integration" }
                    select id="f-integration" name="integration" {
                        option value="" { "Any integration" }
                        @for item in &integrations {
                            option value=(item.name) selected[params.integration == item.name] { (item.name) }
                        }
                    }
                }
                a class="button subtle small reset" href="/search" { "Clear filters" }
            }
        }
        p class="result-count" id="result-count" role="status" { (count_text) }
        @if items.is_empty() {
            (empty("Nothing matches. Try fewer words or remove a filter."))
        } @else {
            ul class="results" {
                @for resource in &items {
                    (result(resource, &words))
                }
            }
        }
        @if let Some(cursor) = &next_cursor {
            p { a class="button" href=(params.with_cursor(cursor)) { "Next page" } }
        }
    };
    Ok(shell(&viewer, "Search", Nav::Search, "search", body))
}

fn result(resource: &ResourceView, words: &[String]) -> Markup {
    html! {
        li class="result" {
            div class="result-title" {
                (kind_badge(resource.kind.as_str()))
                a href={"/resources/" (resource.id)} class="result-name" { (highlight(&resource.name, words)) }
                @if let Some(data_type) = &resource.data_type { span class="type" { (data_type) } }
            }
            div class="result-path" { (highlight(&resource.path, words)) }
            @if let Some(description) = &resource.description {
                p class="result-description" { (highlight(&clip(description, 240), words)) }
            }
            @if !resource.tags.is_empty() || !resource.owners.is_empty() {
                div class="result-meta" {
                    @for tag in &resource.tags {
                        a class="tag" href={"/search?tag=" (url_encode(tag))} { (tag) }
                    }
                    @for owner in &resource.owners {
                        span class="owner" { (owner) }
                    }
                }
            }
        }
    }
}
