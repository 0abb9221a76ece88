//! What a signed-in person does with their own account: list and revoke sessions, change
//! the password, delete the account.
//!
//! Each action answers as the rest of the API does: JSON for scripts, a `303` back to the
//! profile (or the profile re-rendered with the message) for forms. Sensitive actions ask for
//! proof that the person at the keyboard is the account's owner, not someone who found an
//! unlocked browser or stole a cookie: changing the password and deleting the account always
//! take the password; signing out everywhere else takes it unless the session was signed in
//! within the last ten minutes. A password given here goes through the same throttle as a
//! sign-in, so a stolen session cannot be used to guess it.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use latchkey::password::check_new_password;
use latchkey::throttle::Subject;
use latchkey::{AuditEvent, AuditKind, Error, Password, Session, SessionId, ValidSession};
use serde_json::json;

use super::api::{checked_password, set_retry_after, PROVIDER, SIGNED_OUT};
use super::client::Client;
use super::guard::{Gate, Guard};
use super::input::{Fields, Format};
use super::pages::{profile_page, short_agent};
use super::reply::{
    self, Page, Reply, INVALID_PASSWORD, MALFORMED_BODY, NOT_AUTHENTICATED, PASSWORD_TOO_COMMON,
    TOO_MANY_ATTEMPTS, UNSUPPORTED_TYPE,
};
use super::{Device, Profile, SiteAuth, SiteRequest};

/// How recently a session must have signed in for a sensitive action without the password.
pub(crate) const RECENT_SIGN_IN: Duration = Duration::from_secs(10 * 60);

pub(crate) const INCORRECT_PASSWORD: &str = "Incorrect password";
pub(crate) const PASSWORD_REQUIRED: &str = "Enter your password to confirm";
pub(crate) const INVALID_NEW_PASSWORD: &str = "Invalid new password";
pub(crate) const UNKNOWN_SESSION: &str = "No such session";
pub(crate) const INVALID_SESSION_ID: &str = "Invalid session id";

type Valid = ValidSession<Profile, Device>;

/// Whether `session` signed in recently enough to skip the password.
pub(crate) fn is_recent(auth: &SiteAuth, session: &Session<Device>) -> bool {
    auth.now()
        .duration_since(session.created_at)
        .is_ok_and(|age| age <= RECENT_SIGN_IN)
}

/// `GET /api/sessions`: the signed-in user's live sessions as JSON.
pub(crate) async fn sessions(State(auth): State<SiteAuth>, session: SiteRequest) -> Response {
    let valid = match session.validate().await {
        Ok(Some(valid)) => valid,
        Ok(None) => return reply::json_error(StatusCode::UNAUTHORIZED, NOT_AUTHENTICATED),
        Err(error) => return Reply::new(Format::Json, Page::Login, None).error(error),
    };
    let sessions = match auth.user_sessions(&valid.user.id).await {
        Ok(sessions) => sessions,
        Err(error) => return Reply::new(Format::Json, Page::Login, None).error(error),
    };

    let listed: Vec<_> = sessions
        .iter()
        .map(|session| {
            json!({
                "id": session.id.as_str(),
                "created_at": millis(session.created_at),
                "last_seen_at": millis(session.last_seen_at),
                "expires_at": millis(session.expires_at),
                "address": session.attributes.address,
                "user_agent": session.attributes.user_agent,
                "device": short_agent(session.attributes.user_agent.as_deref()),
                "current": session.id == valid.session.id,
            })
        })
        .collect();
    Json(json!({ "sessions": listed })).into_response()
}

/// `POST /api/sessions/revoke`: ends one of the user's sessions, named by its id. Ending the
/// current one signs this browser out.
pub(crate) async fn revoke_session(
    State(auth): State<SiteAuth>,
    Extension(guard): Extension<Arc<Guard>>,
    client: Client,
    session: SiteRequest,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let action = match Action::open(&auth, &session, &headers, body).await {
        Ok(action) => action,
        Err(refusal) => return refusal,
    };
    let Some(target) = action.fields.get("session").and_then(SessionId::parse) else {
        return action
            .fail(StatusCode::BAD_REQUEST, INVALID_SESSION_ID)
            .await;
    };

    // Only the user's own sessions: another user's id is as unknown as a made-up one.
    let own = match auth.user_sessions(&action.valid.user.id).await {
        Ok(own) => own.iter().any(|session| session.id == target),
        Err(error) => return action.error(error).await,
    };
    if !own {
        return action.fail(StatusCode::NOT_FOUND, UNKNOWN_SESSION).await;
    }
    if let Err(error) = auth.invalidate_session(&target).await {
        return action.error(error).await;
    }

    let event = action.event(&guard, &client, AuditKind::SessionRevoked);
    guard
        .record(event.with_detail(format!("session {}", target.short())))
        .await;
    if target == action.valid.session.id {
        session.set_session(None);
        return action.done(json!({ "revoked": 1 }), SIGNED_OUT);
    }
    action.done(json!({ "revoked": 1 }), "/")
}

/// `POST /api/sessions/revoke-others`: "sign out everywhere else".
pub(crate) async fn revoke_other_sessions(
    State(auth): State<SiteAuth>,
    Extension(guard): Extension<Arc<Guard>>,
    client: Client,
    session: SiteRequest,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let action = match Action::open(&auth, &session, &headers, body).await {
        Ok(action) => action,
        Err(refusal) => return refusal,
    };
    if !is_recent(&auth, &action.valid.session) {
        let Some(password) = action.fields.get("password").filter(|p| !p.is_empty()) else {
            return action.fail(StatusCode::FORBIDDEN, PASSWORD_REQUIRED).await;
        };
        if let Err(refusal) = action.confirm(&auth, &guard, &client, password).await {
            return refusal;
        }
    }

    let ended = match auth
        .invalidate_other_sessions(&action.valid.user.id, &action.valid.session.id)
        .await
    {
        Ok(ended) => ended,
        Err(error) => return action.error(error).await,
    };
    let event = action.event(&guard, &client, AuditKind::SessionRevoked);
    guard
        .record(event.with_detail(format!("{ended} other sessions")))
        .await;
    action.done(json!({ "revoked": ended }), "/")
}

/// `POST /api/password`: a new password, given the current one. Every other session ends;
/// this one stays.
pub(crate) async fn change_password(
    State(auth): State<SiteAuth>,
    Extension(guard): Extension<Arc<Guard>>,
    client: Client,
    session: SiteRequest,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let action = match Action::open(&auth, &session, &headers, body).await {
        Ok(action) => action,
        Err(refusal) => return refusal,
    };
    let Some(current) = action
        .fields
        .get("current_password")
        .filter(|p| !p.is_empty())
    else {
        return action.fail(StatusCode::BAD_REQUEST, INVALID_PASSWORD).await;
    };
    let new = action.fields.get("new_password").map(str::to_owned);
    let Some(new) = checked_password(new, 6..=255) else {
        return action
            .fail(StatusCode::BAD_REQUEST, INVALID_NEW_PASSWORD)
            .await;
    };
    if check_new_password(&new).is_err() {
        return action
            .fail(StatusCode::BAD_REQUEST, PASSWORD_TOO_COMMON)
            .await;
    }
    let lookup = match action.confirm(&auth, &guard, &client, current).await {
        Ok(lookup) => lookup,
        Err(refusal) => return refusal,
    };

    if let Err(error) = auth
        .update_key_password(PROVIDER, &lookup, Some(&new))
        .await
    {
        return action.error(error).await;
    }
    let ended = match auth
        .invalidate_other_sessions(&action.valid.user.id, &action.valid.session.id)
        .await
    {
        Ok(ended) => ended,
        Err(error) => return action.error(error).await,
    };

    tracing::info!(user.id = %action.valid.user.id, ended, "password changed");
    let event = action.event(&guard, &client, AuditKind::PasswordChanged);
    guard.record(event).await;
    action.done(json!({ "changed": true, "revoked": ended }), "/")
}

/// `POST /api/account/delete`: removes the user, their keys and sessions in one
/// transaction, given the password, and clears the cookie.
pub(crate) async fn delete_account(
    State(auth): State<SiteAuth>,
    Extension(guard): Extension<Arc<Guard>>,
    client: Client,
    session: SiteRequest,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let action = match Action::open(&auth, &session, &headers, body).await {
        Ok(action) => action,
        Err(refusal) => return refusal,
    };
    let Some(password) = action.fields.get("password").filter(|p| !p.is_empty()) else {
        return action.fail(StatusCode::BAD_REQUEST, INVALID_PASSWORD).await;
    };
    if let Err(refusal) = action.confirm(&auth, &guard, &client, password).await {
        return refusal;
    }

    if let Err(error) = auth.delete_user(&action.valid.user.id).await {
        return action.error(error).await;
    }

    session.set_session(None);
    tracing::info!(user.id = %action.valid.user.id, "account deleted");
    let event = action.event(&guard, &client, AuditKind::AccountDeleted);
    guard.record(event).await;
    action.done(json!({ "deleted": true }), SIGNED_OUT)
}

/// One account action: the signed-in session, how to answer, and the posted fields.
struct Action {
    auth: SiteAuth,
    valid: Valid,
    format: Format,
    fields: Fields,
}

impl Action {
    /// Reads the request, or answers it: 415, 413 and 400 for the body, 401 without a
    /// session, 503 when the database does not answer.
    async fn open(
        auth: &SiteAuth,
        session: &SiteRequest,
        headers: &HeaderMap,
        body: Result<Bytes, BytesRejection>,
    ) -> Result<Self, Response> {
        let body = body
            .map_err(|rejection| reply::json_error(rejection.status(), &rejection.body_text()))?;
        let format = if body.is_empty() {
            Format::of_bodyless(headers)
        } else {
            Format::of(headers).map_err(|_| {
                reply::json_error(StatusCode::UNSUPPORTED_MEDIA_TYPE, UNSUPPORTED_TYPE)
            })?
        };
        let signed_out = Reply::new(format, Page::Login, None);

        let valid = match session.validate().await {
            Ok(Some(valid)) => valid,
            Ok(None) => return Err(signed_out.fail(StatusCode::UNAUTHORIZED, NOT_AUTHENTICATED)),
            Err(error) => return Err(signed_out.error(error)),
        };
        let action = Self {
            auth: auth.clone(),
            valid,
            format,
            fields: Fields::default(),
        };
        match Fields::decode(format, &body) {
            Ok(fields) => Ok(Self { fields, ..action }),
            Err(_) => Err(action.fail(StatusCode::BAD_REQUEST, MALFORMED_BODY).await),
        }
    }

    /// Checks the user's password through the sign-in throttle, returning the username's
    /// lookup form.
    async fn confirm(
        &self,
        auth: &SiteAuth,
        guard: &Guard,
        client: &Client,
        password: &str,
    ) -> Result<String, Response> {
        let keys = match auth.user_keys(&self.valid.user.id).await {
            Ok(keys) => keys,
            Err(error) => return Err(self.error(error).await),
        };
        let Some(key) = keys.into_iter().find(|key| key.provider_id == PROVIDER) else {
            return Err(self.fail(StatusCode::BAD_REQUEST, INCORRECT_PASSWORD).await);
        };
        let lookup = key.provider_user_id;
        let subject = Subject::Account {
            provider_id: PROVIDER,
            provider_user_id: &lookup,
        };

        match guard.begin_sign_in(client, subject, &lookup).await {
            Ok(Gate::Open) => {}
            Ok(Gate::Closed(retry_after)) => {
                let mut refusal = self
                    .fail(StatusCode::TOO_MANY_REQUESTS, TOO_MANY_ATTEMPTS)
                    .await;
                set_retry_after(&mut refusal, retry_after);
                return Err(refusal);
            }
            Err(error) => return Err(self.error(error).await),
        }

        match auth
            .use_key(PROVIDER, &lookup, Some(&Password::new(password)))
            .await
        {
            Ok(_) => match guard.sign_in_succeeded(client, subject).await {
                Ok(()) => Ok(lookup),
                Err(error) => Err(self.error(error).await),
            },
            Err(Error::InvalidPassword | Error::UnknownKey) => {
                let event = self.event(guard, client, AuditKind::SignInFailed);
                guard
                    .record(event.with_detail("password confirmation"))
                    .await;
                Err(self.fail(StatusCode::BAD_REQUEST, INCORRECT_PASSWORD).await)
            }
            Err(error) => Err(self.error(error).await),
        }
    }

    /// An audit event of `kind` about this user, by `client`.
    fn event(&self, guard: &Guard, client: &Client, kind: AuditKind) -> AuditEvent {
        let username = latchkey::lookup_form(&self.valid.user.attributes.username);
        guard
            .event(kind, client)
            .with_user_id(&self.valid.user.id)
            .with_username(&username)
    }

    /// A failure the person can fix: JSON, or the profile again with the message.
    async fn fail(&self, status: StatusCode, message: &str) -> Response {
        match self.format {
            Format::Json => reply::json_error(status, message),
            Format::Form => profile_page(&self.auth, &self.valid, status, Some(message)).await,
        }
    }

    /// A failure of ours: 503 when the database is unreachable, otherwise 500.
    async fn error(&self, error: Error) -> Response {
        Reply::new(self.format, Page::Login, None).error(error)
    }

    /// Success: `body` for scripts, a redirect to `to` for forms.
    fn done(&self, body: serde_json::Value, to: &'static str) -> Response {
        match self.format {
            Format::Json => Json(body).into_response(),
            Format::Form => reply::redirect(Format::Form, to),
        }
    }
}

fn millis(time: std::time::SystemTime) -> i64 {
    latchkey::clock::to_millis(time)
}
