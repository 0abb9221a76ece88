//! The [`Adapter`] implementation: one statement per call where one suffices.

use std::future::Future;

use async_trait::async_trait;
use latchkey::adapter::{
    AdapterResult, AttemptRow, AuditQuery, AuditRow, KeyRow, LastSeen, SessionListing, SessionRow,
    UserRow,
};
use latchkey::throttle::{LockoutRule, RateRule};
use latchkey::{Adapter, AdapterError, PasswordHash};
use sqlx::{Connection, PgExecutor};

use crate::abuse;
use crate::error::{self, storage, CallTimedOut};
use crate::rows::{self, KEY_COLUMNS, SESSION_COLUMNS, USER_COLUMNS};
use crate::PostgresAdapter;

/// The advisory lock that keeps batches of last-seen times from running at once: "latchkey"
/// in ASCII, unlikely to be another application's key.
const LAST_SEEN_LOCK: i64 = 0x6c61_7463_686b_6579;

impl PostgresAdapter {
    /// Runs a call within the call timeout. Dropping a sqlx future part way is safe: an
    /// unfinished transaction is rolled back, and the connection drains the answers it still
    /// expects before its next use.
    ///
    /// A call that fails as unavailable may have left a broken connection in the pool, and
    /// sqlx does not say which: every connection is then checked on its next use (`pool.rs`).
    async fn bounded<T>(&self, call: impl Future<Output = AdapterResult<T>>) -> AdapterResult<T> {
        let result = match tokio::time::timeout(self.call_timeout, call).await {
            Ok(result) => result,
            Err(_) => Err(AdapterError::Unavailable(Box::new(CallTimedOut(
                self.call_timeout,
            )))),
        };
        if matches!(result, Err(AdapterError::Unavailable(_))) {
            self.pool.manager().suspect();
        }
        result
    }
}

/// Inserts a key, alone or inside [`Adapter::insert_user`]'s transaction.
async fn insert_key_row<'e>(executor: impl PgExecutor<'e>, key: &KeyRow) -> AdapterResult<()> {
    sqlx::query(
        "INSERT INTO keys (provider_id, provider_user_id, user_id, hashed_password)
         VALUES ($1, $2, $3, $4)",
    )
    .bind(&key.provider_id)
    .bind(&key.provider_user_id)
    .bind(&key.user_id)
    .bind(
        key.hashed_password
            .as_ref()
            .map(PasswordHash::expose_secret),
    )
    .execute(executor)
    .await
    .map_err(error::key_insert)?;

    Ok(())
}

#[async_trait]
impl Adapter for PostgresAdapter {
    async fn insert_user(&self, user: &UserRow, key: Option<&KeyRow>) -> AdapterResult<()> {
        self.bounded(async {
            let mut connection = self.acquire().await?;
            let mut transaction = connection.begin().await.map_err(storage)?;

            // A unique violation here is a duplicate user id: a bug in id generation, not a
            // taken key, so it stays `Other`.
            sqlx::query("INSERT INTO users (id, attributes) VALUES ($1, $2)")
                .bind(&user.id)
                .bind(&user.attributes)
                .execute(&mut *transaction)
                .await
                .map_err(storage)?;

            // Of concurrent inserts of one key, PostgreSQL makes all but the first wait on
            // the primary key until the first commits, then fails them with a unique
            // violation: exactly one wins. Returning early drops the transaction, which rolls
            // the user back.
            if let Some(key) = key {
                insert_key_row(&mut *transaction, key).await?;
            }

            transaction.commit().await.map_err(storage)
        })
        .await
    }

    async fn user(&self, id: &str) -> AdapterResult<Option<UserRow>> {
        self.bounded(async {
            let row = sqlx::query(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1"))
                .bind(id)
                .fetch_optional(&mut *self.acquire().await?)
                .await
                .map_err(storage)?;

            row.as_ref().map(rows::user).transpose().map_err(storage)
        })
        .await
    }

    async fn update_user_attributes(&self, id: &str, attributes: &str) -> AdapterResult<bool> {
        self.bounded(async {
            let result = sqlx::query("UPDATE users SET attributes = $2 WHERE id = $1")
                .bind(id)
                .bind(attributes)
                .execute(&mut *self.acquire().await?)
                .await
                .map_err(storage)?;

            Ok(result.rows_affected() > 0)
        })
        .await
    }

    async fn delete_user(&self, id: &str) -> AdapterResult<()> {
        // One statement is one transaction, and the foreign keys' ON DELETE CASCADE removes
        // the user's keys and sessions within it, so a concurrent reader sees all or none.
        self.bounded(async {
            sqlx::query("DELETE FROM users WHERE id = $1")
                .bind(id)
                .execute(&mut *self.acquire().await?)
                .await
                .map_err(storage)?;

            Ok(())
        })
        .await
    }

    async fn insert_key(&self, key: &KeyRow) -> AdapterResult<()> {
        self.bounded(async { insert_key_row(&mut *self.acquire().await?, key).await })
            .await
    }

    async fn key(
        &self,
        provider_id: &str,
        provider_user_id: &str,
    ) -> AdapterResult<Option<KeyRow>> {
        self.bounded(async {
            let row = sqlx::query(&format!(
                "SELECT {KEY_COLUMNS} FROM keys WHERE provider_id = $1 AND provider_user_id = $2"
            ))
            .bind(provider_id)
            .bind(provider_user_id)
            .fetch_optional(&mut *self.acquire().await?)
            .await
            .map_err(storage)?;

            row.as_ref().map(rows::key).transpose().map_err(storage)
        })
        .await
    }

    async fn user_keys(&self, user_id: &str) -> AdapterResult<Vec<KeyRow>> {
        self.bounded(async {
            let found = sqlx::query(&format!(
                "SELECT {KEY_COLUMNS} FROM keys WHERE user_id = $1
                 ORDER BY provider_id, provider_user_id"
            ))
            .bind(user_id)
            .fetch_all(&mut *self.acquire().await?)
            .await
            .map_err(storage)?;

            found
                .iter()
                .map(rows::key)
                .collect::<Result<_, _>>()
                .map_err(storage)
        })
        .await
    }

    async fn update_key_password(
        &self,
        provider_id: &str,
        provider_user_id: &str,
        hashed_password: Option<&PasswordHash>,
    ) -> AdapterResult<bool> {
        self.bounded(async {
            let result = sqlx::query(
                "UPDATE keys SET hashed_password = $3
                 WHERE provider_id = $1 AND provider_user_id = $2",
            )
            .bind(provider_id)
            .bind(provider_user_id)
            .bind(hashed_password.map(PasswordHash::expose_secret))
            .execute(&mut *self.acquire().await?)
            .await
            .map_err(storage)?;

            Ok(result.rows_affected() > 0)
        })
        .await
    }

    async fn replace_key_password(
        &self,
        provider_id: &str,
        provider_user_id: &str,
        current: &PasswordHash,
        new: &PasswordHash,
    ) -> AdapterResult<bool> {
        // Compare-and-set in one statement: the row lock the UPDATE takes makes a concurrent
        // password change either land first (and this matches nothing) or wait for this one.
        // The comparison is not constant-time, which is fine: `current` is the stored hash
        // the caller just read, not a guess.
        self.bounded(async {
            let result = sqlx::query(
                "UPDATE keys SET hashed_password = $4
                 WHERE provider_id = $1 AND provider_user_id = $2 AND hashed_password = $3",
            )
            .bind(provider_id)
            .bind(provider_user_id)
            .bind(current.expose_secret())
            .bind(new.expose_secret())
            .execute(&mut *self.acquire().await?)
            .await
            .map_err(storage)?;

            Ok(result.rows_affected() > 0)
        })
        .await
    }

    async fn delete_key(&self, provider_id: &str, provider_user_id: &str) -> AdapterResult<()> {
        self.bounded(async {
            sqlx::query("DELETE FROM keys WHERE provider_id = $1 AND provider_user_id = $2")
                .bind(provider_id)
                .bind(provider_user_id)
                .execute(&mut *self.acquire().await?)
                .await
                .map_err(storage)?;

            Ok(())
        })
        .await
    }

    async fn insert_session(&self, session: &SessionRow) -> AdapterResult<()> {
        self.bounded(async {
            sqlx::query(&format!(
                "INSERT INTO sessions ({SESSION_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
            ))
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
            .map_err(error::session_insert)?;

            Ok(())
        })
        .await
    }

    async fn session_and_user(&self, id: &str) -> AdapterResult<Option<(SessionRow, UserRow)>> {
        // One query, so that every request pays one round trip, and the session and user are
        // read from one snapshot.
        self.bounded(async {
            let row = sqlx::query(
                "SELECT s.id, s.user_id, s.created_at, s.active_expires, s.idle_expires,
                        s.absolute_expires, s.last_seen_at, s.attributes AS session_attributes,
                        u.attributes AS user_attributes
                 FROM sessions s JOIN users u ON u.id = s.user_id
                 WHERE s.id = $1",
            )
            .bind(id)
            .fetch_optional(&mut *self.acquire().await?)
            .await
            .map_err(storage)?;

            row.as_ref()
                .map(rows::session_and_user)
                .transpose()
                .map_err(storage)
        })
        .await
    }

    async fn update_session_activity(
        &self,
        id: &str,
        last_seen_at: i64,
        active_expires: i64,
        idle_expires: i64,
    ) -> AdapterResult<()> {
        self.bounded(async {
            sqlx::query(
                "UPDATE sessions SET last_seen_at = $2, active_expires = $3, idle_expires = $4
                 WHERE id = $1",
            )
            .bind(id)
            .bind(last_seen_at)
            .bind(active_expires)
            .bind(idle_expires)
            .execute(&mut *self.acquire().await?)
            .await
            .map_err(storage)?;

            Ok(())
        })
        .await
    }

    async fn update_sessions_last_seen(&self, seen: &[LastSeen]) -> AdapterResult<()> {
        let ids: Vec<&str> = seen.iter().map(|seen| seen.session_id.as_str()).collect();
        let users: Vec<&str> = seen.iter().map(|seen| seen.user_id.as_str()).collect();
        let times: Vec<i64> = seen.iter().map(|seen| seen.at).collect();

        // One statement for the whole batch, and one batch at a time across every instance.
        // Two instances updating overlapping batches at once could each lock rows the other
        // waits for; holding one advisory lock for the transaction makes the second wait for
        // the first instead. Locking the rows in id order first did the same, at twice the
        // cost: each row was written once for the lock and again for the update (34 against
        // 61 microseconds of the database's CPU a session, docs/benchmarks.md).
        self.bounded(async {
            let mut connection = self.acquire().await?;
            let mut transaction = connection.begin().await.map_err(storage)?;
            sqlx::query("SELECT pg_advisory_xact_lock($1)")
                .bind(LAST_SEEN_LOCK)
                .execute(&mut *transaction)
                .await
                .map_err(storage)?;
            sqlx::query(
                "UPDATE sessions s SET last_seen_at = GREATEST(s.last_seen_at, seen.at)
                 FROM unnest($1::text[], $2::text[], $3::bigint[]) AS seen (id, user_id, at)
                 WHERE s.id = seen.id AND s.user_id = seen.user_id",
            )
            .bind(&ids)
            .bind(&users)
            .bind(&times)
            .execute(&mut *transaction)
            .await
            .map_err(storage)?;

            transaction.commit().await.map_err(storage)
        })
        .await
    }

    async fn session_listing(&self, id: &str, now: i64) -> AdapterResult<Option<SessionListing>> {
        // One round trip and one snapshot for the session, its user and the list. The list
        // comes as one array a column, which the binary protocol carries as they are stored:
        // building and parsing JSON instead cost the server and this process more than the
        // lookups did.
        self.bounded(async {
            let row = sqlx::query(
                "SELECT s.id, s.user_id, s.created_at, s.active_expires, s.idle_expires,
                        s.absolute_expires, s.last_seen_at, s.attributes AS session_attributes,
                        u.attributes AS user_attributes,
                        l.ids, l.created, l.active, l.idle, l.absolute, l.seen, l.attributes
                 FROM sessions s
                 JOIN users u ON u.id = s.user_id
                 CROSS JOIN LATERAL (
                     SELECT array_agg(id) AS ids, array_agg(created_at) AS created,
                            array_agg(active_expires) AS active, array_agg(idle_expires) AS idle,
                            array_agg(absolute_expires) AS absolute,
                            array_agg(last_seen_at) AS seen, array_agg(attributes) AS attributes
                     FROM sessions
                     WHERE user_id = s.user_id AND idle_expires >= $2
                 ) l
                 WHERE s.id = $1",
            )
            .bind(id)
            .bind(now)
            .fetch_optional(&mut *self.acquire().await?)
            .await
            .map_err(storage)?;

            let Some(row) = row else {
                return Ok(None);
            };
            let (session, user) = rows::session_and_user(&row).map_err(storage)?;
            let user_sessions = rows::listed_sessions(&row, &session.user_id).map_err(storage)?;
            Ok(Some(SessionListing {
                session,
                user,
                user_sessions,
            }))
        })
        .await
    }

    async fn update_session_attributes(&self, id: &str, attributes: &str) -> AdapterResult<bool> {
        self.bounded(async {
            let result = sqlx::query("UPDATE sessions SET attributes = $2 WHERE id = $1")
                .bind(id)
                .bind(attributes)
                .execute(&mut *self.acquire().await?)
                .await
                .map_err(storage)?;

            Ok(result.rows_affected() > 0)
        })
        .await
    }

    async fn delete_session(&self, id: &str) -> AdapterResult<()> {
        self.bounded(async {
            sqlx::query("DELETE FROM sessions WHERE id = $1")
                .bind(id)
                .execute(&mut *self.acquire().await?)
                .await
                .map_err(storage)?;

            Ok(())
        })
        .await
    }

    async fn delete_user_sessions(&self, user_id: &str, keep: Option<&str>) -> AdapterResult<u64> {
        self.bounded(async {
            let result = sqlx::query(
                "DELETE FROM sessions WHERE user_id = $1 AND ($2::TEXT IS NULL OR id <> $2)",
            )
            .bind(user_id)
            .bind(keep)
            .execute(&mut *self.acquire().await?)
            .await
            .map_err(storage)?;

            Ok(result.rows_affected())
        })
        .await
    }

    async fn user_sessions(&self, user_id: &str, now: i64) -> AdapterResult<Vec<SessionRow>> {
        // The id breaks ties between sessions created in the same millisecond, so the order
        // is the same on every call.
        self.bounded(async {
            let found = sqlx::query(&format!(
                "SELECT {SESSION_COLUMNS} FROM sessions
                 WHERE user_id = $1 AND idle_expires >= $2
                 ORDER BY created_at DESC, id DESC"
            ))
            .bind(user_id)
            .bind(now)
            .fetch_all(&mut *self.acquire().await?)
            .await
            .map_err(storage)?;

            found
                .iter()
                .map(rows::session)
                .collect::<Result<_, _>>()
                .map_err(storage)
        })
        .await
    }

    async fn delete_expired_sessions(&self, now: i64) -> AdapterResult<u64> {
        self.bounded(async {
            let result = sqlx::query("DELETE FROM sessions WHERE idle_expires < $1")
                .bind(now)
                .execute(&mut *self.acquire().await?)
                .await
                .map_err(storage)?;

            Ok(result.rows_affected())
        })
        .await
    }

    async fn list_users(&self, offset: u64, limit: u64) -> AdapterResult<Vec<UserRow>> {
        self.bounded(async {
            let found = sqlx::query(&format!(
                "SELECT {USER_COLUMNS} FROM users ORDER BY created_at, id LIMIT $1 OFFSET $2"
            ))
            .bind(i64::try_from(limit).unwrap_or(i64::MAX))
            .bind(i64::try_from(offset).unwrap_or(i64::MAX))
            .fetch_all(&mut *self.acquire().await?)
            .await
            .map_err(storage)?;

            found
                .iter()
                .map(rows::user)
                .collect::<Result<_, _>>()
                .map_err(storage)
        })
        .await
    }

    async fn count_live_sessions(&self, now: i64) -> AdapterResult<u64> {
        self.bounded(async {
            let count: i64 =
                sqlx::query_scalar("SELECT count(*) FROM sessions WHERE idle_expires >= $1")
                    .bind(now)
                    .fetch_one(&mut *self.acquire().await?)
                    .await
                    .map_err(storage)?;

            Ok(u64::try_from(count).unwrap_or_default())
        })
        .await
    }

    async fn ping(&self) -> AdapterResult<()> {
        self.bounded(async {
            sqlx::query("SELECT 1")
                .execute(&mut *self.acquire().await?)
                .await
                .map_err(storage)?;

            Ok(())
        })
        .await
    }
    async fn count_attempt(
        &self,
        key: &str,
        now: i64,
        rule: &LockoutRule,
    ) -> AdapterResult<Option<u32>> {
        self.bounded(async {
            abuse::count_attempt(&mut *self.acquire().await?, key, now, rule).await
        })
        .await
    }

    async fn attempts(&self, key: &str, now: i64) -> AdapterResult<Option<AttemptRow>> {
        self.bounded(async { abuse::attempts(&mut *self.acquire().await?, key, now).await })
            .await
    }

    async fn clear_attempts(&self, key: &str) -> AdapterResult<()> {
        self.bounded(async { abuse::clear_attempts(&mut *self.acquire().await?, key).await })
            .await
    }

    async fn take_token(&self, key: &str, now: i64, rule: &RateRule) -> AdapterResult<bool> {
        self.bounded(async { abuse::take_token(&mut *self.acquire().await?, key, now, rule).await })
            .await
    }

    async fn return_token(&self, key: &str, rule: &RateRule) -> AdapterResult<()> {
        self.bounded(async { abuse::return_token(&mut *self.acquire().await?, key, rule).await })
            .await
    }

    async fn bucket(&self, key: &str) -> AdapterResult<Option<i64>> {
        self.bounded(async { abuse::bucket(&mut *self.acquire().await?, key).await })
            .await
    }

    async fn delete_expired_throttles(&self, now: i64) -> AdapterResult<u64> {
        self.bounded(async {
            abuse::delete_expired_throttles(&mut *self.acquire().await?, now).await
        })
        .await
    }

    async fn insert_audit_event(&self, event: &AuditRow) -> AdapterResult<()> {
        self.bounded(async { abuse::insert_audit_event(&mut *self.acquire().await?, event).await })
            .await
    }

    async fn audit_events(&self, query: &AuditQuery) -> AdapterResult<Vec<AuditRow>> {
        self.bounded(async { abuse::audit_events(&mut *self.acquire().await?, query).await })
            .await
    }

    async fn delete_audit_events_before(&self, before: i64) -> AdapterResult<u64> {
        self.bounded(async {
            abuse::delete_audit_events_before(&mut *self.acquire().await?, before).await
        })
        .await
    }

    async fn server_secret(&self, name: &str, candidate: &[u8]) -> AdapterResult<Vec<u8>> {
        self.bounded(async {
            abuse::server_secret(&mut *self.acquire().await?, name, candidate).await
        })
        .await
    }
}
