//! A throwaway PostgreSQL server on a unix socket.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use crate::CommandFailed;
use crate::process::{self, ServerDirs, WatchedServer};
use crate::script::{Dialect, Script};

/// The port number only names the socket file (`.s.PGSQL.5432`); nothing listens on TCP.
const PORT: u16 = 5432;
const SUPERUSER: &str = "postgres";

/// A PostgreSQL server owned by this test process, reachable only through
/// `socket_dir()/.s.PGSQL.5432`: the superuser `postgres` signs in without a password, every
/// other role with its password (scram-sha-256), so tests can check authentication failures.
#[derive(Debug)]
pub struct PgServer {
    root: PathBuf,
    socket_dir: PathBuf,
    bin_dir: PathBuf,
    psql: PathBuf,
    pg_isready: Option<PathBuf>,
    version: String,
    data_dir: PathBuf,
    /// The server's command line (through `runuser` when the tests run as root).
    command: Vec<String>,
    as_root: bool,
}

/// The PostgreSQL server of this test process, started on first use.
///
/// Returns `None` (after printing `skipping: ...`) when PostgreSQL's binaries are not installed.
/// Panics when they are installed but the server does not start: that is a broken machine, not a
/// reason to skip.
pub fn postgres() -> Option<&'static PgServer> {
    static SERVER: OnceLock<Option<PgServer>> = OnceLock::new();
    SERVER
        .get_or_init(|| {
            let binaries = find_binaries()?;
            match PgServer::start(binaries) {
                Ok(server) => Some(server),
                Err(error) => panic!("postgresql is installed but did not start: {error}"),
            }
        })
        .as_ref()
}

/// A PostgreSQL server of the calling test's own, apart from the shared one [`postgres`]
/// returns, for a test that stops and starts it ([`PgServer::stop`], [`PgServer::start_again`]).
///
/// Returns `None` (after printing `skipping: ...`) when PostgreSQL's binaries are not installed.
pub fn private_postgres() -> Option<PgServer> {
    let binaries = find_binaries()?;
    match PgServer::start(binaries) {
        Ok(server) => Some(server),
        Err(error) => panic!("postgresql is installed but did not start: {error}"),
    }
}

struct Binaries {
    bin_dir: PathBuf,
    psql: PathBuf,
    pg_isready: Option<PathBuf>,
}

fn find_binaries() -> Option<Binaries> {
    let mut candidates: Vec<PathBuf> = Vec::new();
    if let Some(explicit) = std::env::var_os("CAIRN_PG_BIN") {
        candidates.push(PathBuf::from(explicit));
    }
    // Debian keeps each major version apart: prefer the newest.
    let mut versioned: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let major = entry.file_name().to_str()?.parse::<u32>().ok()?;
            Some((major, entry.path().join("bin")))
        })
        .collect();
    versioned.sort_by_key(|(major, _)| std::cmp::Reverse(*major));
    candidates.extend(versioned.into_iter().map(|(_, dir)| dir));
    candidates.extend(process::path_dirs());

    let Some(bin_dir) = process::find_dir_with(&candidates, &["initdb", "postgres"]) else {
        eprintln!(
            "skipping: postgresql tests because initdb and postgres were not found \
             (looked in CAIRN_PG_BIN, /usr/lib/postgresql/*/bin and PATH; \
             install the Debian package postgresql)"
        );
        return None;
    };
    let psql = if bin_dir.join("psql").exists() {
        Some(bin_dir.join("psql"))
    } else {
        process::find_program("psql")
    };
    let Some(psql) = psql else {
        eprintln!(
            "skipping: postgresql tests because psql was not found (install postgresql-client)"
        );
        return None;
    };
    let pg_isready = if bin_dir.join("pg_isready").exists() {
        Some(bin_dir.join("pg_isready"))
    } else {
        process::find_program("pg_isready")
    };
    Some(Binaries {
        bin_dir,
        psql,
        pg_isready,
    })
}

impl PgServer {
    fn start(binaries: Binaries) -> Result<PgServer, CommandFailed> {
        let as_root = process::running_as_root();
        let ServerDirs {
            root,
            data_dir,
            socket_dir,
        } = ServerDirs::make("cairn-pg-", as_root.then_some(SUPERUSER))?;
        init_cluster(&binaries.bin_dir, &data_dir, as_root)?;
        let command = server_command(&binaries.bin_dir, &data_dir, &socket_dir, as_root);
        let mut pg_server = PgServer {
            root,
            socket_dir,
            bin_dir: binaries.bin_dir,
            psql: binaries.psql,
            pg_isready: binaries.pg_isready,
            version: String::new(),
            data_dir,
            command,
            as_root,
        };
        pg_server.launch()?;
        pg_server.version = pg_server
            .psql("postgres", "SHOW server_version")?
            .trim()
            .to_owned();
        Ok(pg_server)
    }

    /// Starts the server process (under a watcher) and waits until it accepts connections.
    fn launch(&self) -> Result<(), CommandFailed> {
        let log_file = self.root.join("server.log");
        let pid_file = self.data_dir.join("postmaster.pid");
        let watcher = process::start_watched(&WatchedServer {
            root: &self.root,
            pid_file: Some(&pid_file),
            stop_signal: "INT",
            log_file: &log_file,
            command: self.command.clone(),
        })?;
        process::wait_ready("postgres", &self.root, &log_file, watcher, || {
            if let Some(pg_isready) = &self.pg_isready {
                let status = self
                    .connect_to(Command::new(pg_isready).arg("-q"), "postgres")
                    .status();
                if !status.is_ok_and(|status| status.success()) {
                    return false;
                }
            }
            self.psql("postgres", "SELECT 1").is_ok()
        })
    }

    /// Stops the server the way an operator's fast shutdown does (open connections are cut)
    /// and waits until it is gone; its data stays for [`PgServer::start_again`]. Only for a
    /// server from [`private_postgres`]: the shared one serves other tests.
    pub fn stop(&self) -> Result<(), CommandFailed> {
        let mut command = as_server_user(&self.bin_dir.join("pg_ctl"), self.as_root);
        command.extend(
            [
                "stop",
                "-D",
                &self.data_dir.display().to_string(),
                "-m",
                "fast",
                "-w",
                "-t",
                "60",
            ]
            .map(str::to_owned),
        );
        process::run(Command::new(&command[0]).args(&command[1..])).map(|_| ())
    }

    /// Starts a server stopped by [`PgServer::stop`] again, on the same data and socket, and
    /// waits until it accepts connections.
    pub fn start_again(&self) -> Result<(), CommandFailed> {
        self.launch()
    }

    /// The directory holding the server's socket (`.s.PGSQL.5432`).
    pub fn socket_dir(&self) -> &Path {
        &self.socket_dir
    }

    /// The port that names the socket file (no TCP listener).
    pub fn port(&self) -> u16 {
        PORT
    }

    /// The directory holding `initdb`, `postgres` and friends.
    pub fn bin_dir(&self) -> &Path {
        &self.bin_dir
    }

    /// The temporary directory of this server (data, socket, log), removed when the process ends.
    pub fn root_dir(&self) -> &Path {
        &self.root
    }

    /// `SHOW server_version`, e.g. `15.18 (Debian 15.18-0+deb12u1)`.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// A sqlx URL for database `db` as the superuser over the socket:
    /// `postgres://postgres@localhost/DB?host=SOCKET_DIR`.
    pub fn url(&self, db: &str) -> String {
        format!(
            "postgres://{SUPERUSER}@localhost/{db}?host={}",
            crate::encode_query_value(&self.socket_dir.display().to_string())
        )
    }

    /// Creates a fresh, uniquely named database and returns its sqlx URL (see [`PgServer::url`]).
    pub fn create_database(&self, name_prefix: &str) -> String {
        self.url(&self.create_database_named(name_prefix))
    }

    /// Creates a fresh, uniquely named database (`PREFIX_PID_N`) and returns its name.
    pub fn create_database_named(&self, name_prefix: &str) -> String {
        let name = crate::unique_database_name(name_prefix);
        self.psql("postgres", &format!("CREATE DATABASE \"{name}\""))
            .unwrap_or_else(|error| panic!("cannot create database {name}: {error}"));
        name
    }

    /// `command` (a client tool) pointed at database `db` on this server as the superuser.
    fn connect_to<'c>(&self, command: &'c mut Command, db: &str) -> &'c mut Command {
        command
            .arg("-h")
            .arg(&self.socket_dir)
            .arg("-p")
            .arg(PORT.to_string())
            .arg("-U")
            .arg(SUPERUSER)
            .arg("-d")
            .arg(db)
    }

    /// Creates a fresh database (`PREFIX_PID_N`) holding the Pagila sample from the shared data
    /// directory `data` (see [`crate::shared_data`]), schema and rows; returns its name.
    pub fn create_pagila(&self, name_prefix: &str, data: &Path) -> String {
        let pagila = self.create_database_named(name_prefix);
        self.psql(&pagila, &data.join("pagila/pagila-schema.sql"))
            .expect("pagila schema");
        self.psql(&pagila, &data.join("pagila/pagila-data.sql"))
            .expect("pagila data");
        pagila
    }

    /// Runs SQL (or a script file, see [`Script`]) with `psql -v ON_ERROR_STOP=1` on database
    /// `db` (a name, or a URL from [`PgServer::create_database`]). Returns the unaligned,
    /// tuples-only output: one line per row, fields separated by `|`.
    pub fn psql<'a>(
        &self,
        db: &str,
        script: impl Into<Script<'a>>,
    ) -> Result<String, CommandFailed> {
        let script = script.into();
        let file = script.materialize(
            Dialect::Postgres,
            &self.root.join("scratch"),
            database_name(db),
        )?;
        let mut command = Command::new(&self.psql);
        command.args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1"]);
        process::run(
            self.connect_to(&mut command, database_name(db))
                .arg("-f")
                .arg(file.path())
                .env("PGCLIENTENCODING", "UTF8")
                .env_remove("PGPASSWORD")
                .env_remove("PGSERVICE"),
        )
    }
}

/// `program`'s command line, run as the server's user (through `runuser` when the tests run
/// as root).
fn as_server_user(program: &Path, as_root: bool) -> Vec<String> {
    let mut command = Vec::new();
    if as_root {
        command.extend(["runuser", "-u", SUPERUSER, "--"].map(str::to_owned));
    }
    command.push(program.display().to_string());
    command
}

/// Creates the cluster in `data_dir`: only the superuser is trusted, other roles must give
/// their password, so tests can exercise authentication failures.
fn init_cluster(bin_dir: &Path, data_dir: &Path, as_root: bool) -> Result<(), CommandFailed> {
    let mut initdb = as_server_user(&bin_dir.join("initdb"), as_root);
    initdb.extend(
        [
            "-D",
            &data_dir.display().to_string(),
            "--auth=trust",
            "-U",
            SUPERUSER,
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
        ]
        .map(str::to_owned),
    );
    process::run(Command::new(&initdb[0]).args(&initdb[1..]))?;
    std::fs::write(
        data_dir.join("pg_hba.conf"),
        "local all postgres trust\nlocal all all scram-sha-256\n",
    )
    .map_err(|error| CommandFailed {
        command: "write pg_hba.conf".to_owned(),
        stderr: error.to_string(),
    })
}

/// The server's command line: the socket only, no durability (a throwaway server), room for
/// many connections and for big generated schemas.
fn server_command(
    bin_dir: &Path,
    data_dir: &Path,
    socket_dir: &Path,
    as_root: bool,
) -> Vec<String> {
    let mut server = as_server_user(&bin_dir.join("postgres"), as_root);
    server.extend(
        [
            "-D",
            &data_dir.display().to_string(),
            "-k",
            &socket_dir.display().to_string(),
            "-p",
            &PORT.to_string(),
            "-c",
            "listen_addresses=",
            "-c",
            "fsync=off",
            "-c",
            "synchronous_commit=off",
            "-c",
            "full_page_writes=off",
            "-c",
            "max_connections=200",
            "-c",
            // big generated schemas create thousands of tables in one transaction
            "max_locks_per_transaction=1024",
            "-c",
            "track_counts=on",
        ]
        .map(str::to_owned),
    );
    server
}

/// The database name of a URL made by this kit, or `db` itself when it is a plain name.
fn database_name(db: &str) -> &str {
    match db
        .strip_prefix("postgres://")
        .or_else(|| db.strip_prefix("postgresql://"))
    {
        Some(rest) => {
            let after_host = rest.split_once('/').map_or("", |(_, path)| path);
            after_host.split(['?', '#']).next().unwrap_or(after_host)
        }
        None => db,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_name_comes_from_a_url_or_is_the_name() {
        assert_eq!(
            database_name("postgres://postgres@localhost/pagila_1_2?host=/tmp/x"),
            "pagila_1_2"
        );
        assert_eq!(database_name("chinook"), "chinook");
    }
}
