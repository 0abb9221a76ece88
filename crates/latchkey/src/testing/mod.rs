//! The adapter conformance suite: one set of checks that every storage adapter must pass.
//!
//! Each check is an async function taking a fresh, empty adapter. An adapter crate runs them
//! all from its tests with one macro call, naming an async function that makes a fresh
//! adapter:
//!
//! ```ignore
//! async fn fresh_adapter() -> std::sync::Arc<dyn latchkey::Adapter> { /* ... */ }
//!
//! latchkey::adapter_conformance_tests!(fresh_adapter);
//! ```
//!
//! The checks use cheap Argon2 parameters so that they stay fast in debug builds, and a
//! [`ManualClock`] so that they step across each expiry boundary to the millisecond.

mod audit;
mod keys;
mod sessions;
mod throttle;
mod users;

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::{Adapter, Argon2Params, Auth, HasherConfig, ManualClock};

pub use audit::*;
pub use keys::*;
pub use sessions::*;
pub use throttle::*;
pub use users::*;

/// Rich user attributes, to show that they round-trip unchanged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Profile {
    /// A display name with characters outside ASCII.
    pub username: String,
    /// A number.
    pub age: Option<u32>,
    /// A nested list.
    pub tags: Vec<String>,
}

impl Profile {
    /// A profile with a name and some other fields filled in.
    pub fn named(username: &str) -> Self {
        Self {
            username: username.to_owned(),
            age: Some(42),
            tags: vec![
                "émoji 🦀".to_owned(),
                "quote \" and \\ backslash".to_owned(),
            ],
        }
    }
}

/// Session attributes, to show that they round-trip unchanged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Device {
    /// A user agent.
    pub user_agent: String,
}

/// The start time of every check's clock: 2026-01-01T00:00:00Z.
pub const START: i64 = 1_767_225_600_000;

/// An [`Auth`] over `adapter` with a manual clock at [`START`] and cheap hashing.
pub fn auth(adapter: Arc<dyn Adapter>) -> (Auth<Profile, Device>, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::at_millis(START));
    let auth = Auth::builder_shared(adapter)
        .clock(clock.clone())
        .hasher(cheap_hashing())
        .build()
        .expect("valid hasher settings");
    (auth, clock)
}

/// Argon2 parameters far below production's, for tests.
pub fn cheap_hashing() -> HasherConfig {
    HasherConfig {
        argon2: Argon2Params {
            memory_kib: 1024,
            iterations: 1,
            parallelism: 1,
        },
        threads: 2,
        ..HasherConfig::default()
    }
}

/// Generates one `#[tokio::test]` per conformance check, each on a fresh adapter from
/// `$fresh`, an async function returning `Arc<dyn Adapter>`. The calling crate needs `tokio`
/// with the `macros` and `rt-multi-thread` features among its dev-dependencies.
#[macro_export]
macro_rules! adapter_conformance_tests {
    ($fresh:path) => {
        $crate::adapter_conformance_tests!(@cases $fresh;
            a_user_and_its_key_are_created_together,
            a_user_without_a_key_can_be_created,
            user_attributes_round_trip_unchanged,
            a_duplicate_key_is_a_typed_error_and_leaves_no_user_behind,
            exactly_one_of_many_concurrent_sign_ups_with_one_key_wins,
            a_duplicate_user_id_is_not_reported_as_a_duplicate_key,
            an_unknown_user_is_reported_as_unknown,
            updating_user_attributes_replaces_them,
            deleting_a_user_removes_their_keys_and_sessions,
            a_key_can_be_added_to_an_existing_user_only,
            keys_are_listed_by_user,
            a_key_password_can_be_changed_and_removed,
            an_obsolete_hash_is_replaced_only_if_unchanged,
            a_key_can_be_deleted,
            provider_ids_and_provider_user_ids_do_not_run_together,
            signing_in_with_the_right_password_returns_the_user,
            every_failed_sign_in_gives_the_same_error,
            use_key_tells_an_unknown_key_from_a_wrong_password,
            a_lucia_v2_hash_signs_in_and_is_upgraded_to_argon2id,
            a_session_validates_with_its_token_and_returns_its_user,
            only_the_hash_of_a_session_token_is_stored,
            session_attributes_round_trip_unchanged,
            a_session_for_an_unknown_user_is_refused,
            unknown_and_malformed_tokens_are_invalid_sessions,
            a_session_is_read_without_a_write_during_its_active_period,
            a_session_past_its_active_period_is_extended_and_marked_fresh,
            a_session_past_its_idle_period_is_invalid_and_deleted,
            no_renewal_carries_a_session_past_its_absolute_lifetime,
            an_invalidated_session_no_longer_validates,
            invalidating_a_users_sessions_leaves_other_users_alone,
            invalidating_other_sessions_keeps_the_current_one,
            a_users_live_sessions_are_listed_newest_first,
            deleting_expired_sessions_removes_only_dead_ones,
            a_reachable_database_answers_a_ping,
            last_seen_is_written_at_most_once_a_minute,
            queued_last_seen_times_are_written_once_the_write_delay_passes,
            a_full_last_seen_queue_is_not_written_by_a_validation,
            last_seen_batches_only_move_times_forward,
            a_session_listing_holds_the_session_its_user_and_their_live_sessions,
            a_session_listing_shows_the_validated_sessions_new_times,
            every_listed_session_is_its_stored_row,
            live_sessions_are_counted,
            users_are_listed_a_page_at_a_time,
            sign_in_attempts_are_delayed_exponentially_after_five_failures,
            the_sign_in_delay_is_capped_at_fifteen_minutes,
            a_success_clears_only_its_own_subjects_failures,
            sign_in_failures_are_forgotten_after_a_day,
            concurrent_sign_in_attempts_are_counted_exactly,
            a_token_bucket_gives_its_capacity_then_refills_at_its_rate,
            a_returned_token_can_be_taken_again_and_full_buckets_are_purged,
            concurrent_takes_never_exceed_a_buckets_capacity,
            a_server_secret_is_stored_once_and_shared,
            an_audit_event_round_trips_with_every_field,
            audit_events_are_listed_newest_first_up_to_the_limit,
            audit_events_are_filtered_by_user_and_kind,
            old_audit_events_are_pruned,
        );
    };
    (@cases $fresh:path; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $case() {
                let adapter: ::std::sync::Arc<dyn $crate::Adapter> = $fresh().await;
                $crate::testing::$case(adapter).await;
            }
        )*
    };
}
