//! Last-seen times waiting to be written.
//!
//! A session's last-seen time is for display ("last active 3 minutes ago"), so validation
//! does not wait for its write: it records the time here and the batch is written later in
//! one adapter call. Renewals, which move a session's expiry, are still written at once.
//!
//! The buffer holds a bounded number of sessions. When it is full, a session not already in
//! it is not added: its stored time stays as it was, so its next validation queues it again,
//! once there is room. No request waits for other sessions' writes because the buffer filled.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};

use crate::adapter::{LastSeen, SessionRow};

/// [`PendingActivity::oldest`] when nothing waits.
const NOTHING_WAITS: i64 = i64::MAX;

/// Session ids, with their users and the last-seen times not yet written for them.
// TODO: times still queued when the process dies are lost (up to the flush interval's worth,
// 5 s in the site). Writing them through on every validation is what this queue avoids;
// a write-ahead record would cost the same write.
pub(crate) struct PendingActivity {
    seen: Mutex<HashMap<String, Queued>>,
    // Copies of what the map holds, kept outside the lock so that every validation can ask
    // whether a write is due without taking it. Only changed with the lock held.
    oldest: AtomicI64,
    len: AtomicUsize,
    // Times taken for writing and not yet stored, so that `pending` counts them too.
    writing: AtomicUsize,
    // Times not queued because the buffer was full, since the start.
    dropped: AtomicU64,
    capacity: usize,
}

/// What waits for one session.
struct Queued {
    user_id: String,
    at: i64,
}

/// Times taken from the buffer to be written; they count as pending until this is dropped,
/// whether they were written, put back or abandoned.
pub(crate) struct Batch<'a> {
    times: Vec<LastSeen>,
    writing: &'a AtomicUsize,
}

impl Batch<'_> {
    /// The sessions and the times to write for them, sorted by user id, then session id.
    pub(crate) fn times(&self) -> &[LastSeen] {
        &self.times
    }
}

impl Drop for Batch<'_> {
    fn drop(&mut self) {
        self.writing.fetch_sub(self.times.len(), Ordering::Relaxed);
    }
}

impl PendingActivity {
    /// An empty buffer that holds up to `capacity` sessions.
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            seen: Mutex::new(HashMap::new()),
            oldest: AtomicI64::new(NOTHING_WAITS),
            len: AtomicUsize::new(0),
            writing: AtomicUsize::new(0),
            dropped: AtomicU64::new(0),
            capacity,
        }
    }

    /// Records that session `id`, of user `user_id`, was seen at `now`. Returns false when the
    /// buffer is full and did not hold the session: the time is not kept.
    pub(crate) fn record(&self, id: &str, user_id: &str, now: i64) -> bool {
        let mut seen = self.seen();
        let full = seen.len() >= self.capacity;
        match seen.get_mut(id) {
            Some(queued) => queued.at = queued.at.max(now),
            None if full => {
                drop(seen);
                self.dropped.fetch_add(1, Ordering::Relaxed);
                return false;
            }
            None => {
                let user_id = user_id.to_owned();
                seen.insert(id.to_owned(), Queued { user_id, at: now });
            }
        }
        self.oldest.fetch_min(now, Ordering::Relaxed);
        self.len.store(seen.len(), Ordering::Relaxed);
        true
    }

    /// Whether the oldest waiting time has waited `max_wait` milliseconds. Takes no lock.
    pub(crate) fn is_due(&self, now: i64, max_wait: i64) -> bool {
        let oldest = self.oldest.load(Ordering::Relaxed);
        oldest != NOTHING_WAITS && now.saturating_sub(oldest) >= max_wait
    }

    /// Whether the buffer is half full, so that a writer should not wait for its next turn.
    /// Takes no lock.
    pub(crate) fn is_filling(&self) -> bool {
        self.len.load(Ordering::Relaxed) >= self.capacity.div_ceil(2)
    }

    /// How many times were not queued because the buffer was full, since it was created.
    pub(crate) fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// The time waiting for session `id`, if any.
    pub(crate) fn get(&self, id: &str) -> Option<i64> {
        if self.len.load(Ordering::Relaxed) == 0 {
            return None;
        }
        self.seen().get(id).map(|queued| queued.at)
    }

    /// Moves each row's last-seen time to the one waiting for it, when later; one lock for
    /// the whole list.
    pub(crate) fn apply(&self, rows: &mut [SessionRow]) {
        if self.len.load(Ordering::Relaxed) == 0 {
            return;
        }
        let seen = self.seen();
        for row in rows {
            if let Some(queued) = seen.get(&row.id) {
                row.last_seen_at = row.last_seen_at.max(queued.at);
            }
        }
    }

    /// Drops the time waiting for session `id`: it was written with the session's renewal,
    /// or the session ended.
    pub(crate) fn forget(&self, id: &str) {
        if self.len.load(Ordering::Relaxed) == 0 {
            return;
        }
        let mut seen = self.seen();
        seen.remove(id);
        self.len.store(seen.len(), Ordering::Relaxed);
    }

    /// Takes every waiting time, leaving the buffer empty.
    pub(crate) fn take(&self) -> Batch<'_> {
        let mut times: Vec<LastSeen> = {
            let mut seen = self.seen();
            self.oldest.store(NOTHING_WAITS, Ordering::Relaxed);
            self.len.store(0, Ordering::Relaxed);
            self.writing.fetch_add(seen.len(), Ordering::Relaxed);
            seen.drain()
                .map(|(session_id, queued)| LastSeen {
                    session_id,
                    user_id: queued.user_id,
                    at: queued.at,
                })
                .collect()
        };

        // In the order of a table that keeps each user's sessions together, as SQLite's does:
        // its writes then walk the table once instead of seeking a random page per session.
        // Sorted after the lock is released, so validations do not wait for it.
        times
            .sort_unstable_by(|a, b| (&a.user_id, &a.session_id).cmp(&(&b.user_id, &b.session_id)));
        Batch {
            times,
            writing: &self.writing,
        }
    }

    /// How many sessions have a time waiting or being written.
    pub(crate) fn pending(&self) -> usize {
        self.len.load(Ordering::Relaxed) + self.writing.load(Ordering::Relaxed)
    }

    /// Puts back a batch whose write failed, so the next flush tries it again; times
    /// recorded since are kept when later. Entries beyond the capacity are dropped, so an
    /// unreachable database cannot make the buffer grow without bound.
    ///
    /// The batch counts as recorded at `now`, so that a database that is down is not asked
    /// again on every validation, only once the delay has passed again.
    pub(crate) fn restore(&self, batch: Vec<LastSeen>, now: i64) {
        let mut seen = self.seen();
        for LastSeen {
            session_id,
            user_id,
            at,
        } in batch
        {
            if seen.len() >= self.capacity {
                break;
            }
            let entry = seen.entry(session_id).or_insert(Queued { user_id, at });
            entry.at = entry.at.max(at);
        }
        if !seen.is_empty() {
            self.oldest.store(now, Ordering::Relaxed);
        }
        self.len.store(seen.len(), Ordering::Relaxed);
    }

    fn seen(&self) -> MutexGuard<'_, HashMap<String, Queued>> {
        // Every update leaves the map whole, so a panic elsewhere while it was held loses
        // nothing worth refusing the next request for.
        self.seen
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seen(session_id: &str, user_id: &str, at: i64) -> LastSeen {
        LastSeen {
            session_id: session_id.to_owned(),
            user_id: user_id.to_owned(),
            at,
        }
    }

    #[test]
    fn a_batch_is_due_once_its_oldest_entry_has_waited_long_enough() {
        let pending = PendingActivity::new(100);
        let empty = pending.is_due(1_000, 500);

        pending.record("a", "user", 1_000);
        pending.record("b", "user", 1_200);

        assert!(!empty);
        assert!(!pending.is_due(1_499, 500));
        assert!(pending.is_due(1_500, 500));
    }

    #[test]
    fn a_half_full_buffer_asks_to_be_written_and_a_full_one_is_not_due_for_it() {
        let pending = PendingActivity::new(4);

        pending.record("a", "user", 0);
        let one = pending.is_filling();
        pending.record("b", "user", 0);
        let two = pending.is_filling();
        pending.record("c", "user", 0);
        pending.record("d", "user", 0);

        assert!(!one);
        assert!(two);
        assert!(!pending.is_due(0, i64::MAX));
    }

    #[test]
    fn a_full_buffer_keeps_updating_its_sessions_and_takes_no_new_one() {
        let pending = PendingActivity::new(2);
        pending.record("a", "user", 1);
        pending.record("b", "user", 1);

        let new = pending.record("c", "user", 2);
        let known = pending.record("a", "user", 3);

        assert!(!new);
        assert!(known);
        assert_eq!(pending.dropped(), 1);
        assert_eq!(pending.get("c"), None);
        assert_eq!(
            pending.take().times(),
            vec![seen("a", "user", 3), seen("b", "user", 1)]
        );
        assert!(pending.record("c", "user", 4), "room again once taken");
    }

    #[test]
    fn a_session_seen_twice_waits_once_with_its_later_time() {
        let pending = PendingActivity::new(100);

        pending.record("a", "user", 2_000);
        pending.record("a", "user", 1_000);
        pending.record("a", "user", 3_000);

        assert_eq!(pending.take().times(), vec![seen("a", "user", 3_000)]);
        assert!(pending.take().times().is_empty());
    }

    #[test]
    fn taking_the_batch_starts_the_wait_again() {
        let pending = PendingActivity::new(100);
        pending.record("a", "user", 0);

        pending.take();
        pending.record("b", "user", 10_000);

        assert!(!pending.is_due(10_000, 500));
    }

    #[test]
    fn a_restored_batch_keeps_the_later_of_two_times_and_stays_bounded() {
        let pending = PendingActivity::new(2);
        pending.record("a", "user", 5_000);

        pending.restore(
            vec![
                seen("a", "user", 4_000),
                seen("b", "user", 4_000),
                seen("c", "user", 4_000),
            ],
            6_000,
        );

        assert_eq!(
            pending.take().times(),
            vec![seen("a", "user", 5_000), seen("b", "user", 4_000)]
        );
    }

    #[test]
    fn a_restored_batch_waits_the_delay_again() {
        let pending = PendingActivity::new(100);
        pending.record("a", "user", 0);
        let batch = pending.take().times().to_vec();

        pending.restore(batch, 10_000);

        assert!(!pending.is_due(10_499, 500));
        assert!(pending.is_due(10_500, 500));
    }

    #[test]
    fn a_forgotten_session_is_not_written() {
        let pending = PendingActivity::new(100);
        pending.record("a", "user", 1);

        pending.forget("a");

        assert_eq!(pending.get("a"), None);
        assert!(pending.take().times().is_empty());
    }

    #[test]
    fn taken_times_count_as_pending_until_their_batch_is_dropped() {
        let pending = PendingActivity::new(100);
        pending.record("a", "user", 1);
        pending.record("b", "user", 1);

        let batch = pending.take();
        pending.record("c", "user", 2);
        let while_writing = pending.pending();
        drop(batch);

        assert_eq!(while_writing, 3);
        assert_eq!(pending.pending(), 1);
    }

    #[test]
    fn a_batch_comes_sorted_by_user_then_session() {
        let pending = PendingActivity::new(100);
        pending.record("s3", "u2", 1);
        pending.record("s9", "u1", 2);
        pending.record("s1", "u2", 3);
        pending.record("s4", "u1", 4);

        let batch = pending.take();

        assert_eq!(
            batch.times(),
            vec![
                seen("s4", "u1", 4),
                seen("s9", "u1", 2),
                seen("s1", "u2", 3),
                seen("s3", "u2", 1),
            ]
        );
    }
}
