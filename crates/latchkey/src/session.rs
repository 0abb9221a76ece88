//! Sessions and their expiry.
//!
//! A session lives through three periods, as in Lucia v2 with an added absolute end:
//!
//! - **active** (default 1 day from creation or renewal): validation just reads it;
//! - **idle** (default 14 days after the active period): validation extends the session,
//!   starting a new active period from now, and marks it [`fresh`](Session::fresh) so the
//!   cookie is sent again with the new expiry (Lucia v2 forgot to re-send it);
//! - past the idle period, or past the **absolute lifetime** (default 30 days from creation),
//!   the session is dead and the person must sign in again. Renewal never moves the absolute
//!   end, so a stolen token cannot be kept alive forever by using it.

use std::time::{Duration, SystemTime};

use crate::token::{SessionId, SessionToken};
use crate::user::{User, UserId};

/// How long sessions last.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionConfig {
    /// How long after creation or renewal a session is used without a write.
    pub active_period: Duration,
    /// How long after the active period an unused session can still be renewed.
    pub idle_period: Duration,
    /// How long after creation a session ends however it is used.
    pub absolute_lifetime: Duration,
    /// The least time between two writes of a session's last-seen time, so that validation
    /// costs no write on most requests.
    pub activity_interval: Duration,
    /// The longest a last-seen time waits in memory before a validation writes the waiting
    /// batch itself. Validation does not wait for last-seen writes: it queues them, and
    /// [`Auth::flush_session_activity`](crate::Auth::flush_session_activity), called more
    /// often than this from a background task, writes them so that no request has to. A full
    /// queue is not written by a validation: it takes no new session until it is.
    pub activity_write_delay: Duration,
}

impl Default for SessionConfig {
    fn default() -> Self {
        const DAY: Duration = Duration::from_secs(24 * 60 * 60);
        Self {
            active_period: DAY,
            idle_period: DAY * 14,
            absolute_lifetime: DAY * 30,
            activity_interval: Duration::from_secs(60),
            activity_write_delay: Duration::from_secs(30),
        }
    }
}

/// A session as the application sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session<S> {
    /// The session's public id, the SHA-256 of its token.
    pub id: SessionId,
    /// The user it belongs to.
    pub user_id: UserId,
    /// When it was created.
    pub created_at: SystemTime,
    /// The end of its active period.
    pub active_expires_at: SystemTime,
    /// When it dies unless renewed; a cookie carrying it should expire then.
    pub expires_at: SystemTime,
    /// When it dies however it is used.
    pub absolute_expires_at: SystemTime,
    /// When it was last used, to within the configured activity interval.
    pub last_seen_at: SystemTime,
    /// Whatever the application keeps about the session.
    pub attributes: S,
    /// True when this validation extended the session, so its cookie must be sent again.
    pub fresh: bool,
}

/// A session just created, with the token to hand to the client. The token exists only here:
/// the database keeps its hash.
#[derive(Debug, Clone)]
pub struct IssuedSession<S> {
    /// The session.
    pub session: Session<S>,
    /// The secret the client presents.
    pub token: SessionToken,
}

/// A valid session and its user, as returned by validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidSession<U, S> {
    /// The session, with `fresh` set when it was extended.
    pub session: Session<S>,
    /// Its user.
    pub user: User<U>,
}
