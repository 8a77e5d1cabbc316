//! Connection and crawl errors, and the redaction that keeps secrets out of them.

/// Why connecting to or crawling a database failed.
///
/// Messages name the problem and, at most, the host, port and database; they never contain the
/// password or the connection URL (each detail passes through [`Redactor`]).
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("cannot connect: {0}")]
    Unreachable(String),
    #[error("authentication failed: {0}")]
    AuthFailed(String),
    #[error("database not found: {0}")]
    DatabaseNotFound(String),
    #[error("unsupported server version: {0}")]
    UnsupportedVersion(String),
    #[error("not a sqlite database: {0}")]
    NotSqlite(String),
    #[error("invalid connection url: {0}")]
    InvalidUrl(String),
    #[error("crawl failed: {0}")]
    CrawlFailed(String),
    /// The operator's integration policy refuses the target. One text for every reason, so it
    /// never tells whether a file, host or port exists.
    #[error("cannot use this connection: not allowed by the server's integration policy")]
    NotAllowed,
}

impl ConnectError {
    /// A stable, machine-readable code for the API.
    pub fn code(&self) -> &'static str {
        match self {
            ConnectError::Unreachable(_) => "unreachable",
            ConnectError::AuthFailed(_) => "auth_failed",
            ConnectError::DatabaseNotFound(_) => "database_not_found",
            ConnectError::UnsupportedVersion(_) => "unsupported_version",
            ConnectError::NotSqlite(_) => "not_sqlite",
            ConnectError::InvalidUrl(_) => "invalid_url",
            ConnectError::CrawlFailed(_) => "crawl_failed",
            ConnectError::NotAllowed => "not_allowed",
        }
    }
}

/// The parts of a connection URL that are safe to show, and a scrubber for the parts that are
/// not (the password, raw and percent-decoded, and the URL itself).
#[derive(Clone)]
pub struct Redactor {
    secrets: Vec<String>,
    /// `host:port/database` (or the sqlite file name), safe for messages.
    target: String,
}

impl std::fmt::Debug for Redactor {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Redactor")
            .field("target", &self.target)
            .finish_non_exhaustive()
    }
}

impl Redactor {
    /// Learns the secrets of `url` (any scheme, `scheme://user:password@host:port/db?query`).
    pub fn for_url(url: &str) -> Self {
        let parts = UrlParts::parse(url);
        let mut secrets = vec![url.to_owned()];
        if let Some(password) = &parts.password {
            secrets.push(password.clone());
            let decoded = percent_decode(password);
            if decoded != *password {
                secrets.push(decoded);
            }
        }
        for (key, value) in &parts.query {
            if key.eq_ignore_ascii_case("password") {
                secrets.push(value.clone());
                secrets.push(percent_decode(value));
            }
        }
        secrets.retain(|secret| !secret.is_empty());
        // longest first, so a password inside the URL does not leave the rest of the URL behind
        secrets.sort_by_key(|secret| std::cmp::Reverse(secret.len()));
        secrets.dedup();
        let target = match (&parts.host, &parts.port) {
            _ if parts.scheme == "sqlite" => parts
                .database
                .rsplit('/')
                .next()
                .unwrap_or_default()
                .split('?')
                .next()
                .unwrap_or_default()
                .to_owned(),
            (Some(host), Some(port)) => format!("{host}:{port}/{}", parts.database),
            (Some(host), None) => format!("{host}/{}", parts.database),
            _ => parts.database.clone(),
        };
        Redactor { secrets, target }
    }

    /// `host:port/database`, without user, password or options.
    pub fn target(&self) -> &str {
        &self.target
    }

    /// `text` with every secret replaced by `***`.
    pub fn scrub(&self, text: &str) -> String {
        let mut scrubbed = text.to_owned();
        for secret in &self.secrets {
            if scrubbed.contains(secret.as_str()) {
                scrubbed = scrubbed.replace(secret.as_str(), "***");
            }
        }
        scrubbed
    }
}

/// A connection URL cut into its parts, without any validation (that is the driver's job).
#[derive(Debug, Default, PartialEq)]
pub(crate) struct UrlParts {
    pub scheme: String,
    pub user: Option<String>,
    pub password: Option<String>,
    pub host: Option<String>,
    pub port: Option<String>,
    /// The path after the authority, without its leading `/` (for sqlite, the whole path).
    pub database: String,
    pub query: Vec<(String, String)>,
}

impl UrlParts {
    pub(crate) fn parse(url: &str) -> Self {
        let mut parts = UrlParts::default();
        let (scheme, rest) = url.split_once(':').unwrap_or(("", url));
        parts.scheme = scheme.to_ascii_lowercase();
        let (before_query, query) = rest.split_once('?').unwrap_or((rest, ""));
        parts.query = query
            .split('&')
            .filter(|pair| !pair.is_empty())
            .map(|pair| {
                let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
                (key.to_owned(), value.to_owned())
            })
            .collect();
        let Some(after_slashes) = before_query.strip_prefix("//") else {
            parts.database = before_query.to_owned();
            return parts;
        };
        let (authority, path) = match after_slashes.find('/') {
            Some(at) => (&after_slashes[..at], &after_slashes[at..]),
            None => (after_slashes, ""),
        };
        let host_port = match authority.rfind('@') {
            Some(at) => {
                let userinfo = &authority[..at];
                match userinfo.split_once(':') {
                    Some((user, password)) => {
                        parts.user = Some(user.to_owned());
                        parts.password = Some(password.to_owned());
                    }
                    None => parts.user = Some(userinfo.to_owned()),
                }
                &authority[at + 1..]
            }
            None => authority,
        };
        if !host_port.is_empty() {
            match host_port.rsplit_once(':') {
                Some((host, port)) if !host.ends_with(']') || host_port.starts_with('[') => {
                    if port.chars().all(|character| character.is_ascii_digit()) && !host.is_empty()
                    {
                        parts.host = Some(host.to_owned());
                        parts.port = Some(port.to_owned());
                    } else {
                        parts.host = Some(host_port.to_owned());
                    }
                }
                _ => parts.host = Some(host_port.to_owned()),
            }
        }
        parts.database = if parts.scheme == "sqlite" {
            path.to_owned()
        } else {
            percent_decode(path.trim_start_matches('/'))
        };
        parts
    }
}

pub(crate) fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b'%'
            && index + 2 < bytes.len()
            && let (Some(high), Some(low)) =
                (hex_value(bytes[index + 1]), hex_value(bytes[index + 2]))
        {
            decoded.push(high * 16 + low);
            index += 3;
            continue;
        }
        decoded.push(bytes[index]);
        index += 1;
    }
    String::from_utf8_lossy(&decoded).into_owned()
}

fn hex_value(byte: u8) -> Option<u8> {
    (byte as char).to_digit(16).map(|digit| digit as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWORD: &str = "Zebra%2FCanary-4711";

    #[test]
    fn url_parts_are_found() {
        let parts =
            UrlParts::parse("postgres://alice:s3cret@db.example:5433/sales?sslmode=require");
        assert_eq!(parts.scheme, "postgres");
        assert_eq!(parts.user.as_deref(), Some("alice"));
        assert_eq!(parts.password.as_deref(), Some("s3cret"));
        assert_eq!(parts.host.as_deref(), Some("db.example"));
        assert_eq!(parts.port.as_deref(), Some("5433"));
        assert_eq!(parts.database, "sales");
        assert_eq!(
            parts.query,
            vec![("sslmode".to_owned(), "require".to_owned())]
        );

        let sqlite = UrlParts::parse("sqlite:///var/data/demo.db");
        assert_eq!(sqlite.database, "/var/data/demo.db");
        let no_port = UrlParts::parse("mysql://root@localhost/app?socket=/tmp/x.sock");
        assert_eq!(no_port.host.as_deref(), Some("localhost"));
        assert_eq!(no_port.port, None);
        assert_eq!(no_port.password, None);
    }

    #[test]
    fn scrub_removes_the_password_raw_and_decoded_and_the_url() {
        let url = format!("postgres://alice:{PASSWORD}@db.example:5433/sales");
        let redactor = Redactor::for_url(&url);
        let text = format!("failed for {url}: password {PASSWORD} or Zebra/Canary-4711 rejected");
        let scrubbed = redactor.scrub(&text);
        assert!(!scrubbed.contains("Zebra"), "{scrubbed}");
        assert!(!scrubbed.contains("Canary"), "{scrubbed}");
        assert!(!scrubbed.contains("postgres://"), "{scrubbed}");
        assert_eq!(redactor.target(), "db.example:5433/sales");
        assert!(!format!("{redactor:?}").contains("Zebra"));
    }

    #[test]
    fn a_password_given_as_a_query_parameter_is_scrubbed() {
        let url = "postgres://alice@db/sales?password=Canary99";
        let redactor = Redactor::for_url(url);
        assert_eq!(redactor.scrub("bad Canary99"), "bad ***");
    }

    #[test]
    fn codes_are_stable() {
        assert_eq!(
            ConnectError::AuthFailed(String::new()).code(),
            "auth_failed"
        );
        assert_eq!(ConnectError::NotSqlite(String::new()).code(), "not_sqlite");
        assert_eq!(
            ConnectError::UnsupportedVersion(String::new()).code(),
            "unsupported_version"
        );
    }
}
