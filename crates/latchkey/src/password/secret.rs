//! The two secrets of this module: a password as typed, and a hash as stored.
//!
//! Both are wiped from memory on drop, print as `<redacted>` so that no log or panic message
//! can hold one, and compare in constant time so that an equality check leaks no prefix.

use std::fmt;

use subtle::ConstantTimeEq;
use unicode_normalization::UnicodeNormalization;
use zeroize::Zeroizing;

/// A password as typed by a person. Redacted `Debug`, wiped on drop, compared in constant time.
///
/// ```
/// use latchkey::Password;
///
/// let password = Password::new("correct horse");
/// assert_eq!(format!("{password:?}"), "Password(<redacted>)");
/// assert_eq!(password.expose_secret(), "correct horse");
/// ```
#[derive(Clone)]
pub struct Password(Zeroizing<String>);

impl Password {
    /// Wraps a password.
    pub fn new(password: impl Into<String>) -> Self {
        Self(Zeroizing::new(password.into()))
    }

    /// The password itself, as typed: not yet normalised.
    pub fn expose_secret(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

impl PartialEq for Password {
    fn eq(&self, other: &Self) -> bool {
        self.0.as_bytes().ct_eq(other.0.as_bytes()).into()
    }
}

impl Eq for Password {}

/// A stored password hash: an Argon2 PHC string or one of Lucia v2's scrypt formats.
///
/// Redacted `Debug`, wiped on drop, compared in constant time. A hash is not a password, but
/// it is what an offline guessing attack starts from, so it is kept out of logs all the same.
///
/// ```
/// use latchkey::PasswordHash;
///
/// let hash = PasswordHash::new("s2:sejzexi8owaadjgm:94c6");
/// assert_eq!(format!("{hash:?}"), "PasswordHash(<redacted>)");
/// ```
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

/// The bytes that are hashed for a password: its NFKC form in UTF-8.
///
/// NFKC, as Lucia v2 does, so that a password typed as a precomposed "é" on one keyboard and
/// as "e" with a combining accent on another, or in fullwidth forms by an IME, is one password
/// (NIST SP 800-63B §5.1.1.2 asks verifiers to normalise Unicode passwords). The length is
/// counted first so that the string is allocated once: a growing `String` would leave copies
/// of the password behind in freed memory that `Zeroizing` never sees.
pub(super) fn normalize(password: &Password) -> Zeroizing<String> {
    let len = password.0.nfkc().map(char::len_utf8).sum();

    let mut normalized = Zeroizing::new(String::with_capacity(len));
    normalized.extend(password.0.nfkc());
    normalized
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_of_a_password_does_not_show_it() {
        let password = Password::new("hunter2-secret");

        let printed = format!("{password:?} {password:#?}");

        assert!(!printed.contains("hunter2"), "{printed}");
    }

    #[test]
    fn debug_of_a_hash_does_not_show_it() {
        let hash = PasswordHash::new("$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2g");

        let printed = format!("{hash:?} {hash:#?}");

        assert!(!printed.contains("argon2id"), "{printed}");
        assert!(!printed.contains("c2FsdHNhbHQ"), "{printed}");
    }

    #[test]
    fn equal_secrets_compare_equal_and_different_ones_do_not() {
        assert_eq!(Password::new("abc"), Password::new("abc"));
        assert_ne!(Password::new("abc"), Password::new("abd"));
        assert_ne!(Password::new("abc"), Password::new("abcd"));
        assert_eq!(PasswordHash::new("s2:a:b"), PasswordHash::new("s2:a:b"));
        assert_ne!(PasswordHash::new("s2:a:b"), PasswordHash::new("s2:a:c"));
    }

    #[test]
    fn fullwidth_and_decomposed_passwords_normalise_to_their_plain_form() {
        let fullwidth = normalize(&Password::new("ＦｕｌｌＷｉｄｔｈ"));
        let decomposed = normalize(&Password::new("A\u{30a}ngstro\u{308}m"));

        assert_eq!(fullwidth.as_str(), "FullWidth");
        assert_eq!(decomposed.as_str(), "\u{c5}ngstr\u{f6}m");
    }

    #[test]
    fn normalising_allocates_exactly_the_normalised_length() {
        let normalized = normalize(&Password::new("ＦｕｌｌＷｉｄｔｈ ﬁ"));

        assert_eq!(normalized.as_str(), "FullWidth fi");
        assert_eq!(normalized.capacity(), normalized.len());
    }
}
