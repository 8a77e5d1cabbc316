//! A throwaway MariaDB (or MySQL) server on a unix socket.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use crate::CommandFailed;
use crate::process::{self, ServerDirs, WatchedServer};
use crate::script::{Dialect, Script};

const SERVER_USER: &str = "mysql";

/// A MariaDB server owned by this test process, reachable only through `socket_path()`, where
/// `root` signs in without a password.
#[derive(Debug)]
pub struct MariaDbServer {
    root: PathBuf,
    socket_path: PathBuf,
    client: PathBuf,
    version: String,
}

/// The MariaDB server of this test process, started on first use.
///
/// Returns `None` (after printing `skipping: ...`) when the binaries are not installed (Debian:
/// `mariadb-server mariadb-client`). Panics when they are installed but the server does not start.
pub fn mariadb() -> Option<&'static MariaDbServer> {
    static SERVER: OnceLock<Option<MariaDbServer>> = OnceLock::new();
    SERVER
        .get_or_init(|| {
            let binaries = find_binaries()?;
            match MariaDbServer::start(binaries) {
                Ok(server) => Some(server),
                Err(error) => panic!("mariadb is installed but did not start: {error}"),
            }
        })
        .as_ref()
}

struct Binaries {
    server: PathBuf,
    install_db: PathBuf,
    client: PathBuf,
}

fn find_binaries() -> Option<Binaries> {
    let first = |names: &[&str]| names.iter().find_map(|name| process::find_program(name));
    let server = first(&["mariadbd", "mysqld"]);
    let install_db = first(&["mariadb-install-db", "mysql_install_db"]);
    let client = first(&["mariadb", "mysql"]);
    match (server, install_db, client) {
        (Some(server), Some(install_db), Some(client)) => Some(Binaries {
            server,
            install_db,
            client,
        }),
        _ => {
            eprintln!(
                "skipping: mariadb tests because mariadbd, mariadb-install-db or the mariadb \
                 client was not found on PATH (install the Debian packages mariadb-server \
                 mariadb-client)"
            );
            None
        }
    }
}

impl MariaDbServer {
    fn start(binaries: Binaries) -> Result<MariaDbServer, CommandFailed> {
        let as_root = process::running_as_root();
        let ServerDirs {
            root,
            data_dir,
            socket_dir,
        } = ServerDirs::make("cairn-mariadb-", as_root.then_some(SERVER_USER))?;
        let socket_path = socket_dir.join("mysqld.sock");

        let mut install = Command::new(&binaries.install_db);
        install
            .arg("--no-defaults")
            .arg(format!("--datadir={}", data_dir.display()))
            .arg("--auth-root-authentication-method=normal")
            .arg("--skip-test-db");
        if as_root {
            install.arg(format!("--user={SERVER_USER}"));
        }
        process::run(&mut install)?;

        let mut server = vec![
            binaries.server.display().to_string(),
            "--no-defaults".to_owned(),
            format!("--datadir={}", data_dir.display()),
            format!("--socket={}", socket_path.display()),
            format!("--pid-file={}", socket_dir.join("mariadbd.pid").display()),
            "--skip-networking".to_owned(),
            "--skip-log-bin".to_owned(),
            "--performance-schema=ON".to_owned(),
            "--character-set-server=utf8mb4".to_owned(),
            "--collation-server=utf8mb4_general_ci".to_owned(),
            "--innodb-buffer-pool-size=128M".to_owned(),
            "--innodb-flush-log-at-trx-commit=0".to_owned(),
            "--max-connections=200".to_owned(),
        ];
        if as_root {
            server.push(format!("--user={SERVER_USER}"));
        }
        let log_file = root.join("server.log");
        let watcher = process::start_watched(&WatchedServer {
            root: &root,
            pid_file: None,
            stop_signal: "TERM",
            log_file: &log_file,
            command: server,
        })?;

        let mut mariadb_server = MariaDbServer {
            root: root.clone(),
            socket_path,
            client: binaries.client,
            version: String::new(),
        };
        process::wait_ready("mariadbd", &root, &log_file, watcher, || {
            mariadb_server.socket_path.exists() && mariadb_server.mysql("", "SELECT 1").is_ok()
        })?;
        mariadb_server.version = mariadb_server
            .mysql("", "SELECT VERSION()")?
            .trim()
            .to_owned();
        Ok(mariadb_server)
    }

    /// The server's socket file.
    pub fn socket_path(&self) -> &Path {
        &self.socket_path
    }

    /// The temporary directory of this server (data, socket, log), removed when the process ends.
    pub fn root_dir(&self) -> &Path {
        &self.root
    }

    /// `SELECT VERSION()`, e.g. `10.11.19-MariaDB-0+deb12u1`.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// A sqlx URL for database `db` as `root` over the socket:
    /// `mysql://root@localhost/DB?socket=SOCKET`.
    pub fn url(&self, db: &str) -> String {
        format!(
            "mysql://root@localhost/{db}?socket={}",
            crate::encode_query_value(&self.socket_path.display().to_string())
        )
    }

    /// Creates a fresh, uniquely named database (utf8mb4) and returns its sqlx URL.
    pub fn create_database(&self, name_prefix: &str) -> String {
        self.url(&self.create_database_named(name_prefix))
    }

    /// Creates a fresh, uniquely named database (`PREFIX_PID_N`) and returns its name.
    pub fn create_database_named(&self, name_prefix: &str) -> String {
        let name = crate::unique_database_name(name_prefix);
        self.mysql(
            "",
            &format!("CREATE DATABASE `{name}` CHARACTER SET utf8mb4"),
        )
        .unwrap_or_else(|error| panic!("cannot create database {name}: {error}"));
        name
    }

    /// Runs SQL (or a script file, see [`Script`]) with the `mariadb` client as `root` on
    /// database `db` (a name, a URL from [`MariaDbServer::create_database`], or `""` for none).
    /// Returns the batch output without column names: one line per row, fields tab-separated.
    pub fn mysql<'a>(
        &self,
        db: &str,
        script: impl Into<Script<'a>>,
    ) -> Result<String, CommandFailed> {
        let script = script.into();
        let file = script.materialize(
            Dialect::MySql,
            &self.root.join("scratch"),
            database_name(db),
        )?;
        let mut command = Command::new(&self.client);
        command
            .arg("--no-defaults")
            .arg(format!("--socket={}", self.socket_path.display()))
            .arg("--user=root")
            .arg("--batch")
            .arg("--skip-column-names")
            .arg("--default-character-set=utf8mb4");
        let name = database_name(db);
        if !name.is_empty() {
            command.arg(name);
        }
        process::run_with_stdin(&mut command, file.path())
    }
}

/// The database name of a URL made by this kit, or `db` itself when it is a plain name.
fn database_name(db: &str) -> &str {
    match db
        .strip_prefix("mysql://")
        .or_else(|| db.strip_prefix("mariadb://"))
    {
        Some(rest) => {
            let after_host = rest.split_once('/').map_or("", |(_, path)| path);
            after_host.split(['?', '#']).next().unwrap_or(after_host)
        }
        None => db,
    }
}
