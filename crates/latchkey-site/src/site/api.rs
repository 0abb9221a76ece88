//! `POST /api/signup`, `/api/login` and `/api/logout`.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::header::{ALLOW, RETRY_AFTER, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use axum::Extension;
use latchkey::password::check_new_password;
use latchkey::throttle::Subject;
use latchkey::{AuditKind, Error, NewKey, Password, UserId, Username};

use super::client::Client;
use super::guard::{Gate, Guard};
use super::input::{Credentials, Format};
use super::reply::{
    self, Page, Reply, INCORRECT_CREDENTIALS, INVALID_PASSWORD, INVALID_USERNAME, MALFORMED_BODY,
    METHOD_NOT_ALLOWED, NOT_AUTHENTICATED, PASSWORD_TOO_COMMON, TOO_MANY_ATTEMPTS,
    UNSUPPORTED_TYPE, USERNAME_TAKEN,
};
use super::{Device, Profile, SiteAuth, SiteRequest};

pub(crate) use super::USERNAME_PROVIDER as PROVIDER;

/// Where a form that signed the browser out leads: the sign-in page, told to clear the
/// browser's cache (see `pages::login`).
pub(crate) const SIGNED_OUT: &str = "/login?signed-out";

/// `POST /api/signup`: a new user with a username key, and a session.
pub(crate) async fn signup(
    State(auth): State<SiteAuth>,
    Extension(guard): Extension<Arc<Guard>>,
    client: Client,
    session: SiteRequest,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let (reply, credentials) = match read(&headers, body, Page::Signup) {
        Ok(read) => read,
        Err(refusal) => return refusal,
    };
    let Some(username) = checked_username(credentials.username.as_deref(), 4..=31) else {
        return reply.fail(StatusCode::BAD_REQUEST, INVALID_USERNAME);
    };
    let Some(password) = checked_password(credentials.password, 6..=255) else {
        return reply.fail(StatusCode::BAD_REQUEST, INVALID_PASSWORD);
    };
    if check_new_password(&password).is_err() {
        return reply.fail(StatusCode::BAD_REQUEST, PASSWORD_TOO_COMMON);
    }

    match guard.begin_sign_up(&client, username.lookup()).await {
        Ok(Gate::Open) => {}
        Ok(Gate::Closed(retry_after)) => return too_many_attempts(&reply, retry_after),
        Err(error) => return reply.error(error),
    }

    let key = NewKey::new(PROVIDER, username.lookup()).with_password(password);
    let profile = Profile {
        username: username.display().to_owned(),
    };
    match auth.create_user(Some(key), profile).await {
        Ok(user) => {
            tracing::info!(user.id = %user.id, "user signed up");
            let event = guard.event(AuditKind::SignUp, &client);
            guard
                .record(
                    event
                        .with_user_id(&user.id)
                        .with_username(username.lookup()),
                )
                .await;
            let response = start_session(&auth, &session, &user.id, &client, &reply).await;
            with_device_cookie(response, &guard, username.lookup(), None).await
        }
        Err(Error::DuplicateKey) => reply.fail(StatusCode::BAD_REQUEST, USERNAME_TAKEN),
        Err(error) => reply.error(error),
    }
}

/// `POST /api/login`: a new session for the right username and password.
///
/// Throttled before the password is checked (see [`Guard::begin_sign_in`]): per client
/// address, and per account or, with a valid device cookie for the account, per device.
pub(crate) async fn login(
    State(auth): State<SiteAuth>,
    Extension(guard): Extension<Arc<Guard>>,
    client: Client,
    session: SiteRequest,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let (reply, credentials) = match read(&headers, body, Page::Login) {
        Ok(read) => read,
        Err(refusal) => return refusal,
    };
    let Some(username) = checked_username(credentials.username.as_deref(), 1..=31) else {
        return reply.fail(StatusCode::BAD_REQUEST, INVALID_USERNAME);
    };
    let Some(password) = checked_password(credentials.password, 1..=255) else {
        return reply.fail(StatusCode::BAD_REQUEST, INVALID_PASSWORD);
    };

    let lookup = username.lookup();
    let device = guard.device(&headers, PROVIDER, lookup).await;
    let subject = match &device {
        Some(device) => Subject::Device(device),
        None => Subject::Account {
            provider_id: PROVIDER,
            provider_user_id: lookup,
        },
    };
    match guard.begin_sign_in(&client, subject, lookup).await {
        Ok(Gate::Open) => {}
        Ok(Gate::Closed(retry_after)) => return too_many_attempts(&reply, retry_after),
        Err(error) => return reply.error(error),
    }

    match auth
        .sign_in_with_password(PROVIDER, lookup, &password)
        .await
    {
        Ok(user) => {
            tracing::info!(user.id = %user.id, "user signed in");
            // Four writes follow (the attempts cleared, the address's token returned, the
            // audit event, the session), each its own statement. On PostgreSQL the four as
            // one transaction cost the same, by pgbench (docs/benchmarks.md), so they stay
            // with the parts that own them.
            if let Err(error) = guard.sign_in_succeeded(&client, subject).await {
                return reply.error(error);
            }
            let mut event = guard
                .event(AuditKind::SignIn, &client)
                .with_user_id(&user.id)
                .with_username(lookup);
            if device.is_some() {
                event = event.with_detail("device");
            }
            guard.record(event).await;
            let response = start_session(&auth, &session, &user.id, &client, &reply).await;
            with_device_cookie(response, &guard, lookup, device).await
        }
        Err(Error::InvalidCredentials) => {
            tracing::info!("sign-in failed");
            let event = guard.event(AuditKind::SignInFailed, &client);
            guard.record(event.with_username(lookup)).await;
            reply.fail(StatusCode::BAD_REQUEST, INCORRECT_CREDENTIALS)
        }
        Err(error) => reply.error(error),
    }
}

/// `POST /api/logout`: ends the request's session everywhere and clears its cookie.
pub(crate) async fn logout(
    State(auth): State<SiteAuth>,
    Extension(guard): Extension<Arc<Guard>>,
    client: Client,
    session: SiteRequest,
    headers: HeaderMap,
) -> Response {
    let format = Format::of_bodyless(&headers);
    let reply = Reply::new(format, Page::Login, None);

    let valid = match session.validate().await {
        Ok(Some(valid)) => valid,
        Ok(None) => return reply.fail(StatusCode::UNAUTHORIZED, NOT_AUTHENTICATED),
        Err(error) => return reply.error(error),
    };
    if let Err(error) = auth.invalidate_session(&valid.session.id).await {
        return reply.error(error);
    }

    session.set_session(None);
    tracing::info!(user.id = %valid.user.id, session.id = valid.session.id.short(), "user signed out");
    let event = guard
        .event(AuditKind::SignOut, &client)
        .with_user_id(&valid.user.id)
        .with_username(&valid.user.attributes.username);
    guard.record(event).await;
    match format {
        Format::Json => reply.redirect("/login"),
        Format::Form => reply.redirect(SIGNED_OUT),
    }
}

/// Any method but POST on an API route.
pub(crate) async fn method_not_allowed() -> Response {
    let mut response = reply::json_error(StatusCode::METHOD_NOT_ALLOWED, METHOD_NOT_ALLOWED);
    response
        .headers_mut()
        .insert(ALLOW, HeaderValue::from_static("POST"));
    response
}

/// `429 Too Many Requests`, with `Retry-After` in whole seconds, rounded up.
pub(crate) fn too_many_attempts(reply: &Reply, retry_after: Duration) -> Response {
    let mut response = reply.fail(StatusCode::TOO_MANY_REQUESTS, TOO_MANY_ATTEMPTS);
    set_retry_after(&mut response, retry_after);
    response
}

/// Sets `Retry-After` to `after` in whole seconds, rounded up.
pub(crate) fn set_retry_after(response: &mut Response, after: Duration) {
    let seconds = after.as_millis().div_ceil(1_000).max(1);
    let seconds = u64::try_from(seconds).unwrap_or(u64::MAX);
    response
        .headers_mut()
        .insert(RETRY_AFTER, HeaderValue::from(seconds));
}

/// Adds a device cookie for the account to a response that signed the browser in.
async fn with_device_cookie(
    mut response: Response,
    guard: &Guard,
    lookup: &str,
    device: Option<latchkey::device::DeviceId>,
) -> Response {
    if response.status().is_redirection() {
        if let Some(cookie) = guard.device_cookie(PROVIDER, lookup, device).await {
            response.headers_mut().append(SET_COOKIE, cookie);
        }
    }
    response
}

/// The body's format and fields, or the answer that refuses it.
#[allow(
    clippy::result_large_err,
    reason = "the error is the response itself, built once"
)]
fn read(
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
    page: Page,
) -> Result<(Reply, Credentials), Response> {
    let format = Format::of(headers)
        .map_err(|_| reply::json_error(StatusCode::UNSUPPORTED_MEDIA_TYPE, UNSUPPORTED_TYPE))?;
    let body =
        body.map_err(|rejection| reply::json_error(rejection.status(), &rejection.body_text()))?;

    match Credentials::decode(format, &body) {
        Ok(credentials) => Ok((
            Reply::new(format, page, credentials.username.as_deref()),
            credentials,
        )),
        Err(_) => Err(Reply::new(format, page, None).fail(StatusCode::BAD_REQUEST, MALFORMED_BODY)),
    }
}

fn checked_username(
    input: Option<&str>,
    length: std::ops::RangeInclusive<usize>,
) -> Option<Username> {
    Username::parse(input?, length).ok()
}

pub(crate) fn checked_password(
    input: Option<String>,
    length: std::ops::RangeInclusive<usize>,
) -> Option<Password> {
    let input = input?;
    length
        .contains(&input.chars().count())
        .then(|| Password::new(input))
}

/// Issues a fresh session to `user_id` and hands it to the client, ending the session the
/// request came with, if any: a sign-in never keeps a session that existed before it.
async fn start_session(
    auth: &SiteAuth,
    session: &SiteRequest,
    user_id: &UserId,
    client: &Client,
    reply: &Reply,
) -> Response {
    if let Ok(Some(previous)) = session.validate().await {
        if let Err(error) = auth.invalidate_session(&previous.session.id).await {
            return reply.error(error);
        }
    }

    let device = Device {
        user_agent: client.user_agent.clone(),
        address: client.address_text(),
    };
    match auth.create_session(user_id, device).await {
        Ok(issued) => {
            session.set_session(Some(&issued));
            reply.redirect("/")
        }
        Err(error) => reply.error(error),
    }
}
