//! Reading stored rows into the adapter trait's row types.
//!
//! Columns are read by name, so a query's column order does not matter.

use latchkey::adapter::{KeyRow, SessionRow, UserRow};
use latchkey::PasswordHash;
use sqlx::sqlite::SqliteRow;
use sqlx::Row;

pub(crate) fn user(row: &SqliteRow) -> Result<UserRow, sqlx::Error> {
    Ok(UserRow {
        id: row.try_get("id")?,
        attributes: row.try_get("attributes")?,
    })
}

pub(crate) fn key(row: &SqliteRow) -> Result<KeyRow, sqlx::Error> {
    let hashed_password: Option<String> = row.try_get("hashed_password")?;

    Ok(KeyRow {
        provider_id: row.try_get("provider_id")?,
        provider_user_id: row.try_get("provider_user_id")?,
        user_id: row.try_get("user_id")?,
        hashed_password: hashed_password.map(PasswordHash::new),
    })
}

pub(crate) fn session(row: &SqliteRow) -> Result<SessionRow, sqlx::Error> {
    Ok(SessionRow {
        id: row.try_get("id")?,
        user_id: row.try_get("user_id")?,
        created_at: row.try_get("created_at")?,
        active_expires: row.try_get("active_expires")?,
        idle_expires: row.try_get("idle_expires")?,
        absolute_expires: row.try_get("absolute_expires")?,
        last_seen_at: row.try_get("last_seen_at")?,
        attributes: row.try_get("attributes")?,
    })
}

/// A session joined with its user, the user's attributes read as `user_attributes`.
pub(crate) fn session_and_user(row: &SqliteRow) -> Result<(SessionRow, UserRow), sqlx::Error> {
    let session = session(row)?;
    let user = UserRow {
        id: session.user_id.clone(),
        attributes: row.try_get("user_attributes")?,
    };

    Ok((session, user))
}
