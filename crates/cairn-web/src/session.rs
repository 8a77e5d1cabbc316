//! The signed-in person behind a page: the API's own principal extractor (session cookie,
//! CSRF token), or a redirect to the sign-in page.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};
use cairn_catalog::{MeView, Principal, Role};
use cairn_server::{AppState, Auth};

use crate::layout::PageError;

/// The person a page is rendered for.
pub struct Viewer {
    pub principal: Principal,
    /// Handed to the page's script, which sends it with every write.
    pub csrf_token: String,
    pub me: MeView,
}

impl Viewer {
    pub fn is_admin(&self) -> bool {
        self.me.role == Role::Admin
    }

    /// Editors and admins document what they can see.
    pub fn can_edit(&self) -> bool {
        self.me.role != Role::Viewer
    }
}

/// Where to go back after signing in: only a path on this site.
pub fn local_path(next: &str) -> Option<&str> {
    (next.starts_with('/') && !next.starts_with("//") && !next.contains('\\')).then_some(next)
}

impl FromRequestParts<AppState> for Viewer {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let back = parts
            .uri
            .path_and_query()
            .map_or("/", |path| path.as_str())
            .to_string();
        let to_sign_in = || {
            let target = if back == "/" {
                "/signin".to_string()
            } else {
                format!("/signin?next={}", crate::text::url_encode(&back))
            };
            Redirect::to(&target).into_response()
        };
        let Ok(auth) = Auth::from_request_parts(parts, state).await else {
            return Err(to_sign_in());
        };
        let Some(csrf_token) = auth.csrf_token else {
            return Err(to_sign_in());
        };
        let me = state
            .catalog
            .me(&auth.principal)
            .await
            .map_err(|error| PageError::from(error).into_response())?;
        Ok(Viewer {
            principal: auth.principal,
            csrf_token,
            me,
        })
    }
}
