//! The adapter's connections, pooled by deadpool rather than by sqlx.
//!
//! sqlx 0.8's pool pings every connection as it comes back, whatever `test_before_acquire`
//! says: a round trip to PostgreSQL after every statement, and a backend woken for nothing.
//! The SQLite adapter dropped it first (latchkey-sqlite's `pool.rs`); figures are in
//! docs/benchmarks.md.
//!
//! The ping found connections the server had dropped. Here a connection is pinged before it
//! is handed out only when there is reason to doubt it: it sat unused for a second, or a call
//! has failed as unavailable or timed out since it was last handed out. A call that fails so
//! marks the whole pool suspect, as sqlx does not say which connection broke, and each
//! connection proves itself once on its next use; a dead one is dropped and replaced. A call
//! dropped part way needs nothing: the connection drains the answers it still expects before
//! its next statement.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use deadpool::managed::{self, Metrics, Object, PoolError, RecycleResult};
use latchkey::AdapterError;
use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::Connection;

use crate::error::storage;

/// How long a connection may sit unused before it is pinged on its way out of the pool.
const PING_AFTER_IDLE: Duration = Duration::from_secs(1);

/// A connection taken from the adapter's pool; it goes back when dropped.
///
/// Dereferences to [`PgConnection`], so `&mut *connection` is a sqlx executor.
pub type PooledConnection = Object<Connections>;

/// The pool behind a [`PostgresAdapter`](crate::PostgresAdapter).
pub(crate) type Pool = managed::Pool<Connections>;

/// Opens the pool's connections, and decides which to check before reuse.
pub struct Connections {
    options: PgConnectOptions,
    /// The pool's own zero point, against which `suspect_at` is counted.
    started: Instant,
    /// Microseconds after `started` at which a call last failed as unavailable; 0 if none has.
    suspect_at: AtomicU64,
}

impl Connections {
    pub(crate) fn new(options: PgConnectOptions) -> Self {
        Self {
            options,
            started: Instant::now(),
            suspect_at: AtomicU64::new(0),
        }
    }

    /// Marks every connection handed out until now as one to ping before its next use.
    pub(crate) fn suspect(&self) {
        self.suspect_at
            .store(self.micros(Instant::now()), Ordering::Relaxed);
    }

    /// Whether a call failed after `metrics`' connection was last handed out or opened.
    fn doubted(&self, metrics: &Metrics) -> bool {
        let suspect_at = self.suspect_at.load(Ordering::Relaxed);
        let handed_out = metrics.recycled.unwrap_or(metrics.created);
        suspect_at != 0 && self.micros(handed_out) <= suspect_at
    }

    fn micros(&self, at: Instant) -> u64 {
        let since = at.saturating_duration_since(self.started).as_micros();
        u64::try_from(since).unwrap_or(u64::MAX).max(1)
    }
}

/// The options hold the password, so they are left out.
impl fmt::Debug for Connections {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connections")
            .field("suspect_at", &self.suspect_at)
            .finish_non_exhaustive()
    }
}

impl managed::Manager for Connections {
    type Type = PgConnection;
    type Error = sqlx::Error;

    async fn create(&self) -> Result<PgConnection, sqlx::Error> {
        PgConnection::connect_with(&self.options).await
    }

    async fn recycle(
        &self,
        connection: &mut PgConnection,
        metrics: &Metrics,
    ) -> RecycleResult<sqlx::Error> {
        if metrics.last_used() >= PING_AFTER_IDLE || self.doubted(metrics) {
            connection.ping().await?;
        }
        Ok(())
    }
}

/// A failure to hand out a connection: the pool is closed or exhausted, or a new connection
/// could not be opened.
pub(crate) fn unavailable(error: PoolError<sqlx::Error>) -> AdapterError {
    match error {
        PoolError::Backend(error) => storage(error),
        other => AdapterError::Unavailable(other.to_string().into()),
    }
}
