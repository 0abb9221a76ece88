//! Checks on throttling state: attempt counts, token buckets, their expiry, and their
//! exactness under concurrency.

use std::sync::Arc;
use std::time::Duration;

use crate::adapter::Adapter;
use crate::device::{DeviceId, DeviceKey};
use crate::throttle::{Decision, Limit, LockoutRule, RateRule, Subject, Throttle, ThrottleConfig};

use super::auth;

/// How many tasks the concurrency checks start at once.
const CONCURRENT: usize = 40;

fn throttle(adapter: Arc<dyn Adapter>) -> (Throttle, Arc<crate::ManualClock>) {
    let (auth, clock) = auth(adapter.clone());
    let throttle = Throttle::new(adapter, auth.clock().clone(), ThrottleConfig::default());
    (throttle, clock)
}

fn alice() -> Subject<'static> {
    Subject::Account {
        provider_id: "username",
        provider_user_id: "alice",
    }
}

fn refused_for(decision: Decision) -> Duration {
    match decision {
        Decision::Refused { retry_after } => retry_after,
        Decision::Allowed => panic!("allowed where a refusal was due"),
    }
}

/// Five attempts pass; then each further one waits 1 s, 2 s, 4 s... after the one before,
/// to the millisecond, and a refused attempt changes nothing.
pub async fn sign_in_attempts_are_delayed_exponentially_after_five_failures(
    adapter: Arc<dyn Adapter>,
) {
    let (throttle, clock) = throttle(adapter);

    for _ in 0..5 {
        assert!(throttle
            .begin_sign_in(alice())
            .await
            .expect("counted")
            .is_allowed());
    }
    for delay in [1_000_u64, 2_000, 4_000, 8_000] {
        let wait = refused_for(throttle.begin_sign_in(alice()).await.expect("read"));
        assert_eq!(wait, Duration::from_millis(delay));

        clock.advance(Duration::from_millis(delay - 1));
        let almost = refused_for(throttle.begin_sign_in(alice()).await.expect("read"));
        assert_eq!(almost, Duration::from_millis(1));

        clock.advance(Duration::from_millis(1));
        assert!(throttle
            .begin_sign_in(alice())
            .await
            .expect("counted")
            .is_allowed());
    }
}

/// The delay stops growing at 15 minutes.
pub async fn the_sign_in_delay_is_capped_at_fifteen_minutes(adapter: Arc<dyn Adapter>) {
    let (throttle, clock) = throttle(adapter);
    let cap = Duration::from_secs(15 * 60);

    let mut counted = 0;
    while counted < 20 {
        match throttle.begin_sign_in(alice()).await.expect("read") {
            Decision::Allowed => counted += 1,
            Decision::Refused { retry_after } => {
                assert!(retry_after <= cap, "{retry_after:?}");
                clock.advance(retry_after);
            }
        }
    }

    let wait = refused_for(throttle.begin_sign_in(alice()).await.expect("read"));
    assert_eq!(wait, cap);
}

/// A success clears the count of its subject and of no other.
pub async fn a_success_clears_only_its_own_subjects_failures(adapter: Arc<dyn Adapter>) {
    let (throttle, _) = throttle(adapter);
    let bob = Subject::Account {
        provider_id: "username",
        provider_user_id: "bob",
    };
    let device = DeviceId::generate();

    for subject in [alice(), bob, Subject::Device(&device)] {
        for _ in 0..5 {
            assert!(throttle
                .begin_sign_in(subject)
                .await
                .expect("counted")
                .is_allowed());
        }
    }
    throttle.sign_in_succeeded(alice()).await.expect("cleared");

    assert!(throttle
        .begin_sign_in(alice())
        .await
        .expect("read")
        .is_allowed());
    assert!(!throttle
        .begin_sign_in(bob)
        .await
        .expect("read")
        .is_allowed());
    let on_device = throttle.begin_sign_in(Subject::Device(&device)).await;
    assert!(!on_device.expect("read").is_allowed());
}

/// Failures are forgotten a day after the last one: the count starts again, and the purge
/// deletes the record.
pub async fn sign_in_failures_are_forgotten_after_a_day(adapter: Arc<dyn Adapter>) {
    let (throttle, clock) = throttle(adapter.clone());
    for _ in 0..5 {
        assert!(throttle
            .begin_sign_in(alice())
            .await
            .expect("counted")
            .is_allowed());
    }
    let key = "account:username:alice";
    let now = super::START;

    clock.advance(Duration::from_secs(24 * 60 * 60) - Duration::from_millis(1));
    assert_eq!(throttle.delete_expired().await.expect("purged"), 0);
    clock.advance(Duration::from_millis(1));
    let later = now + 24 * 60 * 60 * 1_000;

    assert_eq!(adapter.attempts(key, later).await.expect("read"), None);
    assert!(throttle
        .begin_sign_in(alice())
        .await
        .expect("counted")
        .is_allowed());
    let row = adapter
        .attempts(key, later)
        .await
        .expect("read")
        .expect("row");
    assert_eq!(row.failures, 1);
    assert_eq!(row.expires_at, later + 24 * 60 * 60 * 1_000);
    clock.advance(Duration::from_secs(24 * 60 * 60));
    assert_eq!(throttle.delete_expired().await.expect("purged"), 1);
}

/// Of many concurrent attempts on one unlocked subject, every one is counted, each with its
/// own number; of many on a subject about to lock, exactly five pass.
pub async fn concurrent_sign_in_attempts_are_counted_exactly(adapter: Arc<dyn Adapter>) {
    let lenient = LockoutRule {
        free_failures: 1_000,
        ..LockoutRule::default()
    };
    let strict = LockoutRule::default();

    let mut counts = race(CONCURRENT, |_| {
        let adapter = adapter.clone();
        async move { adapter.count_attempt("k:lenient", 1_000, &lenient).await }
    })
    .await
    .into_iter()
    .map(|count| count.expect("stored").expect("counted"))
    .collect::<Vec<_>>();
    counts.sort_unstable();
    let passed = race(CONCURRENT, |_| {
        let adapter = adapter.clone();
        async move { adapter.count_attempt("k:strict", 1_000, &strict).await }
    })
    .await;

    let expected: Vec<u32> = (1..=CONCURRENT as u32).collect();
    assert_eq!(counts, expected);
    let passed = passed.into_iter().map(|count| count.expect("stored"));
    assert_eq!(passed.filter(Option::is_some).count(), 5);
    let row = adapter.attempts("k:strict", 1_000).await.expect("read");
    assert_eq!(row.expect("row").failures, 5);
}

/// A bucket gives its capacity at once, then one token per interval, and refuses in between
/// without taking anything.
pub async fn a_token_bucket_gives_its_capacity_then_refills_at_its_rate(adapter: Arc<dyn Adapter>) {
    let config = ThrottleConfig {
        sign_ups: RateRule {
            capacity: 3,
            period: Duration::from_secs(3),
        },
        ..ThrottleConfig::default()
    };
    let (auth, clock) = auth(adapter.clone());
    let throttle = Throttle::new(adapter, auth.clock().clone(), config);

    for _ in 0..3 {
        assert!(throttle
            .take(Limit::SignUps, "192.0.2.1")
            .await
            .expect("taken")
            .is_allowed());
    }
    for _ in 0..3 {
        let wait = refused_for(
            throttle
                .take(Limit::SignUps, "192.0.2.1")
                .await
                .expect("read"),
        );
        assert_eq!(wait, Duration::from_secs(1));
    }
    let other = throttle
        .take(Limit::SignUps, "192.0.2.2")
        .await
        .expect("taken");
    let other_limit = throttle.take(Limit::FailedSignIns, "192.0.2.1").await;

    assert!(other.is_allowed());
    assert!(other_limit.expect("taken").is_allowed());
    clock.advance(Duration::from_millis(999));
    let early = throttle
        .take(Limit::SignUps, "192.0.2.1")
        .await
        .expect("read");
    assert_eq!(refused_for(early), Duration::from_millis(1));
    clock.advance(Duration::from_millis(1));
    assert!(throttle
        .take(Limit::SignUps, "192.0.2.1")
        .await
        .expect("taken")
        .is_allowed());
    assert!(!throttle
        .take(Limit::SignUps, "192.0.2.1")
        .await
        .expect("read")
        .is_allowed());
}

/// A token given back can be taken again, and a full bucket is purged.
pub async fn a_returned_token_can_be_taken_again_and_full_buckets_are_purged(
    adapter: Arc<dyn Adapter>,
) {
    let config = ThrottleConfig {
        failed_sign_ins: RateRule {
            capacity: 1,
            period: Duration::from_secs(60),
        },
        ..ThrottleConfig::default()
    };
    let (auth, clock) = auth(adapter.clone());
    let throttle = Throttle::new(adapter, auth.clock().clone(), config);

    assert!(throttle
        .take(Limit::FailedSignIns, "c")
        .await
        .expect("taken")
        .is_allowed());
    assert!(!throttle
        .take(Limit::FailedSignIns, "c")
        .await
        .expect("read")
        .is_allowed());
    throttle
        .give_back(Limit::FailedSignIns, "c")
        .await
        .expect("returned");
    assert!(throttle
        .take(Limit::FailedSignIns, "c")
        .await
        .expect("taken")
        .is_allowed());

    clock.advance(Duration::from_secs(59));
    assert_eq!(throttle.delete_expired().await.expect("purged"), 0);
    clock.advance(Duration::from_secs(1));
    assert_eq!(throttle.delete_expired().await.expect("purged"), 1);
    assert!(throttle
        .take(Limit::FailedSignIns, "c")
        .await
        .expect("taken")
        .is_allowed());
}

/// Of many concurrent takes from one bucket, exactly its capacity succeed.
pub async fn concurrent_takes_never_exceed_a_buckets_capacity(adapter: Arc<dyn Adapter>) {
    let rule = RateRule {
        capacity: 7,
        period: Duration::from_secs(3_600),
    };

    let taken = race(CONCURRENT, |_| {
        let adapter = adapter.clone();
        async move { adapter.take_token("sign-in:net", 5_000, &rule).await }
    })
    .await;

    let taken = taken.into_iter().map(|taken| taken.expect("stored"));
    assert_eq!(taken.filter(|taken| *taken).count(), 7);
    let tat = adapter.bucket("sign-in:net").await.expect("read");
    assert_eq!(tat, Some(5_000 + 7 * rule.interval_millis()));
}

/// The first server to ask stores its secret; every later one, even asking at once, gets it.
pub async fn a_server_secret_is_stored_once_and_shared(adapter: Arc<dyn Adapter>) {
    let secrets = race(8, |n| {
        let adapter = adapter.clone();
        async move { adapter.server_secret("shared", &[n as u8; 32]).await }
    })
    .await;
    let key = DeviceKey::load(adapter.as_ref()).await.expect("loaded");
    let again = DeviceKey::load(adapter.as_ref()).await.expect("loaded");

    let first = secrets[0].as_ref().expect("secret").clone();
    assert_eq!(first.len(), 32);
    assert!(secrets
        .iter()
        .all(|secret| secret.as_ref().ok() == Some(&first)));
    let device = DeviceId::generate();
    let expires = crate::clock::from_millis(super::START) + Duration::from_secs(60);
    let cookie = key.issue("username", "alice", &device, expires);
    let now = crate::clock::from_millis(super::START);
    assert_eq!(
        again.verify(&cookie, "username", "alice", now),
        Some(device)
    );
}

/// Runs `count` tasks made by `task` at once, on the runtime's threads, and collects their
/// results in order.
async fn race<T, F, Fut>(count: usize, task: F) -> Vec<T>
where
    T: Send + 'static,
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = T> + Send + 'static,
{
    let start = Arc::new(tokio::sync::Barrier::new(count));
    let tasks: Vec<_> = (0..count)
        .map(|n| {
            let start = start.clone();
            let job = task(n);
            tokio::spawn(async move {
                start.wait().await;
                job.await
            })
        })
        .collect();

    let mut collected = Vec::with_capacity(count);
    for task in tasks {
        collected.push(task.await.expect("task finished"));
    }
    collected
}
