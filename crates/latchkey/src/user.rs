//! Users and the keys that sign in as them.

use std::fmt;

use crate::token::{random_string, USER_ID_LENGTH};

/// A user's id: 15 characters of `[a-z0-9]` from the OS CSPRNG, as in Lucia v2, unless an
/// application or an import supplies its own.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UserId(String);

impl UserId {
    /// Draws a fresh id.
    pub fn generate() -> Self {
        Self(random_string(USER_ID_LENGTH))
    }

    /// Wraps an existing id, such as one read from a URL or a Lucia v2 database.
    pub fn new(id: impl Into<String>) -> Self {
        Self(id.into())
    }

    /// The id as stored.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "UserId({})", self.0)
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A user: an id and the application's attributes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User<U> {
    /// The user's id.
    pub id: UserId,
    /// Whatever the application keeps about the user.
    pub attributes: U,
}

/// A key: one way of signing in as a user, such as a username with a password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key {
    /// The login method, such as `username`.
    pub provider_id: String,
    /// The user's identity within the method, such as a username's lookup form.
    pub provider_user_id: String,
    /// The user the key signs in as.
    pub user_id: UserId,
    /// Whether the key has a password.
    pub has_password: bool,
}
