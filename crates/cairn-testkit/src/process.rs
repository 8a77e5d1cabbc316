//! Running the servers' command-line tools and watching a server's life.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::CommandFailed;

/// Runs a server in the background and stops it (then removes `root`) once the process that
/// started it is gone. Arguments: `ROOT PIDFILE SIGNAL COMMAND...`. `PIDFILE` (may be empty) holds
/// the real server pid on its first line, for servers started through `runuser`.
const WATCHER: &str = r#"
root="$1"; pidfile="$2"; signal="$3"; shift 3
"$@" &
server=$!
while kill -0 "$PPID" 2>/dev/null && kill -0 "$server" 2>/dev/null; do sleep 0.5; done
if kill -0 "$PPID" 2>/dev/null; then
  # the server stopped on its own: keep its log for the test to read
  exit 0
fi
if [ -n "$pidfile" ] && [ -f "$pidfile" ]; then
  real=$(head -n 1 "$pidfile")
  [ -n "$real" ] && kill -"$signal" "$real" 2>/dev/null
fi
kill -"$signal" "$server" 2>/dev/null
wait "$server"
sleep 0.2
rm -rf "$root"
"#;

pub(crate) struct WatchedServer<'a> {
    pub root: &'a Path,
    pub pid_file: Option<&'a Path>,
    pub stop_signal: &'a str,
    pub log_file: &'a Path,
    pub command: Vec<String>,
}

/// Starts the watcher (in its own process group, so a Ctrl-C on the tests does not kill the
/// server before the watcher cleans up). Returns the watcher's pid.
pub(crate) fn start_watched(server: &WatchedServer<'_>) -> Result<u32, CommandFailed> {
    let log = std::fs::File::create(server.log_file).map_err(|error| CommandFailed {
        command: format!("create {}", server.log_file.display()),
        stderr: error.to_string(),
    })?;
    let log_for_stderr = log.try_clone().map_err(|error| CommandFailed {
        command: "dup log file".to_owned(),
        stderr: error.to_string(),
    })?;
    let mut command = Command::new("sh");
    command
        .arg("-c")
        .arg(WATCHER)
        .arg("cairn-testkit-watcher")
        .arg(server.root)
        .arg(server.pid_file.map(Path::as_os_str).unwrap_or_default())
        .arg(server.stop_signal)
        .args(&server.command)
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log_for_stderr)
        .process_group(0);
    let child = command.spawn().map_err(|error| CommandFailed {
        command: server.command.join(" "),
        stderr: error.to_string(),
    })?;
    Ok(child.id())
}

/// Runs a command to completion, returning its stdout, or its stderr as the error.
pub(crate) fn run(command: &mut Command) -> Result<String, CommandFailed> {
    finish(command.stdin(Stdio::null()), true)
}

/// Like [`run`], with stdin read from a file.
pub(crate) fn run_with_stdin(command: &mut Command, input: &Path) -> Result<String, CommandFailed> {
    let file = std::fs::File::open(input).map_err(|error| CommandFailed {
        command: format!("open {}", input.display()),
        stderr: error.to_string(),
    })?;
    finish(command.stdin(file), false)
}

/// Runs `command` to completion: its stdout, or its stderr as the error (when that is blank and
/// `explain_blank`, the exit status and stdout instead).
fn finish(command: &mut Command, explain_blank: bool) -> Result<String, CommandFailed> {
    let description = describe(command);
    let output = command.output().map_err(|error| CommandFailed {
        command: description.clone(),
        stderr: error.to_string(),
    })?;
    if output.status.success() {
        return Ok(String::from_utf8_lossy(&output.stdout).into_owned());
    }
    let mut stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    if explain_blank && stderr.trim().is_empty() {
        stderr = format!(
            "{} (stdout: {})",
            output.status,
            String::from_utf8_lossy(&output.stdout)
        );
    }
    Err(CommandFailed {
        command: description,
        stderr,
    })
}

fn describe(command: &Command) -> String {
    let mut parts = vec![command.get_program().to_string_lossy().into_owned()];
    parts.extend(
        command
            .get_args()
            .map(|argument| argument.to_string_lossy().into_owned()),
    );
    parts.join(" ")
}

/// Polls `ready` every 100 ms until it returns true, the watcher dies, or `timeout` passes.
pub(crate) fn wait_until(
    watcher_pid: u32,
    timeout: Duration,
    mut ready: impl FnMut() -> bool,
) -> bool {
    let started = Instant::now();
    while started.elapsed() < timeout {
        if ready() {
            return true;
        }
        if !Path::new(&format!("/proc/{watcher_pid}")).exists() || is_zombie(watcher_pid) {
            return false;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

fn is_zombie(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|stat| {
            stat.rsplit_once(')')
                .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'))
        })
        .unwrap_or(true)
}

/// Whether this process runs as root (servers then run as their own system user).
pub(crate) fn running_as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|output| String::from_utf8_lossy(&output.stdout).trim() == "0")
        .unwrap_or(false)
}

/// `chown -R USER: PATH...`
pub(crate) fn chown(user: &str, paths: &[&Path]) -> Result<(), CommandFailed> {
    let mut command = Command::new("chown");
    command.arg("-R").arg(format!("{user}:"));
    command.args(paths);
    run(&mut command).map(|_| ())
}

/// `chmod 0755 PATH` (the servers' users must traverse the temporary root).
pub(crate) fn make_traversable(path: &Path) -> Result<(), CommandFailed> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).map_err(|error| {
        CommandFailed {
            command: format!("chmod 0755 {}", path.display()),
            stderr: error.to_string(),
        }
    })
}

/// The first directory of `candidates` holding every program of `programs`.
pub(crate) fn find_dir_with(candidates: &[PathBuf], programs: &[&str]) -> Option<PathBuf> {
    candidates
        .iter()
        .find(|dir| {
            programs
                .iter()
                .all(|program| is_executable(&dir.join(program)))
        })
        .cloned()
}

/// `PATH`'s directories, then the usual system ones.
pub(crate) fn path_dirs() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).collect())
        .unwrap_or_default();
    for extra in [
        "/usr/local/sbin",
        "/usr/local/bin",
        "/usr/sbin",
        "/usr/bin",
        "/sbin",
        "/bin",
    ] {
        let extra = PathBuf::from(extra);
        if !dirs.contains(&extra) {
            dirs.push(extra);
        }
    }
    dirs
}

pub(crate) fn find_program(program: &str) -> Option<PathBuf> {
    path_dirs()
        .into_iter()
        .map(|dir| dir.join(program))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .is_ok_and(|metadata| metadata.is_file() && metadata.permissions().mode() & 0o111 != 0)
}

/// Makes a fresh temporary directory that outlives this process (the watcher removes it).
pub(crate) fn make_root(prefix: &str) -> Result<PathBuf, CommandFailed> {
    tempfile::Builder::new()
        .prefix(prefix)
        .tempdir()
        .map(tempfile::TempDir::keep)
        .map_err(|error| CommandFailed {
            command: format!("create temporary directory {prefix}*"),
            stderr: error.to_string(),
        })
}

/// The last lines of a log file, for error messages.
pub(crate) fn log_tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}

/// A server's fresh temporary directories: `root` (traversable by the server's user), with
/// `data`, `sock` and `scratch` in it.
pub(crate) struct ServerDirs {
    pub root: PathBuf,
    pub data_dir: PathBuf,
    pub socket_dir: PathBuf,
}

impl ServerDirs {
    /// Makes them under a new `prefix*` directory; data and socket belong to `owner` when given.
    pub(crate) fn make(prefix: &str, owner: Option<&str>) -> Result<ServerDirs, CommandFailed> {
        let root = make_root(prefix)?;
        make_traversable(&root)?;
        let data_dir = root.join("data");
        let socket_dir = root.join("sock");
        let scratch_dir = root.join("scratch");
        for dir in [&data_dir, &socket_dir, &scratch_dir] {
            std::fs::create_dir(dir).map_err(|error| CommandFailed {
                command: format!("mkdir {}", dir.display()),
                stderr: error.to_string(),
            })?;
        }
        if let Some(owner) = owner {
            chown(owner, &[&data_dir, &socket_dir])?;
        }
        Ok(ServerDirs {
            root,
            data_dir,
            socket_dir,
        })
    }
}

/// Waits up to 60 s until `ready`; else the error names `program` and tells what the log in
/// `root` says (see [`give_up`]).
pub(crate) fn wait_ready(
    program: &str,
    root: &Path,
    log_file: &Path,
    watcher_pid: u32,
    ready: impl FnMut() -> bool,
) -> Result<(), CommandFailed> {
    if wait_until(watcher_pid, Duration::from_secs(60), ready) {
        return Ok(());
    }
    Err(CommandFailed {
        command: program.to_owned(),
        stderr: give_up(root, log_file, watcher_pid),
    })
}

/// Describes a server that did not become ready; removes its directory when it has stopped
/// (a server still starting is left to its watcher).
pub(crate) fn give_up(root: &Path, log_file: &Path, watcher_pid: u32) -> String {
    let tail = log_tail(log_file);
    let stopped = !Path::new(&format!("/proc/{watcher_pid}")).exists() || is_zombie(watcher_pid);
    if stopped {
        let _ = std::fs::remove_dir_all(root);
        format!("server stopped while starting; log:\n{tail}")
    } else {
        format!(
            "server in {} not ready after 60 s; log:\n{tail}",
            root.display()
        )
    }
}
