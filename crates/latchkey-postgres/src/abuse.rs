//! The queries behind throttling, the audit log and server secrets.
//!
//! Each throttle update is one `INSERT ... ON CONFLICT DO UPDATE ... WHERE ... RETURNING`
//! statement. PostgreSQL guarantees such an upsert an atomic insert-or-update outcome: of
//! concurrent upserts on one key, each waits for the row lock of the one before and evaluates
//! its `WHERE` on the latest version, so counts are exact across any number of servers. A
//! conditional `DO UPDATE` that matches nothing returns no row, which is how a refusal is told
//! from a success without a second statement.
//!
//! TODO: every statement here commits on its own and waits for its WAL flush, four to five
//! flushes a sign-in with the session's insert (`pg_stat_wal`: 5,389 syncs for 1,165
//! sign-ins). Under a sign-in flood, reads queue behind those flushes on a slow disk:
//! `GET /` p99 of 450–540 ms in a flood against 21–24 ms with the server's
//! `synchronous_commit` off (docs/benchmarks.md). Throttle records and audit events could
//! commit with `synchronous_commit = off` (a server crash then loses their last fraction of a
//! second, never their consistency) through connections opened with that setting; not done
//! yet, as it needs checking against the PostgreSQL-compatible databases the adapter serves.

use latchkey::adapter::{AdapterResult, AttemptRow, AuditQuery, AuditRow};
use latchkey::throttle::{LockoutRule, RateRule};
use sqlx::postgres::{PgConnection, PgRow};
use sqlx::Row;

use crate::error::storage;

/// The most times the base delay is doubled, as in [`LockoutRule::delay_millis`]; the shift
/// is clamped in SQL so that it never reaches 64 bits.
const MAX_DOUBLINGS: i32 = 30;

pub(crate) async fn count_attempt(
    connection: &mut PgConnection,
    key: &str,
    now: i64,
    rule: &LockoutRule,
) -> AdapterResult<Option<u32>> {
    // The WHERE clause is the rule's "not locked": expired, still within the free failures, or
    // the delay since the last failure has passed.
    let counted: Option<i32> = sqlx::query_scalar(
        "INSERT INTO sign_in_attempts AS a (key, failures, last_failure_at, expires_at)
         VALUES ($1, 1, $2, $2 + $6)
         ON CONFLICT (key) DO UPDATE SET
             failures = CASE WHEN a.expires_at <= $2 THEN 1 ELSE a.failures + 1 END,
             last_failure_at = GREATEST(a.last_failure_at, $2),
             expires_at = GREATEST(a.expires_at, $2 + $6)
         WHERE a.expires_at <= $2
            OR a.failures < $3
            OR a.last_failure_at
               + LEAST($4::BIGINT << LEAST(GREATEST(a.failures - $3, 0), $7), $5) <= $2
         RETURNING failures",
    )
    .bind(key)
    .bind(now)
    .bind(i32::try_from(rule.free_failures).unwrap_or(i32::MAX))
    .bind(rule.base_delay_millis())
    .bind(rule.max_delay_millis())
    .bind(rule.memory_millis())
    .bind(MAX_DOUBLINGS)
    .fetch_optional(&mut *connection)
    .await
    .map_err(storage)?;

    Ok(counted.map(|failures| u32::try_from(failures).unwrap_or(0)))
}

pub(crate) async fn attempts(
    connection: &mut PgConnection,
    key: &str,
    now: i64,
) -> AdapterResult<Option<AttemptRow>> {
    let row = sqlx::query(
        "SELECT failures, last_failure_at, expires_at FROM sign_in_attempts
         WHERE key = $1 AND expires_at > $2",
    )
    .bind(key)
    .bind(now)
    .fetch_optional(&mut *connection)
    .await
    .map_err(storage)?;

    row.as_ref().map(attempt).transpose().map_err(storage)
}

pub(crate) async fn clear_attempts(connection: &mut PgConnection, key: &str) -> AdapterResult<()> {
    sqlx::query("DELETE FROM sign_in_attempts WHERE key = $1")
        .bind(key)
        .execute(&mut *connection)
        .await
        .map_err(storage)?;
    Ok(())
}

pub(crate) async fn take_token(
    connection: &mut PgConnection,
    key: &str,
    now: i64,
    rule: &RateRule,
) -> AdapterResult<bool> {
    let taken: Option<i64> = sqlx::query_scalar(
        "INSERT INTO rate_buckets AS b (key, tat) VALUES ($1, $2 + $3)
         ON CONFLICT (key) DO UPDATE SET tat = GREATEST(b.tat, $2) + $3
         WHERE GREATEST(b.tat, $2) + $3 - $4 <= $2
         RETURNING tat",
    )
    .bind(key)
    .bind(now)
    .bind(rule.interval_millis())
    .bind(rule.burst_millis())
    .fetch_optional(&mut *connection)
    .await
    .map_err(storage)?;

    Ok(taken.is_some())
}

pub(crate) async fn return_token(
    connection: &mut PgConnection,
    key: &str,
    rule: &RateRule,
) -> AdapterResult<()> {
    sqlx::query("UPDATE rate_buckets SET tat = tat - $2 WHERE key = $1")
        .bind(key)
        .bind(rule.interval_millis())
        .execute(&mut *connection)
        .await
        .map_err(storage)?;
    Ok(())
}

pub(crate) async fn bucket(connection: &mut PgConnection, key: &str) -> AdapterResult<Option<i64>> {
    sqlx::query_scalar("SELECT tat FROM rate_buckets WHERE key = $1")
        .bind(key)
        .fetch_optional(&mut *connection)
        .await
        .map_err(storage)
}

pub(crate) async fn delete_expired_throttles(
    connection: &mut PgConnection,
    now: i64,
) -> AdapterResult<u64> {
    let mut deleted = 0;
    for statement in [
        "DELETE FROM sign_in_attempts WHERE expires_at <= $1",
        "DELETE FROM rate_buckets WHERE tat <= $1",
    ] {
        let result = sqlx::query(statement)
            .bind(now)
            .execute(&mut *connection)
            .await
            .map_err(storage)?;
        deleted += result.rows_affected();
    }
    Ok(deleted)
}

pub(crate) async fn insert_audit_event(
    connection: &mut PgConnection,
    event: &AuditRow,
) -> AdapterResult<()> {
    sqlx::query(
        "INSERT INTO audit_events (at, kind, user_id, username, address, user_agent, detail)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
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
    .map_err(storage)?;
    Ok(())
}

pub(crate) async fn audit_events(
    connection: &mut PgConnection,
    query: &AuditQuery,
) -> AdapterResult<Vec<AuditRow>> {
    let found = sqlx::query(
        "SELECT id, at, kind, user_id, username, address, user_agent, detail FROM audit_events
         WHERE ($1::TEXT IS NULL OR user_id = $1 OR username = $1)
           AND ($2::TEXT IS NULL OR kind = $2)
         ORDER BY at DESC, id DESC LIMIT $3",
    )
    .bind(&query.user)
    .bind(&query.kind)
    .bind(i64::from(query.limit))
    .fetch_all(&mut *connection)
    .await
    .map_err(storage)?;

    found
        .iter()
        .map(audit_event)
        .collect::<Result<_, _>>()
        .map_err(storage)
}

pub(crate) async fn delete_audit_events_before(
    connection: &mut PgConnection,
    before: i64,
) -> AdapterResult<u64> {
    let result = sqlx::query("DELETE FROM audit_events WHERE at < $1")
        .bind(before)
        .execute(&mut *connection)
        .await
        .map_err(storage)?;
    Ok(result.rows_affected())
}

pub(crate) async fn server_secret(
    connection: &mut PgConnection,
    name: &str,
    candidate: &[u8],
) -> AdapterResult<Vec<u8>> {
    // The no-op update makes RETURNING give back the stored row when there is one, so the
    // first writer's secret wins and every caller reads it in the same statement.
    sqlx::query_scalar(
        "INSERT INTO server_secrets (name, value) VALUES ($1, $2)
         ON CONFLICT (name) DO UPDATE SET name = EXCLUDED.name
         RETURNING value",
    )
    .bind(name)
    .bind(candidate)
    .fetch_one(&mut *connection)
    .await
    .map_err(storage)
}

fn attempt(row: &PgRow) -> Result<AttemptRow, sqlx::Error> {
    let failures: i32 = row.try_get("failures")?;
    Ok(AttemptRow {
        failures: u32::try_from(failures).unwrap_or(0),
        last_failure_at: row.try_get("last_failure_at")?,
        expires_at: row.try_get("expires_at")?,
    })
}

fn audit_event(row: &PgRow) -> Result<AuditRow, sqlx::Error> {
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
