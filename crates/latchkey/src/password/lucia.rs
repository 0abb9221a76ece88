//! Lucia v2's scrypt hashes, verified so that users carried over from Lucia can sign in, and
//! never made: a valid one always asks to be replaced by Argon2id.
//!
//! Two formats exist. `s2:<salt>:<hex>` is Lucia v2's, with scrypt N=2^14, r=16, p=1 and a
//! 64-byte key; the older two-part `<salt>:<hex>` of the pre-2023 `lucia-auth` used r=8. In
//! both the salt is the text as stored (16 characters of `[a-z0-9]` in v2), hashed as its ASCII
//! bytes rather than decoded, and the key is lowercase hex. Lucia compares the hex text, so an
//! uppercase hex key never matched there and does not match here either.
//!
//! The `scrypt` crate allocates its 16 or 32 MiB afresh on each call; unlike Argon2, there is no
//! way to lend it a buffer. Such hashes exist only until their owner's next sign-in.

use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use super::Verification;
use crate::error::HashError;

/// log2 of scrypt's N, 16384 in both formats.
const LOG_N: u8 = 14;

/// scrypt's block size parameter in Lucia v2's `s2` format.
const R_V2: u32 = 16;

/// scrypt's block size parameter in the legacy two-part format, Node's default.
const R_LEGACY: u32 = 8;

/// The derived key's length in bytes; its hex form is twice as long.
const KEY_LEN: usize = 64;

/// Verifies a normalised password against either Lucia format. A hash of neither shape, or
/// whose key is not 128 lowercase hex digits, is [`Verification::Invalid`] without hashing.
///
/// # Errors
///
/// [`HashError::Compute`] if scrypt rejects its parameters, which are constants: a bug here,
/// never the stored hash's fault.
pub(super) fn verify(password: &[u8], stored: &str) -> Result<Verification, HashError> {
    let Some(stored) = StoredHash::parse(stored) else {
        return Ok(Verification::Invalid);
    };

    let params = scrypt::Params::new(LOG_N, stored.r, 1, KEY_LEN)
        .map_err(|error| HashError::Compute(error.to_string()))?;
    let mut key = Zeroizing::new([0u8; KEY_LEN]);
    scrypt::scrypt(
        password,
        stored.salt.as_bytes(),
        &params,
        key.as_mut_slice(),
    )
    .map_err(|error| HashError::Compute(error.to_string()))?;

    // Compare hex text against hex text, as Lucia did; both are KEY_LEN * 2 bytes here.
    let computed = Zeroizing::new(hex::encode(key.as_slice()));
    if bool::from(computed.as_bytes().ct_eq(stored.key_hex.as_bytes())) {
        Ok(Verification::Valid { needs_rehash: true })
    } else {
        Ok(Verification::Invalid)
    }
}

/// A stored Lucia hash, split into its parts.
pub(super) struct StoredHash<'a> {
    salt: &'a str,
    key_hex: &'a str,
    pub(super) r: u32,
}

impl<'a> StoredHash<'a> {
    /// Splits a hash on `:` the way Lucia's `validateScryptHash` does: two parts are the legacy
    /// format, three starting with `s2` the current one, anything else is not Lucia's.
    pub(super) fn parse(stored: &'a str) -> Option<Self> {
        let mut parts = stored.split(':');
        let (salt, key_hex, r) = match (parts.next(), parts.next(), parts.next(), parts.next()) {
            (Some(salt), Some(key_hex), None, None) => (salt, key_hex, R_LEGACY),
            (Some("s2"), Some(salt), Some(key_hex), None) => (salt, key_hex, R_V2),
            _ => return None,
        };

        let is_lowercase_hex = key_hex
            .bytes()
            .all(|byte| matches!(byte, b'0'..=b'9' | b'a'..=b'f'));
        (key_hex.len() == KEY_LEN * 2 && is_lowercase_hex).then_some(Self { salt, key_hex, r })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::password::secret::normalize;
    use crate::password::Password;

    // Known answers written by Lucia 2.x itself (the fixture database in
    // shared/fixtures/lucia-v2), with the passwords its users signed up with.
    const ALICE: &str = "s2:sejzexi8owaadjgm:94c6991177f6ec5fab0209c531c50da84aa8efe427237322\
                         ece8b9d38d6f2c37fc76da3484b194cae8d9cff51ae75f7b3211651909e09e8e4969\
                         f8ed1f88a14e";
    const UNICODE: &str = "s2:r1dwgaafbxuevemx:e796dd5ceeb4cdc75dccef10690aaf77c3cc6353afc37e3\
                           d26dc7f3a507ed153f2d6490fe5aa46c67435196906ae5f277ed8c6312961e764c\
                           c45cd41055032b7";
    const ERIN: &str = "s2:58agprl7peezy9z9:cdeebc0ffd52e8d845b7bf902ec8aeb8cc9c54f9091290a7\
                        76d80dcb9f9622e67e01d3b363e1f14b5fc2b30a7883238f29a118a3f214a26372116b\
                        6238cd3544";

    // The legacy format, made with Python's hashlib.scrypt(b"legacy pass",
    // salt=b"Hq3xN0pLw8ZtR5vA", n=16384, r=8, p=1, dklen=64).
    const LEGACY: &str = "Hq3xN0pLw8ZtR5vA:04557fb0a2fd58b3d0f34eea7efed6ef21490578173f03abd8\
                          8c231bb585035c896d9204342b80b6f1f5d1916e330353903b14efb626a7e6a4d177\
                          d6f94e1ca8";

    fn check(password: &str, stored: &str) -> Verification {
        let normalized = normalize(&Password::new(password));
        verify(normalized.as_bytes(), stored).expect("constant params are valid")
    }

    #[test]
    fn a_hash_made_by_lucia_v2_verifies_and_needs_a_rehash() {
        assert_eq!(
            check("wonderland 42", ALICE),
            Verification::Valid { needs_rehash: true }
        );
    }

    #[test]
    fn a_wrong_password_against_a_lucia_v2_hash_is_invalid() {
        assert_eq!(check("wonderland 43", ALICE), Verification::Invalid);
    }

    #[test]
    fn a_non_ascii_password_verifies_against_lucia_v2() {
        assert_eq!(
            check("pässwörd ñ 1", UNICODE),
            Verification::Valid { needs_rehash: true }
        );
    }

    #[test]
    fn a_decomposed_password_verifies_against_a_hash_of_its_precomposed_form() {
        assert_eq!(
            check("pa\u{308}sswo\u{308}rd n\u{303} 1", UNICODE),
            Verification::Valid { needs_rehash: true }
        );
    }

    #[test]
    fn a_fullwidth_password_verifies_because_lucia_hashed_its_nfkc_form() {
        assert_eq!(
            check("ＦｕｌｌＷｉｄｔｈ", ERIN),
            Verification::Valid { needs_rehash: true }
        );
        assert_eq!(
            check("FullWidth", ERIN),
            Verification::Valid { needs_rehash: true }
        );
    }

    #[test]
    fn a_legacy_two_part_hash_verifies_with_r_8() {
        assert_eq!(
            check("legacy pass", LEGACY),
            Verification::Valid { needs_rehash: true }
        );
        assert_eq!(check("legacy pasS", LEGACY), Verification::Invalid);
    }

    #[test]
    fn an_uppercase_hex_key_does_not_match_as_in_lucia() {
        let (salt, key_hex) = ALICE.rsplit_once(':').expect("three parts");
        let uppercase = format!("{salt}:{}", key_hex.to_uppercase());

        assert_eq!(check("wonderland 42", &uppercase), Verification::Invalid);
    }

    #[test]
    fn malformed_lucia_hashes_are_invalid() {
        let short_key = "s2:sejzexi8owaadjgm:94c6";
        let not_hex = format!("s2:sejzexi8owaadjgm:{}", "zz".repeat(KEY_LEN));
        let wrong_version = ALICE.replacen("s2", "s3", 1);
        let four_parts = format!("{ALICE}:extra");

        for stored in [
            "",
            ":",
            "s2:x",
            "s2::",
            short_key,
            &not_hex,
            &wrong_version,
            &four_parts,
        ] {
            assert_eq!(
                check("wonderland 42", stored),
                Verification::Invalid,
                "{stored}"
            );
        }
    }
}
