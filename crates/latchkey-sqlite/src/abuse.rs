//! The queries behind throttling, the audit log and server secrets.
//!
//! Each throttle update is one `INSERT ... ON CONFLICT DO UPDATE ... WHERE ... RETURNING`
//! statement. SQLite runs a statement under its write lock from start to end, so concurrent
//! updates from any number of connections and processes queue up and each sees the one before.
//! A conditional `DO UPDATE` that matches nothing returns no row, which is how a refusal is told
//! from a success without a second statement.

use latchkey::adapter::{AdapterResult, AttemptRow, AuditQuery, AuditRow};
use latchkey::throttle::{LockoutRule, RateRule};
use sqlx::sqlite::{SqliteConnection, SqliteRow};
use sqlx::Row;

use crate::error::classify;

/// The most times the base delay is doubled, as in [`LockoutRule::delay_millis`]; the shift
/// is clamped in SQL so that it never exceeds 64 bits.
const MAX_DOUBLINGS: i64 = 30;

pub(crate) async fn count_attempt(
    connection: &mut SqliteConnection,
    key: &str,
    now: i64,
    rule: &LockoutRule,
) -> AdapterResult<Option<u32>> {
    // The WHERE clause is the rule's "not locked": expired, still within the free failures, or
    // the delay since the last failure has passed.
    let counted: Option<i64> = sqlx::query_scalar(
        "INSERT INTO sign_in_attempts (key, failures, last_failure_at, expires_at) \
         VALUES (?1, 1, ?2, ?2 + ?6) \
         ON CONFLICT (key) DO UPDATE SET \
             failures = CASE WHEN expires_at <= ?2 THEN 1 ELSE failures + 1 END, \
             last_failure_at = MAX(last_failure_at, ?2), \
             expires_at = MAX(expires_at, ?2 + ?6) \
         WHERE expires_at <= ?2 \
            OR failures < ?3 \
            OR last_failure_at + MIN(?4 << MIN(MAX(failures - ?3, 0), ?7), ?5) <= ?2 \
         RETURNING failures",
    )
    .bind(key)
    .bind(now)
    .bind(i64::from(rule.free_failures))
    .bind(rule.base_delay_millis())
    .bind(rule.max_delay_millis())
    .bind(rule.memory_millis())
    .bind(MAX_DOUBLINGS)
    .fetch_optional(&mut *connection)
    .await
    .map_err(classify)?;

    Ok(counted.map(|failures| u32::try_from(failures).unwrap_or(u32::MAX)))
}

pub(crate) async fn attempts(
    connection: &mut SqliteConnection,
    key: &str,
    now: i64,
) -> AdapterResult<Option<AttemptRow>> {
    let row = sqlx::query(
        "SELECT failures, last_failure_at, expires_at FROM sign_in_attempts \
         WHERE key = ? AND expires_at > ?",
    )
    .bind(key)
    .bind(now)
    .fetch_optional(&mut *connection)
    .await
    .map_err(classify)?;

    row.as_ref().map(attempt).transpose().map_err(classify)
}

pub(crate) async fn clear_attempts(
    connection: &mut SqliteConnection,
    key: &str,
) -> AdapterResult<()> {
    sqlx::query("DELETE FROM sign_in_attempts WHERE key = ?")
        .bind(key)
        .execute(&mut *connection)
        .await
        .map_err(classify)?;
    Ok(())
}

pub(crate) async fn take_token(
    connection: &mut SqliteConnection,
    key: &str,
    now: i64,
    rule: &RateRule,
) -> AdapterResult<bool> {
    let taken: Option<i64> = sqlx::query_scalar(
        "INSERT INTO rate_buckets (key, tat) VALUES (?1, ?2 + ?3) \
         ON CONFLICT (key) DO UPDATE SET tat = MAX(tat, ?2) + ?3 \
         WHERE MAX(tat, ?2) + ?3 - ?4 <= ?2 \
         RETURNING tat",
    )
    .bind(key)
    .bind(now)
    .bind(rule.interval_millis())
    .bind(rule.burst_millis())
    .fetch_optional(&mut *connection)
    .await
    .map_err(classify)?;

    Ok(taken.is_some())
}

pub(crate) async fn return_token(
    connection: &mut SqliteConnection,
    key: &str,
    rule: &RateRule,
) -> AdapterResult<()> {
    sqlx::query("UPDATE rate_buckets SET tat = tat - ? WHERE key = ?")
        .bind(rule.interval_millis())
        .bind(key)
        .execute(&mut *connection)
        .await
        .map_err(classify)?;
    Ok(())
}

pub(crate) async fn bucket(
    connection: &mut SqliteConnection,
    key: &str,
) -> AdapterResult<Option<i64>> {
    sqlx::query_scalar("SELECT tat FROM rate_buckets WHERE key = ?")
        .bind(key)
        .fetch_optional(&mut *connection)
        .await
        .map_err(classify)
}

pub(crate) async fn delete_expired_throttles(
    connection: &mut SqliteConnection,
    now: i64,
) -> AdapterResult<u64> {
    let mut deleted = 0;
    for statement in [
        "DELETE FROM sign_in_attempts WHERE expires_at <= ?",
        "DELETE FROM rate_buckets WHERE tat <= ?",
    ] {
        let result = sqlx::query(statement)
            .bind(now)
            .execute(&mut *connection)
            .await
            .map_err(classify)?;
        deleted += result.rows_affected();
    }
    Ok(deleted)
}

pub(crate) async fn insert_audit_event(
    connection: &mut SqliteConnection,
    event: &AuditRow,
) -> AdapterResult<()> {
    sqlx::query(
        "INSERT INTO audit_events (at, kind, user_id, username, address, user_agent, detail) \
         VALUES (?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(event.at)
    .bind(&event.kind)
    .bind(&event.user_id)
    .bind(&event.username)
    .bind(&event.address)
    .bind(&event.user_agent)
    .bind(&event.detail)
    .execute(&mut *connection)
    .await
    .map_err(classify)?;
    Ok(())
}

pub(crate) async fn audit_events(
    connection: &mut SqliteConnection,
    query: &AuditQuery,
) -> AdapterResult<Vec<AuditRow>> {
    let found = sqlx::query(
        "SELECT id, at, kind, user_id, username, address, user_agent, detail FROM audit_events \
         WHERE (?1 IS NULL OR user_id = ?1 OR username = ?1) AND (?2 IS NULL OR kind = ?2) \
         ORDER BY at DESC, id DESC LIMIT ?3",
    )
    .bind(&query.user)
    .bind(&query.kind)
    .bind(i64::from(query.limit))
    .fetch_all(&mut *connection)
    .await
    .map_err(classify)?;

    found
        .iter()
        .map(audit_event)
        .collect::<Result<_, _>>()
        .map_err(classify)
}

pub(crate) async fn delete_audit_events_before(
    connection: &mut SqliteConnection,
    before: i64,
) -> AdapterResult<u64> {
    let result = sqlx::query("DELETE FROM audit_events WHERE at < ?")
        .bind(before)
        .execute(&mut *connection)
        .await
        .map_err(classify)?;
    Ok(result.rows_affected())
}

pub(crate) async fn server_secret(
    connection: &mut SqliteConnection,
    name: &str,
    candidate: &[u8],
) -> AdapterResult<Vec<u8>> {
    // The no-op update makes RETURNING give back the stored row when there is one, so the
    // first writer's secret wins and every caller reads it in the same statement.
    sqlx::query_scalar(
        "INSERT INTO server_secrets (name, value) VALUES (?, ?) \
         ON CONFLICT (name) DO UPDATE SET name = excluded.name \
         RETURNING value",
    )
    .bind(name)
    .bind(candidate)
    .fetch_one(&mut *connection)
    .await
    .map_err(classify)
}

fn attempt(row: &SqliteRow) -> Result<AttemptRow, sqlx::Error> {
    let failures: i64 = row.try_get("failures")?;
    Ok(AttemptRow {
        failures: u32::try_from(failures).unwrap_or(u32::MAX),
        last_failure_at: row.try_get("last_failure_at")?,
        expires_at: row.try_get("expires_at")?,
    })
}

fn audit_event(row: &SqliteRow) -> Result<AuditRow, sqlx::Error> {
    Ok(AuditRow {
        id: row.try_get("id")?,
        at: row.try_get("at")?,
        kind: row.try_get("kind")?,
        user_id: row.try_get("user_id")?,
        username: row.try_get("username")?,
        address: row.try_get("address")?,
        user_agent: row.try_get("user_agent")?,
        detail: row.try_get("detail")?,
    })
}
