//! Helpers shared by the crawl tests.

#![allow(dead_code)]

use cairn_connect::ConnectError;

/// `["a", "b"]` as owned strings.
pub fn path(parts: &[&str]) -> Vec<String> {
    parts.iter().map(|part| (*part).to_owned()).collect()
}

/// Neither the password (raw or percent-decoded) nor the URL appears in the error's Display or
/// Debug text.
pub fn assert_secret_free(error: &ConnectError, password: &str, url: &str) {
    for text in [error.to_string(), format!("{error:?}")] {
        assert!(!text.contains(password), "password leaked: {text}");
        assert!(!text.contains(url), "url leaked: {text}");
        assert!(!text.contains("://"), "a url leaked: {text}");
    }
}
