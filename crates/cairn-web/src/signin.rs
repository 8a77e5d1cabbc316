//! Signing in: a form whose script posts to `POST /api/v1/session`, so the cookie, the CSRF
//! token and the rate limits are the API's own.

use axum::extract::Query;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use cairn_server::Auth;
use maud::html;
use serde::Deserialize;

use crate::layout::{bare_page, logo};
use crate::session::local_path;

#[derive(Debug, Deserialize)]
pub struct SignInQuery {
    next: Option<String>,
}

pub async fn page(
    Query(query): Query<SignInQuery>,
    auth: Result<Auth, cairn_server::ApiError>,
) -> Response {
    let next = query
        .next
        .as_deref()
        .and_then(local_path)
        .unwrap_or("/")
        .to_string();
    if auth.is_ok_and(|auth| auth.csrf_token.is_some()) {
        return Redirect::to(&next).into_response();
    }
    bare_page(
        StatusCode::OK,
        "Sign in",
        "signin",
        html! {
            div class="card narrow signin" {
                div class="brand big" { (logo()) span { "Cairn" } }
                h1 { "Sign in" }
                p class="muted" { "Your data catalog and its assistant. Nothing leaves this server unless your admin connects a model provider." }
                form id="signin-form" data-next=(next) novalidate {
                    div class="field" {
                        label for="email" { "E-mail" }
                        input id="email" name="email" type="email" autocomplete="username" required autofocus;
                    }
                    div class="field" {
                        label for="password" { "Password" }
                        input id="password" name="password" type="password" autocomplete="current-password" required;
                    }
                    div class="field" {
                        label for="workspace" { "Workspace " span class="muted" { "(only if you belong to several)" } }
                        input id="workspace" name="workspace" type="text" autocomplete="organization";
                    }
                    p class="form-error" id="signin-error" role="alert" {}
                    button type="submit" class="button primary wide" { "Sign in" }
                }
            }
        },
    )
}
