//! Helpers the tests of the real `cairn` binary share.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The arguments of `cairn token create` for the demo's admin.
pub const ADMIN_TOKEN_CREATE: [&str; 6] = [
    "token",
    "create",
    "--workspace",
    "acme",
    "--email",
    "admin@acme.example",
];

/// A running `cairn serve`, killed when dropped.
pub struct Server {
    pub child: Child,
    pub base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `cairn serve --listen 127.0.0.1:0 ARGS…`, run in `directory` (else this one), once it says the
/// address it listens on.
pub fn serve(directory: Option<&Path>, args: &[&str]) -> Server {
    let mut command = Command::new(env!("CARGO_BIN_EXE_cairn"));
    if let Some(directory) = directory {
        command.current_dir(directory);
    }
    let mut child = command
        .env_remove("CAIRN_DATA_DIR")
        .env_remove("CAIRN_DATABASE_URL")
        .env_remove("CAIRN_SECRET_KEY")
        .env("RUST_LOG", "warn")
        .args(["serve", "--listen", "127.0.0.1:0"])
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the cairn binary starts");
    let stderr = child.stderr.take().expect("stderr is piped");
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut seen = String::new();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(address) = line.strip_prefix("cairn is listening on ") {
                let _ = sender.send(Ok(address.trim().to_owned()));
            }
            seen.push_str(&line);
            seen.push('\n');
        }
        let _ = sender.send(Err(seen));
    });
    match receiver.recv_timeout(Duration::from_secs(120)) {
        Ok(Ok(base)) => Server { child, base },
        Ok(Err(output)) => {
            let status = child.wait().ok();
            panic!("cairn exited before listening ({status:?}):\n{output}")
        }
        Err(_) => {
            let _ = child.kill();
            panic!("cairn did not listen within 120 s")
        }
    }
}
