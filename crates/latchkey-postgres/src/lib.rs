//! PostgreSQL storage for Latchkey.
//!
//! [`PostgresAdapter`] implements [`latchkey::Adapter`] over a pool of connections to one
//! PostgreSQL database (12 or later). It creates its tables itself: the migrations in
//! `migrations/` are embedded in the binary and applied on connect, under an advisory lock,
//! so that several instances may start at once against a new database.
//!
//! ```no_run
//! # async fn run() -> Result<(), latchkey_postgres::PostgresError> {
//! let adapter = latchkey_postgres::PostgresAdapter::connect("postgres://app@localhost/app").await?;
//! // hand `adapter` to `latchkey::Auth`, then on shutdown:
//! adapter.close().await;
//! # Ok(())
//! # }
//! ```
//!
//! # Storage
//!
//! Users, keys and sessions are three tables (see `migrations/0001_init.sql`), with foreign
//! keys that cascade, so deleting a user is one statement. Attributes are stored as `TEXT`,
//! not `JSONB`, so that they come back byte for byte; the database's encoding must therefore
//! be UTF-8 (`SQL_ASCII` works too), or text it cannot represent is refused on insert. Only
//! runtime queries are used, so building needs no database.
//!
//! # Failures
//!
//! Each statement maps its own failure: a unique violation is
//! [`DuplicateKey`](latchkey::AdapterError::DuplicateKey) only on a key insert, never for a
//! duplicate user id as in Lucia's adapters. Errors of the connection (refused, reset, TLS,
//! pool timeout, SQLSTATE class 08, `57P01`–`57P03` shutdowns, the statement timeout `57014`
//! and `53300` too many connections) are
//! [`Unavailable`](latchkey::AdapterError::Unavailable). Every call is bounded in time (see
//! [`PostgresConfig`]), so a database that goes away makes calls fail, not hang, and they
//! succeed again once it is back: a call that fails so has every pooled connection checked
//! before its next use, and the dead ones replaced (`pool.rs`).

mod abuse;
mod adapter;
mod connect;
mod error;
mod pool;
mod rows;

pub use connect::{PostgresAdapter, PostgresConfig, PostgresError};
pub use pool::{Connections, PooledConnection};
