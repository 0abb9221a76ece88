//! Passwords: secret types, Argon2id hashing on dedicated threads, and Lucia v2's hashes.
//!
//! INTERFACE SKETCH: the helper owning this module replaces the bodies below.

use std::fmt;

use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::error::HashError;

/// A password as typed by a person. Redacted `Debug`, wiped on drop.
#[derive(Clone)]
pub struct Password(Zeroizing<String>);

impl Password {
    /// Wraps a password.
    pub fn new(password: impl Into<String>) -> Self {
        Self(Zeroizing::new(password.into()))
    }

    /// The password itself.
    pub fn expose_secret(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

/// A stored password hash: an Argon2 PHC string or one of Lucia v2's scrypt formats.
#[derive(Clone)]
pub struct PasswordHash(Zeroizing<String>);

impl PasswordHash {
    /// Wraps a hash read from storage.
    pub fn new(hash: impl Into<String>) -> Self {
        Self(Zeroizing::new(hash.into()))
    }

    /// The hash as stored.
    pub fn expose_secret(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PasswordHash(<redacted>)")
    }
}

impl PartialEq for PasswordHash {
    fn eq(&self, other: &Self) -> bool {
        self.0.as_bytes().ct_eq(other.0.as_bytes()).into()
    }
}

impl Eq for PasswordHash {}

/// Argon2id cost parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Argon2Params {
    /// Memory in KiB.
    pub memory_kib: u32,
    /// Passes over memory.
    pub iterations: u32,
    /// Lanes.
    pub parallelism: u32,
}

impl Default for Argon2Params {
    fn default() -> Self {
        Self {
            memory_kib: 19_456,
            iterations: 2,
            parallelism: 1,
        }
    }
}

/// How the hashing threads are set up.
#[derive(Debug, Clone)]
pub struct HasherConfig {
    /// Parameters for new hashes, and the bar below which a stored hash is obsolete.
    pub argon2: Argon2Params,
    /// Hashing threads, which bound how many hashes run at once.
    pub threads: usize,
}

impl Default for HasherConfig {
    fn default() -> Self {
        Self {
            argon2: Argon2Params::default(),
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
        }
    }
}

/// The outcome of checking a password against a stored hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verification {
    /// The password matches; `needs_rehash` when the hash is obsolete.
    Valid {
        /// The stored hash should be replaced by a fresh one.
        needs_rehash: bool,
    },
    /// The password does not match, or there was no hash.
    Invalid,
}

/// Hashes and verifies passwords on a few dedicated threads.
#[derive(Clone)]
pub struct PasswordHasher {}

impl fmt::Debug for PasswordHasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PasswordHasher").finish_non_exhaustive()
    }
}

impl PasswordHasher {
    /// Starts the hashing threads.
    pub fn new(config: HasherConfig) -> Result<Self, HashError> {
        let _ = config;
        unimplemented!()
    }

    /// Hashes a password with Argon2id.
    pub async fn hash(&self, password: &Password) -> Result<PasswordHash, HashError> {
        let _ = password;
        unimplemented!()
    }

    /// Verifies a password; with no hash, verifies against a dummy one so that the time taken
    /// does not tell whether a hash existed.
    pub async fn verify(
        &self,
        password: &Password,
        hash: Option<&PasswordHash>,
    ) -> Result<Verification, HashError> {
        let _ = (password, hash);
        unimplemented!()
    }

    /// Jobs waiting for a hashing thread.
    pub fn queue_depth(&self) -> usize {
        unimplemented!()
    }
}
