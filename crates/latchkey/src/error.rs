//! The one error type at the library's boundary.

use std::error::Error as StdError;
use std::fmt;

/// A boxed error from a storage driver or another dependency.
pub type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// Everything that can go wrong in a call to [`Auth`](crate::Auth).
///
/// Variants that a client may cause (an unknown session, wrong credentials, a taken key) are
/// distinct from failures of the server's own parts (storage, hashing), so an application can
/// answer the first with a 4xx and log the second. No message ever holds a password, hash or
/// session token.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The provider id, provider user id and password do not name a user. Deliberately one
    /// error for an unknown key, a key without a password and a wrong password.
    #[error("invalid credentials")]
    InvalidCredentials,

    /// The session token is malformed, unknown or expired.
    #[error("invalid session")]
    InvalidSession,

    /// No user has this id.
    #[error("unknown user")]
    UnknownUser,

    /// No key has this provider id and provider user id.
    #[error("unknown key")]
    UnknownKey,

    /// The key exists but the password does not match it, or the key has no password.
    #[error("invalid password")]
    InvalidPassword,

    /// A key with this provider id and provider user id already exists.
    #[error("duplicate key")]
    DuplicateKey,

    /// Stored attributes could not be turned into the application's type, or back.
    #[error("attributes could not be converted")]
    Attributes(#[source] serde_json::Error),

    /// The storage could not be reached; retrying later may succeed.
    #[error("storage unavailable")]
    StorageUnavailable(#[source] StorageError),

    /// The storage failed in another way.
    #[error("storage failed")]
    Storage(#[source] StorageError),

    /// Hashing or verifying a password failed.
    #[error("password hashing failed")]
    Hashing(#[source] HashError),
}

/// An error from a storage adapter, kept opaque so that no driver type leaks through the API.
pub struct StorageError(BoxError);

impl StorageError {
    /// Wraps a driver's error.
    pub fn new(source: impl Into<BoxError>) -> Self {
        Self(source.into())
    }
}

impl fmt::Debug for StorageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl fmt::Display for StorageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl StdError for StorageError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.0.source()
    }
}

/// Why hashing or verifying a password failed. Never holds the password or the hash.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HashError {
    /// The configured Argon2 parameters are not valid.
    #[error("invalid argon2 parameters: {0}")]
    InvalidParams(String),

    /// The hashing threads have stopped.
    #[error("password hashing threads have stopped")]
    PoolClosed,

    /// The hash function itself reported an error.
    #[error("hash computation failed: {0}")]
    Compute(String),
}

impl From<crate::adapter::AdapterError> for Error {
    fn from(error: crate::adapter::AdapterError) -> Self {
        use crate::adapter::AdapterError;
        match error {
            AdapterError::DuplicateKey => Error::DuplicateKey,
            AdapterError::UnknownUser => Error::UnknownUser,
            AdapterError::Unavailable(source) => Error::StorageUnavailable(StorageError(source)),
            AdapterError::Other(source) => Error::Storage(StorageError(source)),
        }
    }
}

impl From<HashError> for Error {
    fn from(error: HashError) -> Self {
        Error::Hashing(error)
    }
}
