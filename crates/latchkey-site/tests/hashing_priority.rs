//! `--hashing-priority`, read off the running server's hashing threads in `/proc`.
#![cfg(target_os = "linux")]

use std::fs;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use tempfile::TempDir;

const BINARY: &str = env!("CARGO_BIN_EXE_latchkey");

/// A `latchkey` server on a fresh SQLite file, stopped when dropped.
struct Server {
    child: Child,
    _dir: TempDir,
}

impl Server {
    fn start(args: &[&str], env: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let mut child = Command::new(BINARY)
            .arg("--database-url")
            .arg(dir.path().join("site.db"))
            .args(["--listen", "127.0.0.1:0"])
            .args(args)
            .env_remove("LATCHKEY_HASHING_PRIORITY")
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("latchkey starts");

        let stderr = child.stderr.take().expect("piped stderr");
        let mut lines = BufReader::new(stderr).lines();
        loop {
            let line = lines
                .next()
                .expect("the server logs that it listens before it exits")
                .expect("readable log");
            if line.contains("listening") {
                break;
            }
        }
        // Keep reading, so that the server never waits on a full pipe.
        thread::spawn(move || lines.for_each(drop));
        Self { child, _dir: dir }
    }

    /// Asserts that the server runs hashing threads and that each has the nice value
    /// `expected`, waiting for them to set it.
    fn assert_hashing_nice(&self, expected: i32) {
        let nice = self.hashing_nice(expected);
        assert!(!nice.is_empty(), "the server runs hashing threads");
        assert!(nice.iter().all(|&value| value == expected), "{nice:?}");
    }

    /// The nice value of each hashing thread, once every one has set its own.
    fn hashing_nice(&self, expected: i32) -> Vec<i32> {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let nice = hashing_threads_nice(self.child.id());
            let settled = !nice.is_empty() && nice.iter().all(|&value| value == expected);
            if settled || Instant::now() > deadline {
                return nice;
            }
            thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn hashing_threads_nice(pid: u32) -> Vec<i32> {
    let Ok(tasks) = fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    tasks
        .filter_map(Result::ok)
        .filter(|task| {
            fs::read_to_string(task.path().join("comm"))
                .is_ok_and(|name| name.starts_with("latchkey-hash"))
        })
        .filter_map(|task| fs::read_to_string(task.path().join("stat")).ok())
        .map(|stat| nice_field(&stat))
        .collect()
}

/// Field 19 of a `/proc/.../stat` line. The command name (field 2) is in parentheses and may
/// hold spaces, so fields are counted from its closing one, which is followed by field 3.
fn nice_field(stat: &str) -> i32 {
    let after_name = &stat[stat.rfind(')').expect("a stat line") + 2..];
    after_name
        .split(' ')
        .nth(19 - 3)
        .and_then(|field| field.parse().ok())
        .expect("a nice value")
}

fn own_nice() -> i32 {
    nice_field(&fs::read_to_string("/proc/self/stat").expect("procfs"))
}

#[test]
fn hashing_threads_run_ten_nice_levels_down_by_default() {
    let expected = (own_nice() + 10).min(19);
    let server = Server::start(&[], &[]);

    server.assert_hashing_nice(expected);
}

#[test]
fn hashing_priority_normal_keeps_the_hashing_threads_at_the_servers_priority() {
    let expected = own_nice();
    let server = Server::start(&["--hashing-priority", "normal"], &[]);

    server.assert_hashing_nice(expected);
}

#[test]
fn the_hashing_priority_can_come_from_the_environment() {
    let expected = own_nice();
    let server = Server::start(&[], &[("LATCHKEY_HASHING_PRIORITY", "normal")]);

    server.assert_hashing_nice(expected);
}

#[test]
fn an_unknown_hashing_priority_is_refused_before_the_server_starts() {
    let output = Command::new(BINARY)
        .args(["--hashing-priority", "highest", "--listen", "127.0.0.1:0"])
        .env_remove("LATCHKEY_HASHING_PRIORITY")
        .output()
        .expect("latchkey runs");

    assert_eq!(output.status.code(), Some(2), "clap's usage error");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("lowered") && stderr.contains("normal"),
        "{stderr}"
    );
}
