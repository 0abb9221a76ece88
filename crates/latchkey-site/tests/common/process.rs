//! The real `latchkey` binary as a child process.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The binary under test.
pub const BINARY: &str = env!("CARGO_BIN_EXE_latchkey");

/// A running `latchkey serve`, stopped when dropped.
pub struct Server {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// Everything it logged so far.
    pub log: Arc<Mutex<String>>,
}

impl Server {
    /// Starts `latchkey serve` on a free port in `dir` with `args`, and waits until it listens.
    pub fn start(args: &[&str], dir: &std::path::Path) -> Self {
        Self::start_with_env(args, dir, &[], &[])
    }

    /// As [`Server::start`], with the variables `set` added to the environment it inherits
    /// and those named in `removed` taken out.
    pub fn start_with_env(
        args: &[&str],
        dir: &std::path::Path,
        set: &[(&str, &str)],
        removed: &[&str],
    ) -> Self {
        let mut command = Command::new(BINARY);
        for name in removed {
            command.env_remove(name);
        }
        let mut child = command
            .args(["serve", "--listen", "127.0.0.1:0"])
            .args(args)
            .current_dir(dir)
            .env("RUST_LOG", "info")
            .env_remove("DATABASE_URL")
            .envs(set.iter().copied())
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .expect("latchkey starts");
        let stderr = child.stderr.take().expect("stderr");
        let log = Arc::new(Mutex::new(String::new()));
        let (sender, receiver) = std::sync::mpsc::channel();
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(address) = listening_address(&line) {
                    let _ = sender.send(address);
                }
                let mut log = sink.lock().unwrap_or_else(|poison| poison.into_inner());
                log.push_str(&line);
                log.push('\n');
            }
        });
        let Ok(address) = receiver.recv_timeout(Duration::from_secs(60)) else {
            let _ = child.kill();
            panic!(
                "latchkey did not start: {}",
                log.lock().map(|l| l.clone()).unwrap_or_default()
            );
        };
        Self {
            child,
            base: format!("http://{address}"),
            log,
        }
    }

    /// The URL of `path` on this server.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends SIGTERM and waits for the exit, at most `limit`.
    pub fn terminate(mut self, limit: Duration) -> std::process::ExitStatus {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success());
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            assert!(started.elapsed() < limit, "latchkey did not stop in time");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The address in the "listening" log line, in text or JSON format.
fn listening_address(line: &str) -> Option<String> {
    if let Ok(entry) = serde_json::from_str::<serde_json::Value>(line) {
        let listening = entry["message"] == "listening";
        return listening
            .then(|| entry["address"].as_str().map(str::to_owned))
            .flatten();
    }
    let rest = line.split(" listening address=").nth(1)?;
    rest.split_whitespace().next().map(str::to_owned)
}
