//! Passwords: secret types, Argon2id hashing on dedicated threads, and Lucia v2's hashes.
//!
//! New hashes are Argon2id v1.3 PHC strings, at OWASP's recommended minimum cost by default
//! (19 MiB, two passes, one lane; Password Storage Cheat Sheet). Stored hashes may also be
//! argon2i or argon2d PHC strings, or the scrypt hashes Lucia v2 and its predecessor wrote; all
//! verify, and a valid one that is weaker than the configured cost says it needs a rehash, so
//! that an application can replace it while it has the password in hand.
//!
//! Every password is NFKC-normalised before it is hashed or verified, as Lucia does, so that
//! the same characters typed on different keyboards are the same password.
//!
//! Threat model: the hashes are for the day the database leaks, so they are slow on purpose.
//! That slowness is itself a target, of a flood of sign-ins meant to exhaust CPU or memory, so
//! hashing runs on a fixed set of threads with one reused buffer each, at a lower priority
//! than the request path ([`PasswordHasher`], [`HashingPriority`]).
//! A sign-in for an account that does not exist verifies against a stand-in hash, so the
//! response time does not reveal which accounts exist. Passwords and hashes live in types
//! that never print and are wiped on drop ([`Password`], [`PasswordHash`]).

mod argon2id;
mod common;
mod lucia;
mod pool;
mod secret;

pub use common::{check_new_password, common_password_count, is_common, PasswordPolicyError};
pub use pool::{PasswordHasher, WaitObserver};
pub use secret::{Password, PasswordHash};

use crate::error::HashError;
use argon2id::Argon2Memory;

/// Argon2id cost parameters, for new hashes and as the bar below which a stored hash is
/// obsolete.
///
/// ```
/// use latchkey::Argon2Params;
///
/// // OWASP's alternative to the default: more memory, one pass.
/// let params = Argon2Params { memory_kib: 47_104, iterations: 1, parallelism: 1 };
/// # let _ = params;
/// ```
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
    /// m=19456 KiB, t=2, p=1: OWASP's recommended minimum for Argon2id.
    fn default() -> Self {
        Self {
            memory_kib: 19_456,
            iterations: 2,
            parallelism: 1,
        }
    }
}

impl Argon2Params {
    /// The `argon2` crate's parameters, with its default 32-byte output.
    fn to_argon2(self) -> Result<argon2::Params, HashError> {
        argon2::Params::new(
            self.memory_kib,
            self.iterations,
            self.parallelism,
            Some(argon2::Params::DEFAULT_OUTPUT_LEN),
        )
        .map_err(|error| HashError::InvalidParams(error.to_string()))
    }
}

/// How the hashing threads are set up.
///
/// ```
/// use latchkey::{Argon2Params, HasherConfig, HashingPriority};
///
/// let config = HasherConfig { threads: 2, ..HasherConfig::default() };
/// assert_eq!(config.argon2, Argon2Params::default());
/// assert_eq!(config.priority, HashingPriority::Lowered);
/// ```
#[derive(Debug, Clone)]
pub struct HasherConfig {
    /// Parameters for new hashes, and the bar below which a stored hash is obsolete.
    pub argon2: Argon2Params,
    /// Hashing threads, which bound how many hashes run at once and so the memory they take:
    /// at most this many times `argon2.memory_kib`. At least one.
    pub threads: usize,
    /// Their scheduling priority against the rest of the process.
    pub priority: HashingPriority,
}

impl Default for HasherConfig {
    /// Default parameters, one thread per core, at lowered priority.
    fn default() -> Self {
        Self {
            argon2: Argon2Params::default(),
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            priority: HashingPriority::default(),
        }
    }
}

/// The scheduling priority of the hashing threads.
///
/// A sign-in takes tens of milliseconds of CPU on purpose, a page view far less. When both
/// want the CPU, lowered hashing threads let the requests that need no hash go first, so that
/// a flood of sign-ins slows sign-ins, not every page (docs/benchmarks.md, "Isolation"). When
/// nothing else wants the CPU, the hashing threads get all of it at either priority.
///
/// ```
/// use latchkey::{HasherConfig, HashingPriority};
///
/// // A host shared with other busy programs, where sign-ins must not yield to them.
/// let config = HasherConfig { priority: HashingPriority::Normal, ..HasherConfig::default() };
/// # let _ = config;
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum HashingPriority {
    /// Ten nice levels below the thread that starts the hasher, at most 19: under Linux's
    /// scheduler a thread at nice 10 gets about a tenth of the CPU that one at nice 0 gets
    /// when both are busy. Lowered hashing threads yield to other processes too, which on a
    /// busy shared host slows sign-ins. The default. On other systems than Linux, the same as
    /// [`Normal`](Self::Normal).
    #[default]
    Lowered,
    /// The priority of the thread that starts the hasher.
    Normal,
}

/// The outcome of checking a password against a stored hash.
///
/// ```
/// use latchkey::Verification;
///
/// let outcome = Verification::Valid { needs_rehash: true };
/// assert!(outcome.is_valid() && outcome.needs_rehash());
/// assert!(!Verification::Invalid.needs_rehash());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verification {
    /// The password matches; `needs_rehash` when the hash is obsolete.
    Valid {
        /// The stored hash should be replaced by a fresh one: it is scrypt, not Argon2id, of
        /// an older Argon2 version, or cheaper than the configured cost.
        needs_rehash: bool,
    },
    /// The password does not match, there was no hash, or the hash could not be read.
    Invalid,
}

impl Verification {
    /// Whether the password matched.
    pub fn is_valid(self) -> bool {
        matches!(self, Verification::Valid { .. })
    }

    /// Whether the password matched a hash that should now be replaced.
    pub fn needs_rehash(self) -> bool {
        matches!(self, Verification::Valid { needs_rehash: true })
    }
}

/// Verifies a normalised password against a stored hash of any supported format.
///
/// A PHC string starts with `$`; Lucia's hashes never do. Lucia's own bcrypt check for `$2a`
/// is not copied: such a hash is simply not Argon2, so it is invalid.
fn verify_stored(
    memory: &mut Argon2Memory,
    configured: &argon2::Params,
    password: &[u8],
    hash: &PasswordHash,
) -> Result<Verification, HashError> {
    let stored = hash.expose_secret();

    if stored.starts_with('$') {
        Ok(argon2id::verify(memory, configured, password, stored))
    } else {
        lucia::verify(password, stored)
    }
}

/// What a stored hash is, as [`parse_stored_hash`] reads it.
#[doc(hidden)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum StoredScheme {
    /// An Argon2 PHC string of any variant, at this cost.
    Argon2(Argon2Params),
    /// Lucia's scrypt, with block size `r`: 16 for `s2:<salt>:<hex>`, 8 for `<salt>:<hex>`.
    Scrypt {
        /// scrypt's block size parameter.
        r: u32,
    },
}

/// Reads a stored hash the way verification does, without hashing: for the fuzz targets, which
/// cannot afford a hash per input. `None` is a hash that verifies as invalid without any work.
/// Not part of the stable API.
#[doc(hidden)]
pub fn parse_stored_hash(stored: &str) -> Option<StoredScheme> {
    if stored.starts_with('$') {
        let params = argon2id::StoredHash::parse(stored)?.params;
        Some(StoredScheme::Argon2(Argon2Params {
            memory_kib: params.m_cost(),
            iterations: params.t_cost(),
            parallelism: params.p_cost(),
        }))
    } else {
        let r = lucia::StoredHash::parse(stored)?.r;
        Some(StoredScheme::Scrypt { r })
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const CHEAP: Argon2Params = Argon2Params {
        memory_kib: 1024,
        iterations: 1,
        parallelism: 1,
    };

    fn hasher(argon2: Argon2Params) -> PasswordHasher {
        PasswordHasher::new(HasherConfig {
            argon2,
            threads: 1,
            ..HasherConfig::default()
        })
        .expect("valid config")
    }

    /// Verifies on the calling thread, for the property test's thousands of cases.
    fn verify_here(password: &str, stored: &str) -> Result<Verification, HashError> {
        let configured = CHEAP.to_argon2()?;
        let mut memory = Argon2Memory::new(&configured);
        let password = secret::normalize(&Password::new(password));

        verify_stored(
            &mut memory,
            &configured,
            password.as_bytes(),
            &PasswordHash::new(stored),
        )
    }

    #[tokio::test]
    async fn a_hash_with_default_params_is_an_argon2id_phc_string() {
        let hasher = hasher(Argon2Params::default());

        let hash = hasher
            .hash(&Password::new("correct horse"))
            .await
            .expect("hash");

        assert!(hash
            .expose_secret()
            .starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
    }

    #[tokio::test]
    async fn two_hashes_of_one_password_differ_by_their_salt() {
        let hasher = hasher(CHEAP);
        let password = Password::new("correct horse");

        let first = hasher.hash(&password).await.expect("hash");
        let second = hasher.hash(&password).await.expect("hash");

        assert_ne!(first, second);
    }

    #[tokio::test]
    async fn a_hash_made_by_lucia_v2_verifies_and_needs_a_rehash() {
        let hasher = hasher(CHEAP);
        let alice = PasswordHash::new(
            "s2:sejzexi8owaadjgm:94c6991177f6ec5fab0209c531c50da84aa8efe427237322ece8b9d38d6f2c37\
             fc76da3484b194cae8d9cff51ae75f7b3211651909e09e8e4969f8ed1f88a14e",
        );

        let right = hasher
            .verify(&Password::new("wonderland 42"), Some(&alice))
            .await;
        let wrong = hasher
            .verify(&Password::new("Wonderland 42"), Some(&alice))
            .await;

        assert_eq!(
            right.expect("verify"),
            Verification::Valid { needs_rehash: true }
        );
        assert_eq!(wrong.expect("verify"), Verification::Invalid);
    }

    #[tokio::test]
    async fn a_hash_at_the_configured_cost_needs_no_rehash_and_a_cheaper_one_does() {
        let configured = Argon2Params {
            memory_kib: 8192,
            iterations: 1,
            parallelism: 1,
        };
        let cheaper = Argon2Params {
            memory_kib: 4096,
            ..configured
        };
        let password = Password::new("correct horse");
        let current = hasher(configured).hash(&password).await.expect("hash");
        let old = hasher(cheaper).hash(&password).await.expect("hash");
        let hasher = hasher(configured);

        let current = hasher
            .verify(&password, Some(&current))
            .await
            .expect("verify");
        let old = hasher.verify(&password, Some(&old)).await.expect("verify");

        assert_eq!(
            current,
            Verification::Valid {
                needs_rehash: false
            }
        );
        assert_eq!(old, Verification::Valid { needs_rehash: true });
    }

    #[tokio::test]
    async fn an_argon2i_hash_verifies_and_needs_a_rehash() {
        // Made by the `argon2` crate's own hasher, as another application might have.
        use argon2::password_hash::{PasswordHasher as _, SaltString};
        let salt = SaltString::encode_b64(b"sixteen byte sal").expect("salt");
        let argon2i = argon2::Argon2::new(
            argon2::Algorithm::Argon2i,
            argon2::Version::V0x13,
            CHEAP.to_argon2().expect("params"),
        )
        .hash_password(b"correct horse", &salt)
        .expect("hash")
        .to_string();

        let verification = hasher(CHEAP)
            .verify(
                &Password::new("correct horse"),
                Some(&PasswordHash::new(argon2i)),
            )
            .await;

        assert_eq!(
            verification.expect("verify"),
            Verification::Valid { needs_rehash: true }
        );
    }

    #[test]
    fn garbage_hashes_are_invalid() {
        let not_hex = format!("s2:sejzexi8owaadjgm:{}", "g".repeat(128));
        let garbage = [
            "",
            "$",
            "$argon2id$",
            "$argon2id$v=19$m=1024,t=1,p=1$",
            "$argon2id$v=19$m=1024,t=1,p=1$c2FsdHNhbHQ",
            "$argon2id$v=99$m=1024,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo",
            "$argon2id$v=19$m=1,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo",
            "$2a$10$abcdefghijklmnopqrstuu",
            "s2:x",
            &not_hex,
            "plaintext",
        ];

        for stored in garbage {
            let verification = verify_here("pw", stored);

            assert_eq!(
                verification.expect("no error"),
                Verification::Invalid,
                "{stored:?}"
            );
        }
    }

    #[test]
    fn a_stored_hash_is_read_without_hashing_as_its_scheme_and_cost() {
        let lucia = format!("s2:sejzexi8owaadjgm:{}", "0f".repeat(64));
        let legacy = format!("sejzexi8owaadjgm:{}", "0f".repeat(64));
        let argon2 = "$argon2i$v=19$m=1024,t=3,p=2$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo";

        assert_eq!(
            parse_stored_hash(&lucia),
            Some(StoredScheme::Scrypt { r: 16 })
        );
        assert_eq!(
            parse_stored_hash(&legacy),
            Some(StoredScheme::Scrypt { r: 8 })
        );
        assert_eq!(
            parse_stored_hash(argon2),
            Some(StoredScheme::Argon2(Argon2Params {
                memory_kib: 1024,
                iterations: 3,
                parallelism: 2,
            }))
        );
        assert_eq!(parse_stored_hash("$argon2id$v=19$m=1024,t=1,p=1$"), None);
        assert_eq!(parse_stored_hash("plaintext"), None);
    }

    #[test]
    fn verifying_an_empty_password_against_garbage_is_invalid() {
        assert_eq!(
            verify_here("", "").expect("no error"),
            Verification::Invalid
        );
    }

    proptest! {
        #[test]
        fn any_string_as_a_stored_hash_verifies_without_panicking(stored in "\\PC*") {
            prop_assert!(verify_here("pw", &stored).is_ok());
        }

        #[test]
        fn any_phc_like_string_verifies_without_panicking(
            stored in "\\$argon2(id|i|d)\\$(v=(16|19|[0-9]{1,4})\\$)?m=[0-9]{1,4},t=[0-3],p=[0-9]\
                       (\\$[A-Za-z0-9+/]{0,30}(\\$[A-Za-z0-9+/]{0,90})?)?"
        ) {
            prop_assert!(verify_here("pw", &stored).is_ok());
        }
    }
}
