//! [`Adapter`] for [`SqliteAdapter`]: the queries.

use async_trait::async_trait;
use latchkey::adapter::{
    AdapterResult, AttemptRow, AuditQuery, AuditRow, KeyRow, LastSeen, SessionListing, SessionRow,
    UserRow,
};
use latchkey::throttle::{LockoutRule, RateRule};
use latchkey::{Adapter, AdapterError, PasswordHash};
use sqlx::sqlite::{SqliteConnection, SqliteRow};
use sqlx::{Connection, Row, Sqlite, SqliteExecutor, Transaction};

use crate::abuse;
use crate::error::{classify, key_insert, session_insert};
use crate::listing;
use crate::rows;
use crate::SqliteAdapter;

/// Starts a transaction for writes. Its first statement must write.
///
/// A deferred transaction that reads before it writes fails with SQLITE_BUSY, without waiting,
/// when another connection committed in between. One whose first statement writes takes the
/// write lock as that statement starts, through the busy timeout, as `BEGIN IMMEDIATE` would.
///
/// It is not `BEGIN IMMEDIATE` because sqlx 0.8 cannot cancel a custom `BEGIN` safely: after
/// SQLite has run it, sqlx awaits once more to check the transaction, and a call dropped there
/// (a client that hangs up) leaves the connection inside a transaction that nothing ends,
/// holding the write lock. Every later transaction on that connection then failed
/// (`InvalidSavePointStatement`), and writes on the others waited out their busy timeout. A
/// plain `BEGIN` that is never acknowledged is rolled back by sqlx's worker.
/// `a_call_cancelled_at_any_point_leaves_its_connection_fit_for_the_next` checks this.
async fn begin_write(connection: &mut SqliteConnection) -> AdapterResult<Transaction<'_, Sqlite>> {
    connection.begin().await.map_err(classify)
}

async fn insert_key_row(executor: impl SqliteExecutor<'_>, key: &KeyRow) -> AdapterResult<()> {
    let hashed_password = key
        .hashed_password
        .as_ref()
        .map(PasswordHash::expose_secret);

    sqlx::query(
        "INSERT INTO keys (provider_id, provider_user_id, user_id, hashed_password) \
         VALUES (?, ?, ?, ?)",
    )
    .bind(&key.provider_id)
    .bind(&key.provider_user_id)
    .bind(&key.user_id)
    .bind(hashed_password)
    .execute(executor)
    .await
    .map_err(key_insert)?;

    Ok(())
}

/// Decodes zero or one row.
fn decode_optional<T>(
    row: Option<SqliteRow>,
    decode: fn(&SqliteRow) -> Result<T, sqlx::Error>,
) -> AdapterResult<Option<T>> {
    row.as_ref().map(decode).transpose().map_err(classify)
}

/// Decodes every row.
fn decode_all<T>(
    rows: Vec<SqliteRow>,
    decode: fn(&SqliteRow) -> Result<T, sqlx::Error>,
) -> AdapterResult<Vec<T>> {
    rows.iter()
        .map(decode)
        .collect::<Result<_, _>>()
        .map_err(classify)
}

#[async_trait]
impl Adapter for SqliteAdapter {
    async fn insert_user(&self, user: &UserRow, key: Option<&KeyRow>) -> AdapterResult<()> {
        let mut connection = self.acquire().await?;
        let mut tx = begin_write(&mut connection).await?;

        // A unique violation here is a taken user id, which the application generated: a bug
        // to surface as such, not a taken key. Hence `classify`, never `DuplicateKey`.
        sqlx::query("INSERT INTO users (id, attributes) VALUES (?, ?)")
            .bind(&user.id)
            .bind(&user.attributes)
            .execute(&mut *tx)
            .await
            .map_err(classify)?;

        if let Some(key) = key {
            insert_key_row(&mut *tx, key).await?;
        }

        tx.commit().await.map_err(classify)
    }

    async fn user(&self, id: &str) -> AdapterResult<Option<UserRow>> {
        let row = sqlx::query("SELECT id, attributes FROM users WHERE id = ?")
            .bind(id)
            .fetch_optional(&mut *self.acquire().await?)
            .await
            .map_err(classify)?;

        decode_optional(row, rows::user)
    }

    async fn update_user_attributes(&self, id: &str, attributes: &str) -> AdapterResult<bool> {
        let result = sqlx::query("UPDATE users SET attributes = ? WHERE id = ?")
            .bind(attributes)
            .bind(id)
            .execute(&mut *self.acquire().await?)
            .await
            .map_err(classify)?;

        Ok(result.rows_affected() == 1)
    }

    async fn delete_user(&self, id: &str) -> AdapterResult<()> {
        let mut connection = self.acquire().await?;
        let mut tx = begin_write(&mut connection).await?;

        // The foreign keys cascade, but deleting explicitly keeps this correct on a database
        // opened without `foreign_keys = ON`, by another tool for instance.
        for statement in [
            "DELETE FROM sessions WHERE user_id = ?",
            "DELETE FROM keys WHERE user_id = ?",
            "DELETE FROM users WHERE id = ?",
        ] {
            sqlx::query(statement)
                .bind(id)
                .execute(&mut *tx)
                .await
                .map_err(classify)?;
        }

        tx.commit().await.map_err(classify)
    }

    async fn insert_key(&self, key: &KeyRow) -> AdapterResult<()> {
        insert_key_row(&mut *self.acquire().await?, key).await
    }

    async fn key(
        &self,
        provider_id: &str,
        provider_user_id: &str,
    ) -> AdapterResult<Option<KeyRow>> {
        let row = sqlx::query(
            "SELECT provider_id, provider_user_id, user_id, hashed_password FROM keys \
             WHERE provider_id = ? AND provider_user_id = ?",
        )
        .bind(provider_id)
        .bind(provider_user_id)
        .fetch_optional(&mut *self.acquire().await?)
        .await
        .map_err(classify)?;

        decode_optional(row, rows::key)
    }

    async fn user_keys(&self, user_id: &str) -> AdapterResult<Vec<KeyRow>> {
        let found = sqlx::query(
            "SELECT provider_id, provider_user_id, user_id, hashed_password FROM keys \
             WHERE user_id = ? ORDER BY provider_id, provider_user_id",
        )
        .bind(user_id)
        .fetch_all(&mut *self.acquire().await?)
        .await
        .map_err(classify)?;

        decode_all(found, rows::key)
    }

    async fn update_key_password(
        &self,
        provider_id: &str,
        provider_user_id: &str,
        hashed_password: Option<&PasswordHash>,
    ) -> AdapterResult<bool> {
        let result = sqlx::query(
            "UPDATE keys SET hashed_password = ? WHERE provider_id = ? AND provider_user_id = ?",
        )
        .bind(hashed_password.map(PasswordHash::expose_secret))
        .bind(provider_id)
        .bind(provider_user_id)
        .execute(&mut *self.acquire().await?)
        .await
        .map_err(classify)?;

        Ok(result.rows_affected() == 1)
    }

    async fn replace_key_password(
        &self,
        provider_id: &str,
        provider_user_id: &str,
        current: &PasswordHash,
        new: &PasswordHash,
    ) -> AdapterResult<bool> {
        // The comparison with `current` happens inside the UPDATE, so no other write can land
        // between checking the hash and replacing it.
        let result = sqlx::query(
            "UPDATE keys SET hashed_password = ? \
             WHERE provider_id = ? AND provider_user_id = ? AND hashed_password = ?",
        )
        .bind(new.expose_secret())
        .bind(provider_id)
        .bind(provider_user_id)
        .bind(current.expose_secret())
        .execute(&mut *self.acquire().await?)
        .await
        .map_err(classify)?;

        Ok(result.rows_affected() == 1)
    }

    async fn delete_key(&self, provider_id: &str, provider_user_id: &str) -> AdapterResult<()> {
        sqlx::query("DELETE FROM keys WHERE provider_id = ? AND provider_user_id = ?")
            .bind(provider_id)
            .bind(provider_user_id)
            .execute(&mut *self.acquire().await?)
            .await
            .map_err(classify)?;

        Ok(())
    }

    async fn insert_session(&self, session: &SessionRow) -> AdapterResult<()> {
        sqlx::query(
            "INSERT INTO sessions \
             (id, user_id, created_at, active_expires, idle_expires, absolute_expires, \
             last_seen_at, attributes) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&session.id)
        .bind(&session.user_id)
        .bind(session.created_at)
        .bind(session.active_expires)
        .bind(session.idle_expires)
        .bind(session.absolute_expires)
        .bind(session.last_seen_at)
        .bind(&session.attributes)
        .execute(&mut *self.acquire().await?)
        .await
        .map_err(session_insert)?;

        Ok(())
    }

    async fn session_and_user(&self, id: &str) -> AdapterResult<Option<(SessionRow, UserRow)>> {
        let row = sqlx::query(
            "SELECT s.id AS id, s.user_id AS user_id, s.created_at AS created_at, \
             s.active_expires AS active_expires, s.idle_expires AS idle_expires, \
             s.absolute_expires AS absolute_expires, s.last_seen_at AS last_seen_at, \
             s.attributes AS attributes, u.attributes AS user_attributes \
             FROM sessions AS s JOIN users AS u ON u.id = s.user_id \
             WHERE s.id = ?",
        )
        .bind(id)
        .fetch_optional(&mut *self.acquire().await?)
        .await
        .map_err(classify)?;

        decode_optional(row, rows::session_and_user)
    }

    async fn update_session_activity(
        &self,
        id: &str,
        last_seen_at: i64,
        active_expires: i64,
        idle_expires: i64,
    ) -> AdapterResult<()> {
        sqlx::query(
            "UPDATE sessions SET last_seen_at = ?, active_expires = ?, idle_expires = ? \
             WHERE id = ?",
        )
        .bind(last_seen_at)
        .bind(active_expires)
        .bind(idle_expires)
        .bind(id)
        .execute(&mut *self.acquire().await?)
        .await
        .map_err(classify)?;

        Ok(())
    }

    async fn update_sessions_last_seen(&self, seen: &[LastSeen]) -> AdapterResult<()> {
        // One statement for the whole batch: each statement is a round trip to the
        // connection's worker thread, and the batch holds thousands of sessions.
        let rows: Vec<(&str, i64, &str)> = seen
            .iter()
            .map(|seen| (seen.session_id.as_str(), seen.at, seen.user_id.as_str()))
            .collect();
        let batch =
            serde_json::to_string(&rows).map_err(|error| AdapterError::Other(error.into()))?;

        // By the primary key, user first: the rows are found without the index on `id`, and
        // a batch sorted the same way walks the table in order. On 1,000,000 sessions this
        // takes a third less CPU a session than going through the index (docs/benchmarks.md).
        sqlx::query(
            "UPDATE sessions SET last_seen_at = max(last_seen_at, seen.value ->> 1) \
             FROM json_each(?) AS seen \
             WHERE sessions.user_id = seen.value ->> 2 AND sessions.id = seen.value ->> 0",
        )
        .bind(batch)
        .execute(&mut *self.acquire().await?)
        .await
        .map_err(classify)?;

        Ok(())
    }

    async fn session_listing(&self, id: &str, now: i64) -> AdapterResult<Option<SessionListing>> {
        // One statement and one row, the user's sessions folded into one column (see
        // `listing` for why and how).
        let row = sqlx::query(concat!(
            "SELECT s.id AS id, s.user_id AS user_id, s.created_at AS created_at, \
             s.active_expires AS active_expires, s.idle_expires AS idle_expires, \
             s.absolute_expires AS absolute_expires, s.last_seen_at AS last_seen_at, \
             s.attributes AS attributes, u.attributes AS user_attributes, \
             (SELECT ",
            listing::fold_sessions!(),
            " FROM sessions AS l WHERE l.user_id = s.user_id AND l.idle_expires >= ?2) \
             AS listed \
             FROM sessions AS s JOIN users AS u ON u.id = s.user_id \
             WHERE s.id = ?1"
        ))
        .bind(id)
        .bind(now)
        .fetch_optional(&mut *self.acquire().await?)
        .await
        .map_err(classify)?;

        let Some(row) = row else {
            return Ok(None);
        };
        let (session, user) = rows::session_and_user(&row).map_err(classify)?;
        let listed: Option<&str> = row.try_get("listed").map_err(classify)?;
        let user_sessions = listed
            .map(|listed| listing::decode(listed, &session.user_id))
            .transpose()
            .map_err(AdapterError::Other)?
            .unwrap_or_default();
        Ok(Some(SessionListing {
            session,
            user,
            user_sessions,
        }))
    }

    async fn update_session_attributes(&self, id: &str, attributes: &str) -> AdapterResult<bool> {
        let result = sqlx::query("UPDATE sessions SET attributes = ? WHERE id = ?")
            .bind(attributes)
            .bind(id)
            .execute(&mut *self.acquire().await?)
            .await
            .map_err(classify)?;

        Ok(result.rows_affected() == 1)
    }

    async fn delete_session(&self, id: &str) -> AdapterResult<()> {
        sqlx::query("DELETE FROM sessions WHERE id = ?")
            .bind(id)
            .execute(&mut *self.acquire().await?)
            .await
            .map_err(classify)?;

        Ok(())
    }

    async fn delete_user_sessions(&self, user_id: &str, keep: Option<&str>) -> AdapterResult<u64> {
        let result =
            sqlx::query("DELETE FROM sessions WHERE user_id = ?1 AND (?2 IS NULL OR id <> ?2)")
                .bind(user_id)
                .bind(keep)
                .execute(&mut *self.acquire().await?)
                .await
                .map_err(classify)?;

        Ok(result.rows_affected())
    }

    async fn user_sessions(&self, user_id: &str, now: i64) -> AdapterResult<Vec<SessionRow>> {
        // `id` breaks ties between sessions created in the same millisecond, so the order is
        // the same on every call.
        let found = sqlx::query(
            "SELECT id, user_id, created_at, active_expires, idle_expires, absolute_expires, \
             last_seen_at, attributes FROM sessions \
             WHERE user_id = ? AND idle_expires >= ? \
             ORDER BY created_at DESC, id",
        )
        .bind(user_id)
        .bind(now)
        .fetch_all(&mut *self.acquire().await?)
        .await
        .map_err(classify)?;

        decode_all(found, rows::session)
    }

    async fn delete_expired_sessions(&self, now: i64) -> AdapterResult<u64> {
        let result = sqlx::query("DELETE FROM sessions WHERE idle_expires < ?")
            .bind(now)
            .execute(&mut *self.acquire().await?)
            .await
            .map_err(classify)?;

        Ok(result.rows_affected())
    }

    async fn list_users(&self, offset: u64, limit: u64) -> AdapterResult<Vec<UserRow>> {
        let found = sqlx::query(
            "SELECT id, attributes FROM users ORDER BY created_at, id LIMIT ? OFFSET ?",
        )
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .bind(i64::try_from(offset).unwrap_or(i64::MAX))
        .fetch_all(&mut *self.acquire().await?)
        .await
        .map_err(classify)?;

        decode_all(found, rows::user)
    }

    async fn count_live_sessions(&self, now: i64) -> AdapterResult<u64> {
        let count: i64 =
            sqlx::query_scalar("SELECT count(*) FROM sessions WHERE idle_expires >= ?")
                .bind(now)
                .fetch_one(&mut *self.acquire().await?)
                .await
                .map_err(classify)?;

        Ok(u64::try_from(count).unwrap_or_default())
    }

    async fn ping(&self) -> AdapterResult<()> {
        sqlx::query("SELECT 1")
            .execute(&mut *self.acquire().await?)
            .await
            .map_err(classify)?;

        Ok(())
    }

    async fn count_attempt(
        &self,
        key: &str,
        now: i64,
        rule: &LockoutRule,
    ) -> AdapterResult<Option<u32>> {
        abuse::count_attempt(&mut *self.acquire().await?, key, now, rule).await
    }

    async fn attempts(&self, key: &str, now: i64) -> AdapterResult<Option<AttemptRow>> {
        abuse::attempts(&mut *self.acquire().await?, key, now).await
    }

    async fn clear_attempts(&self, key: &str) -> AdapterResult<()> {
        abuse::clear_attempts(&mut *self.acquire().await?, key).await
    }

    async fn take_token(&self, key: &str, now: i64, rule: &RateRule) -> AdapterResult<bool> {
        abuse::take_token(&mut *self.acquire().await?, key, now, rule).await
    }

    async fn return_token(&self, key: &str, rule: &RateRule) -> AdapterResult<()> {
        abuse::return_token(&mut *self.acquire().await?, key, rule).await
    }

    async fn bucket(&self, key: &str) -> AdapterResult<Option<i64>> {
        abuse::bucket(&mut *self.acquire().await?, key).await
    }

    async fn delete_expired_throttles(&self, now: i64) -> AdapterResult<u64> {
        abuse::delete_expired_throttles(&mut *self.acquire().await?, now).await
    }

    async fn insert_audit_event(&self, event: &AuditRow) -> AdapterResult<()> {
        abuse::insert_audit_event(&mut *self.acquire().await?, event).await
    }

    async fn audit_events(&self, query: &AuditQuery) -> AdapterResult<Vec<AuditRow>> {
        abuse::audit_events(&mut *self.acquire().await?, query).await
    }

    async fn delete_audit_events_before(&self, before: i64) -> AdapterResult<u64> {
        abuse::delete_audit_events_before(&mut *self.acquire().await?, before).await
    }

    async fn server_secret(&self, name: &str, candidate: &[u8]) -> AdapterResult<Vec<u8>> {
        abuse::server_secret(&mut *self.acquire().await?, name, candidate).await
    }
}
