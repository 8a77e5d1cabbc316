//! Which databases an integration may reach: the operator's decision, never a caller's.
//!
//! A connection URL from a caller becomes a [`Target`] only through [`TargetPolicy::check`]:
//!
//! - By default SQLite files and unix sockets are refused, and so are loopback, link-local
//!   (169.254.0.0/16, fe80::/10), unspecified, multicast and broadcast addresses; public and
//!   private network addresses are allowed.
//! - The operator's allow list (`--integration-allow`, `CAIRN_INTEGRATION_ALLOW`) adds host
//!   names, CIDR ranges and absolute directory prefixes (for SQLite files and unix sockets).
//! - Never allowed, whatever the list says: anything under Cairn's data directory, the store's
//!   own SQLite file (by path and by file identity) and the store's own PostgreSQL database.
//!
//! Host names are resolved before the check and the URL handed to the driver names the checked
//! address, so a name that resolves differently at connect time (DNS rebinding) cannot move the
//! connection elsewhere. Every refusal reads the same, whether or not the file, host or port
//! exists.

use std::net::IpAddr;
use std::path::{Component, Path, PathBuf};

use crate::EngineKind;
use crate::error::{ConnectError, UrlParts, percent_decode};

/// A connection target that passed the policy: the URL to give the driver.
#[derive(Clone)]
pub struct Target {
    kind: EngineKind,
    url: String,
}

impl std::fmt::Debug for Target {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Target")
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

impl Target {
    /// A SQLite file Cairn itself created and named (the demo warehouse). Its path never comes
    /// from a caller, so it skips the policy that keeps callers out of the data directory.
    pub fn cairn_managed_sqlite(path: &Path) -> Target {
        Target {
            kind: EngineKind::Sqlite,
            url: format!("sqlite://{}", path.display()),
        }
    }

    pub fn kind(&self) -> EngineKind {
        self.kind
    }

    /// The URL to connect with (its host is the checked address).
    pub fn url(&self) -> &str {
        &self.url
    }
}

/// The policy's allow list did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid integration allow list entry {entry:?}: {why}")]
pub struct AllowListError {
    pub entry: String,
    pub why: &'static str,
}

/// An IP network in CIDR form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Network {
    address: IpAddr,
    prefix: u8,
}

impl Network {
    fn parse(text: &str) -> Option<Network> {
        let (address, prefix) = match text.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text, None),
        };
        let address: IpAddr = address
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse()
            .ok()?;
        let address = canonical_ip(address);
        let max = if address.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(prefix) => prefix.parse::<u8>().ok().filter(|bits| *bits <= max)?,
            None => max,
        };
        Some(Network { address, prefix })
    }

    fn contains(&self, address: IpAddr) -> bool {
        match (self.address, canonical_ip(address)) {
            (IpAddr::V4(network), IpAddr::V4(address)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(network) & mask == u32::from(address) & mask
            }
            (IpAddr::V6(network), IpAddr::V6(address)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(network) & mask == u128::from(address) & mask
            }
            _ => false,
        }
    }
}

/// An IPv4-mapped IPv6 address as the IPv4 address it is.
fn canonical_ip(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(v6),
        },
        v4 => v4,
    }
}

/// Addresses refused unless the allow list names them: this machine and its link.
fn is_local_or_special(address: IpAddr) -> bool {
    match canonical_ip(address) {
        IpAddr::V4(v4) => {
            v4.is_loopback()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_multicast()
                || v4.is_broadcast()
                || v4.octets()[0] == 0
        }
        IpAddr::V6(v6) => {
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (v6.segments()[0] & 0xffc0) == 0xfe80
        }
    }
}

/// The store's own PostgreSQL database, never a target.
#[derive(Debug, Clone, PartialEq, Eq)]
struct StoreDatabase {
    /// A host name or address, or a socket directory.
    host: String,
    port: u16,
    database: String,
}

/// The operator's integration policy. See the module documentation.
#[derive(Debug, Clone, Default)]
pub struct TargetPolicy {
    hosts: Vec<String>,
    networks: Vec<Network>,
    directories: Vec<PathBuf>,
    forbidden_directories: Vec<PathBuf>,
    forbidden_files: Vec<PathBuf>,
    store_database: Option<StoreDatabase>,
}

impl TargetPolicy {
    /// Parses the comma-separated allow list: host names, CIDR ranges or addresses, and
    /// absolute directory prefixes.
    pub fn parse(list: &str) -> Result<TargetPolicy, AllowListError> {
        let mut policy = TargetPolicy::default();
        for entry in list
            .split(',')
            .map(str::trim)
            .filter(|entry| !entry.is_empty())
        {
            let fail = |why| AllowListError {
                entry: entry.to_owned(),
                why,
            };
            if entry.starts_with('/') {
                let path = normalize(Path::new(entry)).ok_or_else(|| fail("not a clean path"))?;
                let path = std::fs::canonicalize(&path).unwrap_or(path);
                policy.directories.push(path);
            } else if let Some(network) = Network::parse(entry) {
                policy.networks.push(network);
            } else if entry.contains('/') {
                return Err(fail(
                    "expected a host name, an address, a CIDR range or an absolute directory",
                ));
            } else if is_host_name(entry) {
                policy.hosts.push(entry.to_ascii_lowercase());
            } else {
                return Err(fail("not a valid host name"));
            }
        }
        Ok(policy)
    }

    /// Adds a directory that is never a target (Cairn's data directory).
    pub fn forbid_directory(mut self, directory: &Path) -> TargetPolicy {
        let directory = std::fs::canonicalize(directory).unwrap_or_else(|_| directory.to_owned());
        self.forbidden_directories.push(directory);
        self
    }

    /// Keeps the store behind `database_url` (`sqlite:` or `postgres:`) out of reach.
    pub fn forbid_store(mut self, database_url: &str) -> TargetPolicy {
        match EngineKind::from_url(database_url) {
            Some(EngineKind::Sqlite) => {
                if let Ok(path) = crate::sqlite::path_of_url(database_url) {
                    let path = std::fs::canonicalize(&path).unwrap_or(path);
                    self.forbidden_files.push(path);
                }
            }
            Some(EngineKind::Postgres) => {
                let parts = UrlParts::parse(database_url);
                let socket = query_value(&parts, "host");
                let host = socket
                    .or(parts.host.clone())
                    .unwrap_or_else(|| "localhost".to_owned());
                let host = if host.starts_with('/') {
                    host
                } else {
                    host.to_ascii_lowercase()
                };
                self.store_database = Some(StoreDatabase {
                    host,
                    port: query_value(&parts, "port")
                        .or(parts.port.clone())
                        .and_then(|port| port.parse().ok())
                        .unwrap_or(5432),
                    database: query_value(&parts, "dbname").unwrap_or(parts.database.clone()),
                });
            }
            _ => {}
        }
        self
    }

    /// Checks `url` for an integration of `kind` and returns the target to connect to.
    ///
    /// # Errors
    ///
    /// [`ConnectError::NotAllowed`] when the policy refuses the target,
    /// [`ConnectError::Unreachable`] when it cannot be resolved or found (the same text for
    /// every such case), [`ConnectError::InvalidUrl`] for a URL that names no target at all.
    pub async fn check(&self, kind: EngineKind, url: &str) -> Result<Target, ConnectError> {
        if EngineKind::from_url(url) != Some(kind) {
            return Err(ConnectError::InvalidUrl(format!(
                "the url is not a {kind} url"
            )));
        }
        match kind {
            EngineKind::Sqlite => self.check_sqlite(url),
            EngineKind::Postgres | EngineKind::Mysql => self.check_server(kind, url).await,
        }
    }

    fn check_sqlite(&self, url: &str) -> Result<Target, ConnectError> {
        let path = crate::sqlite::path_of_url(url)?;
        let path = normalize(&path).ok_or(ConnectError::NotAllowed)?;
        if !self.in_allowed_directory(&path) || self.is_forbidden_path(&path) {
            return Err(ConnectError::NotAllowed);
        }
        // Symbolic links are followed before the decision, and the decision is about the file
        // itself: a link (or a hard link) to the store is the store.
        let resolved = std::fs::canonicalize(&path)
            .map_err(|_| ConnectError::Unreachable(cannot_connect()))?;
        if !self.in_allowed_directory(&resolved)
            || self.is_forbidden_path(&resolved)
            || self.is_store_file(&resolved)
        {
            return Err(ConnectError::NotAllowed);
        }
        Ok(Target {
            kind: EngineKind::Sqlite,
            url: format!("sqlite://{}", resolved.display()),
        })
    }

    async fn check_server(&self, kind: EngineKind, url: &str) -> Result<Target, ConnectError> {
        let parts = UrlParts::parse(url);
        let socket = socket_of(kind, &parts)?;
        let port = port_of(kind, &parts)?;
        let database = parts.database.clone();
        if let Some(socket) = socket {
            return self.check_socket(kind, url, &socket, port, &database);
        }
        let Some(host) = parts
            .host
            .as_deref()
            .map(percent_decode)
            .filter(|host| !host.is_empty())
        else {
            return Err(ConnectError::InvalidUrl("the url names no host".into()));
        };
        let bare = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let addresses = resolve(&bare, port).await?;
        self.check_addresses(&bare, &addresses)?;
        if kind == EngineKind::Postgres
            && self
                .is_store_server(&bare, &addresses, port, &database)
                .await
        {
            return Err(ConnectError::NotAllowed);
        }
        let pinned = canonical_ip(addresses[0]);
        let authority = match pinned {
            IpAddr::V4(v4) => format!("{v4}:{port}"),
            IpAddr::V6(v6) => format!("[{v6}]:{port}"),
        };
        Ok(Target {
            kind,
            url: replace_host(url, &authority),
        })
    }

    /// Every address the name resolves to must pass: a name is one decision. A host passes when
    /// it is named in the list, its address is in a listed network, or it is neither local nor
    /// special.
    fn check_addresses(&self, bare: &str, addresses: &[IpAddr]) -> Result<(), ConnectError> {
        let named = self
            .hosts
            .iter()
            .any(|allowed| allowed.eq_ignore_ascii_case(bare));
        for address in addresses {
            let listed = self
                .networks
                .iter()
                .any(|network| network.contains(*address));
            if !(named || listed || !is_local_or_special(*address)) {
                return Err(ConnectError::NotAllowed);
            }
        }
        Ok(())
    }

    fn check_socket(
        &self,
        kind: EngineKind,
        url: &str,
        socket: &str,
        port: u16,
        database: &str,
    ) -> Result<Target, ConnectError> {
        let path = normalize(Path::new(socket)).ok_or(ConnectError::NotAllowed)?;
        if !self.in_allowed_directory(&path) || self.is_forbidden_path(&path) {
            return Err(ConnectError::NotAllowed);
        }
        let resolved = std::fs::canonicalize(&path)
            .map_err(|_| ConnectError::Unreachable(cannot_connect()))?;
        if !self.in_allowed_directory(&resolved) || self.is_forbidden_path(&resolved) {
            return Err(ConnectError::NotAllowed);
        }
        if kind == EngineKind::Postgres
            && let Some(store) = &self.store_database
            && store.port == port
            && store.database == database
            && std::fs::canonicalize(&store.host).is_ok_and(|store_dir| store_dir == resolved)
        {
            return Err(ConnectError::NotAllowed);
        }
        Ok(Target {
            kind,
            url: url.to_owned(),
        })
    }

    async fn is_store_server(
        &self,
        host: &str,
        addresses: &[IpAddr],
        port: u16,
        database: &str,
    ) -> bool {
        let Some(store) = &self.store_database else {
            return false;
        };
        if store.port != port || store.database != database {
            return false;
        }
        if store.host.eq_ignore_ascii_case(host) || store.host.starts_with('/') {
            return true;
        }
        let store_addresses: Vec<IpAddr> = match store.host.parse::<IpAddr>() {
            Ok(address) => vec![address],
            Err(_) => match tokio::net::lookup_host((store.host.as_str(), port)).await {
                Ok(found) => found.map(|address| address.ip()).collect(),
                // Unknown: refuse rather than risk it.
                Err(_) => return true,
            },
        };
        addresses.iter().any(|address| {
            let address = canonical_ip(*address);
            store_addresses.iter().any(|store| {
                let store = canonical_ip(*store);
                store == address || (is_local_or_special(store) && is_local_or_special(address))
            })
        })
    }

    fn in_allowed_directory(&self, path: &Path) -> bool {
        self.directories
            .iter()
            .any(|directory| path.starts_with(directory))
    }

    fn is_forbidden_path(&self, path: &Path) -> bool {
        self.forbidden_directories
            .iter()
            .any(|directory| path.starts_with(directory))
            || self.forbidden_files.iter().any(|file| {
                // the store's journal and WAL files are the store too
                path.starts_with(file)
                    || path
                        .to_str()
                        .zip(file.to_str())
                        .is_some_and(|(path, file)| path.starts_with(file))
            })
    }

    #[cfg(unix)]
    fn is_store_file(&self, path: &Path) -> bool {
        use std::os::unix::fs::MetadataExt;
        let Ok(target) = std::fs::metadata(path) else {
            return false;
        };
        self.forbidden_files.iter().any(|file| {
            std::fs::metadata(file)
                .is_ok_and(|store| store.dev() == target.dev() && store.ino() == target.ino())
        })
    }

    #[cfg(not(unix))]
    fn is_store_file(&self, _path: &Path) -> bool {
        false
    }
}

/// The socket a server URL names, if any (`?host=/dir` for PostgreSQL, `?socket=/path` for
/// MySQL, or a host part starting with `/`); any query option not allowed for the engine is
/// refused.
fn socket_of(kind: EngineKind, parts: &UrlParts) -> Result<Option<String>, ConnectError> {
    let allowed_options: &[&str] = match kind {
        EngineKind::Postgres => &["sslmode", "application_name"],
        _ => &["ssl-mode", "sslmode", "charset"],
    };
    let mut socket = None;
    for (key, value) in &parts.query {
        let key = key.to_ascii_lowercase();
        match (kind, key.as_str()) {
            (EngineKind::Postgres, "host") | (EngineKind::Mysql, "socket") => {
                socket = Some(percent_decode(value));
            }
            (_, option) if allowed_options.contains(&option) => {}
            _ => return Err(ConnectError::NotAllowed),
        }
    }
    // PostgreSQL also reads a socket directory from the host part (`%2Frun%2Fpostgresql`).
    let host = parts.host.as_deref().map(percent_decode);
    if let Some(host) = host
        && host.starts_with('/')
    {
        socket = Some(host);
    }
    Ok(socket)
}

/// The URL's port, or the engine's default.
fn port_of(kind: EngineKind, parts: &UrlParts) -> Result<u16, ConnectError> {
    match &parts.port {
        Some(port) => port
            .parse()
            .map_err(|_| ConnectError::InvalidUrl("the port is not a number".into())),
        None => Ok(match kind {
            EngineKind::Postgres => 5432,
            _ => 3306,
        }),
    }
}

/// The addresses of a host (an address itself, or a name looked up); at least one.
async fn resolve(bare: &str, port: u16) -> Result<Vec<IpAddr>, ConnectError> {
    let addresses: Vec<IpAddr> = match bare.parse::<IpAddr>() {
        Ok(address) => vec![address],
        Err(_) => tokio::net::lookup_host((bare, port))
            .await
            .map_err(|_| ConnectError::Unreachable(cannot_connect()))?
            .map(|address| address.ip())
            .collect(),
    };
    if addresses.is_empty() {
        return Err(ConnectError::Unreachable(cannot_connect()));
    }
    Ok(addresses)
}

/// What [`ConnectError::Unreachable`] says when a target cannot be found or resolved.
fn cannot_connect() -> String {
    "the target cannot be found".to_owned()
}

fn query_value(parts: &UrlParts, key: &str) -> Option<String> {
    parts
        .query
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(key))
        .map(|(_, value)| percent_decode(value))
}

fn is_host_name(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 253
        && text.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && label
                    .chars()
                    .all(|character| character.is_ascii_alphanumeric() || character == '-')
        })
}

/// `path` made absolute-clean without touching the file system: `.` dropped, `..` applied.
/// `None` for a relative path or one that climbs above the root.
fn normalize(path: &Path) -> Option<PathBuf> {
    if !path.is_absolute() {
        return None;
    }
    let mut clean = PathBuf::new();
    for component in path.components() {
        match component {
            Component::RootDir | Component::Prefix(_) => clean.push(component),
            Component::CurDir => {}
            Component::ParentDir => {
                if !clean.pop() {
                    return None;
                }
            }
            Component::Normal(part) => clean.push(part),
        }
    }
    Some(clean)
}

/// `url` with its authority's host and port replaced by `authority` (user info kept).
fn replace_host(url: &str, authority: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (current, tail) = rest.split_at(end);
    let userinfo = current.rfind('@').map(|at| &current[..=at]).unwrap_or("");
    format!("{scheme}://{userinfo}{authority}{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(result: Result<Target, ConnectError>) -> bool {
        matches!(result, Err(ConnectError::NotAllowed))
    }

    #[test]
    fn networks_contain_their_addresses() {
        let network = Network::parse("10.1.0.0/16").unwrap();
        assert!(network.contains("10.1.200.3".parse().unwrap()));
        assert!(!network.contains("10.2.0.1".parse().unwrap()));
        assert!(network.contains("::ffff:10.1.0.9".parse().unwrap()));
        let single = Network::parse("127.0.0.1").unwrap();
        assert!(single.contains("127.0.0.1".parse().unwrap()));
        assert!(!single.contains("127.0.0.2".parse().unwrap()));
        let all = Network::parse("0.0.0.0/0").unwrap();
        assert!(all.contains("8.8.8.8".parse().unwrap()));
        let v6 = Network::parse("fd00::/8").unwrap();
        assert!(v6.contains("fd12::1".parse().unwrap()));
        assert!(Network::parse("10.0.0.0/33").is_none());
    }

    #[test]
    fn allow_lists_parse_and_reject_nonsense() {
        let policy = TargetPolicy::parse(" db.internal, 10.0.0.0/8 ,/srv/sqlite,::1,").unwrap();
        assert_eq!(policy.hosts, vec!["db.internal"]);
        assert_eq!(policy.networks.len(), 2);
        assert_eq!(policy.directories, vec![PathBuf::from("/srv/sqlite")]);
        assert!(TargetPolicy::parse("relative/dir").is_err());
        assert!(TargetPolicy::parse("bad host!").is_err());
        assert!(TargetPolicy::parse("/../x").is_err());
    }

    #[test]
    fn local_and_special_addresses_are_known() {
        for text in [
            "127.0.0.1",
            "127.9.9.9",
            "169.254.169.254",
            "0.0.0.0",
            "::1",
            "fe80::1",
            "::",
            "::ffff:127.0.0.1",
            "224.0.0.1",
            "255.255.255.255",
        ] {
            assert!(is_local_or_special(text.parse().unwrap()), "{text}");
        }
        for text in [
            "10.0.0.5",
            "192.168.1.1",
            "172.16.0.1",
            "8.8.8.8",
            "fd00::5",
        ] {
            assert!(!is_local_or_special(text.parse().unwrap()), "{text}");
        }
    }

    #[tokio::test]
    async fn defaults_refuse_files_sockets_and_this_machine() {
        let policy = TargetPolicy::default();
        for (kind, url) in [
            (EngineKind::Sqlite, "sqlite:///etc/passwd"),
            (EngineKind::Sqlite, "sqlite:///nonexistent/x.db"),
            (EngineKind::Postgres, "postgres://u@localhost/db"),
            (EngineKind::Postgres, "postgres://u@127.0.0.1:5432/db"),
            (EngineKind::Postgres, "postgres://u@[::1]/db"),
            (
                EngineKind::Postgres,
                "postgres://u@x/db?host=/var/run/postgresql",
            ),
            (
                EngineKind::Postgres,
                "postgres://u@%2Fvar%2Frun%2Fpostgresql/db",
            ),
            (EngineKind::Postgres, "postgres://u@169.254.169.254/db"),
            (EngineKind::Postgres, "postgres://u@0.0.0.0/db"),
            (
                EngineKind::Postgres,
                "postgres://u@10.0.0.1/db?sslrootcert=/etc/shadow",
            ),
            (
                EngineKind::Mysql,
                "mysql://root@localhost/db?socket=/run/mysqld/mysqld.sock",
            ),
            (EngineKind::Mysql, "mysql://root@127.0.0.1/db"),
        ] {
            assert!(refused(policy.check(kind, url).await), "{url}");
        }
    }

    #[tokio::test]
    async fn network_addresses_pass_and_are_pinned() {
        let policy = TargetPolicy::default();
        let target = policy
            .check(
                EngineKind::Postgres,
                "postgres://u:pw@10.20.30.40/sales?sslmode=require",
            )
            .await
            .unwrap();
        assert_eq!(
            target.url(),
            "postgres://u:pw@10.20.30.40:5432/sales?sslmode=require"
        );
        let target = policy
            .check(EngineKind::Mysql, "mysql://root@[fd00::7]:3307/app")
            .await
            .unwrap();
        assert_eq!(target.url(), "mysql://root@[fd00::7]:3307/app");
    }

    #[tokio::test]
    async fn listed_networks_and_directories_open_up() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("shop.db");
        std::fs::write(&file, b"").unwrap();
        let list = format!("127.0.0.0/8,{}", dir.path().display());
        let policy = TargetPolicy::parse(&list).unwrap();
        assert!(
            policy
                .check(EngineKind::Postgres, "postgres://u@127.0.0.1:5432/db")
                .await
                .is_ok()
        );
        let url = format!("sqlite://{}", file.display());
        assert!(policy.check(EngineKind::Sqlite, &url).await.is_ok());
        // a path that climbs out of the allowed directory is not in it
        let escape = format!("sqlite://{}/../../etc/passwd", dir.path().display());
        assert!(refused(policy.check(EngineKind::Sqlite, &escape).await));
    }

    #[tokio::test]
    async fn the_store_and_the_data_directory_are_never_targets() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        std::fs::create_dir_all(&data).unwrap();
        let store = data.join("cairn.db");
        std::fs::write(&store, b"store").unwrap();
        let outside_store = dir.path().join("elsewhere.db");
        std::fs::write(&outside_store, b"other store").unwrap();
        let link = dir.path().join("innocent.db");
        std::os::unix::fs::symlink(&store, &link).unwrap();
        let hard = dir.path().join("hard.db");
        std::fs::hard_link(&outside_store, &hard).unwrap();
        let policy = TargetPolicy::parse(&dir.path().display().to_string())
            .unwrap()
            .forbid_directory(&data)
            .forbid_store(&format!("sqlite://{}", outside_store.display()));
        for path in [&store, &link, &outside_store, &hard] {
            let url = format!("sqlite://{}", path.display());
            assert!(
                refused(policy.check(EngineKind::Sqlite, &url).await),
                "{url}"
            );
        }
        let wal = format!("sqlite://{}-wal", outside_store.display());
        assert!(refused(policy.check(EngineKind::Sqlite, &wal).await));

        let pg = TargetPolicy::parse("127.0.0.0/8")
            .unwrap()
            .forbid_store("postgres://cairn:pw@localhost:5432/cairn");
        assert!(refused(
            pg.check(EngineKind::Postgres, "postgres://x@127.0.0.1/cairn")
                .await
        ));
        assert!(
            pg.check(EngineKind::Postgres, "postgres://x@127.0.0.1/shop")
                .await
                .is_ok()
        );
    }

    #[tokio::test]
    async fn refusals_do_not_tell_whether_a_file_exists() {
        let dir = tempfile::tempdir().unwrap();
        let present = dir.path().join("present.db");
        std::fs::write(&present, b"").unwrap();
        let policy = TargetPolicy::default();
        let a = policy
            .check(
                EngineKind::Sqlite,
                &format!("sqlite://{}", present.display()),
            )
            .await
            .unwrap_err()
            .to_string();
        let b = policy
            .check(
                EngineKind::Sqlite,
                &format!("sqlite://{}/absent.db", dir.path().display()),
            )
            .await
            .unwrap_err()
            .to_string();
        assert_eq!(a, b);
        assert_eq!(
            a,
            "cannot use this connection: not allowed by the server's integration policy"
        );
    }

    #[test]
    fn hosts_are_replaced_keeping_user_info() {
        assert_eq!(
            replace_host("postgres://a:b@c@host:1/db?x=1", "10.0.0.1:5432"),
            "postgres://a:b@c@10.0.0.1:5432/db?x=1"
        );
        assert_eq!(
            replace_host("mysql://h", "[::2]:3306"),
            "mysql://[::2]:3306"
        );
    }
}
