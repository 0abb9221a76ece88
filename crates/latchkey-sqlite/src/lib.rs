//! SQLite storage for Latchkey.
//!
//! [`SqliteAdapter`] implements [`latchkey::Adapter`] on a single SQLite file (or an in-memory
//! database for tests). It creates its tables itself: the migrations in `migrations/` are
//! embedded in the binary and applied on every connect, so a deployment is one file and no
//! separate migration step.
//!
//! ```no_run
//! # async fn run() -> Result<(), latchkey_sqlite::SqliteError> {
//! let adapter = latchkey_sqlite::SqliteAdapter::connect("sqlite://latchkey.db").await?;
//! // hand `adapter` to `latchkey::Auth`, then on shutdown:
//! adapter.close().await;
//! # Ok(())
//! # }
//! ```
//!
//! # Why sqlx and not rusqlite
//!
//! rusqlite is the more direct binding, but its calls block, and every adapter call is made
//! from async request handlers: each query would need a trip through `spawn_blocking`. sqlx
//! runs each SQLite connection on its own worker thread, so nothing here blocks the executor.
//! The connections are pooled by deadpool (`pool.rs` says why not by sqlx's pool). The
//! PostgreSQL adapter takes the same shape (a pool, runtime queries, migrations embedded with
//! `sqlx::migrate!`), so the two read alike, and both can tell constraint violations apart
//! with sqlx's driver-independent [`sqlx::error::ErrorKind`] instead of matching error
//! messages.
//!
//! # Duplicate detection
//!
//! Lucia's adapters decided that an insert had hit a taken key by reading the error message,
//! which also matched a duplicate *user* id and reported it as a taken key. Here each
//! statement's failure is mapped on its own: only a unique violation on the `keys` insert is
//! [`AdapterError::DuplicateKey`](latchkey::AdapterError::DuplicateKey).
//!
//! # Concurrency
//!
//! Writes run in `BEGIN IMMEDIATE` transactions, which take SQLite's write lock before the first
//! statement. With WAL and a busy timeout, concurrent writers then queue for the lock instead of
//! failing with "database is locked", so of many concurrent sign-ups for one username exactly
//! one succeeds and the rest see the taken key.

mod abuse;
mod adapter;
mod connect;
mod error;
mod listing;
mod pool;
mod rows;

pub use connect::{SqliteAdapter, SqliteConfig, SqliteError};
pub use pool::{Connections, PooledConnection};
