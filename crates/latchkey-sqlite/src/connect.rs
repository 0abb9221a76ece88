//! Opening the database: where it is, how the pool is sized, and the pragmas every connection
//! gets.

use std::str::FromStr;
use std::time::Duration;

use deadpool::Runtime;
use latchkey::adapter::AdapterResult;
use latchkey::BoxError;
use sqlx::migrate::Migrator;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqliteSynchronous};
use sqlx::Connection;

use crate::pool::{self, Connections, Pool, PooledConnection};

/// The schema, embedded at compile time so that a deployment needs no migration files.
static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// How long a statement waits for another connection's write lock before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Storage for Latchkey in one SQLite database.
///
/// Cloning is cheap and every clone shares the same connection pool.
#[derive(Debug, Clone)]
pub struct SqliteAdapter {
    pool: Pool,
    /// How to reopen a file database on close; `None` in memory.
    file: Option<SqliteConnectOptions>,
}

/// Pool settings for [`SqliteAdapter::connect_with`].
///
/// SQLite allows one writer at a time whatever the pool size; more connections let reads run
/// beside a write and beside each other.
///
/// ```
/// use std::time::Duration;
/// use latchkey_sqlite::SqliteConfig;
///
/// let config = SqliteConfig::new()
///     .with_max_connections(4)
///     .with_acquire_timeout(Duration::from_secs(2));
/// ```
#[derive(Debug, Clone)]
pub struct SqliteConfig {
    max_connections: u32,
    acquire_timeout: Duration,
}

/// Why [`SqliteAdapter::connect`] failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SqliteError {
    /// The URL or path does not name a database.
    #[error("invalid sqlite url")]
    InvalidUrl(#[source] BoxError),

    /// The database file could not be opened or created.
    #[error("could not open sqlite database")]
    Open(#[source] BoxError),

    /// The schema could not be brought up to date.
    #[error("could not apply sqlite migrations")]
    Migrate(#[source] BoxError),
}

impl SqliteConfig {
    /// The default settings: 8 connections, and 5 seconds to wait for one.
    pub fn new() -> Self {
        Self {
            max_connections: 8,
            acquire_timeout: Duration::from_secs(5),
        }
    }

    /// Sets the most connections the pool opens. An in-memory database always uses one.
    pub fn with_max_connections(mut self, max_connections: u32) -> Self {
        self.max_connections = max_connections;
        self
    }

    /// Sets how long a call waits for a free connection before failing with
    /// [`AdapterError::Unavailable`](latchkey::AdapterError::Unavailable).
    pub fn with_acquire_timeout(mut self, acquire_timeout: Duration) -> Self {
        self.acquire_timeout = acquire_timeout;
        self
    }
}

impl Default for SqliteConfig {
    fn default() -> Self {
        Self::new()
    }
}

impl SqliteAdapter {
    /// Opens the database with the default [`SqliteConfig`], creating the file if it is
    /// missing and applying the migrations.
    ///
    /// `url_or_path` is a URL (`sqlite://path`, `sqlite:path`, `sqlite::memory:`) or a bare
    /// file path, which is taken literally. Every connection runs with foreign keys enforced, a
    /// 5 second busy timeout and `synchronous = NORMAL`; a file database uses WAL journaling.
    ///
    /// An in-memory database lives as long as the adapter, and is meant for tests.
    ///
    /// # Errors
    ///
    /// [`SqliteError`] when the URL is malformed, the file cannot be opened or created, or
    /// the migrations fail.
    pub async fn connect(url_or_path: &str) -> Result<Self, SqliteError> {
        Self::connect_with(url_or_path, SqliteConfig::default()).await
    }

    /// Opens the database as [`connect`](Self::connect) does, with the given pool settings.
    ///
    /// # Errors
    ///
    /// As for [`connect`](Self::connect).
    pub async fn connect_with(
        url_or_path: &str,
        config: SqliteConfig,
    ) -> Result<Self, SqliteError> {
        let location = Location::parse(url_or_path)?;

        let options = location.connect_options();
        let pool = location.pool(options.clone(), &config)?;

        // The first connection is opened here, so that a file that cannot be opened or
        // created fails the connect rather than the first call.
        let mut connection = pool
            .get()
            .await
            .map_err(|error| SqliteError::Open(error.to_string().into()))?;
        MIGRATOR
            .run(&mut *connection)
            .await
            .map_err(|error| SqliteError::Migrate(error.into()))?;
        drop(connection);

        tracing::debug!(in_memory = location.in_memory, "sqlite database ready");
        let file = (!location.in_memory).then_some(options);
        Ok(Self { pool, file })
    }

    /// A connection from the adapter's pool, for applications that keep their own tables in
    /// the same database. It goes back to the pool when dropped.
    ///
    /// # Errors
    ///
    /// [`AdapterError::Unavailable`](latchkey::AdapterError::Unavailable) when no connection
    /// is free within the acquire timeout, a new one cannot be opened, or the adapter is
    /// closed.
    pub async fn acquire(&self) -> AdapterResult<PooledConnection> {
        self.pool.get().await.map_err(pool::unavailable)
    }

    /// The most connections the pool opens: one for an in-memory database.
    pub fn max_connections(&self) -> usize {
        self.pool.status().max_size
    }

    /// Closes every connection, waiting for calls in progress to finish, then folds the WAL
    /// file back into the database file unless another process has the database open, so
    /// that the file can be copied on its own.
    ///
    /// Later calls on this adapter or its clones fail with
    /// [`AdapterError::Unavailable`](latchkey::AdapterError::Unavailable).
    pub async fn close(&self) {
        // The idle connections are taken out before the pool closes, to be closed here and
        // waited for; the pool would only drop them, and their threads close them later.
        let idle = self.pool.retain(|_, _| false).removed;
        self.pool.close();
        for connection in idle {
            if let Err(error) = connection.close().await {
                tracing::debug!(%error, "could not close a sqlite connection");
            }
        }

        // A connection still in use is dropped when its call ends, which the pool's size
        // shows.
        while self.pool.status().size > 0 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }

        // A dropped connection closes on its own thread, so one may still be closing now,
        // and connections that close at the same moment can each see the other still open
        // and leave the WAL to it. One connection opened and closed on its own, once the pool
        // is empty, folds the WAL back.
        if let Some(options) = &self.file {
            if let Err(error) = fold_wal(options).await {
                tracing::debug!(%error, "could not fold the wal into the database file");
            }
        }
    }
}

/// Opens and closes one connection, which checkpoints the WAL into the database file and
/// removes it when no other connection has the database open.
async fn fold_wal(options: &SqliteConnectOptions) -> Result<(), sqlx::Error> {
    SqliteConnection::connect_with(options).await?.close().await
}

/// A parsed `url_or_path`.
struct Location {
    options: SqliteConnectOptions,
    in_memory: bool,
}

impl Location {
    fn parse(url_or_path: &str) -> Result<Self, SqliteError> {
        let url = match url_or_path {
            ":memory:" => "sqlite::memory:",
            other => other,
        };

        let Some(rest) = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
        else {
            return Self::bare_path(url);
        };

        // An empty path would make SQLite give every connection its own temporary database.
        let (database, query) = rest.split_once('?').unwrap_or((rest, ""));
        let in_memory = database == ":memory:" || query.split('&').any(|p| p == "mode=memory");
        if database.is_empty() && !in_memory {
            return Err(SqliteError::InvalidUrl("no database path".into()));
        }

        let options = SqliteConnectOptions::from_str(url)
            .map_err(|error| SqliteError::InvalidUrl(error.into()))?;

        Ok(Self { options, in_memory })
    }

    /// A path without a scheme is a file name, so `?` and `%` in it are not URL syntax.
    fn bare_path(path: &str) -> Result<Self, SqliteError> {
        if path.is_empty() {
            return Err(SqliteError::InvalidUrl("no database path".into()));
        }

        Ok(Self {
            options: SqliteConnectOptions::new().filename(path),
            in_memory: false,
        })
    }

    fn connect_options(&self) -> SqliteConnectOptions {
        // Foreign keys are off by default in SQLite; without them an orphan key or session
        // would be stored and `UnknownUser` never reported.
        let options = self
            .options
            .clone()
            .create_if_missing(true)
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT)
            .synchronous(SqliteSynchronous::Normal)
            // 512 KiB of page cache per connection rather than SQLite's default 2 MiB: the OS
            // caches the file anyway, and with a pool of ten the default kept 30-45 MiB
            // resident for no measurable gain in throughput (docs/benchmarks.md).
            // Each connection's thread allocates for SQLite: on glibc, each keeps an arena
            // of 2-3 MiB after load, mostly freed memory. The latchkey binary allocates with
            // jemalloc, which gives it back (latchkey-site's main.rs).
            .pragma("cache_size", "-512");

        // WAL lets reads proceed during a write. With WAL, NORMAL sync keeps the file
        // consistent and loses nothing when the process crashes; only a power loss or an OS
        // crash may roll back the last commits, which buys a sync per commit:
        // https://www.sqlite.org/pragma.html#pragma_synchronous
        // An in-memory database has no WAL.
        if self.in_memory {
            options
        } else {
            options.journal_mode(SqliteJournalMode::Wal)
        }
    }

    fn pool(
        &self,
        options: SqliteConnectOptions,
        config: &SqliteConfig,
    ) -> Result<Pool, SqliteError> {
        // An in-memory database exists only while a connection to it is open, and in shared
        // cache mode concurrent writers get SQLITE_LOCKED, which the busy timeout does not
        // wait on. One connection, which the pool never retires, avoids both.
        let max_size = if self.in_memory {
            1
        } else {
            usize::try_from(config.max_connections).unwrap_or(usize::MAX)
        };
        Pool::builder(Connections::new(options))
            .max_size(max_size)
            .wait_timeout(Some(config.acquire_timeout))
            .create_timeout(Some(config.acquire_timeout))
            .runtime(Runtime::Tokio1)
            .build()
            .map_err(|error| SqliteError::Open(error.into()))
    }
}
