//! [`Auth`]: the calls an application makes.

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::activity::PendingActivity;
use crate::adapter::{Adapter, KeyRow, SessionRow, UserRow};
use crate::clock::{from_millis, to_millis, Clock, SystemClock};
use crate::error::Error;
use crate::password::{HasherConfig, Password, PasswordHasher, Verification, WaitObserver};
use crate::session::{IssuedSession, Session, SessionConfig, ValidSession};
use crate::token::{SessionId, SessionToken};
use crate::user::{Key, User, UserId};

/// How many sessions' last-seen times may wait to be written. About 2 MiB when full: each
/// entry holds a session id and its user's id, and the map keeps its table between batches.
pub(crate) const ACTIVITY_QUEUE_CAPACITY: usize = 8_192;

/// How many last-seen times one adapter call writes.
const ACTIVITY_WRITE_CHUNK: usize = 1_000;

/// Attributes an application can keep on users and sessions: any serde type.
pub trait Attributes: Serialize + DeserializeOwned + Send + Sync + 'static {}

impl<T: Serialize + DeserializeOwned + Send + Sync + 'static> Attributes for T {}

/// A key to create: a login method, the user's identity in it, and an optional password.
#[derive(Debug, Clone)]
pub struct NewKey {
    /// The login method, such as `username`.
    pub provider_id: String,
    /// The user's identity within the method.
    pub provider_user_id: String,
    /// The password, hashed before it is stored.
    pub password: Option<Password>,
}

impl NewKey {
    /// A key without a password.
    pub fn new(provider_id: impl Into<String>, provider_user_id: impl Into<String>) -> Self {
        Self {
            provider_id: provider_id.into(),
            provider_user_id: provider_user_id.into(),
            password: None,
        }
    }

    /// The same key with a password.
    pub fn with_password(mut self, password: Password) -> Self {
        self.password = Some(password);
        self
    }
}

/// Builds an [`Auth`] with settings other than the defaults.
pub struct AuthBuilder {
    adapter: Arc<dyn Adapter>,
    clock: Arc<dyn Clock>,
    sessions: SessionConfig,
    hasher: HasherConfig,
    on_hash_wait: Option<WaitObserver>,
}

impl AuthBuilder {
    /// Session lifetimes.
    pub fn sessions(mut self, sessions: SessionConfig) -> Self {
        self.sessions = sessions;
        self
    }

    /// Password hashing parameters and threads.
    pub fn hasher(mut self, hasher: HasherConfig) -> Self {
        self.hasher = hasher;
        self
    }

    /// Calls `observer` as each password hash starts, with how long it queued for a hashing
    /// thread; for metrics.
    pub fn on_hash_wait(mut self, observer: WaitObserver) -> Self {
        self.on_hash_wait = Some(observer);
        self
    }

    /// The source of time; tests pass a [`ManualClock`](crate::ManualClock).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Starts the hashing threads and returns the [`Auth`].
    ///
    /// # Errors
    ///
    /// [`Error::Hashing`] when the Argon2 parameters are invalid.
    pub fn build<U: Attributes, S: Attributes>(self) -> Result<Auth<U, S>, Error> {
        let hasher = PasswordHasher::with_wait_observer(self.hasher, self.on_hash_wait)?;
        Ok(Auth {
            inner: Arc::new(Inner {
                adapter: self.adapter,
                clock: self.clock,
                sessions: self.sessions,
                hasher,
                activity: PendingActivity::new(ACTIVITY_QUEUE_CAPACITY),
            }),
            types: PhantomData,
        })
    }
}

/// Users, keys, passwords and sessions over one storage adapter.
///
/// `U` is the application's user attributes and `S` its session attributes; both are stored
/// as JSON and come back unchanged. `Auth` is cheap to clone and meant to be shared.
pub struct Auth<U, S = ()> {
    inner: Arc<Inner>,
    types: PhantomData<fn() -> (U, S)>,
}

struct Inner {
    adapter: Arc<dyn Adapter>,
    clock: Arc<dyn Clock>,
    sessions: SessionConfig,
    hasher: PasswordHasher,
    activity: PendingActivity,
}

impl<U, S> Clone for Auth<U, S> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
            types: PhantomData,
        }
    }
}

impl<U, S> fmt::Debug for Auth<U, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Auth")
            .field("sessions", &self.inner.sessions)
            .finish_non_exhaustive()
    }
}

impl Auth<(), ()> {
    /// Starts building an `Auth` over `adapter`.
    pub fn builder(adapter: impl Adapter) -> AuthBuilder {
        Self::builder_shared(Arc::new(adapter))
    }

    /// Like [`builder`](Self::builder), for an adapter that is already shared.
    pub fn builder_shared(adapter: Arc<dyn Adapter>) -> AuthBuilder {
        AuthBuilder {
            adapter,
            clock: Arc::new(SystemClock),
            sessions: SessionConfig::default(),
            hasher: HasherConfig::default(),
            on_hash_wait: None,
        }
    }
}

impl<U: Attributes, S: Attributes> Auth<U, S> {
    /// The storage adapter, for calls `Auth` does not wrap.
    pub fn adapter(&self) -> &Arc<dyn Adapter> {
        &self.inner.adapter
    }

    /// The password hasher, for hashing outside a key and for its queue depth.
    pub fn hasher(&self) -> &PasswordHasher {
        &self.inner.hasher
    }

    /// The session lifetimes in force.
    pub fn session_config(&self) -> &SessionConfig {
        &self.inner.sessions
    }

    /// The current time by the configured clock.
    pub fn now(&self) -> std::time::SystemTime {
        self.inner.clock.now()
    }

    /// The configured clock, for parts that must keep the same time, such as a
    /// [`Throttle`](crate::Throttle) or an [`AuditLog`](crate::AuditLog).
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.inner.clock
    }

    // ---- users ----

    /// Creates a user with a fresh id and, when given, its first key, in one transaction.
    ///
    /// # Errors
    ///
    /// [`Error::DuplicateKey`] when the key is taken; storage and hashing errors.
    pub async fn create_user(&self, key: Option<NewKey>, attributes: U) -> Result<User<U>, Error> {
        self.create_user_with_id(UserId::generate(), key, attributes)
            .await
    }

    /// Like [`create_user`](Self::create_user) with an id of the caller's choosing, for imports.
    ///
    /// # Errors
    ///
    /// As for [`create_user`](Self::create_user).
    pub async fn create_user_with_id(
        &self,
        id: UserId,
        key: Option<NewKey>,
        attributes: U,
    ) -> Result<User<U>, Error> {
        let row = UserRow {
            id: id.as_str().to_owned(),
            attributes: encode(&attributes)?,
        };
        let key_row = match key {
            Some(key) => Some(self.key_row(&id, key).await?),
            None => None,
        };

        self.inner
            .adapter
            .insert_user(&row, key_row.as_ref())
            .await?;

        tracing::debug!(user.id = %id, "user created");
        Ok(User { id, attributes })
    }

    /// The user with this id.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownUser`]; storage errors.
    pub async fn user(&self, id: &UserId) -> Result<User<U>, Error> {
        let row = self.inner.adapter.user(id.as_str()).await?;
        decode_user(row.ok_or(Error::UnknownUser)?)
    }

    /// Replaces a user's attributes.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownUser`]; storage errors.
    pub async fn update_user_attributes(&self, id: &UserId, attributes: &U) -> Result<(), Error> {
        let text = encode(attributes)?;
        let updated = self
            .inner
            .adapter
            .update_user_attributes(id.as_str(), &text)
            .await?;
        updated.then_some(()).ok_or(Error::UnknownUser)
    }

    /// Deletes a user with all their keys and sessions. Deleting an unknown user succeeds.
    ///
    /// # Errors
    ///
    /// Storage errors.
    pub async fn delete_user(&self, id: &UserId) -> Result<(), Error> {
        self.inner.adapter.delete_user(id.as_str()).await?;
        tracing::debug!(user.id = %id, "user deleted");
        Ok(())
    }

    // ---- keys and passwords ----

    /// Adds a key to an existing user.
    ///
    /// # Errors
    ///
    /// [`Error::DuplicateKey`], [`Error::UnknownUser`]; storage and hashing errors.
    pub async fn create_key(&self, user_id: &UserId, key: NewKey) -> Result<Key, Error> {
        let row = self.key_row(user_id, key).await?;
        self.inner.adapter.insert_key(&row).await?;
        Ok(key_from_row(row))
    }

    /// The key with this provider id and provider user id.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownKey`]; storage errors.
    pub async fn key(&self, provider_id: &str, provider_user_id: &str) -> Result<Key, Error> {
        let row = self
            .inner
            .adapter
            .key(provider_id, provider_user_id)
            .await?;
        row.map(key_from_row).ok_or(Error::UnknownKey)
    }

    /// All keys of a user.
    ///
    /// # Errors
    ///
    /// Storage errors.
    pub async fn user_keys(&self, user_id: &UserId) -> Result<Vec<Key>, Error> {
        let rows = self.inner.adapter.user_keys(user_id.as_str()).await?;
        Ok(rows.into_iter().map(key_from_row).collect())
    }

    /// Sets or removes a key's password. Sessions are left alone: call
    /// [`invalidate_other_sessions`](Self::invalidate_other_sessions) as the situation needs.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownKey`]; storage and hashing errors.
    pub async fn update_key_password(
        &self,
        provider_id: &str,
        provider_user_id: &str,
        password: Option<&Password>,
    ) -> Result<(), Error> {
        let hash = match password {
            Some(password) => Some(self.inner.hasher.hash(password).await?),
            None => None,
        };
        let updated = self
            .inner
            .adapter
            .update_key_password(provider_id, provider_user_id, hash.as_ref())
            .await?;
        updated.then_some(()).ok_or(Error::UnknownKey)
    }

    /// Deletes a key. Deleting an unknown key succeeds.
    ///
    /// # Errors
    ///
    /// Storage errors.
    pub async fn delete_key(&self, provider_id: &str, provider_user_id: &str) -> Result<(), Error> {
        self.inner
            .adapter
            .delete_key(provider_id, provider_user_id)
            .await?;
        Ok(())
    }

    /// Signs in with a password: the user, or [`Error::InvalidCredentials`].
    ///
    /// An unknown key, a key without a password and a wrong password give the same error after
    /// the same work, one password verification (against a dummy hash when there is no real
    /// one), so neither the answer nor its timing tells which accounts exist. An obsolete hash
    /// is replaced by a fresh Argon2id hash after a success.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidCredentials`]; storage and hashing errors.
    pub async fn sign_in_with_password(
        &self,
        provider_id: &str,
        provider_user_id: &str,
        password: &Password,
    ) -> Result<User<U>, Error> {
        let key = self
            .inner
            .adapter
            .key(provider_id, provider_user_id)
            .await?;
        let hash = key.as_ref().and_then(|key| key.hashed_password.as_ref());

        let verification = self.inner.hasher.verify(password, hash).await?;
        let (Some(key), Verification::Valid { needs_rehash }) = (&key, verification) else {
            return Err(Error::InvalidCredentials);
        };

        if needs_rehash {
            self.upgrade_hash(key, password).await;
        }
        match self.user(&UserId::new(key.user_id.clone())).await {
            Err(Error::UnknownUser) => Err(Error::InvalidCredentials),
            other => other,
        }
    }

    /// Checks a key's password and tells the cases apart, for the application's own use:
    /// [`Error::UnknownKey`] when there is no such key, [`Error::InvalidPassword`] when the
    /// password is wrong or the key has none. `None` as the password matches only a key
    /// without one. Unlike [`sign_in_with_password`](Self::sign_in_with_password) its timing
    /// reveals whether the key exists: do not use it to answer a sign-in form.
    ///
    /// # Errors
    ///
    /// As above; storage and hashing errors.
    pub async fn use_key(
        &self,
        provider_id: &str,
        provider_user_id: &str,
        password: Option<&Password>,
    ) -> Result<Key, Error> {
        let key = self
            .inner
            .adapter
            .key(provider_id, provider_user_id)
            .await?
            .ok_or(Error::UnknownKey)?;

        match (password, &key.hashed_password) {
            (None, None) => {}
            (Some(password), Some(hash)) => {
                let verification = self.inner.hasher.verify(password, Some(hash)).await?;
                let Verification::Valid { needs_rehash } = verification else {
                    return Err(Error::InvalidPassword);
                };
                if needs_rehash {
                    self.upgrade_hash(&key, password).await;
                }
            }
            _ => return Err(Error::InvalidPassword),
        }
        Ok(key_from_row(key))
    }

    /// Replaces an obsolete hash after a successful verification. A failure here must not fail
    /// the sign-in it follows, so it is logged and dropped; the next sign-in tries again.
    async fn upgrade_hash(&self, key: &KeyRow, password: &Password) {
        let Some(current) = &key.hashed_password else {
            return;
        };
        let result = async {
            let fresh = self.inner.hasher.hash(password).await?;
            self.inner
                .adapter
                .replace_key_password(&key.provider_id, &key.provider_user_id, current, &fresh)
                .await
                .map_err(Error::from)
        }
        .await;

        match result {
            Ok(true) => tracing::info!(user.id = %key.user_id, "password hash upgraded"),
            Ok(false) => tracing::debug!(user.id = %key.user_id, "password changed during upgrade"),
            Err(error) => {
                tracing::warn!(user.id = %key.user_id, %error, "password hash upgrade failed")
            }
        }
    }

    async fn key_row(&self, user_id: &UserId, key: NewKey) -> Result<KeyRow, Error> {
        let hashed_password = match &key.password {
            Some(password) => Some(self.inner.hasher.hash(password).await?),
            None => None,
        };
        Ok(KeyRow {
            provider_id: key.provider_id,
            provider_user_id: key.provider_user_id,
            user_id: user_id.as_str().to_owned(),
            hashed_password,
        })
    }

    // ---- sessions ----

    /// Creates a session for a user and returns it with its token.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownUser`]; storage errors.
    pub async fn create_session(
        &self,
        user_id: &UserId,
        attributes: S,
    ) -> Result<IssuedSession<S>, Error> {
        let token = SessionToken::generate();
        let now = to_millis(self.now());
        let config = &self.inner.sessions;
        let absolute_expires = now.saturating_add(millis(config.absolute_lifetime));
        let (active_expires, idle_expires) = self.expiry_from(now, absolute_expires);
        let row = SessionRow {
            id: token.session_id().as_str().to_owned(),
            user_id: user_id.as_str().to_owned(),
            created_at: now,
            active_expires,
            idle_expires,
            absolute_expires,
            last_seen_at: now,
            attributes: encode(&attributes)?,
        };

        self.inner.adapter.insert_session(&row).await?;

        let session = session_from_row(row, attributes, false);
        tracing::debug!(user.id = %user_id, session.id = session.id.short(), "session created");
        Ok(IssuedSession { session, token })
    }

    /// Validates a token: its session and user, or [`Error::InvalidSession`].
    ///
    /// A session past its active period is extended and returned with `fresh` set, so the
    /// caller sends its cookie again. A dead session is deleted.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidSession`]; storage errors.
    pub async fn validate_session(
        &self,
        token: &SessionToken,
    ) -> Result<ValidSession<U, S>, Error> {
        let id = token.session_id();
        let found = self.inner.adapter.session_and_user(id.as_str()).await?;
        let Some((row, user_row)) = found else {
            return Err(Error::InvalidSession);
        };

        self.check_session(&id, row, user_row, to_millis(self.now()))
            .await
    }

    /// Like [`validate_session`](Self::validate_session), with the user's live sessions,
    /// newest first, the validated one included: for a page that shows the session list on
    /// every view. Adapters that can read both in one round trip do.
    ///
    /// # Errors
    ///
    /// As for [`validate_session`](Self::validate_session).
    pub async fn validate_session_listing(
        &self,
        token: &SessionToken,
    ) -> Result<(ValidSession<U, S>, Vec<Session<S>>), Error> {
        let id = token.session_id();
        let now = to_millis(self.now());
        let found = self.inner.adapter.session_listing(id.as_str(), now).await?;
        let Some(listing) = found else {
            return Err(Error::InvalidSession);
        };

        let valid = self
            .check_session(&id, listing.session, listing.user, now)
            .await?;

        // The list was read before validation wrote anything, so the validated session's
        // entry takes the times validation just set.
        let current = &valid.session;
        let rows = listing.user_sessions.into_iter().map(|mut row| {
            if row.id == id.as_str() {
                row.active_expires = to_millis(current.active_expires_at);
                row.idle_expires = to_millis(current.expires_at);
                row.last_seen_at = to_millis(current.last_seen_at);
            }
            row
        });
        let sessions = self.listed_sessions(rows, now)?;
        Ok((valid, sessions))
    }

    /// Writes the last-seen times that validation queued, returning for how many sessions.
    ///
    /// Validation queues a session's last-seen time instead of waiting for its write; call
    /// this every few seconds from a background task, sooner when
    /// [`session_activity_filling`](Self::session_activity_filling) says so, and once at
    /// shutdown. Without it, a validation writes the queue itself once its oldest time is
    /// [`activity_write_delay`](SessionConfig::activity_write_delay) old. A failed write is
    /// kept for the next call.
    ///
    /// The queue holds 8,192 sessions. While it is full, a session not in it is not queued
    /// ([`dropped_session_activity`](Self::dropped_session_activity) counts them): its stored
    /// time stays as it was, and its next validation queues it again. So no validation waits
    /// for a batch of other sessions' writes because many sessions came back at once.
    ///
    /// # Errors
    ///
    /// Storage errors.
    pub async fn flush_session_activity(&self) -> Result<usize, Error> {
        let taken = self.inner.activity.take();
        let batch = taken.times();
        if batch.is_empty() {
            return Ok(0);
        }

        // In parts, so that no statement carries megabytes of parameters for the database
        // to parse and the allocator to keep afterwards.
        for (written, part) in batch.chunks(ACTIVITY_WRITE_CHUNK).enumerate() {
            if let Err(error) = self.inner.adapter.update_sessions_last_seen(part).await {
                let unwritten = batch[written * ACTIVITY_WRITE_CHUNK..].to_vec();
                self.inner
                    .activity
                    .restore(unwritten, to_millis(self.now()));
                return Err(error.into());
            }
        }
        tracing::debug!(sessions = batch.len(), "last-seen times written");
        Ok(batch.len())
    }

    /// How many sessions have a last-seen time that validation queued and that is not yet
    /// stored, counting a batch while it is being written.
    pub fn pending_session_activity(&self) -> usize {
        self.inner.activity.pending()
    }

    /// Whether the last-seen queue is half full: a background writer should call
    /// [`flush_session_activity`](Self::flush_session_activity) now rather than at its next
    /// turn, before the queue fills and new times are dropped. Takes no lock; cheap enough to
    /// poll a few times a second.
    pub fn session_activity_filling(&self) -> bool {
        self.inner.activity.is_filling()
    }

    /// How many last-seen times were not queued because the queue was full, since this
    /// `Auth` was built. Each such session kept its earlier stored time until a later use.
    pub fn dropped_session_activity(&self) -> u64 {
        self.inner.activity.dropped()
    }

    /// Decides whether a stored session is alive at `now`, extends it when its active period
    /// is over, and notes when it was seen.
    async fn check_session(
        &self,
        id: &SessionId,
        mut row: SessionRow,
        user_row: UserRow,
        now: i64,
    ) -> Result<ValidSession<U, S>, Error> {
        if now > row.idle_expires || now > row.absolute_expires {
            self.inner.adapter.delete_session(id.as_str()).await?;
            self.inner.activity.forget(id.as_str());
            tracing::debug!(session.id = id.short(), "expired session deleted");
            return Err(Error::InvalidSession);
        }

        // A renewal moves the expiry the cookie carries, so it is written before the answer.
        // A last-seen time only shows on a page: it is written at most once an activity
        // interval, later and in a batch.
        let fresh = now > row.active_expires;
        let interval = millis(self.inner.sessions.activity_interval);
        if fresh {
            (row.active_expires, row.idle_expires) = self.expiry_from(now, row.absolute_expires);
            row.last_seen_at = now;
            self.inner
                .adapter
                .update_session_activity(id.as_str(), now, row.active_expires, row.idle_expires)
                .await?;
            self.inner.activity.forget(id.as_str());
            tracing::debug!(session.id = id.short(), "session extended");
        } else if now.saturating_sub(row.last_seen_at) >= interval {
            match self.inner.activity.get(id.as_str()) {
                Some(queued) if now.saturating_sub(queued) < interval => row.last_seen_at = queued,
                _ => {
                    // Shown as seen now even when the queue is full and the time is not
                    // kept: it is true, and the next validation queues it again.
                    row.last_seen_at = now;
                    if !self.inner.activity.record(id.as_str(), &row.user_id, now) {
                        tracing::debug!(session.id = id.short(), "last-seen queue full");
                    }
                }
            }
        }
        self.flush_activity_if_due(now).await;

        let attributes = decode(&row.attributes)?;
        Ok(ValidSession {
            session: session_from_row(row, attributes, fresh),
            user: decode_user(user_row)?,
        })
    }

    /// Writes the queued last-seen times when they have waited too long for a flush: the
    /// fallback for an application that never calls
    /// [`flush_session_activity`](Self::flush_session_activity).
    async fn flush_activity_if_due(&self, now: i64) {
        let delay = millis(self.inner.sessions.activity_write_delay);
        if !self.inner.activity.is_due(now, delay) {
            return;
        }

        // The session is valid whatever happens to a display field's write; the times stay
        // queued for the next attempt.
        if let Err(error) = self.flush_session_activity().await {
            tracing::warn!(%error, "last-seen times not written");
        }
    }

    /// Sessions from stored rows for a list: live at `now`, with any queued last-seen time,
    /// newest first.
    fn listed_sessions(
        &self,
        rows: impl IntoIterator<Item = SessionRow>,
        now: i64,
    ) -> Result<Vec<Session<S>>, Error> {
        let mut rows: Vec<SessionRow> = rows
            .into_iter()
            .filter(|row| now <= row.absolute_expires)
            .collect();
        self.inner.activity.apply(&mut rows);
        let mut sessions = rows
            .into_iter()
            .map(|row| {
                let attributes = decode(&row.attributes)?;
                Ok(session_from_row(row, attributes, false))
            })
            .collect::<Result<Vec<_>, Error>>()?;
        // `id` breaks ties between sessions created in the same millisecond, so the order is
        // the same on every call.
        sessions.sort_by(|a, b| {
            b.created_at
                .cmp(&a.created_at)
                .then_with(|| a.id.as_str().cmp(b.id.as_str()))
        });
        Ok(sessions)
    }

    /// Like [`validate_session`](Self::validate_session) for a token as a client sent it; a
    /// malformed token is [`Error::InvalidSession`] without a lookup.
    ///
    /// # Errors
    ///
    /// As for [`validate_session`](Self::validate_session).
    pub async fn validate_token(&self, token: &str) -> Result<ValidSession<U, S>, Error> {
        let token = SessionToken::parse(token).ok_or(Error::InvalidSession)?;
        self.validate_session(&token).await
    }

    /// Replaces a session's attributes.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidSession`] when there is no such session; storage errors.
    pub async fn update_session_attributes(
        &self,
        id: &SessionId,
        attributes: &S,
    ) -> Result<(), Error> {
        let text = encode(attributes)?;
        let updated = self
            .inner
            .adapter
            .update_session_attributes(id.as_str(), &text)
            .await?;
        updated.then_some(()).ok_or(Error::InvalidSession)
    }

    /// Ends a session. Ending an unknown session succeeds.
    ///
    /// # Errors
    ///
    /// Storage errors.
    pub async fn invalidate_session(&self, id: &SessionId) -> Result<(), Error> {
        self.inner.adapter.delete_session(id.as_str()).await?;
        self.inner.activity.forget(id.as_str());
        tracing::debug!(session.id = id.short(), "session invalidated");
        Ok(())
    }

    /// Ends every session of a user, returning how many ended.
    ///
    /// # Errors
    ///
    /// Storage errors.
    pub async fn invalidate_user_sessions(&self, user_id: &UserId) -> Result<u64, Error> {
        let ended = self
            .inner
            .adapter
            .delete_user_sessions(user_id.as_str(), None)
            .await?;
        tracing::debug!(user.id = %user_id, ended, "all sessions invalidated");
        Ok(ended)
    }

    /// Ends every session of a user but `keep`, returning how many ended.
    ///
    /// # Errors
    ///
    /// Storage errors.
    pub async fn invalidate_other_sessions(
        &self,
        user_id: &UserId,
        keep: &SessionId,
    ) -> Result<u64, Error> {
        let ended = self
            .inner
            .adapter
            .delete_user_sessions(user_id.as_str(), Some(keep.as_str()))
            .await?;
        tracing::debug!(user.id = %user_id, ended, "other sessions invalidated");
        Ok(ended)
    }

    /// A user's live sessions, newest first.
    ///
    /// # Errors
    ///
    /// Storage errors.
    pub async fn user_sessions(&self, user_id: &UserId) -> Result<Vec<Session<S>>, Error> {
        let now = to_millis(self.now());
        let rows = self
            .inner
            .adapter
            .user_sessions(user_id.as_str(), now)
            .await?;
        self.listed_sessions(rows, now)
    }

    /// Up to `limit` users after skipping `offset`, oldest first, for administration.
    ///
    /// # Errors
    ///
    /// Storage errors.
    pub async fn users(&self, offset: u64, limit: u64) -> Result<Vec<User<U>>, Error> {
        let rows = self.inner.adapter.list_users(offset, limit).await?;
        rows.into_iter().map(decode_user).collect()
    }

    /// How many sessions are live now, across all users.
    ///
    /// # Errors
    ///
    /// Storage errors.
    pub async fn count_live_sessions(&self) -> Result<u64, Error> {
        let now = to_millis(self.now());
        Ok(self.inner.adapter.count_live_sessions(now).await?)
    }

    /// Deletes every dead session, returning how many went.
    ///
    /// # Errors
    ///
    /// Storage errors.
    pub async fn delete_expired_sessions(&self) -> Result<u64, Error> {
        let now = to_millis(self.now());
        let deleted = self.inner.adapter.delete_expired_sessions(now).await?;
        tracing::debug!(deleted, "expired sessions deleted");
        Ok(deleted)
    }

    /// Checks that the storage answers.
    ///
    /// # Errors
    ///
    /// Storage errors.
    pub async fn ping(&self) -> Result<(), Error> {
        Ok(self.inner.adapter.ping().await?)
    }

    /// The active and idle expiry of a session created or renewed at `now`, neither past the
    /// absolute end.
    fn expiry_from(&self, now: i64, absolute_expires: i64) -> (i64, i64) {
        let config = &self.inner.sessions;
        let active = now
            .saturating_add(millis(config.active_period))
            .min(absolute_expires);
        let idle = active
            .saturating_add(millis(config.idle_period))
            .min(absolute_expires);
        (active, idle)
    }
}

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

fn encode<T: Serialize>(value: &T) -> Result<String, Error> {
    serde_json::to_string(value).map_err(Error::Attributes)
}

fn decode<T: DeserializeOwned>(text: &str) -> Result<T, Error> {
    serde_json::from_str(text).map_err(Error::Attributes)
}

fn decode_user<U: DeserializeOwned>(row: UserRow) -> Result<User<U>, Error> {
    Ok(User {
        attributes: decode(&row.attributes)?,
        id: UserId::new(row.id),
    })
}

fn key_from_row(row: KeyRow) -> Key {
    Key {
        has_password: row.hashed_password.is_some(),
        provider_id: row.provider_id,
        provider_user_id: row.provider_user_id,
        user_id: UserId::new(row.user_id),
    }
}

fn session_from_row<S>(row: SessionRow, attributes: S, fresh: bool) -> Session<S> {
    Session {
        id: SessionId::from_stored(row.id),
        user_id: UserId::new(row.user_id),
        created_at: from_millis(row.created_at),
        active_expires_at: from_millis(row.active_expires),
        expires_at: from_millis(row.idle_expires),
        absolute_expires_at: from_millis(row.absolute_expires),
        last_seen_at: from_millis(row.last_seen_at),
        attributes,
        fresh,
    }
}
