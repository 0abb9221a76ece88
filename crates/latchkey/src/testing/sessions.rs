//! Checks on sessions and their expiry.

use std::sync::Arc;
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::adapter::LastSeen;
use crate::auth::ACTIVITY_QUEUE_CAPACITY;
use crate::clock::to_millis;
use crate::{Adapter, Error, NewKey, SessionConfig, SessionId, SessionToken, User, UserId};

use super::{auth, Device, Profile, START};

const MS: Duration = Duration::from_millis(1);

/// A last-seen time for a batch.
fn seen_at(session_id: &str, user_id: &UserId, at: i64) -> LastSeen {
    LastSeen {
        session_id: session_id.to_owned(),
        user_id: user_id.as_str().to_owned(),
        at,
    }
}

async fn user_with_session(
    auth: &crate::Auth<Profile, Device>,
    name: &str,
) -> (User<Profile>, crate::IssuedSession<Device>) {
    let user = auth
        .create_user(Some(NewKey::new("username", name)), Profile::named(name))
        .await
        .expect("user created");
    let issued = auth
        .create_session(
            &user.id,
            Device {
                user_agent: format!("{name}'s browser"),
            },
        )
        .await
        .expect("session created");
    (user, issued)
}

/// The token of a new session validates and brings back the session's user.
pub async fn a_session_validates_with_its_token_and_returns_its_user(adapter: Arc<dyn Adapter>) {
    let (auth, _) = auth(adapter);
    let (user, issued) = user_with_session(&auth, "lena").await;

    let valid = auth.validate_session(&issued.token).await.expect("valid");
    let by_text = auth
        .validate_token(issued.token.expose_secret())
        .await
        .expect("valid as text");

    assert_eq!(valid.user, user);
    assert_eq!(valid.session.id, issued.session.id);
    assert!(!valid.session.fresh);
    assert_eq!(by_text.session.id, issued.session.id);
    let defaults = SessionConfig::default();
    assert_eq!(to_millis(valid.session.created_at), START);
    assert_eq!(
        valid.session.expires_at,
        valid.session.created_at + defaults.active_period + defaults.idle_period
    );
}

/// The database holds the token's SHA-256, never the token.
pub async fn only_the_hash_of_a_session_token_is_stored(adapter: Arc<dyn Adapter>) {
    let (auth, _) = auth(adapter.clone());
    let (_, issued) = user_with_session(&auth, "mona").await;
    let token = issued.token.expose_secret();

    let by_token = adapter.session_and_user(token).await.expect("read");
    let by_hash = adapter
        .session_and_user(&hex::encode(Sha256::digest(token.as_bytes())))
        .await
        .expect("read");

    assert!(by_token.is_none());
    let (row, _) = by_hash.expect("stored under the hash");
    assert_ne!(row.id, token);
    assert_eq!(row.id, issued.session.id.as_str());
}

/// Session attributes come back as they went in, and can be replaced.
pub async fn session_attributes_round_trip_unchanged(adapter: Arc<dyn Adapter>) {
    let (auth, _) = auth(adapter);
    let (_, issued) = user_with_session(&auth, "nina").await;

    let valid = auth.validate_session(&issued.token).await.expect("valid");
    let replaced = Device {
        user_agent: "Ünï 🦀 \"agent\"".to_owned(),
    };
    auth.update_session_attributes(&issued.session.id, &replaced)
        .await
        .expect("updated");
    let missing = auth
        .update_session_attributes(&SessionToken::generate().session_id(), &replaced)
        .await;

    assert_eq!(valid.session.attributes.user_agent, "nina's browser");
    let again = auth.validate_session(&issued.token).await.expect("valid");
    assert_eq!(again.session.attributes, replaced);
    assert!(matches!(missing, Err(Error::InvalidSession)), "{missing:?}");
}

/// No session can be made for a user that does not exist.
pub async fn a_session_for_an_unknown_user_is_refused(adapter: Arc<dyn Adapter>) {
    let (auth, _) = auth(adapter);

    let orphan = auth
        .create_session(&UserId::new("nobody"), Device::default())
        .await;

    assert!(matches!(orphan, Err(Error::UnknownUser)), "{orphan:?}");
}

/// Tokens never issued, and strings that are no token, are invalid sessions.
pub async fn unknown_and_malformed_tokens_are_invalid_sessions(adapter: Arc<dyn Adapter>) {
    let (auth, _) = auth(adapter);
    user_with_session(&auth, "olga").await;

    let unknown = auth.validate_session(&SessionToken::generate()).await;
    let malformed = ["", "x", "' OR 1=1 --", &"A".repeat(40), &"a".repeat(400)];

    assert!(matches!(unknown, Err(Error::InvalidSession)), "{unknown:?}");
    for token in malformed {
        let outcome = auth.validate_token(token).await;
        assert!(
            matches!(outcome, Err(Error::InvalidSession)),
            "{token:?}: {outcome:?}"
        );
    }
}

/// Up to the last millisecond of the active period, validation changes nothing.
pub async fn a_session_is_read_without_a_write_during_its_active_period(adapter: Arc<dyn Adapter>) {
    let (auth, clock) = auth(adapter);
    let (_, issued) = user_with_session(&auth, "pia").await;

    clock.advance(auth.session_config().active_period);
    let valid = auth.validate_session(&issued.token).await.expect("valid");

    assert!(!valid.session.fresh);
    assert_eq!(valid.session.expires_at, issued.session.expires_at);
}

/// One millisecond past the active period, validation extends the session from now and says
/// the cookie must be sent again; the extension is stored.
pub async fn a_session_past_its_active_period_is_extended_and_marked_fresh(
    adapter: Arc<dyn Adapter>,
) {
    let (auth, clock) = auth(adapter);
    let (_, issued) = user_with_session(&auth, "quinn").await;
    let config = *auth.session_config();

    clock.advance(config.active_period + MS);
    let renewed = auth.validate_session(&issued.token).await.expect("valid");
    let after = auth
        .validate_session(&issued.token)
        .await
        .expect("still valid");

    assert!(renewed.session.fresh);
    assert_eq!(
        renewed.session.active_expires_at,
        auth.now() + config.active_period
    );
    assert_eq!(
        renewed.session.expires_at,
        auth.now() + config.active_period + config.idle_period
    );
    assert!(!after.session.fresh);
    assert_eq!(after.session.expires_at, renewed.session.expires_at);
}

/// At the last millisecond of the idle period a session is renewed; one millisecond later it
/// is dead, and its row is gone.
pub async fn a_session_past_its_idle_period_is_invalid_and_deleted(adapter: Arc<dyn Adapter>) {
    let (auth, clock) = auth(adapter.clone());
    let (_, last_chance) = user_with_session(&auth, "rita").await;
    let (_, too_late) = user_with_session(&auth, "sam").await;
    let config = *auth.session_config();

    clock.advance(config.active_period + config.idle_period);
    let renewed = auth
        .validate_session(&last_chance.token)
        .await
        .expect("valid");
    clock.advance(MS);
    let dead = auth.validate_session(&too_late.token).await;

    assert!(renewed.session.fresh);
    assert!(matches!(dead, Err(Error::InvalidSession)), "{dead:?}");
    let row = adapter
        .session_and_user(too_late.session.id.as_str())
        .await
        .expect("read");
    assert!(row.is_none());
}

/// A session used every day still ends at its absolute lifetime, to the millisecond.
pub async fn no_renewal_carries_a_session_past_its_absolute_lifetime(adapter: Arc<dyn Adapter>) {
    let (auth, clock) = auth(adapter);
    let (_, issued) = user_with_session(&auth, "tom").await;
    let config = *auth.session_config();
    let absolute_end = issued.session.created_at + config.absolute_lifetime;
    assert_eq!(issued.session.absolute_expires_at, absolute_end);

    while auth.now() + config.active_period + MS < absolute_end {
        clock.advance(config.active_period + MS);
        let valid = auth.validate_session(&issued.token).await.expect("valid");
        assert!(valid.session.expires_at <= absolute_end);
    }
    clock.set(absolute_end);
    let last = auth
        .validate_session(&issued.token)
        .await
        .expect("valid at the very end");
    clock.advance(MS);
    let ended = auth.validate_session(&issued.token).await;

    assert_eq!(last.session.expires_at, absolute_end);
    assert!(matches!(ended, Err(Error::InvalidSession)), "{ended:?}");
}

/// Signing out ends the session for every holder of its token.
pub async fn an_invalidated_session_no_longer_validates(adapter: Arc<dyn Adapter>) {
    let (auth, _) = auth(adapter);
    let (_, issued) = user_with_session(&auth, "uma").await;

    auth.invalidate_session(&issued.session.id)
        .await
        .expect("invalidated");
    auth.invalidate_session(&SessionToken::generate().session_id())
        .await
        .expect("unknown is a no-op");

    let outcome = auth.validate_session(&issued.token).await;
    assert!(matches!(outcome, Err(Error::InvalidSession)), "{outcome:?}");
}

/// Ending all of one user's sessions leaves another user's alone.
pub async fn invalidating_a_users_sessions_leaves_other_users_alone(adapter: Arc<dyn Adapter>) {
    let (auth, _) = auth(adapter);
    let (victor, first) = user_with_session(&auth, "victor").await;
    let second = auth
        .create_session(&victor.id, Device::default())
        .await
        .expect("second");
    let (_, other) = user_with_session(&auth, "wendy").await;

    let ended = auth
        .invalidate_user_sessions(&victor.id)
        .await
        .expect("invalidated");

    assert_eq!(ended, 2);
    assert!(auth.validate_session(&first.token).await.is_err());
    assert!(auth.validate_session(&second.token).await.is_err());
    assert!(auth.validate_session(&other.token).await.is_ok());
}

/// "Sign out everywhere else" keeps the current session.
pub async fn invalidating_other_sessions_keeps_the_current_one(adapter: Arc<dyn Adapter>) {
    let (auth, _) = auth(adapter);
    let (xena, current) = user_with_session(&auth, "xena").await;
    let elsewhere = auth
        .create_session(&xena.id, Device::default())
        .await
        .expect("second");

    let ended = auth
        .invalidate_other_sessions(&xena.id, &current.session.id)
        .await
        .expect("invalidated");

    assert_eq!(ended, 1);
    assert!(auth.validate_session(&current.token).await.is_ok());
    assert!(auth.validate_session(&elsewhere.token).await.is_err());
}

/// The list of a user's sessions has the live ones only, newest first.
pub async fn a_users_live_sessions_are_listed_newest_first(adapter: Arc<dyn Adapter>) {
    let (auth, clock) = auth(adapter);
    let (yara, oldest) = user_with_session(&auth, "yara").await;
    let config = *auth.session_config();
    clock.advance(config.active_period + config.idle_period + MS);
    let middle = auth
        .create_session(&yara.id, Device::default())
        .await
        .expect("middle");
    clock.advance(MS);
    let newest = auth
        .create_session(&yara.id, Device::default())
        .await
        .expect("newest");
    user_with_session(&auth, "zoe").await;

    let listed: Vec<SessionId> = auth
        .user_sessions(&yara.id)
        .await
        .expect("listed")
        .into_iter()
        .map(|session| session.id)
        .collect();

    assert_eq!(listed, [newest.session.id, middle.session.id]);
    assert!(!listed.contains(&oldest.session.id));
}

/// The sweep deletes dead sessions and no live one.
pub async fn deleting_expired_sessions_removes_only_dead_ones(adapter: Arc<dyn Adapter>) {
    let (auth, clock) = auth(adapter);
    let (abe, dead) = user_with_session(&auth, "abe").await;
    let config = *auth.session_config();
    clock.advance(config.active_period + config.idle_period + MS);
    let live = auth
        .create_session(&abe.id, Device::default())
        .await
        .expect("live");

    let deleted = auth.delete_expired_sessions().await.expect("swept");
    let again = auth.delete_expired_sessions().await.expect("swept again");

    assert_eq!(deleted, 1);
    assert_eq!(again, 0);
    assert!(auth.validate_session(&live.token).await.is_ok());
    assert!(auth.validate_session(&dead.token).await.is_err());
}

/// A healthy database answers a ping.
pub async fn a_reachable_database_answers_a_ping(adapter: Arc<dyn Adapter>) {
    let (auth, _) = auth(adapter);

    auth.ping().await.expect("answers");
}

/// Last-seen moves when a session is used a minute or more after it last moved, and not
/// sooner, so that most requests cost no write; the new time is queued, shown at once in the
/// session list, and stored by the next flush.
pub async fn last_seen_is_written_at_most_once_a_minute(adapter: Arc<dyn Adapter>) {
    let (auth, clock) = auth(adapter.clone());
    let (_, issued) = user_with_session(&auth, "seen").await;
    let interval = auth.session_config().activity_interval;
    let id = issued.session.id.as_str().to_owned();
    assert_eq!(stored_last_seen(&adapter, &id).await, START);

    clock.advance(interval - MS);
    let early = auth.validate_session(&issued.token).await.expect("valid");
    let unchanged = stored_last_seen(&adapter, &id).await;
    clock.advance(MS);
    let due = auth.validate_session(&issued.token).await.expect("valid");
    let queued = stored_last_seen(&adapter, &id).await;
    let listed = auth
        .user_sessions(&issued.session.user_id)
        .await
        .expect("listed");
    let written = auth.flush_session_activity().await.expect("flushed");
    let moved = stored_last_seen(&adapter, &id).await;

    assert_eq!(to_millis(early.session.last_seen_at), START);
    assert_eq!(unchanged, START);
    assert_eq!(due.session.last_seen_at, auth.now());
    assert_eq!(queued, START, "validation does not wait for the write");
    assert_eq!(listed[0].last_seen_at, auth.now());
    assert_eq!(written, 1);
    assert_eq!(moved, to_millis(auth.now()));
    assert_eq!(auth.flush_session_activity().await.expect("flushed"), 0);
}

/// Without a flush, a validation writes the queued last-seen times itself once the oldest has
/// waited the configured delay; until then they count as pending.
pub async fn queued_last_seen_times_are_written_once_the_write_delay_passes(
    adapter: Arc<dyn Adapter>,
) {
    let (auth, clock) = auth(adapter.clone());
    let (_, first) = user_with_session(&auth, "queued1").await;
    let (_, second) = user_with_session(&auth, "queued2").await;
    let config = *auth.session_config();

    clock.advance(config.activity_interval);
    auth.validate_session(&first.token).await.expect("valid");
    let seen_first = to_millis(auth.now());
    clock.advance(config.activity_write_delay - MS);
    auth.validate_session(&second.token).await.expect("valid");
    let before = stored_last_seen(&adapter, first.session.id.as_str()).await;
    let pending_before = auth.pending_session_activity();
    clock.advance(MS);
    auth.validate_session(&second.token).await.expect("valid");
    let after = stored_last_seen(&adapter, first.session.id.as_str()).await;
    let second_after = stored_last_seen(&adapter, second.session.id.as_str()).await;

    assert_eq!(before, START);
    assert_eq!(pending_before, 2);
    assert_eq!(auth.pending_session_activity(), 0);
    assert_eq!(after, seen_first);
    assert_eq!(
        second_after,
        seen_first + to_millis_duration(config.activity_write_delay - MS)
    );
}

/// While the last-seen queue is full, a validation neither writes it nor waits for it: a
/// session not yet queued keeps its stored time and is queued on its next use after a flush.
/// The queue asks for a write once half full.
pub async fn a_full_last_seen_queue_is_not_written_by_a_validation(adapter: Arc<dyn Adapter>) {
    let (auth, clock) = auth(adapter.clone());
    let (user, _) = user_with_session(&auth, "crowd").await;
    let mut sessions = Vec::with_capacity(ACTIVITY_QUEUE_CAPACITY + 1);
    for _ in 0..=ACTIVITY_QUEUE_CAPACITY {
        let issued = auth
            .create_session(&user.id, Device::default())
            .await
            .expect("session created");
        sessions.push(issued);
    }
    clock.advance(auth.session_config().activity_interval);
    let (queued, extra) = sessions.split_at(ACTIVITY_QUEUE_CAPACITY);
    let extra = &extra[0];

    let mut filling_at = None;
    for (count, issued) in (1..).zip(queued) {
        auth.validate_session(&issued.token).await.expect("valid");
        if filling_at.is_none() && auth.session_activity_filling() {
            filling_at = Some(count);
        }
    }
    let shown = auth.validate_session(&extra.token).await.expect("valid");
    let pending_when_full = auth.pending_session_activity();
    let first_stored = stored_last_seen(&adapter, queued[0].session.id.as_str()).await;
    let dropped = auth.dropped_session_activity();
    let written = auth.flush_session_activity().await.expect("flushed");
    let extra_stored = stored_last_seen(&adapter, extra.session.id.as_str()).await;
    auth.validate_session(&extra.token).await.expect("valid");

    assert_eq!(filling_at, Some(ACTIVITY_QUEUE_CAPACITY / 2));
    assert_eq!(pending_when_full, ACTIVITY_QUEUE_CAPACITY);
    assert_eq!(first_stored, START, "no validation wrote the full queue");
    assert_eq!(shown.session.last_seen_at, auth.now());
    assert_eq!(dropped, 1);
    assert_eq!(written, ACTIVITY_QUEUE_CAPACITY);
    assert_eq!(extra_stored, START);
    assert_eq!(auth.pending_session_activity(), 1, "queued on its next use");
}

/// A batch of last-seen times moves each session forward, never back, and skips sessions
/// that are gone or that belong to another user than the one named; concurrent overlapping
/// batches all succeed.
pub async fn last_seen_batches_only_move_times_forward(adapter: Arc<dyn Adapter>) {
    let (auth, _) = auth(adapter.clone());
    let (user, issued) = user_with_session(&auth, "batched").await;
    let (_, theirs) = user_with_session(&auth, "stranger").await;
    let id = issued.session.id.as_str().to_owned();
    let their_id = theirs.session.id.as_str().to_owned();
    let theirs_before = stored_last_seen(&adapter, &their_id).await;

    adapter
        .update_sessions_last_seen(&[
            seen_at(&id, &user.id, START + 5_000),
            seen_at("gone", &user.id, START),
            seen_at(&their_id, &user.id, START + 5_000),
        ])
        .await
        .expect("written");
    let forward = stored_last_seen(&adapter, &id).await;
    let misnamed = stored_last_seen(&adapter, &their_id).await;
    adapter
        .update_sessions_last_seen(&[seen_at(&id, &user.id, START + 1_000)])
        .await
        .expect("written");
    let not_back = stored_last_seen(&adapter, &id).await;

    assert_eq!(forward, START + 5_000);
    assert_eq!(not_back, START + 5_000);
    assert_eq!(misnamed, theirs_before);

    let mut sessions = Vec::new();
    for n in 0..40 {
        let (user, issued) = user_with_session(&auth, &format!("many{n}")).await;
        sessions.push((issued.session.id.as_str().to_owned(), user.id));
    }
    let ids: Vec<&String> = sessions.iter().map(|(id, _)| id).collect();
    let writers = (0..8_i64).map(|writer| {
        let adapter = adapter.clone();
        let mut batch: Vec<LastSeen> = sessions
            .iter()
            .map(|(id, user_id)| seen_at(id, user_id, START + 10_000 + writer))
            .collect();
        if writer % 2 == 1 {
            batch.reverse();
        }
        tokio::spawn(async move { adapter.update_sessions_last_seen(&batch).await })
    });
    for writer in writers.collect::<Vec<_>>() {
        writer.await.expect("joined").expect("written");
    }
    for id in ids {
        assert_eq!(stored_last_seen(&adapter, id).await, START + 10_007);
    }
}

/// A session listing brings the session, its user and every live session of the user, with
/// their attributes intact, in one call; an unknown id brings nothing.
pub async fn a_session_listing_holds_the_session_its_user_and_their_live_sessions(
    adapter: Arc<dyn Adapter>,
) {
    let (auth, clock) = auth(adapter.clone());
    let (user, dead) = user_with_session(&auth, "listing").await;
    let config = *auth.session_config();
    clock.advance(config.active_period + config.idle_period + MS);
    let tricky = Device {
        user_agent: "Mozilla/5.0 \"quoted\" \\ émoji 🦀 \u{1}".to_owned(),
    };
    let older = auth
        .create_session(&user.id, tricky.clone())
        .await
        .expect("created");
    clock.advance(MS);
    let newer = auth
        .create_session(&user.id, Device::default())
        .await
        .expect("created");
    user_with_session(&auth, "someone else").await;

    let listing = adapter
        .session_listing(newer.session.id.as_str(), to_millis(auth.now()))
        .await
        .expect("read")
        .expect("present");
    let unknown = adapter
        .session_listing("unknown", to_millis(auth.now()))
        .await
        .expect("read");
    let (valid, listed) = auth
        .validate_session_listing(&older.token)
        .await
        .expect("valid");

    assert_eq!(listing.session.id, newer.session.id.as_str());
    assert_eq!(listing.user.id, user.id.as_str());
    let mut ids: Vec<&str> = listing
        .user_sessions
        .iter()
        .map(|row| row.id.as_str())
        .collect();
    ids.sort_unstable();
    let mut expected = vec![older.session.id.as_str(), newer.session.id.as_str()];
    expected.sort_unstable();
    assert_eq!(ids, expected, "the dead session is left out");
    assert!(!listing
        .user_sessions
        .iter()
        .any(|row| row.id == dead.session.id.as_str()));
    assert_eq!(unknown, None);
    assert_eq!(valid.user, user);
    assert_eq!(valid.session.id, older.session.id);
    let listed_ids: Vec<&SessionId> = listed.iter().map(|session| &session.id).collect();
    assert_eq!(listed_ids, vec![&newer.session.id, &older.session.id]);
    assert_eq!(listed[1].attributes, tricky);
    assert_eq!(listed[1].user_id, user.id);
}

/// Every session a listing holds is the stored row, field for field, however the adapter
/// gathers them; a session past its idle period is still named, with an empty list, since
/// none of its user's sessions is live any more.
pub async fn every_listed_session_is_its_stored_row(adapter: Arc<dyn Adapter>) {
    let (auth, clock) = auth(adapter.clone());
    let (user, first) = user_with_session(&auth, "field for field").await;
    let mut ids = vec![first.session.id.as_str().to_owned()];
    for agent in ["second", "third"] {
        clock.advance(Duration::from_secs(61));
        let issued = auth
            .create_session(
                &user.id,
                Device {
                    user_agent: agent.to_owned(),
                },
            )
            .await
            .expect("created");
        ids.push(issued.session.id.as_str().to_owned());
    }
    adapter
        .update_sessions_last_seen(&[seen_at(&ids[0], &user.id, to_millis(auth.now()) + 7)])
        .await
        .expect("written");

    let listing = adapter
        .session_listing(&ids[2], to_millis(auth.now()))
        .await
        .expect("read")
        .expect("present");
    assert_eq!(listing.user_sessions.len(), 3);
    for row in &listing.user_sessions {
        let (stored, _) = adapter
            .session_and_user(&row.id)
            .await
            .expect("read")
            .expect("present");
        assert_eq!(row, &stored);
    }

    let config = *auth.session_config();
    clock.advance(config.active_period + config.idle_period + MS);
    let dead = adapter
        .session_listing(&ids[0], to_millis(auth.now()))
        .await
        .expect("read")
        .expect("still stored");
    assert_eq!(dead.session.id, ids[0]);
    assert_eq!(dead.user.id, user.id.as_str());
    assert!(dead.user_sessions.is_empty(), "{:?}", dead.user_sessions);
}

/// The listing's entry for the session being validated carries what validation just wrote:
/// the renewed expiry, and the queued last-seen time.
pub async fn a_session_listing_shows_the_validated_sessions_new_times(adapter: Arc<dyn Adapter>) {
    let (auth, clock) = auth(adapter);
    let (_, issued) = user_with_session(&auth, "renewed").await;
    let config = *auth.session_config();

    clock.advance(config.active_period + MS);
    let (valid, listed) = auth
        .validate_session_listing(&issued.token)
        .await
        .expect("valid");

    assert!(valid.session.fresh);
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].expires_at, valid.session.expires_at);
    assert_eq!(listed[0].active_expires_at, valid.session.active_expires_at);
    assert_eq!(listed[0].last_seen_at, auth.now());
}

async fn stored_last_seen(adapter: &Arc<dyn Adapter>, id: &str) -> i64 {
    let (row, _) = adapter
        .session_and_user(id)
        .await
        .expect("read")
        .expect("present");
    row.last_seen_at
}

fn to_millis_duration(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).expect("small")
}

/// The count of live sessions leaves out dead ones.
pub async fn live_sessions_are_counted(adapter: Arc<dyn Adapter>) {
    let (auth, clock) = auth(adapter);
    user_with_session(&auth, "counted1").await;
    let config = *auth.session_config();
    clock.advance(config.active_period + config.idle_period + MS);
    user_with_session(&auth, "counted2").await;
    user_with_session(&auth, "counted3").await;

    assert_eq!(auth.count_live_sessions().await.expect("counted"), 2);
}
