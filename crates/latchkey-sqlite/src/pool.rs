//! The adapter's connections, pooled by deadpool rather than by sqlx.
//!
//! sqlx 0.8's pool pings every connection as it comes back, whatever `test_before_acquire`
//! says: one more trip to the connection's worker thread after every statement, and on a busy
//! server a thread woken for nothing. A profile view made two hand-offs instead of one.
//! Side by side on the 1M-session seed, four rounds each, medians: 126 → 104 µs of CPU a
//! `GET /`, 3.8 → 2.05 context switches a request (docs/benchmarks.md).
//!
//! The ping guards against reusing a connection that a cancelled call left in the middle of
//! something. A SQLite connection cannot be: sqlx runs its commands one after another on the
//! connection's own thread, so a statement or rollback that a dropped future left behind has
//! finished before the next caller's first statement starts. What is left is a worker thread
//! that died, which only a bug in sqlx or SQLite causes; a connection that sat unused for a
//! while is pinged before it is handed out again, so such a connection is replaced, not kept.

use std::time::Duration;

use deadpool::managed::{self, Metrics, Object, PoolError, RecycleResult};
use latchkey::AdapterError;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sqlx::Connection;

use crate::error::classify;

/// How long a connection may sit unused before it is pinged on its way out of the pool.
const PING_AFTER_IDLE: Duration = Duration::from_secs(1);

/// A connection taken from the adapter's pool; it goes back when dropped.
///
/// Dereferences to [`SqliteConnection`], so `&mut *connection` is a sqlx executor.
pub type PooledConnection = Object<Connections>;

/// The pool behind a [`SqliteAdapter`](crate::SqliteAdapter).
pub(crate) type Pool = managed::Pool<Connections>;

/// Opens the pool's connections, all with the same options.
#[derive(Debug)]
pub struct Connections {
    options: SqliteConnectOptions,
}

impl Connections {
    pub(crate) fn new(options: SqliteConnectOptions) -> Self {
        Self { options }
    }
}

impl managed::Manager for Connections {
    type Type = SqliteConnection;
    type Error = sqlx::Error;

    async fn create(&self) -> Result<SqliteConnection, sqlx::Error> {
        SqliteConnection::connect_with(&self.options).await
    }

    async fn recycle(
        &self,
        connection: &mut SqliteConnection,
        metrics: &Metrics,
    ) -> RecycleResult<sqlx::Error> {
        if metrics.last_used() >= PING_AFTER_IDLE {
            connection.ping().await?;
        }
        Ok(())
    }
}

/// A failure to hand out a connection: the pool is closed or exhausted, or a new connection
/// could not be opened.
pub(crate) fn unavailable(error: PoolError<sqlx::Error>) -> AdapterError {
    match error {
        PoolError::Backend(error) => classify(error),
        other => AdapterError::Unavailable(other.to_string().into()),
    }
}
