//! The audit log: security events, kept in the database for a while.
//!
//! Each event says what happened, when, to which user and username where known, and from
//! which client address and user agent. It never holds a password, hash or token: the fields
//! that come from a client are shortened, and none is a secret. Events are pruned after a
//! retention period the application picks ([`AuditLog::prune`]).

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::adapter::{Adapter, AuditQuery, AuditRow};
use crate::clock::{from_millis, to_millis, Clock};
use crate::error::{Error, StorageError};
use crate::user::UserId;
use crate::username::lookup_form;

/// Characters kept of each client-supplied field.
const FIELD_LIMIT: usize = 200;

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AuditKind {
    /// A user signed up.
    SignUp,
    /// A user signed in.
    SignIn,
    /// A sign-in failed: unknown user or wrong password, which are not told apart.
    SignInFailed,
    /// A request was refused by a throttle; `detail` says which.
    Throttled,
    /// A user signed out.
    SignOut,
    /// A session was ended other than by signing out.
    SessionRevoked,
    /// A password was changed.
    PasswordChanged,
    /// A user deleted their account, or an operator did.
    AccountDeleted,
}

impl AuditKind {
    /// Every kind.
    pub const ALL: [Self; 8] = [
        Self::SignUp,
        Self::SignIn,
        Self::SignInFailed,
        Self::Throttled,
        Self::SignOut,
        Self::SessionRevoked,
        Self::PasswordChanged,
        Self::AccountDeleted,
    ];

    /// The stored name, such as `sign_in_failed`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SignUp => "sign_up",
            Self::SignIn => "sign_in",
            Self::SignInFailed => "sign_in_failed",
            Self::Throttled => "throttled",
            Self::SignOut => "sign_out",
            Self::SessionRevoked => "session_revoked",
            Self::PasswordChanged => "password_changed",
            Self::AccountDeleted => "account_deleted",
        }
    }
}

impl fmt::Display for AuditKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The text is not the name of an [`AuditKind`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown audit event kind")]
pub struct UnknownAuditKind;

impl FromStr for AuditKind {
    type Err = UnknownAuditKind;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|kind| kind.as_str() == text)
            .ok_or(UnknownAuditKind)
    }
}

/// One security event.
///
/// ```
/// use latchkey::audit::{AuditEvent, AuditKind};
///
/// let event = AuditEvent::new(AuditKind::SignInFailed)
///     .with_username("alice")
///     .with_address("192.0.2.7")
///     .with_user_agent(Some("curl/8.0"));
/// assert_eq!(event.username.as_deref(), Some("alice"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvent {
    /// Increasing with each stored event; zero on one not yet stored.
    pub id: i64,
    /// When it happened: set when it is recorded.
    pub at: SystemTime,
    /// What happened.
    pub kind: AuditKind,
    /// The user, when known.
    pub user_id: Option<UserId>,
    /// The lookup form of the username, when there is one.
    pub username: Option<String>,
    /// The client address, or the network a limit applies to.
    pub address: Option<String>,
    /// The client's `User-Agent`.
    pub user_agent: Option<String>,
    /// A short note, such as which limit refused a request.
    pub detail: Option<String>,
}

impl AuditEvent {
    /// An event of `kind` with nothing else known yet.
    pub fn new(kind: AuditKind) -> Self {
        Self {
            id: 0,
            at: SystemTime::UNIX_EPOCH,
            kind,
            user_id: None,
            username: None,
            address: None,
            user_agent: None,
            detail: None,
        }
    }

    /// The user it concerns.
    pub fn with_user_id(mut self, user_id: &UserId) -> Self {
        self.user_id = Some(user_id.clone());
        self
    }

    /// The username it concerns, in any form: it is stored in its lookup form.
    pub fn with_username(mut self, username: &str) -> Self {
        self.username = Some(lookup_form(username));
        self
    }

    /// Where the request came from.
    pub fn with_address(mut self, address: impl Into<String>) -> Self {
        self.address = Some(address.into());
        self
    }

    /// The client's `User-Agent`, when it sent one.
    pub fn with_user_agent(mut self, user_agent: Option<&str>) -> Self {
        self.user_agent = user_agent.map(str::to_owned);
        self
    }

    /// A short note.
    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }
}

/// Which events to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditFilter {
    /// Only events of this user, by user id or username (in any form).
    pub user: Option<String>,
    /// Only events of this kind.
    pub kind: Option<AuditKind>,
    /// At most this many, newest first.
    pub limit: u32,
}

impl Default for AuditFilter {
    /// The 50 newest events.
    fn default() -> Self {
        Self {
            user: None,
            kind: None,
            limit: 50,
        }
    }
}

/// The audit log of one database. Cheap to clone.
#[derive(Clone)]
pub struct AuditLog {
    adapter: Arc<dyn Adapter>,
    clock: Arc<dyn Clock>,
}

impl fmt::Debug for AuditLog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuditLog").finish_non_exhaustive()
    }
}

impl AuditLog {
    /// The log in `adapter`'s database, stamping events by `clock`.
    pub fn new(adapter: Arc<dyn Adapter>, clock: Arc<dyn Clock>) -> Self {
        Self { adapter, clock }
    }

    /// Stores `event`, stamped with the current time; client-supplied fields are shortened to
    /// 200 characters.
    ///
    /// # Errors
    ///
    /// Storage errors.
    pub async fn record(&self, event: AuditEvent) -> Result<(), Error> {
        let row = AuditRow {
            id: 0,
            at: to_millis(self.clock.now()),
            kind: event.kind.as_str().to_owned(),
            user_id: event.user_id.map(|id| id.as_str().to_owned()),
            username: event.username.map(shorten),
            address: event.address.map(shorten),
            user_agent: event.user_agent.map(shorten),
            detail: event.detail.map(shorten),
        };
        Ok(self.adapter.insert_audit_event(&row).await?)
    }

    /// The events matching `filter`, newest first.
    ///
    /// # Errors
    ///
    /// Storage errors, also for a stored event of a kind this version does not know.
    pub async fn recent(&self, filter: &AuditFilter) -> Result<Vec<AuditEvent>, Error> {
        let query = AuditQuery {
            user: filter.user.as_deref().map(lookup_form),
            kind: filter.kind.map(|kind| kind.as_str().to_owned()),
            limit: filter.limit,
        };
        let rows = self.adapter.audit_events(&query).await?;
        rows.into_iter().map(event_from_row).collect()
    }

    /// Deletes the events older than `retention`, returning how many went.
    ///
    /// # Errors
    ///
    /// Storage errors.
    pub async fn prune(&self, retention: Duration) -> Result<u64, Error> {
        let cutoff = self.clock.now().checked_sub(retention);
        let cutoff = cutoff.map_or(i64::MIN, to_millis);
        Ok(self.adapter.delete_audit_events_before(cutoff).await?)
    }
}

fn event_from_row(row: AuditRow) -> Result<AuditEvent, Error> {
    let kind = row
        .kind
        .parse()
        .map_err(|error| Error::Storage(StorageError::new(error)))?;
    Ok(AuditEvent {
        id: row.id,
        at: from_millis(row.at),
        kind,
        user_id: row.user_id.map(UserId::new),
        username: row.username,
        address: row.address,
        user_agent: row.user_agent,
        detail: row.detail,
    })
}

fn shorten(text: String) -> String {
    match text.char_indices().nth(FIELD_LIMIT) {
        Some((cut, _)) => text[..cut].to_owned(),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_parses_back_from_its_name() {
        for kind in AuditKind::ALL {
            assert_eq!(kind.as_str().parse(), Ok(kind));
        }
        assert_eq!("signin".parse::<AuditKind>(), Err(UnknownAuditKind));
    }

    #[test]
    fn long_fields_are_cut_at_a_character_boundary() {
        let long = "é".repeat(300);

        let short = shorten(long);

        assert_eq!(short.chars().count(), FIELD_LIMIT);
    }

    #[test]
    fn a_username_is_kept_in_its_lookup_form() {
        let event = AuditEvent::new(AuditKind::SignIn).with_username("ＡＬＩＣＥ");

        assert_eq!(event.username.as_deref(), Some("alice"));
    }
}
