//! `latchkey audit`, the real binary, over a SQLite file with events in it.

use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use latchkey::audit::AuditEvent;
use latchkey::{AuditKind, AuditLog, ManualClock, UserId};
use latchkey_sqlite::SqliteAdapter;

const BINARY: &str = env!("CARGO_BIN_EXE_latchkey");

/// A database with five events a second apart, from 2026-01-01T00:00:00Z.
async fn database_with_events(dir: &std::path::Path) -> String {
    let path = dir.join("audit.db").to_str().expect("utf-8").to_owned();
    let adapter = SqliteAdapter::connect(&path).await.expect("sqlite opens");
    let clock = Arc::new(ManualClock::at_millis(1_767_225_600_000));
    let log = AuditLog::new(Arc::new(adapter.clone()), clock.clone());
    let alice = UserId::new("aliceid0000001");
    let events = [
        AuditEvent::new(AuditKind::SignUp)
            .with_user_id(&alice)
            .with_username("Alice"),
        AuditEvent::new(AuditKind::SignInFailed)
            .with_username("alice")
            .with_address("192.0.2.1"),
        AuditEvent::new(AuditKind::SignInFailed).with_username("mallory"),
        AuditEvent::new(AuditKind::Throttled)
            .with_username("alice")
            .with_detail("account")
            .with_user_agent(Some("curl/8.5.0")),
        AuditEvent::new(AuditKind::SignIn)
            .with_user_id(&alice)
            .with_username("alice"),
    ];
    for event in events {
        log.record(event).await.expect("recorded");
        clock.advance(Duration::from_secs(1));
    }
    adapter.close().await;
    path
}

fn audit(database: &str, args: &[&str]) -> std::process::Output {
    Command::new(BINARY)
        .arg("audit")
        .args(["--database-url", database])
        .args(args)
        .env_remove("DATABASE_URL")
        .output()
        .expect("latchkey runs")
}

#[tokio::test]
async fn latchkey_audit_prints_recent_events_as_an_aligned_table() {
    let dir = tempfile::tempdir().expect("temp dir");
    let database = database_with_events(dir.path()).await;

    let output = audit(&database, &["--limit", "3"]);

    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8(output.stdout).expect("utf-8");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 4, "{text}");
    assert!(lines[0].starts_with("TIME"));
    assert!(
        lines[1].starts_with("2026-01-01T00:00:04Z  sign_in "),
        "{text}"
    );
    assert!(
        lines[2].contains("throttled") && lines[2].ends_with("curl/8.5.0"),
        "{text}"
    );
    assert!(lines[3].contains("sign_in_failed") && lines[3].contains("mallory"));
    let column = lines[0].find("USERNAME").expect("column");
    assert!(
        lines[1..]
            .iter()
            .all(|line| &line[column - 2..column] == "  "),
        "{text}"
    );
}

#[tokio::test]
async fn latchkey_audit_filters_by_user_and_kind_and_speaks_json() {
    let dir = tempfile::tempdir().expect("temp dir");
    let database = database_with_events(dir.path()).await;

    let output = audit(
        &database,
        &["--user", "ALICE", "--kind", "sign_in_failed", "--json"],
    );
    let by_id = audit(&database, &["--user", "aliceid0000001", "--json"]);

    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let lines: Vec<serde_json::Value> = String::from_utf8(output.stdout)
        .expect("utf-8")
        .lines()
        .map(|line| serde_json::from_str(line).expect("json"))
        .collect();
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["kind"], "sign_in_failed");
    assert_eq!(lines[0]["username"], "alice");
    assert_eq!(lines[0]["address"], "192.0.2.1");
    assert_eq!(lines[0]["at"], "2026-01-01T00:00:01Z");
    assert_eq!(String::from_utf8_lossy(&by_id.stdout).lines().count(), 2);
}

#[tokio::test]
async fn latchkey_audit_refuses_an_unknown_kind_with_a_usage_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    let database = database_with_events(dir.path()).await;

    let output = audit(&database, &["--kind", "login"]);

    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("sign_in_failed"), "{stderr}");
}
