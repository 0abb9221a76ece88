//! Support for the benchmark harness in `bench/`: opening the benchmark database the way the
//! site does, and the one lookup the bare baseline server makes.
//!
//! The database is opened through the adapters themselves, so that the schema, the pragmas and
//! the pool settings are the production ones: a baseline that ran on a differently tuned
//! connection would measure the tuning, not Latchkey.

use latchkey_postgres::{PostgresAdapter, PostgresConfig};
use latchkey_sqlite::{SqliteAdapter, SqliteConfig};
use sqlx::Row;

/// The provider id of username keys, as the site stores them.
pub const USERNAME_PROVIDER: &str = "username";

/// The benchmark database, SQLite or PostgreSQL.
#[derive(Debug, Clone)]
pub enum Database {
    /// A SQLite file. Boxed: the adapter keeps its connect options, which are large.
    Sqlite(Box<SqliteAdapter>),
    /// A PostgreSQL database.
    Postgres(PostgresAdapter),
}

/// Why the database could not be opened.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    /// The SQLite adapter refused.
    #[error("cannot open the sqlite database")]
    Sqlite(#[from] latchkey_sqlite::SqliteError),
    /// The PostgreSQL adapter refused.
    #[error("cannot open the postgres database")]
    Postgres(#[from] latchkey_postgres::PostgresError),
}

/// What the baseline keeps of a session. It reads every column the adapters read, so that the
/// database does the same work for both servers.
#[derive(Debug, Clone)]
pub struct SessionLookup {
    /// The session's user.
    pub user_id: String,
    /// The session's attributes, JSON text.
    pub attributes: String,
    /// The user's attributes, JSON text.
    pub user_attributes: String,
    /// The end of the session's active period, in milliseconds since the epoch.
    pub active_expires: i64,
    /// When the session dies unless renewed, in milliseconds since the epoch.
    pub idle_expires: i64,
    /// When the session dies however it is used, in milliseconds since the epoch.
    pub absolute_expires: i64,
}

impl Database {
    /// Opens `url` as the `latchkey` command does: a `postgres://` URL with the PostgreSQL
    /// adapter, anything else as a SQLite path, migrations applied. `max_connections` is the
    /// pool size, or the site's default for the database when `None`.
    ///
    /// # Errors
    ///
    /// [`OpenError`] when the adapter cannot connect or migrate.
    pub async fn open(url: &str, max_connections: Option<u32>) -> Result<Self, OpenError> {
        let max_connections = max_connections
            .unwrap_or_else(|| latchkey_site::database::default_max_connections(url));
        if is_postgres(url) {
            let config = PostgresConfig::new().with_max_connections(max_connections);
            Ok(Self::Postgres(
                PostgresAdapter::connect_with(url, config).await?,
            ))
        } else {
            let config = SqliteConfig::new().with_max_connections(max_connections);
            let adapter = SqliteAdapter::connect_with(url, config).await?;
            Ok(Self::Sqlite(Box::new(adapter)))
        }
    }

    /// The session whose id (the SHA-256 of its token, in hex) is `id`, with its user: the
    /// same join on two primary keys that the adapters make for every request.
    ///
    /// # Errors
    ///
    /// The driver's error, or no free connection.
    pub async fn session(&self, id: &str) -> anyhow::Result<Option<SessionLookup>> {
        match self {
            Self::Sqlite(adapter) => sqlite_session(adapter, id).await,
            Self::Postgres(adapter) => postgres_session(adapter, id).await,
        }
    }

    /// Closes the pool; SQLite folds its write-ahead log back into the file.
    pub async fn close(&self) {
        match self {
            Self::Sqlite(adapter) => adapter.close().await,
            Self::Postgres(adapter) => adapter.close().await,
        }
    }
}

/// Whether `url` names a PostgreSQL database, by the same rule as the `latchkey` command.
pub fn is_postgres(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

async fn sqlite_session(
    adapter: &SqliteAdapter,
    id: &str,
) -> anyhow::Result<Option<SessionLookup>> {
    let mut connection = adapter.acquire().await?;
    let row = sqlx::query(
        "SELECT s.id AS id, s.user_id AS user_id, s.created_at AS created_at, \
         s.active_expires AS active_expires, s.idle_expires AS idle_expires, \
         s.absolute_expires AS absolute_expires, s.attributes AS attributes, \
         u.attributes AS user_attributes \
         FROM sessions AS s JOIN users AS u ON u.id = s.user_id \
         WHERE s.id = ?",
    )
    .bind(id)
    .fetch_optional(&mut *connection)
    .await?;

    row.map(|row| {
        Ok(SessionLookup {
            user_id: row.try_get("user_id")?,
            attributes: row.try_get("attributes")?,
            user_attributes: row.try_get("user_attributes")?,
            active_expires: row.try_get("active_expires")?,
            idle_expires: row.try_get("idle_expires")?,
            absolute_expires: row.try_get("absolute_expires")?,
        })
    })
    .transpose()
}

async fn postgres_session(
    adapter: &PostgresAdapter,
    id: &str,
) -> anyhow::Result<Option<SessionLookup>> {
    let mut connection = adapter.acquire().await?;
    let row = sqlx::query(
        "SELECT s.id, s.user_id, s.created_at, s.active_expires, s.idle_expires, \
         s.absolute_expires, s.attributes AS session_attributes, u.attributes AS user_attributes \
         FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id = $1",
    )
    .bind(id)
    .fetch_optional(&mut *connection)
    .await?;

    row.map(|row| {
        Ok(SessionLookup {
            user_id: row.try_get("user_id")?,
            attributes: row.try_get("session_attributes")?,
            user_attributes: row.try_get("user_attributes")?,
            active_expires: row.try_get("active_expires")?,
            idle_expires: row.try_get("idle_expires")?,
            absolute_expires: row.try_get("absolute_expires")?,
        })
    })
    .transpose()
}
