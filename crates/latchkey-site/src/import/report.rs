//! What an import did: counts for people and for scripts, and the rows it could not bring.

use std::fmt::Write;
use std::time::Duration;

use serde::Serialize;

use super::LuciaSchema;

/// What an import did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    /// `sqlite` or `postgres`: the kind of the Lucia database.
    pub source: &'static str,
    /// The Lucia table the users were read from: `user` or `auth_user`.
    pub user_table: &'static str,
    /// Lucia columns not imported, as `table.column`, such as an application's `user.email`.
    pub ignored_columns: Vec<String>,
    /// The users.
    pub users: Tally,
    /// The keys.
    pub keys: Tally,
    /// The sessions.
    pub sessions: SessionTally,
    /// Everything refused or worth a look, one entry per user and problem.
    pub issues: Vec<Issue>,
}

/// Counts of one kind of row.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Tally {
    /// Written to the Latchkey database by this run.
    pub imported: u64,
    /// Already there, from an earlier run.
    pub skipped: u64,
    /// Not imported, for a reason listed in the issues.
    pub refused: u64,
}

/// Counts of sessions.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SessionTally {
    /// Written to the Latchkey database by this run.
    pub imported: u64,
    /// Already there, from an earlier run.
    pub skipped: u64,
    /// Dead in Lucia already, so left behind.
    pub expired: u64,
    /// Not imported, for a reason listed in the issues.
    pub refused: u64,
    /// Of those imported, how many had their end cut to the absolute lifetime.
    pub shortened: u64,
}

/// A problem with one user's rows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Issue {
    /// The Lucia user id.
    pub user_id: String,
    /// What is wrong, in a few words. Never holds a password hash or a session id.
    pub problem: String,
}

impl Report {
    /// An empty report of an import from a database with `schema`.
    pub fn new(schema: &LuciaSchema) -> Self {
        Self {
            source: schema.source,
            user_table: schema.user_table,
            ignored_columns: schema.ignored_columns.clone(),
            users: Tally::default(),
            keys: Tally::default(),
            sessions: SessionTally::default(),
            issues: Vec::new(),
        }
    }

    /// Notes a problem that did not stop anything.
    pub fn note(&mut self, user_id: &str, problem: String) {
        self.issues.push(Issue {
            user_id: user_id.to_owned(),
            problem,
        });
    }

    /// Refuses a user and their `keys` keys; their sessions are counted by the caller.
    pub fn refuse_user(&mut self, user_id: &str, problem: &str, keys: usize) {
        self.users.refused += 1;
        self.keys.refused += u64::try_from(keys).unwrap_or(u64::MAX);
        self.note(user_id, format!("not imported: {problem}"));
    }

    /// Refuses one key.
    pub fn refuse_key(&mut self, user_id: &str, problem: String) {
        self.keys.refused += 1;
        self.note(user_id, problem);
    }

    /// Refuses one session.
    pub fn refuse_session(&mut self, user_id: &str, problem: String) {
        self.sessions.refused += 1;
        self.note(user_id, problem);
    }

    /// The report for people, one fact a line. `lifetime` is the absolute session lifetime
    /// the imported sessions were cut to.
    pub fn to_text(&self, lifetime: Duration) -> String {
        let mut text = String::new();
        let (users, keys, sessions) = (&self.users, &self.keys, &self.sessions);

        // Writing to a String cannot fail.
        let _ = writeln!(
            text,
            "imported from Lucia v2 ({}, users from table {:?})",
            self.source, self.user_table
        );
        let _ = writeln!(
            text,
            "users:    {} imported, {} skipped, {} refused",
            users.imported, users.skipped, users.refused
        );
        let _ = writeln!(
            text,
            "keys:     {} imported, {} skipped, {} refused",
            keys.imported, keys.skipped, keys.refused
        );
        let _ = writeln!(
            text,
            "sessions: {} imported, {} skipped, {} expired, {} refused",
            sessions.imported, sessions.skipped, sessions.expired, sessions.refused
        );

        if sessions.shortened > 0 {
            let days = lifetime.as_secs() / (24 * 60 * 60);
            let _ = writeln!(
                text,
                "{} imported session(s) now end within {days} days, the absolute session lifetime",
                sessions.shortened
            );
        }
        if !self.ignored_columns.is_empty() {
            let _ = writeln!(text, "not imported: {}", self.ignored_columns.join(", "));
        }
        for issue in &self.issues {
            let _ = writeln!(text, "user {}: {}", issue.user_id, issue.problem);
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_text_report_gives_every_count_and_every_issue() {
        let schema = LuciaSchema {
            source: "postgres",
            user_table: "auth_user",
            ignored_columns: vec!["user_session.country".to_owned()],
        };
        let mut report = Report::new(&schema);
        report.users.imported = 5;
        report.sessions = SessionTally {
            imported: 4,
            expired: 2,
            shortened: 4,
            ..SessionTally::default()
        };
        report.refuse_user("abc", "has no username", 2);

        let text = report.to_text(Duration::from_secs(30 * 24 * 60 * 60));

        assert!(
            text.contains("postgres, users from table \"auth_user\""),
            "{text}"
        );
        assert!(
            text.contains("users:    5 imported, 0 skipped, 1 refused"),
            "{text}"
        );
        assert!(
            text.contains("keys:     0 imported, 0 skipped, 2 refused"),
            "{text}"
        );
        assert!(
            text.contains("sessions: 4 imported, 0 skipped, 2 expired, 0 refused"),
            "{text}"
        );
        assert!(
            text.contains("4 imported session(s) now end within 30 days"),
            "{text}"
        );
        assert!(
            text.contains("not imported: user_session.country"),
            "{text}"
        );
        assert!(
            text.contains("user abc: not imported: has no username"),
            "{text}"
        );
    }
}
