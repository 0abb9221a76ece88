//! The real `latchkey` binary, serving the site on a free port over a new SQLite file.
//!
//! `CARGO_BIN_EXE_latchkey` exists only for the tests of the crate that owns the binary, so
//! this crate asks cargo for it: `cargo build -p latchkey-site --bin latchkey` with the
//! profile these tests were built with, once per test run, reading the binary's path from
//! cargo's JSON messages. Under `cargo test --workspace` the binary is already fresh and the
//! build is a no-op; under `cargo test -p latchkey-e2e` it is rebuilt when the site changed,
//! so the tests never run a stale binary. `LATCHKEY_E2E_BINARY` names another binary to test
//! instead, such as a release build.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, Connection};
use tempfile::TempDir;

/// A running `latchkey serve`, stopped with SIGTERM when dropped.
pub struct Site {
    child: Child,
    base: String,
    database: PathBuf,
    log: Arc<Mutex<Vec<String>>>,
    _dir: TempDir,
}

impl Site {
    /// Starts the site with the default, secure configuration.
    pub fn start() -> Site {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let database = dir.path().join("site.db");
        let mut child = Command::new(binary())
            .args(["serve", "--listen", "127.0.0.1:0", "--database-url"])
            .arg(&database)
            .current_dir(dir.path())
            .env("RUST_LOG", "info")
            .env_remove("DATABASE_URL")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("latchkey starts");

        let log = Arc::new(Mutex::new(Vec::new()));
        let address = read_log(&mut child, Arc::clone(&log));
        Site {
            child,
            base: format!("http://{address}"),
            database,
            log,
            _dir: dir,
        }
    }

    /// The address of `path` on the site, e.g. `http://127.0.0.1:41234/login`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The site's origin, e.g. `http://127.0.0.1:41234`.
    pub fn origin(&self) -> &str {
        &self.base
    }

    /// How many sessions the database holds, read straight from the SQLite file.
    pub async fn session_count(&self) -> i64 {
        let mut connection = SqliteConnectOptions::new()
            .filename(&self.database)
            .read_only(true)
            .connect()
            .await
            .expect("the site's database opens");
        let count: i64 = sqlx::query_scalar("SELECT count(*) FROM sessions")
            .fetch_one(&mut connection)
            .await
            .expect("sessions are countable");
        let _ = connection.close().await;
        count
    }

    /// Whether the server logs a line containing `needle` within a few seconds. It writes
    /// its log in batches, each about 50 ms after its first line, so a line comes a little
    /// after the request that caused it.
    pub fn logged(&self, needle: &str) -> bool {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let found = {
                let log = self.log.lock().expect("the log lock");
                log.iter().any(|line| line.contains(needle))
            };
            if found || Instant::now() > deadline {
                return found;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Site {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let started = Instant::now();
        while matches!(self.child.try_wait(), Ok(None)) {
            if started.elapsed() > Duration::from_secs(10) {
                let _ = self.child.kill();
                let _ = self.child.wait();
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }

        // A failed test shows what the server said.
        if std::thread::panicking() {
            let log = self
                .log
                .lock()
                .map(|log| log.join("\n"))
                .unwrap_or_default();
            eprintln!("latchkey's log:\n{log}");
        }
    }
}

/// Keeps every line the server writes to stderr, so the pipe never fills, and returns the
/// address from its `listening` line.
fn read_log(child: &mut Child, log: Arc<Mutex<Vec<String>>>) -> String {
    let stderr = child.stderr.take().expect("latchkey's stderr");
    let (sender, receiver) = mpsc::channel();
    let lines = Arc::clone(&log);
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(address) = line.split("address=").nth(1) {
                let address = address.split_whitespace().next().unwrap_or_default();
                let _ = sender.send(address.to_owned());
            }
            if let Ok(mut lines) = lines.lock() {
                lines.push(line);
            }
        }
    });
    match receiver.recv_timeout(Duration::from_secs(30)) {
        Ok(address) => address,
        Err(_) => {
            let _ = child.kill();
            let _ = child.wait();
            let log = log.lock().map(|log| log.join("\n")).unwrap_or_default();
            panic!("latchkey did not log the address it listens on:\n{log}");
        }
    }
}

/// The `latchkey` binary, built once per test run.
fn binary() -> &'static Path {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| match std::env::var_os("LATCHKEY_E2E_BINARY") {
        Some(path) => PathBuf::from(path),
        None => build_binary(),
    })
}

fn build_binary() -> PathBuf {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let output = Command::new(cargo)
        .args([
            "build",
            "--locked",
            "--message-format=json-render-diagnostics",
        ])
        .args(["-p", "latchkey-site", "--bin", "latchkey", "--profile"])
        .arg(profile())
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stderr(Stdio::inherit())
        .output()
        .expect("cargo runs");
    assert!(output.status.success(), "cargo could not build latchkey");

    let stdout = String::from_utf8_lossy(&output.stdout);
    let executable = stdout
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|message| message["target"]["name"] == "latchkey")
        .find_map(|message| message["executable"].as_str().map(PathBuf::from));
    executable.expect("cargo names the latchkey executable it built")
}

/// The cargo profile of this test binary, from its directory: `target/<dir>/deps/browser-…`,
/// where `dev` builds into `debug`.
fn profile() -> String {
    let executable = std::env::current_exe().expect("the test binary's path");
    let directory = executable
        .parent()
        .and_then(Path::parent)
        .and_then(Path::file_name)
        .and_then(|name| name.to_str())
        .expect("the test binary sits in target/<profile>/deps");
    match directory {
        "debug" => "dev".to_owned(),
        other => other.to_owned(),
    }
}
