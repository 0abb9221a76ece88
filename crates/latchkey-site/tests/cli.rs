//! The `latchkey` binary as an operator runs it.

mod common;

use std::process::Command;
use std::time::Duration;

use common::process::{Server, BINARY};

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
    let server = Server::start(&[], dir.path());

    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let health = runtime.block_on(async {
        reqwest::get(server.url("/healthz"))
            .await
            .expect("health")
            .status()
    });
    let log = server.log.clone();
    let status = server.terminate(Duration::from_secs(20));

    assert_eq!(health, reqwest::StatusCode::OK);
    assert!(status.success(), "{status:?}");
    assert!(dir.path().join("latchkey.db").exists());
    let log = log.lock().expect("log").clone();
    assert!(log.contains("stopped"), "{log}");
    assert!(
        log.contains("method=GET path=\"/healthz\" status=200"),
        "{log}"
    );
}
