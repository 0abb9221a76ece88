//! Opening the database a URL names: SQLite for a path or `sqlite:` URL, PostgreSQL for a
//! `postgres:` URL.

use std::sync::Arc;

use anyhow::Context;
use latchkey::Adapter;
use latchkey_postgres::{PostgresAdapter, PostgresConfig};
use latchkey_sqlite::{SqliteAdapter, SqliteConfig};

use crate::cli::DatabaseArgs;

/// Connections to a SQLite database when `--database-max-connections` is not given.
///
/// SQLite runs each connection on a thread of its own and writes through one at a time, so a
/// few connections keep two CPUs busy; each holds its page cache, and ten kept 20 MiB more
/// resident than four for the same throughput (docs/benchmarks.md).
pub const SQLITE_MAX_CONNECTIONS: u32 = 4;

/// Connections to a PostgreSQL server when `--database-max-connections` is not given.
pub const POSTGRES_MAX_CONNECTIONS: u32 = 10;

/// The pool size the site opens `url` with unless told otherwise.
pub fn default_max_connections(url: &str) -> u32 {
    if is_postgres(url) {
        POSTGRES_MAX_CONNECTIONS
    } else {
        SQLITE_MAX_CONNECTIONS
    }
}

/// An open database.
#[derive(Clone)]
pub enum Database {
    /// An embedded SQLite file.
    Sqlite(Box<SqliteAdapter>),
    /// A PostgreSQL server.
    Postgres(PostgresAdapter),
}

impl Database {
    /// Connects and applies migrations.
    ///
    /// # Errors
    ///
    /// When the database cannot be reached or migrated. The message never holds the URL,
    /// which may carry a password.
    pub async fn open(args: &DatabaseArgs) -> anyhow::Result<Self> {
        let url = args.database_url.as_str();
        let max_connections = args
            .database_max_connections
            .unwrap_or_else(|| default_max_connections(url));
        if is_postgres(url) {
            let config = PostgresConfig::new()
                .with_max_connections(max_connections)
                .with_acquire_timeout(args.database_timeout);
            let adapter = PostgresAdapter::connect_with(url, config)
                .await
                .context("cannot open the PostgreSQL database")?;
            Ok(Self::Postgres(adapter))
        } else {
            let config = SqliteConfig::new()
                .with_max_connections(max_connections)
                .with_acquire_timeout(args.database_timeout);
            let adapter = SqliteAdapter::connect_with(url, config)
                .await
                .context("cannot open the SQLite database")?;
            Ok(Self::Sqlite(Box::new(adapter)))
        }
    }

    /// The adapter, shared.
    pub fn adapter(&self) -> Arc<dyn Adapter> {
        match self {
            Self::Sqlite(adapter) => Arc::new(adapter.as_ref().clone()),
            Self::Postgres(adapter) => Arc::new(adapter.clone()),
        }
    }

    /// `sqlite` or `postgres`, for logs.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Sqlite(_) => "sqlite",
            Self::Postgres(_) => "postgres",
        }
    }

    /// Closes every connection, letting SQLite checkpoint its write-ahead log.
    pub async fn close(&self) {
        match self {
            Self::Sqlite(adapter) => adapter.close().await,
            Self::Postgres(adapter) => adapter.close().await,
        }
    }
}

fn is_postgres(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}
