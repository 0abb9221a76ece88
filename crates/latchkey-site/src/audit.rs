//! `latchkey audit`: recent security events, as a table for people or JSON lines for scripts.

use std::fmt::Write as _;
use std::io::Write as _;
use std::sync::Arc;

use anyhow::Context;
use latchkey::audit::AuditFilter;
use latchkey::{AuditEvent, AuditLog, SystemClock};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::cli::AuditArgs;
use crate::database::Database;

/// Characters of a user agent shown in the table; JSON has it whole.
const AGENT_WIDTH: usize = 60;

/// Prints the events `args` asks for on standard output, newest first.
///
/// # Errors
///
/// When the database cannot be opened or read, or standard output is closed.
pub async fn run(args: AuditArgs) -> anyhow::Result<()> {
    let database = Database::open(&args.database).await?;
    let log = AuditLog::new(database.adapter(), Arc::new(SystemClock));
    let filter = AuditFilter {
        user: args.user.clone(),
        kind: args.kind,
        limit: args.limit,
    };

    let events = log.recent(&filter).await;
    database.close().await;
    let events = events.context("cannot read the audit log")?;

    let text = if args.json {
        json_lines(&events)
    } else {
        table(&events)
    };
    std::io::stdout()
        .lock()
        .write_all(text.as_bytes())
        .context("cannot write to standard output")
}

/// One JSON object a line, every field present (`null` when unknown).
pub fn json_lines(events: &[AuditEvent]) -> String {
    let mut out = String::new();
    for event in events {
        let line = serde_json::json!({
            "id": event.id,
            "at": timestamp(event),
            "kind": event.kind.as_str(),
            "user_id": event.user_id.as_ref().map(|id| id.as_str()),
            "username": event.username,
            "address": event.address,
            "user_agent": event.user_agent,
            "detail": event.detail,
        });
        let _ = writeln!(out, "{line}");
    }
    out
}

/// An aligned table with a header line; `-` where a field is unknown.
pub fn table(events: &[AuditEvent]) -> String {
    const HEADER: [&str; 7] = [
        "TIME",
        "KIND",
        "USERNAME",
        "USER ID",
        "ADDRESS",
        "DETAIL",
        "USER AGENT",
    ];
    let rows: Vec<[String; 7]> = events.iter().map(row).collect();

    let mut widths = HEADER.map(|title| title.chars().count());
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }

    let mut out = String::new();
    line(&mut out, &HEADER.map(str::to_owned), &widths);
    for row in &rows {
        line(&mut out, row, &widths);
    }
    if rows.is_empty() {
        out.push_str("(no events)\n");
    }
    out
}

fn row(event: &AuditEvent) -> [String; 7] {
    let or_dash = |field: Option<&str>| field.map_or_else(|| "-".to_owned(), printable);
    let agent = event
        .user_agent
        .as_deref()
        .map(|agent| agent.chars().take(AGENT_WIDTH).collect::<String>());
    [
        timestamp(event),
        event.kind.as_str().to_owned(),
        or_dash(event.username.as_deref()),
        or_dash(event.user_id.as_ref().map(|id| id.as_str())),
        or_dash(event.address.as_deref()),
        or_dash(event.detail.as_deref()),
        or_dash(agent.as_deref()),
    ]
}

fn line(out: &mut String, cells: &[String; 7], widths: &[usize; 7]) {
    let last = cells.len() - 1;
    for (index, (cell, width)) in cells.iter().zip(widths).enumerate() {
        if index == last {
            out.push_str(cell);
        } else {
            let pad = width - cell.chars().count();
            let _ = write!(out, "{cell}{}  ", " ".repeat(pad));
        }
    }
    out.push('\n');
}

/// A field a client wrote, with control characters shown as `?`, so that a user agent cannot
/// move the cursor or rewrite the terminal of whoever reads the log.
fn printable(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

/// RFC 3339 in UTC to the millisecond.
fn timestamp(event: &AuditEvent) -> String {
    let at = OffsetDateTime::from(event.at);
    let at = at.replace_nanosecond(at.millisecond() as u32 * 1_000_000);
    at.map_or(None, |at| at.format(&Rfc3339).ok())
        .unwrap_or_else(|| "?".to_owned())
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use latchkey::{AuditKind, UserId};

    use super::*;

    fn events() -> Vec<AuditEvent> {
        let mut failed = AuditEvent::new(AuditKind::SignInFailed)
            .with_username("alice")
            .with_address("192.0.2.1")
            .with_user_agent(Some("evil\u{1b}[2J agent"));
        failed.at = UNIX_EPOCH + Duration::from_millis(1_767_225_600_123);
        failed.id = 2;
        let mut signed_up = AuditEvent::new(AuditKind::SignUp)
            .with_user_id(&UserId::new("abc123"))
            .with_username("bob");
        signed_up.at = UNIX_EPOCH + Duration::from_millis(1_767_225_000_000);
        signed_up.id = 1;
        vec![failed, signed_up]
    }

    #[test]
    fn the_table_aligns_its_columns_and_neutralises_control_characters() {
        let table = table(&events());
        let lines: Vec<&str> = table.lines().collect();

        assert_eq!(lines.len(), 3);
        assert!(lines[0].starts_with("TIME                      KIND            USERNAME"));
        assert!(lines[1].starts_with("2026-01-01T00:00:00.123Z  sign_in_failed  alice"));
        assert!(lines[2].starts_with("2025-12-31T23:50:00Z      sign_up         bob"));
        let kind_column = lines[0].find("KIND").expect("column");
        assert!(lines
            .iter()
            .all(|line| line[kind_column - 2..kind_column] == *"  "));
        assert!(lines[1].ends_with("evil?[2J agent"));
        assert!(!table.contains('\u{1b}'));
    }

    #[test]
    fn json_lines_hold_every_field() {
        let text = json_lines(&events());
        let first: serde_json::Value =
            serde_json::from_str(text.lines().next().expect("line")).expect("json");

        assert_eq!(first["kind"], "sign_in_failed");
        assert_eq!(first["at"], "2026-01-01T00:00:00.123Z");
        assert_eq!(first["user_id"], serde_json::Value::Null);
        assert_eq!(first["user_agent"], "evil\u{1b}[2J agent");
        assert_eq!(text.lines().count(), 2);
    }

    #[test]
    fn an_empty_log_says_so() {
        assert!(table(&[]).ends_with("(no events)\n"));
    }
}
