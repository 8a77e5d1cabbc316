//! Graceful shutdown of the real binary: SIGTERM while a streaming answer is in flight stops
//! accepting at once (a new connection is refused), lets the answer finish, commits the search
//! index and exits 0; a restart on the same data directory resumes the change feed.

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

struct Server {
    child: Child,
    address: String,
    /// Everything the server wrote to stderr so far.
    log: Arc<Mutex<String>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// Waits for the process to exit, at most `limit`.
    fn wait_exit(&mut self, limit: Duration) -> ExitStatus {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                started.elapsed() < limit,
                "cairn still runs {limit:?} after SIGTERM:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// `cairn serve --demo` on a free loopback port, with the data directory `data`.
fn start(data: &Path) -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_cairn"))
        .arg("--data-dir")
        .arg(data)
        .env_remove("CAIRN_DATABASE_URL")
        .env_remove("CAIRN_SECRET_KEY")
        .env("RUST_LOG", "info")
        .args(["serve", "--demo", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the cairn binary starts");
    let stderr = child.stderr.take().expect("stderr is piped");
    let log = Arc::new(Mutex::new(String::new()));
    let (sender, receiver) = std::sync::mpsc::channel();
    {
        let log = Arc::clone(&log);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(address) = line.strip_prefix("cairn is listening on http://") {
                    let _ = sender.send(address.trim().to_owned());
                }
                let mut log = log.lock().unwrap();
                log.push_str(&line);
                log.push('\n');
            }
        });
    }
    let address = receiver
        .recv_timeout(Duration::from_secs(120))
        .unwrap_or_else(|_| panic!("cairn did not listen:\n{}", log.lock().unwrap()));
    Server {
        child,
        address,
        log,
    }
}

fn api_token(data: &Path) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_cairn"))
        .arg("--data-dir")
        .arg(data)
        .env_remove("CAIRN_DATABASE_URL")
        .args(crate::common::ADMIN_TOKEN_CREATE)
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

/// One request on a fresh connection, `Connection: close`; the whole answer as text.
fn request(address: &str, head: &str, body: &str) -> String {
    let mut stream = TcpStream::connect(address).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    write!(
        stream,
        "{head}\r\nHost: {address}\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    answer
}

#[test]
fn sigterm_finishes_a_streaming_answer_refuses_new_connections_and_exits_zero() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut server = start(&data);
    let token = api_token(&data);
    let auth = format!("Authorization: Bearer {token}\r\nContent-Type: application/json");

    // A change just before the signal: the index must hold it after the restart.
    let created = request(
        &server.address,
        &format!("POST /api/v1/resources HTTP/1.1\r\n{auth}"),
        r#"{"kind": "term", "name": "Shutdown Marker", "description": "written before SIGTERM"}"#,
    );
    assert!(created.starts_with("HTTP/1.1 201"), "{created}");

    // A streaming answer in flight: the headers and half of the body are sent, the rest
    // follows only after SIGTERM.
    let body = r#"{"question": "which tables hold revenue?"}"#;
    let (first, rest) = body.split_at(body.len() / 2);
    let mut stream = TcpStream::connect(&server.address).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    write!(
        stream,
        "POST /api/v1/ai/ask HTTP/1.1\r\nHost: {}\r\n{auth}\r\nAccept: text/event-stream\r\n\
         Content-Length: {}\r\n\r\n{first}",
        server.address,
        body.len()
    )
    .unwrap();
    stream.flush().unwrap();
    std::thread::sleep(Duration::from_millis(300));

    let killed = Command::new("kill")
        .arg("-TERM")
        .arg(server.child.id().to_string())
        .status()
        .unwrap();
    assert!(killed.success());

    // The listener closes at once: new connections are refused while the answer is pending.
    let started = Instant::now();
    loop {
        match TcpStream::connect(&server.address) {
            Err(error) if error.kind() == ErrorKind::ConnectionRefused => break,
            Ok(_) | Err(_) => {
                assert!(
                    started.elapsed() < Duration::from_secs(10),
                    "connections still accepted 10 s after SIGTERM:\n{}",
                    server.log()
                );
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
    assert!(
        server.child.try_wait().unwrap().is_none(),
        "cairn waits for the request in flight"
    );

    stream.write_all(rest.as_bytes()).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("text/event-stream"), "{answer}");
    assert!(answer.contains("event: delta"), "{answer}");
    assert!(
        answer.contains("event: done"),
        "the stream finished: {answer}"
    );
    assert!(
        answer.to_ascii_lowercase().contains("connection: close"),
        "the connection is closed after the answer: {answer}"
    );

    let status = server.wait_exit(Duration::from_secs(30));
    let log = server.log();
    assert_eq!(status.code(), Some(0), "{log}");
    assert!(log.contains("search index committed"), "{log}");
    drop(server);

    // A restart resumes the change feed: the index has what was written before the signal.
    let server = start(&data);
    let found = request(
        &server.address,
        &format!("GET /api/v1/resources?q=shutdown%20marker HTTP/1.1\r\n{auth}"),
        "",
    );
    assert!(found.starts_with("HTTP/1.1 200"), "{found}");
    assert!(found.contains("Shutdown Marker"), "{found}");
    assert!(!server.log().contains("rebuilding"), "{}", server.log());
}
