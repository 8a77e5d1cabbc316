//! The page shell (left navigation, search bar, main area), error pages, and the one mapping
//! from catalog errors to pages.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use cairn_catalog::CatalogError;
use maud::{DOCTYPE, Markup, html};

use crate::session::Viewer;

/// Which navigation entry a page belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nav {
    Ask,
    Search,
    Settings,
    Integrations,
    People,
    Audit,
    Egress,
    Account,
}

/// An HTML answer with its status; security headers are added for every response in one layer.
pub fn html_response(status: StatusCode, markup: Markup) -> Response {
    let mut response = (status, markup.into_string()).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn head(title: &str, csrf_token: Option<&str>) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            @if let Some(token) = csrf_token { meta name="csrf-token" content=(token); }
            meta name="viewport" content="width=device-width, initial-scale=1";
            meta name="color-scheme" content="light dark";
            title { (title) " · Cairn" }
            link rel="icon" href="/static/favicon.svg" type="image/svg+xml";
            link rel="stylesheet" href=(crate::assets::STYLE_PATH);
            script src=(crate::assets::SCRIPT_PATH) defer {}
        }
    }
}

/// The cairn mark: three stacked stones.
pub fn logo() -> Markup {
    html! {
        svg class="logo" viewBox="0 0 24 24" width="22" height="22" aria-hidden="true" focusable="false" {
            ellipse cx="12" cy="19" rx="9" ry="3.2" fill="currentColor" opacity="0.9" {}
            ellipse cx="12" cy="12.6" rx="6.4" ry="2.8" fill="currentColor" opacity="0.7" {}
            ellipse cx="12" cy="7" rx="4" ry="2.3" fill="currentColor" opacity="0.5" {}
        }
    }
}

fn icon(path: &str) -> Markup {
    html! {
        svg class="icon" viewBox="0 0 24 24" width="18" height="18" aria-hidden="true" focusable="false" {
            path d=(path) fill="none" stroke="currentColor" stroke-width="1.8" stroke-linecap="round" stroke-linejoin="round" {}
        }
    }
}

const ICON_ASK: &str = "M4 5h16v10H9l-5 4z";
const ICON_SEARCH: &str = "M10.5 17a6.5 6.5 0 1 1 0-13 6.5 6.5 0 0 1 0 13zM15.5 15.5 20 20";
const ICON_SETTINGS: &str = "M12 15a3 3 0 1 0 0-6 3 3 0 0 0 0 6zM4 12h2M18 12h2M12 4v2M12 18v2M6.3 6.3l1.4 1.4M16.3 16.3l1.4 1.4M6.3 17.7l1.4-1.4M16.3 7.7l1.4-1.4";
const ICON_PLUG: &str = "M9 3v5M15 3v5M6 8h12v3a6 6 0 0 1-12 0zM12 17v4";
const ICON_PEOPLE: &str = "M9 11a3.5 3.5 0 1 0 0-7 3.5 3.5 0 0 0 0 7zM3 20c0-3.3 2.7-6 6-6s6 2.7 6 6M16 4.5a3.5 3.5 0 0 1 0 6.5M21 20c0-2.8-1.8-5-4-5.7";
const ICON_AUDIT: &str = "M7 3h10v18H7zM10 8h4M10 12h4M10 16h2";
const ICON_EGRESS: &str = "M14 4h6v6M20 4l-9 9M18 14v6H4V6h6";
const ICON_ACCOUNT: &str = "M12 12a4 4 0 1 0 0-8 4 4 0 0 0 0 8zM4 21c0-4.4 3.6-8 8-8s8 3.6 8 8";

fn nav_link(href: &str, label: &str, icon_path: &str, current: bool) -> Markup {
    html! {
        li {
            a href=(href) aria-current=[current.then_some("page")] {
                (icon(icon_path)) span { (label) }
            }
        }
    }
}

/// A signed-in page: navigation on the left, the search bar on top, `body` in the middle.
pub fn shell(viewer: &Viewer, title: &str, nav: Nav, page_id: &str, body: Markup) -> Response {
    let me = &viewer.me;
    let markup = html! {
        (DOCTYPE)
        html lang="en" {
            (head(title, Some(&viewer.csrf_token)))
            body data-page=(page_id) {
                a class="skip-link" href="#main" { "Skip to content" }
                div class="shell" {
                    nav class="sidebar" aria-label="Main" {
                        a class="brand" href="/" { (logo()) span { "Cairn" } }
                        p class="workspace" title="Workspace" { (me.workspace.name) }
                        ul class="nav-list" {
                            (nav_link("/", "Ask", ICON_ASK, nav == Nav::Ask))
                            (nav_link("/search", "Search", ICON_SEARCH, nav == Nav::Search))
                        }
                        @if viewer.is_admin() {
                            p class="nav-heading" id="nav-admin" { "Administration" }
                            ul class="nav-list" aria-labelledby="nav-admin" {
                                (nav_link("/settings", "AI settings", ICON_SETTINGS, nav == Nav::Settings))
                                (nav_link("/settings/integrations", "Integrations", ICON_PLUG, nav == Nav::Integrations))
                                (nav_link("/settings/people", "Teams & people", ICON_PEOPLE, nav == Nav::People))
                                (nav_link("/settings/audit", "Audit log", ICON_AUDIT, nav == Nav::Audit))
                                (nav_link("/settings/egress", "Egress ledger", ICON_EGRESS, nav == Nav::Egress))
                            }
                        }
                        div class="sidebar-foot" {
                            ul class="nav-list" {
                                (nav_link("/account", "Account", ICON_ACCOUNT, nav == Nav::Account))
                            }
                            p class="who" {
                                span class="who-name" { (me.user.name) }
                                span class="who-role" { (me.role.as_str()) }
                            }
                            button type="button" class="button subtle small" id="sign-out" { "Sign out" }
                        }
                    }
                    div class="content" {
                        header class="topbar" {
                            form class="global-search" role="search" aria-label="Quick search" action="/search" method="get" {
                                label class="visually-hidden" for="global-q" { "Search the catalog" }
                                (icon(ICON_SEARCH))
                                input id="global-q" name="q" type="search" autocomplete="off"
                                    placeholder="Search tables, columns, terms…";
                                kbd class="hint" aria-hidden="true" { "/" }
                            }
                        }
                        main id="main" tabindex="-1" { (body) }
                    }
                }
                div id="toast" class="toast" role="status" aria-live="polite" {}
            }
        }
    };
    html_response(StatusCode::OK, markup)
}

/// A page without navigation (sign-in, errors before sign-in).
pub fn bare_page(status: StatusCode, title: &str, page_id: &str, body: Markup) -> Response {
    let markup = html! {
        (DOCTYPE)
        html lang="en" {
            (head(title, None))
            body data-page=(page_id) class="bare" {
                main id="main" class="bare-main" { (body) }
            }
        }
    };
    html_response(status, markup)
}

pub fn error_page(status: StatusCode, title: &str, message: &str) -> Response {
    bare_page(
        status,
        title,
        "error",
        html! {
            div class="card narrow" {
                a class="brand" href="/" { (logo()) span { "Cairn" } }
                h1 { (title) }
                p { (message) }
                p { a href="/" { "Back to Cairn" } }
            }
        },
    )
}

/// A catalog error as a page.
#[derive(Debug)]
pub struct PageError(CatalogError);

impl From<CatalogError> for PageError {
    fn from(error: CatalogError) -> Self {
        PageError(error)
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let api = cairn_server::ApiError::from(self.0);
        let title = match api.status {
            StatusCode::NOT_FOUND => "Not found",
            StatusCode::FORBIDDEN => "Not allowed",
            StatusCode::UNAUTHORIZED => "Signed out",
            status if status.is_server_error() => "Something went wrong",
            _ => "That did not work",
        };
        error_page(api.status, title, &api.message)
    }
}

pub type PageResult = Result<Response, PageError>;

/// An empty-state message.
pub fn empty(text: &str) -> Markup {
    html! { p class="empty" { (text) } }
}

/// A resource kind as a small badge.
pub fn kind_badge(kind: &str) -> Markup {
    html! { span class={"badge kind kind-" (kind)} { (kind) } }
}

/// JSON shown to people, pretty-printed and escaped.
pub fn json_block(value: &serde_json::Value) -> Markup {
    let text = serde_json::to_string_pretty(value).unwrap_or_default();
    html! { pre class="code" { code { (text) } } }
}
