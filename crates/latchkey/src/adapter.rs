//! The storage interface every database adapter implements.
//!
//! Adapters store rows and nothing more: every decision about expiry, hashing and ids is made
//! by [`Auth`](crate::Auth), which passes the current time in, so an adapter is easy to write
//! and the conformance suite (the `testing` module, behind the `testing` feature)
//! checks all of them the same way.
//!
//! Attributes travel as JSON text so that the trait is object safe and one adapter serves
//! every application type. Times are milliseconds since the Unix epoch.

use async_trait::async_trait;

use crate::error::BoxError;
use crate::password::PasswordHash;
use crate::throttle::{LockoutRule, RateRule};

/// A user as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRow {
    /// The user's id.
    pub id: String,
    /// The application's attributes, as JSON text.
    pub attributes: String,
}

/// A session's last-seen time that validation queued, as
/// [`Adapter::update_sessions_last_seen`] receives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastSeen {
    /// The session's id.
    pub session_id: String,
    /// The user the session belongs to, so that storage ordered by user can go straight to
    /// the row.
    pub user_id: String,
    /// When the session was seen.
    pub at: i64,
}

/// A key as stored: one way of signing in as a user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRow {
    /// The login method, such as `username`.
    pub provider_id: String,
    /// The user's identity within that method, such as the lookup form of a username.
    pub provider_user_id: String,
    /// The user the key signs in as.
    pub user_id: String,
    /// The password hash, for methods that have one.
    pub hashed_password: Option<PasswordHash>,
}

/// A session as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRow {
    /// The SHA-256 of the session's token, lowercase hex.
    pub id: String,
    /// The user the session belongs to.
    pub user_id: String,
    /// When the session was created.
    pub created_at: i64,
    /// The end of the active period: validation after it extends the session.
    pub active_expires: i64,
    /// The end of the idle period: the session is dead after it.
    pub idle_expires: i64,
    /// The absolute end of the session, which renewal never moves.
    pub absolute_expires: i64,
    /// When the session was last used, to the granularity of
    /// [`SessionConfig::activity_interval`](crate::SessionConfig::activity_interval).
    pub last_seen_at: i64,
    /// The application's attributes, as JSON text.
    pub attributes: String,
}

/// A session, its user and all the user's live sessions, read together for a page that shows
/// them, such as an account's list of signed-in devices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionListing {
    /// The session asked for.
    pub session: SessionRow,
    /// Its user.
    pub user: UserRow,
    /// Every session of the user whose idle expiry is not before the time given, in any
    /// order, the one asked for included.
    pub user_sessions: Vec<SessionRow>,
}

/// The sign-in attempts counted against one subject (an account or a device), as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttemptRow {
    /// Attempts counted since the last success; each counts as a failure from its start.
    pub failures: u32,
    /// When the latest counted attempt started.
    pub last_failure_at: i64,
    /// When the record is forgotten.
    pub expires_at: i64,
}

/// One security event as stored. Never holds a password or a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRow {
    /// Assigned by the database on insert, increasing; ignored by
    /// [`Adapter::insert_audit_event`].
    pub id: i64,
    /// When it happened.
    pub at: i64,
    /// What happened, such as `sign_in_failed`.
    pub kind: String,
    /// The user, when known.
    pub user_id: Option<String>,
    /// The lookup form of the username involved, when there is one.
    pub username: Option<String>,
    /// The client's address, or the network its limit applies to.
    pub address: Option<String>,
    /// The client's `User-Agent`, shortened.
    pub user_agent: Option<String>,
    /// A short note, such as which limit refused a request.
    pub detail: Option<String>,
}

/// Which audit events to read, newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditQuery {
    /// Only events whose user id or username is this.
    pub user: Option<String>,
    /// Only events of this kind.
    pub kind: Option<String>,
    /// At most this many.
    pub limit: u32,
}

/// Why an adapter call failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AdapterError {
    /// A key with the same provider id and provider user id exists.
    #[error("duplicate key")]
    DuplicateKey,
    /// The row refers to a user that does not exist.
    #[error("unknown user")]
    UnknownUser,
    /// The database could not be reached or did not answer in time.
    #[error("database unavailable")]
    Unavailable(#[source] BoxError),
    /// Any other database failure.
    #[error("database error")]
    Other(#[source] BoxError),
}

/// The result of an adapter call.
pub type AdapterResult<T> = Result<T, AdapterError>;

/// Storage for users, keys and sessions.
///
/// Calls that find nothing to delete or update succeed; callers that care use the returned
/// count or flag.
#[async_trait]
pub trait Adapter: Send + Sync + 'static {
    /// Inserts a user and, when given, its first key, in one transaction: either both are
    /// stored or neither. A taken key is [`AdapterError::DuplicateKey`], and of several
    /// concurrent attempts on one key exactly one succeeds.
    async fn insert_user(&self, user: &UserRow, key: Option<&KeyRow>) -> AdapterResult<()>;

    /// The user with this id.
    async fn user(&self, id: &str) -> AdapterResult<Option<UserRow>>;

    /// Replaces a user's attributes; false when no user has this id.
    async fn update_user_attributes(&self, id: &str, attributes: &str) -> AdapterResult<bool>;

    /// Deletes a user with all their sessions and keys, in one transaction.
    async fn delete_user(&self, id: &str) -> AdapterResult<()>;

    /// Inserts a key for an existing user: [`AdapterError::DuplicateKey`] when it is taken,
    /// [`AdapterError::UnknownUser`] when the user does not exist.
    async fn insert_key(&self, key: &KeyRow) -> AdapterResult<()>;

    /// The key with this provider id and provider user id.
    async fn key(&self, provider_id: &str, provider_user_id: &str)
        -> AdapterResult<Option<KeyRow>>;

    /// All keys of a user.
    async fn user_keys(&self, user_id: &str) -> AdapterResult<Vec<KeyRow>>;

    /// Sets a key's password hash; false when the key does not exist.
    async fn update_key_password(
        &self,
        provider_id: &str,
        provider_user_id: &str,
        hashed_password: Option<&PasswordHash>,
    ) -> AdapterResult<bool>;

    /// Replaces a key's hash only if it still is `current`, so that upgrading an obsolete
    /// hash after a sign-in cannot undo a password change made at the same moment. False
    /// when the hash had changed.
    async fn replace_key_password(
        &self,
        provider_id: &str,
        provider_user_id: &str,
        current: &PasswordHash,
        new: &PasswordHash,
    ) -> AdapterResult<bool>;

    /// Deletes a key.
    async fn delete_key(&self, provider_id: &str, provider_user_id: &str) -> AdapterResult<()>;

    /// Inserts a session: [`AdapterError::UnknownUser`] when the user does not exist.
    async fn insert_session(&self, session: &SessionRow) -> AdapterResult<()>;

    /// The session with this id and its user, in one round trip.
    async fn session_and_user(&self, id: &str) -> AdapterResult<Option<(SessionRow, UserRow)>>;

    /// Records that a session was used at `last_seen_at`, and moves its active and idle
    /// expiry.
    async fn update_session_activity(
        &self,
        id: &str,
        last_seen_at: i64,
        active_expires: i64,
        idle_expires: i64,
    ) -> AdapterResult<()>;

    /// Sets each listed session's last-seen time to the given one, unless the stored time is
    /// later already; sessions that no longer exist, or that belong to another user than the
    /// one named, are skipped. Called with batches of
    /// thousands, so one round trip (or one transaction) for the whole batch is worth having.
    ///
    /// [`Auth`](crate::Auth) passes the batch sorted by user id, then session id: storage
    /// that keeps a user's sessions together reads and writes its pages in order.
    async fn update_sessions_last_seen(&self, seen: &[LastSeen]) -> AdapterResult<()>;

    /// The session with this id, its user and the user's sessions whose idle expiry is not
    /// before `now`.
    ///
    /// The default makes two calls; adapters that can answer in one round trip should, since
    /// a page that lists a user's sessions makes this call on every view.
    async fn session_listing(&self, id: &str, now: i64) -> AdapterResult<Option<SessionListing>> {
        let Some((session, user)) = self.session_and_user(id).await? else {
            return Ok(None);
        };
        let user_sessions = self.user_sessions(&session.user_id, now).await?;
        Ok(Some(SessionListing {
            session,
            user,
            user_sessions,
        }))
    }

    /// Replaces a session's attributes; false when no session has this id.
    async fn update_session_attributes(&self, id: &str, attributes: &str) -> AdapterResult<bool>;

    /// Deletes a session.
    async fn delete_session(&self, id: &str) -> AdapterResult<()>;

    /// Deletes every session of a user except `keep`, returning how many went.
    async fn delete_user_sessions(&self, user_id: &str, keep: Option<&str>) -> AdapterResult<u64>;

    /// The user's sessions whose idle expiry is not before `now`, newest first.
    async fn user_sessions(&self, user_id: &str, now: i64) -> AdapterResult<Vec<SessionRow>>;

    /// Deletes every session whose idle expiry is before `now`, returning how many went.
    async fn delete_expired_sessions(&self, now: i64) -> AdapterResult<u64>;

    /// Up to `limit` users after skipping `offset`, oldest first, for administration.
    async fn list_users(&self, offset: u64, limit: u64) -> AdapterResult<Vec<UserRow>>;

    /// How many sessions have an idle expiry not before `now`.
    async fn count_live_sessions(&self, now: i64) -> AdapterResult<u64>;

    /// Checks that the database answers, for health reports.
    async fn ping(&self) -> AdapterResult<()>;

    // ---- throttling ----

    /// Counts one sign-in attempt against `key` at `now`, unless `rule` says the key is
    /// locked; returns the failures counted including this one, or `None` when it is locked,
    /// in which case nothing changes.
    ///
    /// The key is locked while `failures >= rule.free_failures` and `now` is before
    /// `last_failure_at + rule.delay_millis(failures)` ([`LockoutRule::locked_until`]). A
    /// counted attempt adds one to `failures`, sets `last_failure_at` to the later of it and
    /// `now`, and `expires_at` to the later of it and `now + rule.memory_millis`. A record
    /// whose `expires_at` is not after `now` counts as absent, so the count starts again at
    /// one.
    ///
    /// It must be one atomic statement: of any number of concurrent calls, from any number
    /// of processes, each is counted or refused exactly as if they had run one after another.
    async fn count_attempt(
        &self,
        key: &str,
        now: i64,
        rule: &LockoutRule,
    ) -> AdapterResult<Option<u32>>;

    /// The attempts counted against `key`, unless expired at `now`.
    async fn attempts(&self, key: &str, now: i64) -> AdapterResult<Option<AttemptRow>>;

    /// Forgets the attempts counted against `key`.
    async fn clear_attempts(&self, key: &str) -> AdapterResult<()>;

    /// Takes one token from the bucket `key` at `now`; false when it is empty, in which case
    /// nothing changes.
    ///
    /// The bucket is kept as the generic cell rate algorithm's theoretical arrival time
    /// `tat`, the moment at which it will be full again (absent means full): a take is
    /// allowed when `max(tat, now) + interval - burst <= now` (with `rule.interval_millis()`
    /// and `rule.burst_millis()`), and sets `tat` to `max(tat, now) + interval`. Atomic, as
    /// for [`count_attempt`](Self::count_attempt).
    async fn take_token(&self, key: &str, now: i64, rule: &RateRule) -> AdapterResult<bool>;

    /// Puts back a token taken from the bucket `key`: moves its `tat` back by one interval.
    async fn return_token(&self, key: &str, rule: &RateRule) -> AdapterResult<()>;

    /// The bucket's `tat`, when it has one.
    async fn bucket(&self, key: &str) -> AdapterResult<Option<i64>>;

    /// Deletes the attempt records that expired and the buckets that are full again at
    /// `now`, returning how many went.
    async fn delete_expired_throttles(&self, now: i64) -> AdapterResult<u64>;

    // ---- audit log ----

    /// Appends a security event; its `id` is assigned by the database.
    async fn insert_audit_event(&self, event: &AuditRow) -> AdapterResult<()>;

    /// Events matching `query`, newest first (by time, then by id).
    async fn audit_events(&self, query: &AuditQuery) -> AdapterResult<Vec<AuditRow>>;

    /// Deletes the events from before `before`, returning how many went.
    async fn delete_audit_events_before(&self, before: i64) -> AdapterResult<u64>;

    // ---- server secrets ----

    /// The secret stored under `name`, storing `candidate` first if there is none, in one
    /// atomic statement: every process that asks gets the same bytes, whoever asked first.
    async fn server_secret(&self, name: &str, candidate: &[u8]) -> AdapterResult<Vec<u8>>;
}
