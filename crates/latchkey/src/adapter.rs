//! The storage interface every database adapter implements.
//!
//! Adapters store rows and nothing more: every decision about expiry, hashing and ids is made
//! by [`Auth`](crate::Auth), which passes the current time in, so an adapter is easy to write
//! and the conformance suite ([`testing`](crate::testing), behind the `testing` feature)
//! checks all of them the same way.
//!
//! Attributes travel as JSON text so that the trait is object safe and one adapter serves
//! every application type. Times are milliseconds since the Unix epoch.

use async_trait::async_trait;

use crate::error::BoxError;
use crate::password::PasswordHash;

/// A user as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRow {
    /// The user's id.
    pub id: String,
    /// The application's attributes, as JSON text.
    pub attributes: String,
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
    /// The application's attributes, as JSON text.
    pub attributes: String,
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

    /// Moves a session's active and idle expiry.
    async fn update_session_expiry(
        &self,
        id: &str,
        active_expires: i64,
        idle_expires: i64,
    ) -> AdapterResult<()>;

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

    /// Checks that the database answers, for health reports.
    async fn ping(&self) -> AdapterResult<()>;
}
