//! Argon2 PHC strings, computed in a memory buffer that a hashing thread keeps between jobs.
//!
//! The `argon2` crate's `PasswordHasher` allocates a fresh buffer (19 MiB at the default cost)
//! for every hash. Under a flood of sign-ins those allocations, freed and taken again on many
//! threads, were measured to push resident memory to several GB. Here each hashing thread owns
//! one [`Argon2Memory`] and every hash it computes runs in it, so the memory taken by hashing
//! is bounded by the number of threads times the configured cost. The PHC string is then put
//! together from the raw output with the `password_hash` types the `argon2` crate re-exports.

use argon2::password_hash::{self, Output, ParamsString, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use rand::rngs::OsRng;
use rand::RngCore;
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, Zeroizing};

use super::{PasswordHash, Verification};
use crate::error::HashError;

/// Salt length in bytes: the 128 bits that RFC 9106 §3.1 recommends.
const SALT_LEN: usize = 16;

/// Tag length in bytes, the `argon2` crate's default and RFC 9106's recommendation.
const OUTPUT_LEN: usize = 32;

/// The most memory, in KiB, that a stored hash may ask for: 1 GiB.
///
/// A stored hash is data, and its parameters decide how much memory and time a verification
/// takes. Without a ceiling, one row reading `m=4294967295` would make a hashing thread try to
/// allocate 4 TiB. Hashes dearer than the ceiling verify as invalid. The ceiling rises to the
/// configured cost when that is higher.
const MAX_STORED_MEMORY_KIB: u32 = 1 << 20;

/// The most work, in KiB times passes, that a stored hash may ask for: four passes over 1 GiB,
/// about a hundred times the default cost. For the same reason as [`MAX_STORED_MEMORY_KIB`].
const MAX_STORED_WORK: u64 = 4 << 20;

/// The memory one hashing thread computes all its Argon2 hashes in.
///
/// It is allocated on the first hash, so that an idle thread holds nothing. It grows when a
/// stored hash needs more than the configured cost, and shrinks back after that hash, so that
/// one old, dearer hash does not pin its memory for the life of the thread.
///
/// The blocks are derived from the password, so they are wiped; the reference implementation
/// does so after every hash (its `FLAG_clear_internal_memory`), but here the thread calls
/// [`wipe`](Self::wipe) only when it runs out of work. Argon2's first pass writes every block
/// before any block is read (RFC 9106 §3.2), so a hash never reads what the last one left,
/// and a flood of sign-ins is spared a 19 MiB wipe per hash. Whatever gives blocks back to
/// the allocator (growing, shrinking back, [`release`](Self::release), drop) wipes them
/// first, so nothing derived from a password is ever freed unwiped.
pub(super) struct Argon2Memory {
    blocks: Vec<Block>,
    resting_blocks: usize,
    /// How many leading blocks may hold data from a hash; all after them are zero.
    dirty_blocks: usize,
}

impl Argon2Memory {
    /// Memory for hashes at the configured cost; nothing is allocated yet.
    pub(super) fn new(configured: &Params) -> Self {
        Self {
            blocks: Vec::new(),
            resting_blocks: configured.block_count(),
            dirty_blocks: 0,
        }
    }

    /// Zeroes the blocks the hashes since the last wipe used.
    ///
    /// Volatile writes, through `zeroize`, because several callers free the memory right
    /// after, and a plain fill of memory about to be freed is a dead store that the compiler
    /// may remove.
    pub(super) fn wipe(&mut self) {
        for block in &mut self.blocks[..self.dirty_blocks] {
            block.as_mut().zeroize();
        }
        self.dirty_blocks = 0;
    }

    /// Wipes the memory and gives it back to the allocator, for a thread with nothing to do.
    pub(super) fn release(&mut self) {
        self.wipe();
        self.blocks = Vec::new();
    }

    /// Computes one Argon2 output into `out`. The blocks it used stay as they are until the
    /// next hash overwrites them or [`wipe`](Self::wipe) is called.
    fn compute(
        &mut self,
        argon2: &Argon2<'_>,
        password: &[u8],
        salt: &[u8],
        out: &mut [u8],
    ) -> argon2::Result<()> {
        let needed = argon2.params().block_count();
        if self.blocks.len() < needed {
            // Not `resize`, which may move the blocks and free the old allocation unwiped.
            self.wipe();
            self.blocks = own_mapping(needed);
        }

        let used = &mut self.blocks[..needed];
        self.dirty_blocks = self.dirty_blocks.max(needed);
        let result = argon2.hash_password_into_with_memory(password, salt, out, used);

        // A dearer hash is rare: its memory goes back at once, and the next hash maps its
        // own again.
        if self.blocks.len() > self.resting_blocks {
            self.release();
        }

        result
    }

    /// Whether every block is zero: what a wipe leaves.
    #[cfg(test)]
    pub(super) fn is_wiped(&self) -> bool {
        self.blocks
            .iter()
            .all(|block| block.as_ref().iter().all(|word| *word == 0))
    }
}

/// Room for `blocks` blocks in a mapping of its own, which is unmapped when it is freed.
///
/// glibc's malloc maps an allocation on its own only above its mmap threshold, and after such
/// a mapping is freed it raises the threshold to that size (mallopt(3), M_MMAP_THRESHOLD):
/// the next 19 MiB buffer then comes from a heap arena, which keeps it after it is freed.
/// Three bursts of sign-ins measured 52, then 52, then 92 MiB resident, idle, after the
/// buffers were freed. Asking for more than the threshold can ever reach (32 MiB on 64-bit
/// systems) keeps every buffer in its own mapping; pages never written take no memory.
fn own_mapping(blocks: usize) -> Vec<Block> {
    const ABOVE_ANY_MMAP_THRESHOLD: usize = (33 << 20) / std::mem::size_of::<Block>();

    let mut memory = Vec::with_capacity(blocks.max(ABOVE_ANY_MMAP_THRESHOLD));
    memory.resize(blocks, Block::new());
    memory
}

impl Drop for Argon2Memory {
    /// Wipes the blocks before they are freed, as when a hashing thread stops.
    fn drop(&mut self) {
        self.wipe();
    }
}

/// Hashes a normalised password with Argon2id v1.3 into a PHC string.
pub(super) fn hash(
    memory: &mut Argon2Memory,
    params: &Params,
    password: &[u8],
) -> Result<PasswordHash, HashError> {
    let mut salt = [0u8; SALT_LEN];
    OsRng.fill_bytes(&mut salt);

    let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    let mut output = Zeroizing::new([0u8; OUTPUT_LEN]);
    memory
        .compute(&argon2, password, &salt, output.as_mut_slice())
        .map_err(compute_error)?;

    let salt = SaltString::encode_b64(&salt).map_err(compute_error)?;
    let phc = password_hash::PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(params).map_err(compute_error)?,
        salt: Some(salt.as_salt()),
        hash: Some(Output::new(output.as_slice()).map_err(compute_error)?),
    };
    Ok(PasswordHash::new(phc.to_string()))
}

/// Verifies a normalised password against an Argon2 PHC string. Anything that cannot be parsed
/// or computed is [`Verification::Invalid`]; the hash itself never reaches an error or a log.
pub(super) fn verify(
    memory: &mut Argon2Memory,
    configured: &Params,
    password: &[u8],
    stored: &str,
) -> Verification {
    let Some(stored) = StoredHash::parse(stored) else {
        return Verification::Invalid;
    };

    if !stored.is_affordable(configured) {
        tracing::warn!(
            memory_kib = stored.params.m_cost(),
            iterations = stored.params.t_cost(),
            "stored argon2 hash exceeds the cost ceiling; treated as invalid"
        );
        return Verification::Invalid;
    }

    if stored.matches(memory, password) {
        Verification::Valid {
            needs_rehash: stored.is_obsolete(configured),
        }
    } else {
        Verification::Invalid
    }
}

/// The parts of a stored Argon2 PHC string that verification needs.
pub(super) struct StoredHash {
    algorithm: Algorithm,
    version: Option<Version>,
    pub(super) params: Params,
    salt: Zeroizing<Vec<u8>>,
    expected: Output,
}

impl StoredHash {
    /// Parses a PHC string, or `None` if it is not a complete Argon2 hash.
    pub(super) fn parse(stored: &str) -> Option<Self> {
        let phc = password_hash::PasswordHash::new(stored).ok()?;
        let algorithm = Algorithm::try_from(phc.algorithm).ok()?;
        let version = phc.version.map(Version::try_from).transpose().ok()?;
        let params = Params::try_from(&phc).ok()?;

        let mut salt = Zeroizing::new([0u8; 64]);
        let salt = phc.salt?.decode_b64(salt.as_mut_slice()).ok()?.to_vec();

        Some(Self {
            algorithm,
            version,
            params,
            salt: Zeroizing::new(salt),
            expected: phc.hash?,
        })
    }

    /// Whether verifying this hash stays under the cost ceiling.
    pub(super) fn is_affordable(&self, configured: &Params) -> bool {
        let max_memory = MAX_STORED_MEMORY_KIB.max(configured.m_cost());
        let max_work = MAX_STORED_WORK.max(work(configured));

        self.params.m_cost() <= max_memory && work(&self.params) <= max_work
    }

    /// Recomputes the hash for `password` and compares it in constant time.
    fn matches(&self, memory: &mut Argon2Memory, password: &[u8]) -> bool {
        // A PHC string without a version is read as v1.3, as the `argon2` crate does.
        let version = self.version.unwrap_or_default();
        let argon2 = Argon2::new(self.algorithm, version, self.params.clone());

        let mut output = Zeroizing::new(vec![0u8; self.expected.len()]);
        if memory
            .compute(&argon2, password, &self.salt, &mut output)
            .is_err()
        {
            return false;
        }

        output.ct_eq(self.expected.as_bytes()).into()
    }

    /// Whether the hash should be replaced: another variant than Argon2id, a version before
    /// v1.3 (or none written down), or a cost below the configured one.
    fn is_obsolete(&self, configured: &Params) -> bool {
        self.algorithm != Algorithm::Argon2id
            || self.version != Some(Version::V0x13)
            || self.params.m_cost() < configured.m_cost()
            || self.params.t_cost() < configured.t_cost()
            || self.params.p_cost() < configured.p_cost()
    }
}

/// Memory times passes: what a hash costs to compute.
fn work(params: &Params) -> u64 {
    u64::from(params.m_cost()) * u64::from(params.t_cost())
}

/// Wraps an error of the hash function. Its messages name a parameter or a length, never the
/// password.
fn compute_error(error: impl std::fmt::Display) -> HashError {
    HashError::Compute(error.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(memory_kib: u32, iterations: u32, parallelism: u32) -> Params {
        Params::new(memory_kib, iterations, parallelism, Some(OUTPUT_LEN)).expect("valid params")
    }

    fn hash_with(algorithm: Algorithm, version: Version, params: Params, password: &str) -> String {
        let mut memory = Argon2Memory::new(&params);
        let argon2 = Argon2::new(algorithm, version, params.clone());
        let salt = SaltString::encode_b64(b"sixteen byte sal").expect("salt");
        let mut output = [0u8; OUTPUT_LEN];
        memory
            .compute(
                &argon2,
                password.as_bytes(),
                b"sixteen byte sal",
                &mut output,
            )
            .expect("hash");

        password_hash::PasswordHash {
            algorithm: algorithm.ident(),
            version: Some(version.into()),
            params: ParamsString::try_from(&params).expect("params string"),
            salt: Some(salt.as_salt()),
            hash: Some(Output::new(&output).expect("output")),
        }
        .to_string()
    }

    #[test]
    fn a_hash_made_here_verifies_with_the_argon2_crates_own_verifier() {
        use argon2::password_hash::PasswordVerifier;
        let params = params(1024, 1, 1);
        let mut memory = Argon2Memory::new(&params);

        let hash = hash(&mut memory, &params, b"correct horse").expect("hash");
        let parsed = password_hash::PasswordHash::new(hash.expose_secret()).expect("phc");

        assert!(Argon2::default()
            .verify_password(b"correct horse", &parsed)
            .is_ok());
        assert!(Argon2::default()
            .verify_password(b"wrong horse", &parsed)
            .is_err());
    }

    #[test]
    fn a_hash_made_by_the_argon2_crate_verifies_here() {
        use argon2::password_hash::PasswordHasher as _;
        let params = params(1024, 1, 1);
        let salt = SaltString::encode_b64(b"another salt 16b").expect("salt");
        let theirs = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
            .hash_password(b"battery staple", &salt)
            .expect("hash")
            .to_string();
        let mut memory = Argon2Memory::new(&params);

        let verification = verify(&mut memory, &params, b"battery staple", &theirs);

        assert_eq!(
            verification,
            Verification::Valid {
                needs_rehash: false
            }
        );
    }

    #[test]
    fn argon2i_and_argon2d_hashes_verify_and_need_a_rehash() {
        let configured = params(1024, 1, 1);
        let mut memory = Argon2Memory::new(&configured);

        for algorithm in [Algorithm::Argon2i, Algorithm::Argon2d] {
            let stored = hash_with(algorithm, Version::V0x13, configured.clone(), "pw");

            let verification = verify(&mut memory, &configured, b"pw", &stored);

            assert_eq!(verification, Verification::Valid { needs_rehash: true });
        }
    }

    #[test]
    fn a_version_1_0_hash_verifies_and_needs_a_rehash() {
        let configured = params(1024, 1, 1);
        let stored = hash_with(
            Algorithm::Argon2id,
            Version::V0x10,
            configured.clone(),
            "pw",
        );
        let mut memory = Argon2Memory::new(&configured);

        let verification = verify(&mut memory, &configured, b"pw", &stored);

        assert_eq!(verification, Verification::Valid { needs_rehash: true });
    }

    #[test]
    fn a_hash_cheaper_in_any_parameter_needs_a_rehash() {
        let configured = params(2048, 2, 2);
        let mut memory = Argon2Memory::new(&configured);

        for cheaper in [params(1024, 2, 2), params(2048, 1, 2), params(2048, 2, 1)] {
            let stored = hash_with(Algorithm::Argon2id, Version::V0x13, cheaper, "pw");

            let verification = verify(&mut memory, &configured, b"pw", &stored);

            assert_eq!(verification, Verification::Valid { needs_rehash: true });
        }
    }

    #[test]
    fn a_hash_dearer_than_configured_verifies_without_a_rehash_and_gives_its_memory_back() {
        let configured = params(1024, 1, 1);
        let stored = hash_with(
            Algorithm::Argon2id,
            Version::V0x13,
            params(4096, 1, 1),
            "pw",
        );
        let mut memory = Argon2Memory::new(&configured);

        let verification = verify(&mut memory, &configured, b"pw", &stored);

        assert_eq!(
            verification,
            Verification::Valid {
                needs_rehash: false
            }
        );
        assert_eq!(
            memory.blocks.capacity(),
            0,
            "the dearer hash's memory was kept"
        );
    }

    #[test]
    fn a_dearer_hash_after_an_unwiped_one_verifies() {
        let configured = params(1024, 1, 1);
        let dearer = hash_with(
            Algorithm::Argon2id,
            Version::V0x13,
            params(4096, 2, 1),
            "pw",
        );
        let mut memory = Argon2Memory::new(&configured);
        hash(&mut memory, &configured, b"other").expect("hash");

        let verification = verify(&mut memory, &configured, b"pw", &dearer);

        assert!(verification.is_valid());
    }

    #[test]
    fn a_hash_leaves_its_blocks_until_they_are_wiped() {
        let params = params(1024, 1, 1);
        let mut memory = Argon2Memory::new(&params);

        hash(&mut memory, &params, b"pw").expect("hash");
        let left = memory.is_wiped();
        memory.wipe();

        assert!(!left, "the hash wrote nothing, or wiped after itself");
        assert!(memory.is_wiped());
        assert_eq!(memory.blocks.len(), params.block_count());
    }

    #[test]
    fn a_hash_in_memory_left_unwiped_equals_one_in_fresh_memory() {
        for algorithm in [Algorithm::Argon2id, Algorithm::Argon2i, Algorithm::Argon2d] {
            let argon2 = Argon2::new(algorithm, Version::V0x13, params(1024, 3, 2));
            let mut memory = Argon2Memory::new(argon2.params());
            let mut expected = [0u8; OUTPUT_LEN];
            argon2
                .hash_password_into(b"second", b"sixteen byte sal", &mut expected)
                .expect("hash in fresh memory");

            let mut output = [0u8; OUTPUT_LEN];
            memory
                .compute(&argon2, b"first", b"another salt 16b", &mut output)
                .expect("first hash");
            memory
                .compute(&argon2, b"second", b"sixteen byte sal", &mut output)
                .expect("second hash, over the first's blocks");

            assert_eq!(output, expected, "{algorithm:?}");
        }
    }

    #[test]
    fn hashing_memory_is_asked_for_above_any_glibc_mmap_threshold() {
        let params = params(19_456, 2, 1);
        let mut memory = Argon2Memory::new(&params);

        hash(&mut memory, &params, b"pw").expect("hash");

        assert_eq!(memory.blocks.len(), params.block_count());
        let bytes = memory.blocks.capacity() * std::mem::size_of::<Block>();
        assert!(bytes > 32 << 20, "{bytes} bytes may come from a heap arena");
    }

    #[test]
    fn released_memory_is_freed_and_hashes_again() {
        let params = params(1024, 1, 1);
        let mut memory = Argon2Memory::new(&params);
        let stored = hash(&mut memory, &params, b"pw").expect("hash");

        memory.release();
        let released = memory.blocks.capacity();
        let verification = verify(&mut memory, &params, b"pw", stored.expose_secret());

        assert_eq!(released, 0);
        assert!(verification.is_valid());
    }

    #[test]
    fn a_hash_asking_for_terabytes_is_invalid_without_allocating_them() {
        let configured = params(1024, 1, 1);
        let mut memory = Argon2Memory::new(&configured);
        let greedy = "$argon2id$v=19$m=4294967295,t=1,p=1$c2l4dGVlbiBieXRlIHNhbA$\
                      AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

        let verification = verify(&mut memory, &configured, b"pw", greedy);

        assert_eq!(verification, Verification::Invalid);
        assert!(memory.blocks.is_empty());
    }
}
