//! `cairn backup` and `cairn restore`: a consistent snapshot of the SQLite store taken while the
//! server runs, and its return into a data directory.
//!
//! A backup holds the store only. The search index is not in it (a server rebuilds it from the
//! store's change feed), nor the secret key (integration credentials and the audit chain's key
//! come from it): the key is kept apart from backups and restored beside them.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use cairn_store::{Store, StoreFileInfo};
use secrecy::SecretString;

/// What to tell an operator whose store is on PostgreSQL.
const POSTGRES_BACKUP: &str = "the store is on PostgreSQL: back it up with PostgreSQL's own \
tools, e.g. `pg_dump --format=custom --file cairn.dump DATABASE_URL`, and restore with \
`pg_restore --clean --if-exists --no-owner --dbname DATABASE_URL cairn.dump` (see the README's \
\"Backup and restore\"); `cairn backup` and `cairn restore` handle the embedded SQLite store";

/// The SQLite file a `sqlite:` store URL names.
fn sqlite_path(url: &str) -> Result<Option<PathBuf>> {
    let Some(rest) = url.strip_prefix("sqlite:") else {
        return Ok(None);
    };
    let path = rest.trim_start_matches("//");
    let path = path.split_once('?').map_or(path, |(path, _)| path);
    if path.is_empty() || path.starts_with(':') {
        bail!("the store {url} is not a file: there is nothing to back up or restore");
    }
    Ok(Some(PathBuf::from(path)))
}

fn is_postgres(url: &str) -> bool {
    url.starts_with("postgres:") || url.starts_with("postgresql:")
}

/// A file beside `path`, named after it, for work that is renamed into place when done.
fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let name = path
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_else(|| "cairn".into());
    path.with_file_name(format!(".{name}.{suffix}-{}", std::process::id()))
}

fn make_private(path: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
            .with_context(|| format!("cannot restrict {}", path.display()))?;
    }
    let _ = path;
    Ok(())
}

fn describe(info: &StoreFileInfo) -> String {
    format!(
        "migration {}, {} workspace{}, {} resource{}",
        info.migration,
        info.workspaces,
        if info.workspaces == 1 { "" } else { "s" },
        info.resources,
        if info.resources == 1 { "" } else { "s" },
    )
}

/// `cairn backup --to FILE`.
pub async fn backup(database_url: &str, data_dir: &Path, to: &Path, force: bool) -> Result<()> {
    if is_postgres(database_url) {
        bail!("{POSTGRES_BACKUP}");
    }
    let store_path = sqlite_path(database_url)?
        .context("the store URL must start with sqlite:// or postgres://")?;
    if !store_path.is_file() {
        bail!(
            "no store at {}: nothing to back up (is --data-dir or --database-url right?)",
            store_path.display()
        );
    }
    if to.exists() && !force {
        bail!(
            "{} exists; choose another file or add --force to replace it",
            to.display()
        );
    }
    if to.is_dir() {
        bail!("{} is a directory; name a file", to.display());
    }
    let partial = sibling(to, "partial");
    let _ = std::fs::remove_file(&partial);
    let store = Store::open(database_url)
        .await
        .context("cannot open the store")?;
    let snapshot = store.snapshot_into(&partial).await;
    store.close().await;
    let outcome = async {
        snapshot.with_context(|| format!("cannot write a snapshot to {}", partial.display()))?;
        make_private(&partial)?;
        let info = cairn_store::inspect_store_file(&partial)
            .await
            .context("the snapshot does not check out")?;
        std::fs::File::open(&partial)
            .and_then(|file| file.sync_all())
            .with_context(|| format!("cannot flush {}", partial.display()))?;
        std::fs::rename(&partial, to)
            .with_context(|| format!("cannot move the snapshot to {}", to.display()))?;
        Ok::<_, anyhow::Error>(info)
    }
    .await;
    let info = match outcome {
        Ok(info) => info,
        Err(error) => {
            let _ = std::fs::remove_file(&partial);
            return Err(error);
        }
    };
    eprintln!(
        "backed up the store ({}) to {}",
        describe(&info),
        to.display()
    );
    eprintln!(
        "the backup does not hold the secret key that seals integration credentials and keys the \
         audit chain: keep {} (or your CAIRN_SECRET_KEY) safe, apart from the backup, and put it \
         back beside a restored store",
        data_dir.join("secret.key").display()
    );
    Ok(())
}

/// `cairn restore --from FILE`.
pub async fn restore(
    database_url: &str,
    data_dir: &Path,
    secret_key: Option<&SecretString>,
    from: &Path,
    force: bool,
) -> Result<()> {
    if is_postgres(database_url) {
        bail!("{POSTGRES_BACKUP}");
    }
    let store_path = sqlite_path(database_url)?
        .context("the store URL must start with sqlite:// or postgres://")?;
    // First what costs nothing: the file is there and is a SQLite database.
    cairn_store::check_sqlite_header(from)
        .map_err(|error| anyhow::anyhow!("cannot restore: {error}"))?;
    let index_dir = data_dir.join("index");
    let Some(lock) = cairn_search::DirectoryLock::take(&index_dir)? else {
        bail!(
            "a running cairn serve holds {}: stop it before restoring into it",
            data_dir.display()
        );
    };
    let existing = store_path.is_file();
    if existing && !force {
        bail!(
            "{} already has a store ({}); add --force to replace it (the replaced store is kept \
             beside it)",
            data_dir.display(),
            store_path.display()
        );
    }
    if let Some(parent) = store_path.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    // Checked as a copy in place: what is checked is exactly what goes live.
    let copy = sibling(&store_path, "restoring");
    let info = checked_copy(from, &copy).await?;
    let stamp = cairn_store::now_ms();
    if existing {
        keep_aside(&store_path, stamp)?;
    }
    std::fs::rename(&copy, &store_path)
        .with_context(|| format!("cannot move the restored store to {}", store_path.display()))?;
    // The index described the replaced store: the next server rebuilds it from the feed.
    lock.clear()?;
    drop(lock);
    keep_checkpoints_aside(data_dir, stamp)?;
    eprintln!(
        "restored {} ({}) into {}; the search index is rebuilt from the store when cairn serve \
         starts",
        from.display(),
        describe(&info),
        store_path.display()
    );
    warn_about_key(&info, secret_key, data_dir)?;
    Ok(())
}

/// `from` copied to `copy`, private and flushed, once it is known to be a Cairn store; nothing
/// is left behind when it is not.
async fn checked_copy(from: &Path, copy: &Path) -> Result<StoreFileInfo> {
    let outcome = async {
        std::fs::copy(from, copy)
            .with_context(|| format!("cannot copy {} to {}", from.display(), copy.display()))?;
        make_private(copy)?;
        let info = cairn_store::inspect_store_file(copy)
            .await
            .map_err(|error| anyhow::anyhow!("cannot restore: {}", reword(&error, copy, from)))?;
        std::fs::File::open(copy)
            .and_then(|file| file.sync_all())
            .with_context(|| format!("cannot flush {}", copy.display()))?;
        Ok::<_, anyhow::Error>(info)
    }
    .await;
    if outcome.is_err() {
        remove_sqlite_files(copy);
    }
    outcome
}

/// The replaced store with its write-ahead log, under one new name, so it opens as it was.
fn keep_aside(store_path: &Path, stamp: i64) -> Result<()> {
    let kept = store_path.with_file_name(format!(
        "{}.before-restore-{stamp}",
        store_path
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_default()
    ));
    for suffix in ["", "-wal"] {
        let from = PathBuf::from(format!("{}{suffix}", store_path.display()));
        if from.exists() {
            let to = PathBuf::from(format!("{}{suffix}", kept.display()));
            std::fs::rename(&from, &to)
                .with_context(|| format!("cannot move {} aside", from.display()))?;
        }
    }
    let _ = std::fs::remove_file(format!("{}-shm", store_path.display()));
    eprintln!("the replaced store is kept as {}", kept.display());
    Ok(())
}

/// This node's audit checkpoints vouch for the replaced store's chain, which may run past the
/// backup: kept aside, they show what the restore cut (`cairn audit verify --checkpoint`).
fn keep_checkpoints_aside(data_dir: &Path, stamp: i64) -> Result<()> {
    let audit = data_dir.join("audit");
    if audit.is_dir() {
        let kept = data_dir.join(format!("audit.before-restore-{stamp}"));
        std::fs::rename(&audit, &kept)
            .with_context(|| format!("cannot move {} aside", audit.display()))?;
        eprintln!(
            "this node's audit checkpoints, signed for the replaced store, are kept in {}",
            kept.display()
        );
    }
    Ok(())
}

/// Messages about the copy name the file the operator gave.
fn reword(error: &cairn_store::BackupError, copy: &Path, from: &Path) -> String {
    error
        .to_string()
        .replace(&copy.display().to_string(), &from.display().to_string())
}

fn remove_sqlite_files(path: &Path) {
    let _ = std::fs::remove_file(path);
    for suffix in ["-wal", "-shm", "-journal"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
}

/// Says when the key a server would use on this data directory is not the one the restored
/// store's credentials are sealed with: such a server refuses to start.
fn warn_about_key(
    info: &StoreFileInfo,
    secret_key: Option<&SecretString>,
    data_dir: &Path,
) -> Result<()> {
    let Some(needed) = &info.key_fingerprint else {
        return Ok(());
    };
    let key_file = data_dir.join("secret.key");
    match cairn_catalog::secret_key_fingerprint(secret_key, data_dir) {
        Ok(Some(present)) if &present == needed => {
            eprintln!(
                "the secret key the store needs is present ({})",
                if secret_key.is_some() {
                    "CAIRN_SECRET_KEY".to_string()
                } else {
                    key_file.display().to_string()
                }
            );
        }
        Ok(Some(_)) => eprintln!(
            "warning: the secret key here ({}) is not the key this store was sealed with: put the \
             key kept with the backup in {} (or set CAIRN_SECRET_KEY to it) before cairn serve, \
             which refuses to start with another key",
            if secret_key.is_some() {
                "CAIRN_SECRET_KEY"
            } else {
                "secret.key"
            },
            key_file.display()
        ),
        Ok(None) => eprintln!(
            "warning: {} has no secret key: put the key kept with the backup in {} (or set \
             CAIRN_SECRET_KEY to it) before cairn serve; without it integration credentials \
             cannot be opened and the server refuses to start",
            data_dir.display(),
            key_file.display()
        ),
        Err(error) => eprintln!("warning: cannot read this node's secret key: {error}"),
    }
    Ok(())
}
