//! Reading the adapter's rows out of PostgreSQL rows, by column name.

use latchkey::adapter::{KeyRow, SessionRow, UserRow};
use latchkey::PasswordHash;
use sqlx::postgres::PgRow;
use sqlx::Row;

/// The columns [`user`] reads.
pub(crate) const USER_COLUMNS: &str = "id, attributes";

/// The columns [`key`] reads.
pub(crate) const KEY_COLUMNS: &str = "provider_id, provider_user_id, user_id, hashed_password";

/// The columns [`session`] reads.
pub(crate) const SESSION_COLUMNS: &str =
    "id, user_id, created_at, active_expires, idle_expires, absolute_expires, last_seen_at, \
     attributes";

/// A row of `users`.
pub(crate) fn user(row: &PgRow) -> Result<UserRow, sqlx::Error> {
    Ok(UserRow {
        id: row.try_get("id")?,
        attributes: row.try_get("attributes")?,
    })
}

/// A row of `keys`.
pub(crate) fn key(row: &PgRow) -> Result<KeyRow, sqlx::Error> {
    let hashed_password: Option<String> = row.try_get("hashed_password")?;

    Ok(KeyRow {
        provider_id: row.try_get("provider_id")?,
        provider_user_id: row.try_get("provider_user_id")?,
        user_id: row.try_get("user_id")?,
        hashed_password: hashed_password.map(PasswordHash::new),
    })
}

/// A row of `sessions`.
pub(crate) fn session(row: &PgRow) -> Result<SessionRow, sqlx::Error> {
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

/// A row of the session-and-user join, whose two `attributes` columns are renamed apart.
pub(crate) fn session_and_user(row: &PgRow) -> Result<(SessionRow, UserRow), sqlx::Error> {
    let session = SessionRow {
        id: row.try_get("id")?,
        user_id: row.try_get("user_id")?,
        created_at: row.try_get("created_at")?,
        active_expires: row.try_get("active_expires")?,
        idle_expires: row.try_get("idle_expires")?,
        absolute_expires: row.try_get("absolute_expires")?,
        last_seen_at: row.try_get("last_seen_at")?,
        attributes: row.try_get("session_attributes")?,
    };
    let user = UserRow {
        id: session.user_id.clone(),
        attributes: row.try_get("user_attributes")?,
    };

    Ok((session, user))
}

/// The user's sessions that [`Adapter::session_listing`](latchkey::Adapter::session_listing)
/// reads as one array a column (`ids`, `created`, `active`, `idle`, `absolute`, `seen`,
/// `attributes`), element `i` of each belonging to the same session. Arrays of no rows are
/// NULL.
pub(crate) fn listed_sessions(row: &PgRow, user_id: &str) -> Result<Vec<SessionRow>, sqlx::Error> {
    let column = |name: &str| -> Result<Vec<i64>, sqlx::Error> {
        Ok(row
            .try_get::<Option<Vec<i64>>, _>(name)?
            .unwrap_or_default())
    };
    let ids: Vec<String> = row.try_get::<Option<_>, _>("ids")?.unwrap_or_default();
    let attributes: Vec<String> = row
        .try_get::<Option<_>, _>("attributes")?
        .unwrap_or_default();
    let (created, active, idle) = (column("created")?, column("active")?, column("idle")?);
    let (absolute, seen) = (column("absolute")?, column("seen")?);

    let lengths = [
        created.len(),
        active.len(),
        idle.len(),
        absolute.len(),
        seen.len(),
        attributes.len(),
    ];
    if lengths.iter().any(|&length| length != ids.len()) {
        return Err(sqlx::Error::Decode(
            "the listed sessions' columns differ in length".into(),
        ));
    }

    Ok(ids
        .into_iter()
        .zip(attributes)
        .enumerate()
        .map(|(i, (id, attributes))| SessionRow {
            id,
            user_id: user_id.to_owned(),
            created_at: created[i],
            active_expires: active[i],
            idle_expires: idle[i],
            absolute_expires: absolute[i],
            last_seen_at: seen[i],
            attributes,
        })
        .collect())
}
