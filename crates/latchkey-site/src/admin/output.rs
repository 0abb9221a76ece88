//! What the administration commands print: the records they show, as JSON and as text.

use std::fmt::Write as _;
use std::io::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context;
use latchkey::adapter::AttemptRow;
use latchkey::throttle::LockoutRule;
use latchkey::{Key, Session, User};
use serde::Serialize;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::{Device, Profile};

/// Characters of a user agent shown in a table; JSON has it whole.
const AGENT_WIDTH: usize = 60;

/// A user as the commands name one.
#[derive(Debug, Clone, Serialize)]
pub struct UserRef {
    /// The user id.
    pub id: String,
    /// The username as shown on the profile.
    pub username: String,
}

impl From<&User<Profile>> for UserRef {
    fn from(user: &User<Profile>) -> Self {
        Self {
            id: user.id.as_str().to_owned(),
            username: user.attributes.username.clone(),
        }
    }
}

impl UserRef {
    /// `Alice (id k3j…)`, for sentences.
    pub fn text(&self) -> String {
        format!("{} (id {})", printable(&self.username), printable(&self.id))
    }
}

/// A key, without its hash.
#[derive(Debug, Clone, Serialize)]
pub struct KeyView {
    /// The login method, such as `username`.
    pub provider: String,
    /// The identity within it, such as a username's lookup form.
    pub provider_user_id: String,
    /// Whether it has a password.
    pub has_password: bool,
}

impl From<Key> for KeyView {
    fn from(key: Key) -> Self {
        Self {
            provider: key.provider_id,
            provider_user_id: key.provider_user_id,
            has_password: key.has_password,
        }
    }
}

impl KeyView {
    /// `username:alice (password)`.
    pub fn text(&self) -> String {
        let password = if self.has_password {
            "password"
        } else {
            "no password"
        };
        let id = format!("{}:{}", self.provider, self.provider_user_id);
        format!("{} ({password})", printable(&id))
    }
}

/// A session by its public id, never its token.
#[derive(Debug, Clone, Serialize)]
pub struct SessionView {
    /// The SHA-256 of the token, in hex: what `sessions revoke` takes.
    pub id: String,
    /// Its user.
    pub user_id: String,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339, to within a minute; `null` for a session imported from Lucia and not used
    /// since.
    pub last_seen_at: Option<String>,
    /// When it dies unless used: RFC 3339.
    pub expires_at: String,
    /// When it dies however it is used: RFC 3339.
    pub absolute_expires_at: String,
    /// The client address it was created from, when known.
    pub address: Option<String>,
    /// The `User-Agent` it was created with, when known.
    pub user_agent: Option<String>,
}

impl From<&Session<Device>> for SessionView {
    fn from(session: &Session<Device>) -> Self {
        Self {
            id: session.id.as_str().to_owned(),
            user_id: session.user_id.as_str().to_owned(),
            created_at: timestamp(session.created_at),
            last_seen_at: (session.last_seen_at > UNIX_EPOCH)
                .then(|| timestamp(session.last_seen_at)),
            expires_at: timestamp(session.expires_at),
            absolute_expires_at: timestamp(session.absolute_expires_at),
            address: session.attributes.address.clone(),
            user_agent: session.attributes.user_agent.clone(),
        }
    }
}

/// The failed sign-ins counted against an account.
#[derive(Debug, Clone, Serialize)]
pub struct ThrottleView {
    /// Attempts since the last success; each counts as failed from its start.
    pub failures: u32,
    /// RFC 3339.
    pub last_failure_at: String,
    /// Until when sign-ins are refused, RFC 3339; `null` when they are not.
    pub locked_until: Option<String>,
}

impl ThrottleView {
    /// The view of `row` at `now` under `rule`.
    pub fn new(row: &AttemptRow, rule: &LockoutRule, now: SystemTime) -> Self {
        let now = latchkey::clock::to_millis(now);
        let locked_until = rule.locked_until(row).filter(|until| *until > now);
        Self {
            failures: row.failures,
            last_failure_at: timestamp(latchkey::clock::from_millis(row.last_failure_at)),
            locked_until: locked_until.map(|until| timestamp(latchkey::clock::from_millis(until))),
        }
    }

    /// `3 failed sign-ins, the last at …; locked until …`.
    pub fn text(&self) -> String {
        let mut text = format!(
            "{}, the last at {}",
            plural(u64::from(self.failures), "failed sign-in"),
            self.last_failure_at
        );
        if let Some(until) = &self.locked_until {
            let _ = write!(text, "; locked until {until}");
        }
        text
    }
}

/// Sessions as an aligned table, newest first.
pub fn session_table(sessions: &[SessionView]) -> String {
    let mut table = Table::new([
        "SESSION ID",
        "CREATED",
        "LAST SEEN",
        "EXPIRES",
        "ADDRESS",
        "USER AGENT",
    ]);
    for session in sessions {
        let agent = session
            .user_agent
            .as_deref()
            .map(|agent| agent.chars().take(AGENT_WIDTH).collect::<String>());
        table.row([
            session.id.clone(),
            session.created_at.clone(),
            or_dash(session.last_seen_at.as_deref()),
            session.expires_at.clone(),
            or_dash(session.address.as_deref()),
            or_dash(agent.as_deref()),
        ]);
    }
    table.render("(no live sessions)")
}

/// An aligned table with a header line: two spaces between columns, the last unpadded.
pub struct Table<const N: usize> {
    header: [&'static str; N],
    rows: Vec<[String; N]>,
}

impl<const N: usize> Table<N> {
    /// An empty table with these column titles.
    pub fn new(header: [&'static str; N]) -> Self {
        Self {
            header,
            rows: Vec::new(),
        }
    }

    /// Adds a row; control characters in its cells are shown as `?`.
    pub fn row(&mut self, cells: [String; N]) {
        self.rows.push(cells.map(|cell| printable(&cell)));
    }

    /// The table, or the header and `empty` on a line of its own when it has no rows.
    pub fn render(&self, empty: &str) -> String {
        let mut widths = self.header.map(|title| title.chars().count());
        for row in &self.rows {
            for (width, cell) in widths.iter_mut().zip(row) {
                *width = (*width).max(cell.chars().count());
            }
        }

        let mut out = String::new();
        line(&mut out, self.header.iter().copied(), &widths);
        for row in &self.rows {
            line(&mut out, row.iter().map(String::as_str), &widths);
        }
        if self.rows.is_empty() {
            out.push_str(empty);
            out.push('\n');
        }
        out
    }
}

fn line<'a>(out: &mut String, cells: impl Iterator<Item = &'a str>, widths: &[usize]) {
    let mut cells = cells.zip(widths).peekable();
    while let Some((cell, width)) = cells.next() {
        out.push_str(cell);
        if cells.peek().is_some() {
            let pad = width - cell.chars().count();
            out.push_str(&" ".repeat(pad + 2));
        }
    }
    out.push('\n');
}

/// Prints the answer: `value` as JSON when `json`, else `text`.
///
/// # Errors
///
/// When standard output is closed.
pub fn print(json: bool, value: &impl Serialize, text: &str) -> anyhow::Result<()> {
    let out = if json {
        let mut out = serde_json::to_string_pretty(value).context("cannot encode JSON")?;
        out.push('\n');
        out
    } else {
        text.to_owned()
    };
    std::io::stdout()
        .lock()
        .write_all(out.as_bytes())
        .context("cannot write to standard output")
}

/// `1 session`, `2 sessions`.
pub fn plural(count: u64, noun: &str) -> String {
    if count == 1 {
        format!("1 {noun}")
    } else {
        format!("{count} {noun}s")
    }
}

/// RFC 3339 in UTC, to the second.
pub fn timestamp(at: SystemTime) -> String {
    let at = OffsetDateTime::from(at);
    at.replace_nanosecond(0)
        .map_or(None, |at| at.format(&Rfc3339).ok())
        .unwrap_or_else(|| "?".to_owned())
}

/// A field a client or a database wrote, with control characters shown as `?`, so that it
/// cannot move the cursor or rewrite the terminal of whoever reads it.
pub fn printable(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

fn or_dash(field: Option<&str>) -> String {
    field.map_or_else(|| "-".to_owned(), str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_table_aligns_its_columns_and_neutralises_control_characters() {
        let mut table = Table::new(["ID", "NAME", "AGENT"]);
        table.row(["1".to_owned(), "alice".to_owned(), "x".to_owned()]);
        table.row(["22".to_owned(), "b\u{1b}[2J".to_owned(), "y".to_owned()]);

        let text = table.render("(none)");

        assert_eq!(text, "ID  NAME   AGENT\n1   alice  x\n22  b?[2J  y\n");
    }

    #[test]
    fn an_empty_table_says_so_under_its_header() {
        let table = Table::new(["ID", "NAME"]);

        assert_eq!(table.render("(no users)"), "ID  NAME\n(no users)\n");
    }

    #[test]
    fn a_lock_shows_only_while_it_lasts() {
        let rule = LockoutRule::default();
        let row = AttemptRow {
            failures: 6,
            last_failure_at: 1_767_225_600_000,
            expires_at: 1_767_312_000_000,
        };
        let at = |millis| latchkey::clock::from_millis(millis);

        let locked = ThrottleView::new(&row, &rule, at(1_767_225_601_000));
        let over = ThrottleView::new(&row, &rule, at(1_767_225_602_000));

        assert_eq!(locked.locked_until.as_deref(), Some("2026-01-01T00:00:02Z"));
        assert_eq!(
            locked.text(),
            "6 failed sign-ins, the last at 2026-01-01T00:00:00Z; locked until 2026-01-01T00:00:02Z"
        );
        assert_eq!(over.locked_until, None);
    }
}
