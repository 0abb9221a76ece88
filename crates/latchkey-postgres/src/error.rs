//! Turning sqlx's errors into the adapter's.
//!
//! Each statement maps its own failure: a unique violation means a taken key only on the
//! `keys` insert, so a duplicate *user* id, which Lucia's adapters misreported as a taken key,
//! stays an [`AdapterError::Other`]. Errors are told apart by SQLSTATE code and sqlx's
//! [`ErrorKind`](sqlx::error::ErrorKind), never by message text, which depends on the
//! server's language.

use std::time::Duration;

use latchkey::AdapterError;
use sqlx::error::ErrorKind;

/// An adapter call took longer than the configured bound, as when the network to the database
/// silently drops packets and no error ever comes back.
#[derive(Debug, thiserror::Error)]
#[error("database call timed out after {0:?}")]
pub(crate) struct CallTimedOut(pub(crate) Duration);

/// Any failure: the database is unavailable, or something else went wrong.
pub(crate) fn storage(error: sqlx::Error) -> AdapterError {
    if is_unavailable(&error) {
        AdapterError::Unavailable(Box::new(error))
    } else {
        AdapterError::Other(Box::new(error))
    }
}

/// The failure of an insert into `keys`: its only unique constraint is the primary key, and
/// its only foreign key the user.
pub(crate) fn key_insert(error: sqlx::Error) -> AdapterError {
    match violation(&error) {
        Some(ErrorKind::UniqueViolation) => AdapterError::DuplicateKey,
        Some(ErrorKind::ForeignKeyViolation) => AdapterError::UnknownUser,
        _ => storage(error),
    }
}

/// The failure of an insert into `sessions`, whose only foreign key is the user.
pub(crate) fn session_insert(error: sqlx::Error) -> AdapterError {
    match violation(&error) {
        Some(ErrorKind::ForeignKeyViolation) => AdapterError::UnknownUser,
        _ => storage(error),
    }
}

/// The kind of constraint a database error violated, if it is one.
fn violation(error: &sqlx::Error) -> Option<ErrorKind> {
    match error {
        sqlx::Error::Database(database) => Some(database.kind()),
        _ => None,
    }
}

/// Whether the error says the database could not be reached or did not answer in time,
/// rather than that the request was wrong: the cases where retrying later may succeed and
/// a health check should report the database down.
pub(crate) fn is_unavailable(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(database) => database
            .code()
            .is_some_and(|code| is_unavailable_code(&code)),
        _ => false,
    }
}

/// SQLSTATE codes of an unreachable or overloaded server
/// (<https://www.postgresql.org/docs/current/errcodes-appendix.html>).
fn is_unavailable_code(code: &str) -> bool {
    // Class 08: connection exceptions.
    code.starts_with("08")
        // admin_shutdown, crash_shutdown, cannot_connect_now (starting up or shutting down).
        || matches!(code, "57P01" | "57P02" | "57P03")
        // query_canceled: here, the statement timeout, so the database did not answer in time.
        || code == "57014"
        // too_many_connections: the server is full for now.
        || code == "53300"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_exceptions_and_shutdowns_are_unavailable() {
        for code in [
            "08000", "08001", "08006", "57P01", "57P02", "57P03", "57014", "53300",
        ] {
            assert!(is_unavailable_code(code), "{code}");
        }
    }

    #[test]
    fn constraint_and_syntax_errors_are_not_unavailable() {
        for code in ["23505", "23503", "42601", "42P01", "40001", "57P04"] {
            assert!(!is_unavailable_code(code), "{code}");
        }
    }

    #[test]
    fn a_timed_out_or_closed_pool_is_unavailable() {
        assert!(matches!(
            storage(sqlx::Error::PoolTimedOut),
            AdapterError::Unavailable(_)
        ));
        assert!(matches!(
            storage(sqlx::Error::PoolClosed),
            AdapterError::Unavailable(_)
        ));
    }

    #[test]
    fn a_missing_row_is_another_error() {
        assert!(matches!(
            storage(sqlx::Error::RowNotFound),
            AdapterError::Other(_)
        ));
    }
}
