//! The `latchkey` binary as an operator runs it.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BINARY: &str = env!("CARGO_BIN_EXE_latchkey");

/// Starts `latchkey serve` on a free port and returns it with its base URL once it listens.
fn start(args: &[&str], dir: &std::path::Path) -> (Child, String) {
    let mut child = Command::new(BINARY)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .args(args)
        .current_dir(dir)
        .env("RUST_LOG", "info")
        .env_remove("DATABASE_URL")
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("latchkey starts");
    let stderr = child.stderr.take().expect("stderr");
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(address) = line.split("address=").nth(1) {
                let address = address
                    .split_whitespace()
                    .next()
                    .unwrap_or_default()
                    .to_owned();
                let _ = sender.send(address);
            }
        }
    });
    let address = receiver
        .recv_timeout(Duration::from_secs(30))
        .expect("latchkey logs its address");
    (child, format!("http://{address}"))
}

fn terminate(child: &Child) {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
}

fn wait_with_timeout(child: &mut Child, limit: Duration) -> std::process::ExitStatus {
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            return status;
        }
        assert!(started.elapsed() < limit, "latchkey did not stop in time");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn help_lists_every_option_with_its_environment_variable() {
    let output = Command::new(BINARY)
        .args(["serve", "--help"])
        .output()
        .expect("runs");
    let help = String::from_utf8_lossy(&output.stdout);

    assert!(output.status.success());
    for needle in [
        "--listen",
        "LATCHKEY_LISTEN",
        "127.0.0.1:3000",
        "--database-url",
        "DATABASE_URL",
        "latchkey.db",
        "--public-origin",
        "LATCHKEY_PUBLIC_ORIGIN",
        "--insecure-cookies",
    ] {
        assert!(help.contains(needle), "help lacks {needle}");
    }
}

#[test]
fn a_bad_option_is_one_clear_error_and_a_non_zero_exit() {
    let output = Command::new(BINARY)
        .args(["--listen", "not-an-address"])
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&output.stderr);

    assert!(!output.status.success());
    assert!(
        stderr.contains("invalid value 'not-an-address'"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"));
}

#[test]
fn an_unreachable_database_is_one_clear_error_and_a_non_zero_exit() {
    let output = Command::new(BINARY)
        .args([
            "--database-url",
            "postgres://latchkey:secret-pw@127.0.0.1:1/nothing",
            "--database-timeout",
            "2",
        ])
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&output.stderr);

    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr.contains("error: cannot open the PostgreSQL database"),
        "{stderr}"
    );
    assert!(!stderr.contains("secret-pw"), "{stderr}");
    assert!(!stderr.contains("panicked"));
}

#[test]
fn an_unopenable_sqlite_path_is_a_clear_error() {
    let output = Command::new(BINARY)
        .args(["--database-url", "/nonexistent-dir/deeper/latchkey.db"])
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&output.stderr);

    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr.contains("error: cannot open the SQLite database"),
        "{stderr}"
    );
}

#[test]
fn the_server_creates_its_database_serves_and_stops_gracefully_on_sigterm() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (mut child, base) = start(&[], dir.path());

    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let health = runtime.block_on(async {
        reqwest::get(format!("{base}/healthz"))
            .await
            .expect("health")
            .status()
    });
    terminate(&child);
    let status = wait_with_timeout(&mut child, Duration::from_secs(20));

    assert_eq!(health, reqwest::StatusCode::OK);
    assert!(status.success(), "{status:?}");
    assert!(dir.path().join("latchkey.db").exists());
}
