//! PostgreSQL for Latchkey's tests: a throwaway server, and an empty database for each test.
//!
//! A test calls [`fresh_database`] and gets the URL of a database of its own, so tests stay
//! isolated while they run in parallel:
//!
//! ```no_run
//! # async fn run() {
//! let url = latchkey_testdb::fresh_database().await;
//! // connect an adapter to `url`
//! # }
//! ```
//!
//! # Where the server comes from
//!
//! When [`URL_VAR`] (`LATCHKEY_TEST_POSTGRES_URL`) is set, its server is used; its user needs
//! the right to create databases. Otherwise the first call starts a server for the whole test
//! binary: `initdb` into a temporary directory, then `postgres` on a free port of 127.0.0.1
//! with durability off (`fsync`, `synchronous_commit`, `full_page_writes`), since the data is
//! thrown away. The programs are looked for in [`BIN_DIR_VAR`], `PATH`, then
//! `/usr/lib/postgresql/*/bin` and `/usr/pgsql-*/bin`, highest version first. As root, where
//! PostgreSQL refuses to run, they run as the `postgres` user through `runuser` (or
//! `setpriv`), in a directory handed to that user.
//!
//! Nothing is ever skipped: without a server the call panics and says why (PostgreSQL not
//! installed, `initdb` failed with this output, the server did not start with this log), so
//! a machine without PostgreSQL fails its tests instead of passing them untested.
//!
//! [`PostgresServer::start_new`] gives a test a server of its own, which it can stop and
//! start, to see what an adapter does when its database goes away.
//!
//! # How the server is cleaned up
//!
//! A server a test owns stops, and its directory goes, when the handle is dropped. The
//! shared server lives in a `static`, and Rust never drops statics, so the process's exit
//! would leave it running. Each server therefore has a watchdog: a small `sh` script started
//! before the server, whose standard input is a pipe that only the test process writes to.
//! The kernel closes that pipe when the process ends, whether it returns, panics, aborts or
//! is killed with `SIGKILL`; the script's `cat` then sees end-of-file, and it stops the
//! server (`pg_ctl stop -m immediate`) and deletes the directory. The pipe is close-on-exec,
//! so no other child keeps it open. The watchdog runs in its own process group, so Ctrl-C
//! in the terminal or a test runner that kills the test's group does not stop it before it
//! has cleaned up. A server can only leak when the watchdog itself is killed by name or the
//! machine goes down, and then it lives in a `latchkey-pg-*` directory under the temporary
//! directory.
//!
//! Databases made on a server named by [`URL_VAR`] are not dropped: they are named `t_`
//! and 16 hex digits, for a periodic cleanup.
//!
//! Unix only.

mod database;
mod server;
mod tools;

use std::sync::OnceLock;

pub use server::PostgresServer;
pub use tools::BIN_DIR_VAR;

/// The environment variable naming an existing server to use instead of starting one, as a
/// URL whose user may create databases: `postgres://postgres@localhost:5432/postgres`.
pub const URL_VAR: &str = "LATCHKEY_TEST_POSTGRES_URL";

/// The server every test of this process shares.
enum SharedServer {
    /// Named by [`URL_VAR`].
    External(String),
    /// Started by this process.
    Local(PostgresServer),
}

static SHARED: OnceLock<SharedServer> = OnceLock::new();

/// The URL of the server shared by this process's tests, pointing at its `postgres`
/// database: [`URL_VAR`] when set, else a server started on first use.
///
/// Starting blocks the calling thread for a second or two; concurrent first callers wait
/// for the one start.
///
/// # Panics
///
/// When no server can be had; see [`PostgresServer::start_new`].
pub fn shared_server_url() -> String {
    let shared = SHARED.get_or_init(|| match std::env::var(URL_VAR) {
        Ok(url) if !url.trim().is_empty() => SharedServer::External(url),
        _ => SharedServer::Local(PostgresServer::start_new()),
    });

    match shared {
        SharedServer::External(url) => url.clone(),
        SharedServer::Local(server) => server.url(),
    }
}

/// Creates an empty database on the shared server and returns its URL.
///
/// # Panics
///
/// When no server can be had or it refuses to create the database.
pub async fn fresh_database() -> String {
    database::create_database(&shared_server_url()).await
}

/// A URL on which no PostgreSQL server listens: a port of 127.0.0.1 that was free a moment
/// ago, so connecting is refused at once.
pub fn closed_port_url() -> String {
    format!(
        "postgres://postgres@127.0.0.1:{}/postgres",
        server::free_port()
    )
}
