//! Throttling: an exponential delay per account after repeated failed sign-ins, and token
//! buckets per client for failed sign-ins and sign-ups.
//!
//! Threat model: online guessing, whether many passwords against one account (brute force)
//! or a few against many accounts (credential stuffing, password spraying). OWASP's
//! Authentication Cheat Sheet and NIST SP 800-63B §5.2.2 ask for a limit on failed attempts
//! per account; a limit per client address bounds what one source can try across accounts.
//!
//! **Per subject.** A subject is an account, named by its key (whether or not it exists, so
//! that a refusal says nothing about existence), or a device that signed in to it before (see
//! [`device`](crate::device)). Each sign-in attempt is counted as a failure when it *starts*,
//! and a success clears the count, so that any number of concurrent attempts, on any number
//! of servers, get exactly as many tries as the rule allows. After
//! [`LockoutRule::free_failures`] failures, attempts are refused for
//! [`LockoutRule::base_delay`], doubled with each further failure up to
//! [`LockoutRule::max_delay`]; a refused attempt changes nothing and costs no password hash.
//!
//! **Per client.** Buckets follow the generic cell rate algorithm, a token bucket kept as one
//! timestamp: a bucket of capacity *n* over a period refills one token every period / *n*,
//! continuously. A failed sign-in takes a token (taken when the attempt starts, returned if it
//! succeeds); a sign-up takes one whatever its outcome. A refused request takes nothing, so a
//! client that keeps knocking gets in again at the refill rate, no later.
//!
//! All state lives in the database, in rows that expire by themselves, and every change is
//! one atomic statement ([`Adapter::count_attempt`], [`Adapter::take_token`]).

use std::sync::Arc;
use std::time::Duration;

use crate::adapter::{Adapter, AttemptRow};
use crate::clock::{to_millis, Clock};
use crate::device::DeviceId;
use crate::error::Error;

/// The longest doubling applied to [`LockoutRule::base_delay`]: 2^30 times it is beyond any
/// sensible cap, and keeps the arithmetic within 64 bits for a base of up to a day.
const MAX_DOUBLINGS: u32 = 30;

/// When sign-in attempts on one subject are refused.
///
/// ```
/// use std::time::Duration;
/// use latchkey::throttle::LockoutRule;
///
/// let rule = LockoutRule::default();
/// assert_eq!(rule.delay_millis(4), 0);
/// assert_eq!(rule.delay_millis(5), 1_000);
/// assert_eq!(rule.delay_millis(7), 4_000);
/// assert_eq!(rule.delay_millis(50), 15 * 60 * 1_000);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockoutRule {
    /// Failures allowed before the first delay.
    pub free_failures: u32,
    /// The delay after the last free failure, doubled after each further one. At most a day.
    pub base_delay: Duration,
    /// The longest delay.
    pub max_delay: Duration,
    /// How long failures are remembered after the latest one.
    pub memory: Duration,
}

impl Default for LockoutRule {
    /// Five free failures, then 1 s, 2 s, 4 s, ... up to 15 minutes; remembered for a day.
    fn default() -> Self {
        Self {
            free_failures: 5,
            base_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(15 * 60),
            memory: Duration::from_secs(24 * 60 * 60),
        }
    }
}

impl LockoutRule {
    /// How long attempts are refused after the `failures`-th failure, in milliseconds.
    pub fn delay_millis(&self, failures: u32) -> i64 {
        if failures < self.free_failures {
            return 0;
        }
        let doublings = (failures - self.free_failures).min(MAX_DOUBLINGS);
        self.base_delay_millis()
            .saturating_mul(1_i64 << doublings)
            .min(self.max_delay_millis())
    }

    /// When a subject with this record may try again; `None` when it may now.
    pub fn locked_until(&self, row: &AttemptRow) -> Option<i64> {
        (row.failures >= self.free_failures).then(|| {
            row.last_failure_at
                .saturating_add(self.delay_millis(row.failures))
        })
    }

    /// [`base_delay`](Self::base_delay) in milliseconds.
    pub fn base_delay_millis(&self) -> i64 {
        millis(self.base_delay)
    }

    /// [`max_delay`](Self::max_delay) in milliseconds.
    pub fn max_delay_millis(&self) -> i64 {
        millis(self.max_delay)
    }

    /// [`memory`](Self::memory) in milliseconds.
    pub fn memory_millis(&self) -> i64 {
        millis(self.memory)
    }
}

/// A token bucket: `capacity` tokens, refilled continuously over `period`.
///
/// ```
/// use std::time::Duration;
/// use latchkey::throttle::RateRule;
///
/// let rule = RateRule::per_hour(300);
/// assert_eq!(rule.interval_millis(), 12_000);
/// assert_eq!(rule.burst_millis(), 3_600_000);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateRule {
    /// Tokens in a full bucket; at least one.
    pub capacity: u32,
    /// How long an empty bucket takes to fill.
    pub period: Duration,
}

impl RateRule {
    /// `capacity` tokens an hour.
    pub fn per_hour(capacity: u32) -> Self {
        Self {
            capacity,
            period: Duration::from_secs(60 * 60),
        }
    }

    /// Milliseconds per token, at least one.
    pub fn interval_millis(&self) -> i64 {
        let capacity = i64::from(self.capacity.max(1));
        (millis(self.period) + capacity - 1) / capacity
    }

    /// Milliseconds a full bucket holds: its capacity times the interval.
    pub fn burst_millis(&self) -> i64 {
        self.interval_millis()
            .saturating_mul(i64::from(self.capacity.max(1)))
    }

    /// When an empty bucket whose theoretical arrival time is `tat` allows a take again.
    pub fn ready_at(&self, tat: i64) -> i64 {
        tat + self.interval_millis() - self.burst_millis()
    }
}

/// The rules a [`Throttle`] applies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThrottleConfig {
    /// The delay per account or device after repeated failures.
    pub lockout: LockoutRule,
    /// Sign-ups per client.
    pub sign_ups: RateRule,
    /// Failed sign-ins per client.
    pub failed_sign_ins: RateRule,
}

impl Default for ThrottleConfig {
    /// [`LockoutRule::default`], and 300 sign-ups and 300 failed sign-ins per client an hour:
    /// room for a school or an office behind one address.
    fn default() -> Self {
        Self {
            lockout: LockoutRule::default(),
            sign_ups: RateRule::per_hour(300),
            failed_sign_ins: RateRule::per_hour(300),
        }
    }
}

/// What sign-in attempts are counted against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subject<'a> {
    /// An account, by the key being signed in with, whether or not it exists.
    Account {
        /// The login method, such as `username`.
        provider_id: &'a str,
        /// The identity within it, such as a username's lookup form.
        provider_user_id: &'a str,
    },
    /// A browser that signed in to the account before and carries a valid device cookie.
    Device(&'a DeviceId),
}

impl Subject<'_> {
    /// The storage key. Provider ids hold no `:`, as in Lucia, so keys cannot collide.
    fn key(&self) -> String {
        match self {
            Self::Account {
                provider_id,
                provider_user_id,
            } => format!("account:{provider_id}:{provider_user_id}"),
            Self::Device(device) => format!("device:{}", device.as_str()),
        }
    }
}

/// Which per-client bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// Sign-ups.
    SignUps,
    /// Failed sign-ins.
    FailedSignIns,
}

impl Limit {
    fn key(self, client: &str) -> String {
        match self {
            Self::SignUps => format!("sign-up:{client}"),
            Self::FailedSignIns => format!("sign-in:{client}"),
        }
    }
}

/// Whether a request may go on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub enum Decision {
    /// It may.
    Allowed,
    /// It may not, for at least this long.
    Refused {
        /// How long until a retry can succeed; at least a millisecond.
        retry_after: Duration,
    },
}

impl Decision {
    /// Whether the request may go on.
    pub fn is_allowed(self) -> bool {
        matches!(self, Self::Allowed)
    }
}

/// The throttle over one database, shared by every server that uses it.
///
/// Cheap to clone.
#[derive(Clone)]
pub struct Throttle {
    adapter: Arc<dyn Adapter>,
    clock: Arc<dyn Clock>,
    config: Arc<ThrottleConfig>,
}

impl std::fmt::Debug for Throttle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Throttle")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Throttle {
    /// A throttle over `adapter`, reading the time from `clock`.
    pub fn new(adapter: Arc<dyn Adapter>, clock: Arc<dyn Clock>, config: ThrottleConfig) -> Self {
        Self {
            adapter,
            clock,
            config: Arc::new(config),
        }
    }

    /// The rules in force.
    pub fn config(&self) -> &ThrottleConfig {
        &self.config
    }

    /// Starts a sign-in attempt on `subject`: refused while the subject is locked, otherwise
    /// counted as a failure until [`sign_in_succeeded`](Self::sign_in_succeeded) clears it.
    /// Call it before verifying the password, so that a refusal costs no hash.
    ///
    /// # Errors
    ///
    /// Storage errors.
    pub async fn begin_sign_in(&self, subject: Subject<'_>) -> Result<Decision, Error> {
        let key = subject.key();
        let now = self.now();
        let rule = &self.config.lockout;

        if self.adapter.count_attempt(&key, now, rule).await?.is_some() {
            return Ok(Decision::Allowed);
        }

        let row = self.adapter.attempts(&key, now).await?;
        let until = row.and_then(|row| rule.locked_until(&row)).unwrap_or(now);
        Ok(refused(until - now))
    }

    /// Clears the failures of `subject` after a successful sign-in.
    ///
    /// # Errors
    ///
    /// Storage errors.
    pub async fn sign_in_succeeded(&self, subject: Subject<'_>) -> Result<(), Error> {
        Ok(self.adapter.clear_attempts(&subject.key()).await?)
    }

    /// The attempts counted against `subject` and not yet forgotten, for an operator to see;
    /// [`LockoutRule::locked_until`] says whether they lock it.
    ///
    /// # Errors
    ///
    /// Storage errors.
    pub async fn attempts(&self, subject: Subject<'_>) -> Result<Option<AttemptRow>, Error> {
        Ok(self.adapter.attempts(&subject.key(), self.now()).await?)
    }

    /// Takes a token from `client`'s bucket for `limit`; refused when it is empty.
    ///
    /// `client` names the source, such as an address or the network a limit applies to.
    ///
    /// # Errors
    ///
    /// Storage errors.
    pub async fn take(&self, limit: Limit, client: &str) -> Result<Decision, Error> {
        let key = limit.key(client);
        let rule = self.rule(limit);
        let now = self.now();

        if self.adapter.take_token(&key, now, rule).await? {
            return Ok(Decision::Allowed);
        }

        let tat = self.adapter.bucket(&key).await?;
        let ready = tat.map_or(now, |tat| rule.ready_at(tat));
        Ok(refused(ready - now))
    }

    /// Puts back the token a request took, when it turned out not to count: a sign-in that
    /// succeeded.
    ///
    /// # Errors
    ///
    /// Storage errors.
    pub async fn give_back(&self, limit: Limit, client: &str) -> Result<(), Error> {
        let rule = self.rule(limit);
        Ok(self.adapter.return_token(&limit.key(client), rule).await?)
    }

    /// Deletes expired records and full buckets, returning how many went.
    ///
    /// # Errors
    ///
    /// Storage errors.
    pub async fn delete_expired(&self) -> Result<u64, Error> {
        Ok(self.adapter.delete_expired_throttles(self.now()).await?)
    }

    fn rule(&self, limit: Limit) -> &RateRule {
        match limit {
            Limit::SignUps => &self.config.sign_ups,
            Limit::FailedSignIns => &self.config.failed_sign_ins,
        }
    }

    fn now(&self) -> i64 {
        to_millis(self.clock.now())
    }
}

/// A refusal for `wait` milliseconds, at least one: a row that expired between the two reads
/// still answers with a wait, never with zero.
fn refused(wait: i64) -> Decision {
    let wait = u64::try_from(wait.max(1)).unwrap_or(1);
    Decision::Refused {
        retry_after: Duration::from_millis(wait),
    }
}

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_delay_doubles_from_the_fifth_failure_and_stops_at_the_cap() {
        let rule = LockoutRule::default();
        let delays: Vec<i64> = (0..=16).map(|n| rule.delay_millis(n)).collect();

        assert_eq!(&delays[..5], &[0, 0, 0, 0, 0]);
        assert_eq!(
            &delays[5..],
            &[
                1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 64_000, 128_000, 256_000, 512_000,
                900_000, 900_000
            ]
        );
        assert_eq!(rule.delay_millis(u32::MAX), 900_000);
    }

    #[test]
    fn a_record_is_locked_from_its_last_failure_for_the_delay() {
        let rule = LockoutRule::default();
        let row = AttemptRow {
            failures: 6,
            last_failure_at: 10_000,
            expires_at: 99_999,
        };

        assert_eq!(rule.locked_until(&row), Some(12_000));
        assert_eq!(rule.locked_until(&AttemptRow { failures: 4, ..row }), None);
    }

    #[test]
    fn a_bucket_interval_rounds_up_and_is_never_zero() {
        let odd = RateRule {
            capacity: 7,
            period: Duration::from_millis(100),
        };
        let tiny = RateRule {
            capacity: 1_000,
            period: Duration::from_millis(1),
        };

        assert_eq!(odd.interval_millis(), 15);
        assert_eq!(odd.burst_millis(), 105);
        assert_eq!(tiny.interval_millis(), 1);
        assert_eq!(RateRule::per_hour(300).ready_at(3_600_000 + 5), 12_005);
    }
}
