//! The stored-hash parser: Argon2 PHC strings, Lucia v2's `s2:<salt>:<hex>` and the legacy
//! `<salt>:<hex>`. A stored hash is data from the database, possibly from another program, so
//! any text must read as a scheme or as nothing, and verify without a panic or an error.
//! Argon2 hashes cheap enough to compute are verified in full; scrypt always costs 16 MiB
//! and tens of milliseconds, far too slow to run per input, so Lucia's are only parsed.

#![no_main]

use std::sync::OnceLock;

use latchkey::password::{parse_stored_hash, StoredScheme};
use latchkey::{Argon2Params, HasherConfig, Password, PasswordHash, PasswordHasher, Verification};
use libfuzzer_sys::fuzz_target;

/// Memory times passes, in KiB, below which a stored Argon2 hash is verified per input.
const CHEAP_WORK: u64 = 256;

fn hasher() -> &'static PasswordHasher {
    static HASHER: OnceLock<PasswordHasher> = OnceLock::new();
    HASHER.get_or_init(|| {
        let argon2 = Argon2Params {
            memory_kib: 8,
            iterations: 1,
            parallelism: 1,
        };
        PasswordHasher::new(HasherConfig {
            argon2,
            threads: 1,
            ..HasherConfig::default()
        })
        .expect("valid params")
    })
}

fn verify(stored: &str) -> Verification {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    let runtime = RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a runtime")
    });

    let hash = PasswordHash::new(stored);
    runtime
        .block_on(hasher().verify(&Password::new("fuzz"), Some(&hash)))
        .expect("a stored hash never makes verification fail")
}

fuzz_target!(|data: &[u8]| {
    let Ok(stored) = std::str::from_utf8(data) else {
        return;
    };

    match parse_stored_hash(stored) {
        None => assert_eq!(verify(stored), Verification::Invalid, "{stored:?}"),
        Some(StoredScheme::Argon2(params)) => {
            assert!(stored.starts_with("$argon2"), "{stored:?}");
            assert!(params.memory_kib >= 8 * params.parallelism, "{params:?}");
            let work = u64::from(params.memory_kib) * u64::from(params.iterations);
            if work <= CHEAP_WORK {
                // Valid only for a seed made with the password "fuzz", and then it needs a
                // rehash unless it is Argon2id v1.3, whose cost is never below the hasher's.
                if let Verification::Valid { needs_rehash } = verify(stored) {
                    let current = stored.starts_with("$argon2id$v=19$");
                    assert_eq!(needs_rehash, !current, "{stored:?}");
                }
            }
        }
        Some(StoredScheme::Scrypt { r }) => {
            assert!(r == 8 || r == 16, "{stored:?}");
            let key_hex = stored.rsplit(':').next().unwrap_or_default();
            assert_eq!(key_hex.len(), 128, "{stored:?}");
        }
        Some(other) => panic!("a scheme the target does not know: {other:?}"),
    }
});
