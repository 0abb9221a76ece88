//! Connecting: the pool, its timeouts, and the migrations applied on connect.

use std::fmt;
use std::time::Duration;

use deadpool::managed::{Object, PoolError};
use deadpool::Runtime;
use latchkey::adapter::AdapterResult;
use latchkey::BoxError;
use sqlx::migrate::{MigrateError, Migrator};
use sqlx::postgres::PgConnectOptions;
use sqlx::{Connection, PgConnection};

use crate::error::is_unavailable;
use crate::pool::{self, Connections, Pool, PooledConnection};

/// The schema, embedded in the binary so that a deployment needs no migration step.
static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// Pool and timeout settings for [`PostgresAdapter::connect_with`].
///
/// Every bound is finite, so that a database that goes away after start makes calls fail
/// with [`AdapterError::Unavailable`](latchkey::AdapterError::Unavailable) within a known
/// time instead of holding requests forever.
///
/// ```
/// use std::time::Duration;
/// use latchkey_postgres::PostgresConfig;
///
/// let config = PostgresConfig::new()
///     .with_max_connections(20)
///     .with_acquire_timeout(Duration::from_secs(1));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostgresConfig {
    max_connections: u32,
    acquire_timeout: Duration,
    statement_timeout: Option<Duration>,
    call_timeout: Duration,
}

impl PostgresConfig {
    /// The default settings: 10 connections, 3 seconds to get one, 10 seconds for a
    /// statement and 15 for a whole call.
    pub fn new() -> Self {
        Self {
            max_connections: 10,
            acquire_timeout: Duration::from_secs(3),
            statement_timeout: Some(Duration::from_secs(10)),
            call_timeout: Duration::from_secs(15),
        }
    }

    /// Sets the most connections the pool opens.
    pub fn with_max_connections(mut self, max_connections: u32) -> Self {
        self.max_connections = max_connections;
        self
    }

    /// Sets how long a call waits for a connection, including opening one. sqlx has no
    /// separate TCP connect timeout: this bounds the connect too.
    pub fn with_acquire_timeout(mut self, acquire_timeout: Duration) -> Self {
        self.acquire_timeout = acquire_timeout;
        self
    }

    /// Sets how long the server lets one statement run before cancelling it; `None` leaves
    /// the server's own setting. It is sent as a startup parameter, which PgBouncer in
    /// transaction mode rejects unless told to ignore it: use `None` behind such a pooler.
    pub fn with_statement_timeout(mut self, statement_timeout: Option<Duration>) -> Self {
        self.statement_timeout = statement_timeout;
        self
    }

    /// Sets how long a whole adapter call may take, measured here. It is the bound that
    /// still holds when the network drops packets silently, where neither the server's
    /// statement timeout nor an error from the socket ever arrives.
    pub fn with_call_timeout(mut self, call_timeout: Duration) -> Self {
        self.call_timeout = call_timeout;
        self
    }
}

impl Default for PostgresConfig {
    fn default() -> Self {
        Self::new()
    }
}

/// Why [`PostgresAdapter::connect`] failed. The database URL, which may hold a password, is
/// never part of the message.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PostgresError {
    /// The URL is not a PostgreSQL URL.
    #[error("invalid postgres url")]
    InvalidUrl(#[source] BoxError),

    /// The server could not be reached in time; retrying later may succeed.
    #[error("could not reach postgres")]
    Unavailable(#[source] BoxError),

    /// The server answered but refused, as for a wrong password or an unknown database.
    #[error("postgres refused the connection")]
    Refused(#[source] BoxError),

    /// The schema could not be brought up to date.
    #[error("could not apply postgres migrations")]
    Migrate(#[source] BoxError),
}

impl PostgresError {
    fn connecting(error: sqlx::Error) -> Self {
        if is_unavailable(&error) {
            Self::Unavailable(Box::new(error))
        } else {
            Self::Refused(Box::new(error))
        }
    }

    fn acquiring(error: PoolError<sqlx::Error>) -> Self {
        match error {
            PoolError::Backend(error) => Self::connecting(error),
            other => Self::Unavailable(other.to_string().into()),
        }
    }

    fn migrating(error: MigrateError) -> Self {
        match error {
            MigrateError::Execute(error) if is_unavailable(&error) => {
                Self::Unavailable(Box::new(error))
            }
            error => Self::Migrate(Box::new(error)),
        }
    }
}

/// Latchkey's storage in PostgreSQL: a connection pool that implements
/// [`latchkey::Adapter`].
///
/// Clones share the pool.
#[derive(Clone)]
pub struct PostgresAdapter {
    pub(crate) pool: Pool,
    pub(crate) call_timeout: Duration,
}

impl PostgresAdapter {
    /// Connects with the default [`PostgresConfig`] and brings the schema up to date.
    ///
    /// # Errors
    ///
    /// See [`connect_with`](Self::connect_with).
    pub async fn connect(url: &str) -> Result<Self, PostgresError> {
        Self::connect_with(url, PostgresConfig::default()).await
    }

    /// Connects and brings the schema up to date.
    ///
    /// The URL is libpq's: `postgres://user:password@host:5432/database?sslmode=require`.
    /// Several instances may connect to one database at the same moment: each waits for the
    /// others' migrations instead of racing them.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), latchkey_postgres::PostgresError> {
    /// use latchkey_postgres::{PostgresAdapter, PostgresConfig};
    ///
    /// let config = PostgresConfig::new().with_max_connections(20);
    /// let adapter = PostgresAdapter::connect_with("postgres://localhost/app", config).await?;
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// [`PostgresError::InvalidUrl`] for a malformed URL, [`PostgresError::Unavailable`] when
    /// the database does not answer within the acquire timeout, [`PostgresError::Refused`]
    /// when it refuses, and [`PostgresError::Migrate`] when the schema cannot be migrated,
    /// as when the database holds a newer version of it.
    pub async fn connect_with(url: &str, config: PostgresConfig) -> Result<Self, PostgresError> {
        let options = connect_options(url, &config)?;
        let (host, database) = (
            options.get_host().to_owned(),
            options.get_database().map(str::to_owned),
        );

        // Lazy: the pool opens connections only when calls need them, each attempt bounded
        // by the acquire timeout, and the migration below is the first such call, so a
        // database that cannot be reached is reported once, as `Unavailable`.
        let pool = new_pool(options, &config)?;
        if let Err(error) = migrate(&pool).await {
            pool.close();
            return Err(error);
        }

        tracing::info!(
            database.host = %host,
            database.name = database.as_deref().unwrap_or_default(),
            max_connections = config.max_connections,
            "connected to postgres"
        );
        Ok(Self {
            pool,
            call_timeout: config.call_timeout,
        })
    }

    /// A connection from the adapter's pool, for an application that keeps its own tables
    /// in the same database. It goes back to the pool when dropped.
    ///
    /// # Errors
    ///
    /// [`AdapterError::Unavailable`](latchkey::AdapterError::Unavailable) when no connection
    /// is free within the acquire timeout, a new one cannot be opened, or the adapter is
    /// closed.
    pub async fn acquire(&self) -> AdapterResult<PooledConnection> {
        self.pool.get().await.map_err(pool::unavailable)
    }

    /// Closes the pool: closes the idle connections, then waits for calls in progress to
    /// end, whose connections are dropped as they come back. Later calls fail with
    /// [`AdapterError::Unavailable`](latchkey::AdapterError::Unavailable).
    pub async fn close(&self) {
        let idle = self.pool.retain(|_, _| false).removed;
        self.pool.close();
        for connection in idle {
            if let Err(error) = connection.close().await {
                tracing::debug!(%error, "could not close a postgres connection");
            }
        }
        while self.pool.status().size > 0 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
}

impl fmt::Debug for PostgresAdapter {
    /// The pool's state only: its connect options hold the password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let status = self.pool.status();
        f.debug_struct("PostgresAdapter")
            .field("connections", &status.size)
            .field("idle", &status.available)
            .field("closed", &self.pool.is_closed())
            .field("call_timeout", &self.call_timeout)
            .finish()
    }
}

/// A pool that opens connections as calls need them, each bounded by the acquire timeout, as
/// is a ping before reuse.
fn new_pool(options: PgConnectOptions, config: &PostgresConfig) -> Result<Pool, PostgresError> {
    Pool::builder(Connections::new(options))
        .max_size(usize::try_from(config.max_connections).unwrap_or(usize::MAX))
        .wait_timeout(Some(config.acquire_timeout))
        .create_timeout(Some(config.acquire_timeout))
        .recycle_timeout(Some(config.acquire_timeout))
        .runtime(Runtime::Tokio1)
        .build()
        .map_err(|error| PostgresError::Unavailable(error.into()))
}

/// The URL's options, with the statement timeout added.
fn connect_options(url: &str, config: &PostgresConfig) -> Result<PgConnectOptions, PostgresError> {
    let options: PgConnectOptions = url
        .parse()
        .map_err(|error: sqlx::Error| PostgresError::InvalidUrl(Box::new(error)))?;

    Ok(match config.statement_timeout {
        // In milliseconds, the setting's unit when none is given.
        Some(timeout) => options.options([("statement_timeout", timeout.as_millis())]),
        None => options,
    })
}

/// Applies the embedded migrations that the database lacks.
///
/// sqlx's migrator takes a session-level advisory lock on the database before it reads or
/// creates its `_sqlx_migrations` table, and releases it when done (`Migrator::locking` is
/// on by default; the PostgreSQL driver calls `pg_advisory_lock` with a key derived from the
/// database's name, sqlx-postgres 0.8 `migrate.rs`). So instances starting together apply
/// each migration once: the others wait, then find nothing left to do. The test
/// `two_adapters_connecting_at_once_to_a_new_database_both_succeed` holds it to that.
///
/// The migrations run on a connection taken out of the pool and closed afterwards. Closing
/// releases the advisory lock even when a migration fails half way (sqlx then returns without
/// unlocking), and the statement timeout can be lifted for it without leaking that setting
/// into the pool: a future migration may rightly run long, and waiting for another instance's
/// migration is waiting on the lock, which the timeout would cut short.
async fn migrate(pool: &Pool) -> Result<(), PostgresError> {
    let mut connection = Object::take(pool.get().await.map_err(PostgresError::acquiring)?);

    let result = run_migrations(&mut connection).await;
    let _ = connection.close().await;
    result
}

async fn run_migrations(connection: &mut PgConnection) -> Result<(), PostgresError> {
    sqlx::query("SET statement_timeout = 0")
        .execute(&mut *connection)
        .await
        .map_err(PostgresError::connecting)?;

    MIGRATOR
        .run(&mut *connection)
        .await
        .map_err(PostgresError::migrating)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_malformed_url_is_an_invalid_url() {
        let result = connect_options(
            "postgres://localhost:notaport/x",
            &PostgresConfig::default(),
        );

        assert!(
            matches!(result, Err(PostgresError::InvalidUrl(_))),
            "{result:?}"
        );
    }

    #[test]
    fn the_statement_timeout_is_sent_in_milliseconds() {
        let options = connect_options("postgres://localhost/x", &PostgresConfig::default())
            .expect("valid url");

        assert_eq!(options.get_options(), Some("-c statement_timeout=10000"));
    }

    #[test]
    fn the_debug_form_never_shows_the_password() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        let _entered = runtime.enter();
        let options = connect_options(
            "postgres://u:hunter2@localhost/x",
            &PostgresConfig::default(),
        )
        .expect("valid url");
        let adapter = PostgresAdapter {
            pool: new_pool(options, &PostgresConfig::default()).expect("pool"),
            call_timeout: Duration::from_secs(1),
        };

        assert!(!format!("{adapter:?}").contains("hunter2"));
    }
}
