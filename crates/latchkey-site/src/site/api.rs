//! `POST /api/signup`, `/api/login` and `/api/logout`.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::header::{ALLOW, USER_AGENT};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use latchkey::{Error, NewKey, Password, UserId, Username};

use super::input::{Credentials, Format};
use super::reply::{
    self, Page, Reply, INCORRECT_CREDENTIALS, INVALID_PASSWORD, INVALID_USERNAME, MALFORMED_BODY,
    METHOD_NOT_ALLOWED, NOT_AUTHENTICATED, UNSUPPORTED_TYPE, USERNAME_TAKEN,
};
use super::{Device, Profile, SiteAuth, SiteRequest};

/// The key provider for usernames, as in the Lucia guide.
pub(crate) const PROVIDER: &str = "username";

/// `POST /api/signup`: a new user with a username key, and a session.
pub(crate) async fn signup(
    State(auth): State<SiteAuth>,
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

    let key = NewKey::new(PROVIDER, username.lookup()).with_password(password);
    let profile = Profile {
        username: username.display().to_owned(),
    };
    match auth.create_user(Some(key), profile).await {
        Ok(user) => {
            tracing::info!(user.id = %user.id, "user signed up");
            start_session(&auth, &session, &user.id, &headers, &reply).await
        }
        Err(Error::DuplicateKey) => reply.fail(StatusCode::BAD_REQUEST, USERNAME_TAKEN),
        Err(error) => reply.error(error),
    }
}

/// `POST /api/login`: a new session for the right username and password.
pub(crate) async fn login(
    State(auth): State<SiteAuth>,
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

    match auth
        .sign_in_with_password(PROVIDER, username.lookup(), &password)
        .await
    {
        Ok(user) => {
            tracing::info!(user.id = %user.id, "user signed in");
            start_session(&auth, &session, &user.id, &headers, &reply).await
        }
        Err(Error::InvalidCredentials) => {
            tracing::info!("sign-in failed");
            reply.fail(StatusCode::BAD_REQUEST, INCORRECT_CREDENTIALS)
        }
        Err(error) => reply.error(error),
    }
}

/// `POST /api/logout`: ends the request's session everywhere and clears its cookie.
pub(crate) async fn logout(
    State(auth): State<SiteAuth>,
    session: SiteRequest,
    headers: HeaderMap,
) -> Response {
    let reply = Reply::new(Format::of_bodyless(&headers), Page::Login, None);

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
    reply.redirect("/login")
}

/// Any method but POST on an API route.
pub(crate) async fn method_not_allowed() -> Response {
    let mut response = reply::json_error(StatusCode::METHOD_NOT_ALLOWED, METHOD_NOT_ALLOWED);
    response
        .headers_mut()
        .insert(ALLOW, HeaderValue::from_static("POST"));
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

fn checked_password(
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
    headers: &HeaderMap,
    reply: &Reply,
) -> Response {
    if let Ok(Some(previous)) = session.validate().await {
        if let Err(error) = auth.invalidate_session(&previous.session.id).await {
            return reply.error(error);
        }
    }

    let device = Device {
        user_agent: headers
            .get(USER_AGENT)
            .and_then(|value| value.to_str().ok())
            .map(|agent| agent.chars().take(200).collect()),
    };
    match auth.create_session(user_id, device).await {
        Ok(issued) => {
            session.set_session(Some(&issued));
            reply.redirect("/")
        }
        Err(error) => reply.error(error),
    }
}
