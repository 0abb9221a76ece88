//! The pages: sign-up, sign-in and the profile, plus health and not-found.

use askama::Template;
use axum::extract::State;
use axum::http::header::CACHE_CONTROL;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

use super::assets::{Versions, VERSIONS};
use super::input::Format;
use super::reply::{self, error_chain, message_page, Page, UNAVAILABLE};
use super::{SiteAuth, SiteRequest, HEALTH_TIMEOUT};

#[derive(Template)]
#[template(path = "profile.html")]
struct ProfilePage<'a> {
    assets: &'a Versions,
    user_id: &'a str,
    username: &'a str,
}

/// `GET /`: the profile of the signed-in user, or a redirect to `/login`.
pub(crate) async fn profile(session: SiteRequest) -> Response {
    let valid = match session.validate().await {
        Ok(Some(valid)) => valid,
        Ok(None) => return reply::redirect(Format::Form, "/login"),
        Err(error) => return unavailable(&error),
    };
    let page = ProfilePage {
        assets: &VERSIONS,
        user_id: valid.user.id.as_str(),
        username: &valid.user.attributes.username,
    };
    reply::html(StatusCode::OK, page.render())
}

/// `GET /login`.
pub(crate) async fn login(session: SiteRequest) -> Response {
    credentials_page(session, Page::Login).await
}

/// `GET /signup`.
pub(crate) async fn signup(session: SiteRequest) -> Response {
    credentials_page(session, Page::Signup).await
}

async fn credentials_page(session: SiteRequest, page: Page) -> Response {
    match session.validate().await {
        Ok(Some(_)) => reply::redirect(Format::Form, "/"),
        Ok(None) => reply::html(StatusCode::OK, page.render(None, "")),
        Err(error) => unavailable(&error),
    }
}

/// `GET /healthz`: whether the database answers within a bounded time.
pub(crate) async fn health(State(auth): State<SiteAuth>) -> Response {
    let answer = tokio::time::timeout(HEALTH_TIMEOUT, auth.ping()).await;
    let (status, body) = match answer {
        Ok(Ok(())) => (
            StatusCode::OK,
            serde_json::json!({ "status": "ok", "database": "up" }),
        ),
        Ok(Err(error)) => {
            tracing::warn!(error = %error_chain(&error), "health check failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                serde_json::json!({ "status": "unavailable", "database": "down" }),
            )
        }
        Err(_) => {
            tracing::warn!("health check timed out");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                serde_json::json!({ "status": "unavailable", "database": "timeout" }),
            )
        }
    };
    (
        status,
        [(CACHE_CONTROL, HeaderValue::from_static("no-store"))],
        Json(body),
    )
        .into_response()
}

/// Any other path.
pub(crate) async fn not_found() -> Response {
    message_page(
        StatusCode::NOT_FOUND,
        "Not found",
        "There is no page at this address.",
    )
}

fn unavailable(error: &latchkey::Error) -> Response {
    tracing::warn!(error = %error_chain(error), "session check failed");
    message_page(StatusCode::SERVICE_UNAVAILABLE, "Unavailable", UNAVAILABLE)
}
