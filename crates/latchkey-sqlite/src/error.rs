//! Turning sqlx errors into [`AdapterError`]s.
//!
//! Constraint violations are told apart by [`ErrorKind`], which sqlx derives from SQLite's
//! extended result code, never by the message text: Lucia read the message and took a
//! duplicate user id for a taken key. Which statement failed decides what a violation means,
//! so callers pick the mapping for the statement they ran.

use latchkey::AdapterError;
use sqlx::error::{DatabaseError, ErrorKind};

// Primary result codes: https://www.sqlite.org/rescode.html
const SQLITE_BUSY: i32 = 5;
const SQLITE_LOCKED: i32 = 6;
const SQLITE_IOERR: i32 = 10;
const SQLITE_CANTOPEN: i32 = 14;

/// A failure with no meaning particular to the statement: unavailable or other.
///
/// This is also the mapping for the user insert, where a unique violation means a taken
/// user id. Ids are the application's to generate, so that is a bug, not a taken key.
pub(crate) fn classify(error: sqlx::Error) -> AdapterError {
    if is_unavailable(&error) {
        AdapterError::Unavailable(error.into())
    } else {
        AdapterError::Other(error.into())
    }
}

/// A failed key insert: the key is taken, or its user does not exist.
pub(crate) fn key_insert(error: sqlx::Error) -> AdapterError {
    match violation(&error) {
        Some(ErrorKind::UniqueViolation) => AdapterError::DuplicateKey,
        Some(ErrorKind::ForeignKeyViolation) => AdapterError::UnknownUser,
        _ => classify(error),
    }
}

/// A failed session insert: its user does not exist.
pub(crate) fn session_insert(error: sqlx::Error) -> AdapterError {
    match violation(&error) {
        Some(ErrorKind::ForeignKeyViolation) => AdapterError::UnknownUser,
        _ => classify(error),
    }
}

fn violation(error: &sqlx::Error) -> Option<ErrorKind> {
    error.as_database_error().map(DatabaseError::kind)
}

/// Whether retrying later may succeed: the pool or a connection failed, or another
/// connection held the write lock past the busy timeout.
fn is_unavailable(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_) => true,
        sqlx::Error::Database(error) => matches!(
            primary_code(error.as_ref()),
            Some(SQLITE_BUSY | SQLITE_LOCKED | SQLITE_CANTOPEN | SQLITE_IOERR)
        ),
        _ => false,
    }
}

/// The primary result code, the low byte of the extended code that sqlx reports.
fn primary_code(error: &dyn DatabaseError) -> Option<i32> {
    let extended: i32 = error.code()?.parse().ok()?;
    Some(extended & 0xff)
}
