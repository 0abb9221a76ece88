//! Random identifiers and session tokens.
//!
//! A session token is the only secret a client holds: 40 characters drawn uniformly from
//! `[a-z0-9]` by the operating system's CSPRNG, about 206 bits, the same shape as Lucia v2's
//! session ids so that tokens Lucia issued keep working after an import. The database stores
//! only the token's SHA-256 ([`SessionId`]), so a copy of it yields no usable session: the
//! approach of Lucia's successor and of OWASP's session management cheat sheet.

use std::fmt;

use rand::rngs::OsRng;
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

/// The alphabet of every generated id and token: lowercase ASCII letters and digits.
pub const ALPHABET: &[u8; 36] = b"abcdefghijklmnopqrstuvwxyz0123456789";

/// Whether `byte` is in [`ALPHABET`], by range: searching the alphabet for each of a
/// token's characters was 1% of the instructions of a profile view.
fn in_alphabet(byte: u8) -> bool {
    byte.is_ascii_lowercase() || byte.is_ascii_digit()
}

/// Characters in a session token.
pub const TOKEN_LENGTH: usize = 40;

/// Characters in a generated user id.
pub const USER_ID_LENGTH: usize = 15;

/// A string of `length` characters drawn uniformly from [`ALPHABET`] by the OS CSPRNG.
///
/// Bytes of 252 and above are rejected rather than reduced modulo 36, which would favour the
/// first characters of the alphabet.
pub fn random_string(length: usize) -> String {
    let mut out = String::with_capacity(length);
    let mut buffer = [0u8; 64];
    while out.len() < length {
        OsRng.fill_bytes(&mut buffer);
        for &byte in buffer.iter().filter(|&&byte| byte < 252) {
            if out.len() == length {
                break;
            }
            out.push(char::from(ALPHABET[usize::from(byte % 36)]));
        }
    }
    out
}

/// The secret a client presents to prove it holds a session.
///
/// Its `Debug` is redacted and it is wiped from memory on drop.
#[derive(Clone)]
pub struct SessionToken(Zeroizing<String>);

impl SessionToken {
    /// Draws a fresh token.
    pub fn generate() -> Self {
        Self(Zeroizing::new(random_string(TOKEN_LENGTH)))
    }

    /// Accepts a token that a client sent, if it has the shape of one this library issues.
    ///
    /// A malformed value is refused here, before it costs a database lookup.
    pub fn parse(value: &str) -> Option<Self> {
        let well_formed = value.len() == TOKEN_LENGTH && value.bytes().all(in_alphabet);
        well_formed.then(|| Self(Zeroizing::new(value.to_owned())))
    }

    /// The token as sent to the client, for a cookie or a response body.
    pub fn expose_secret(&self) -> &str {
        &self.0
    }

    /// The id under which the session is stored: the token's SHA-256.
    pub fn session_id(&self) -> SessionId {
        SessionId(hex::encode(Sha256::digest(self.0.as_bytes())))
    }
}

impl fmt::Debug for SessionToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionToken(<redacted>)")
    }
}

impl PartialEq for SessionToken {
    fn eq(&self, other: &Self) -> bool {
        self.0.as_bytes().ct_eq(other.0.as_bytes()).into()
    }
}

impl Eq for SessionToken {}

/// The stored, public identity of a session: the lowercase hex SHA-256 of its token.
///
/// It is not a secret, since the token cannot be recovered from it, so it may be shown to the
/// session's owner (to revoke one of several sessions) and a short prefix may be logged.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionId(String);

impl SessionId {
    /// Accepts a session id in its stored form: 64 lowercase hex digits.
    pub fn parse(value: &str) -> Option<Self> {
        let well_formed = value.len() == 64
            && value
                .bytes()
                .all(|byte| byte.is_ascii_digit() || (b'a'..=b'f').contains(&byte));
        well_formed.then(|| Self(value.to_owned()))
    }

    /// Wraps a stored id without checking it; for adapters reading their own rows.
    pub fn from_stored(value: String) -> Self {
        Self(value)
    }

    /// The id as stored.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The first 8 characters, enough to tell sessions apart in a log line.
    pub fn short(&self) -> &str {
        self.0.get(..8).unwrap_or(&self.0)
    }
}

impl fmt::Debug for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SessionId({})", self.short())
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn exactly_the_alphabets_bytes_are_in_it() {
        for byte in 0..=u8::MAX {
            assert_eq!(in_alphabet(byte), ALPHABET.contains(&byte), "byte {byte}");
        }
    }

    #[test]
    fn a_token_has_forty_characters_from_the_alphabet() {
        for _ in 0..1_000 {
            let token = SessionToken::generate();
            assert_eq!(token.expose_secret().len(), TOKEN_LENGTH);
            assert!(token.expose_secret().bytes().all(|b| ALPHABET.contains(&b)));
        }
    }

    #[test]
    fn tokens_do_not_repeat_over_many_draws() {
        let drawn: HashSet<String> = (0..100_000)
            .map(|_| SessionToken::generate().expose_secret().to_owned())
            .collect();
        assert_eq!(drawn.len(), 100_000);
    }

    #[test]
    fn every_character_of_the_alphabet_is_drawn_about_equally_often() {
        let mut counts = [0usize; 36];
        let sample = random_string(360_000);
        for byte in sample.bytes() {
            let index = ALPHABET
                .iter()
                .position(|&a| a == byte)
                .expect("in alphabet");
            counts[index] += 1;
        }
        // 10,000 expected per character; a biased reduction would skew the first four by ~2%.
        for count in counts {
            assert!((9_500..10_500).contains(&count), "count {count}");
        }
    }

    #[test]
    fn a_token_carries_at_least_128_bits() {
        let bits = TOKEN_LENGTH as f64 * (ALPHABET.len() as f64).log2();
        assert!(bits >= 128.0, "{bits}");
    }

    #[test]
    fn the_session_id_is_the_sha256_of_the_token() {
        let token = SessionToken::parse("o0zhasfnxogeat5iuzqqstymr0lcxgq0j3kymifp").expect("valid");
        // echo -n o0zh...mifp | sha256sum
        let expected = hex::encode(Sha256::digest(b"o0zhasfnxogeat5iuzqqstymr0lcxgq0j3kymifp"));
        assert_eq!(token.session_id().as_str(), expected);
        assert_eq!(token.session_id().as_str().len(), 64);
    }

    #[test]
    fn malformed_tokens_are_refused_before_any_lookup() {
        for bad in [
            "",
            "short",
            &"A".repeat(40),
            &"a".repeat(41),
            &"é".repeat(20),
            &format!("{}!", "a".repeat(39)),
        ] {
            assert!(SessionToken::parse(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn the_debug_output_of_a_token_hides_it() {
        let token = SessionToken::generate();
        let debug = format!("{token:?}");
        assert!(!debug.contains(token.expose_secret()));
    }
}
