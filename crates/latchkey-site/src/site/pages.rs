//! The pages: sign-up, sign-in and the profile, plus health and not-found.

use std::time::SystemTime;

use askama::Template;
use axum::extract::{RawQuery, State};
use axum::http::header::CACHE_CONTROL;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use latchkey::{Session, ValidSession};

use super::assets::{Versions, VERSIONS};
use super::input::Format;
use super::reply::{self, error_chain, message_page, Page, UNAVAILABLE};
use super::{account, Device, Profile, SiteAuth, SiteRequest, HEALTH_TIMEOUT};

#[derive(Template)]
#[template(path = "profile.html")]
struct ProfilePage<'a> {
    assets: &'a Versions,
    user_id: &'a str,
    username: &'a str,
    error: Option<&'a str>,
    sessions: Vec<SessionView>,
    recent: bool,
}

/// One of the user's sessions as the profile lists it.
struct SessionView {
    id: String,
    agent: String,
    address: String,
    created: String,
    last_seen: String,
    current: bool,
}

/// `GET /`: the profile of the signed-in user, or a redirect to `/login`.
pub(crate) async fn profile(State(auth): State<SiteAuth>, session: SiteRequest) -> Response {
    // The page lists the user's sessions on every view, so they are read with the session.
    let (valid, sessions) = match session.validate_listing().await {
        Ok(Some(listed)) => listed,
        Ok(None) => return reply::redirect(Format::Form, "/login"),
        Err(error) => return unavailable(&error),
    };
    render_profile(&auth, &valid, &sessions, StatusCode::OK, None)
}

/// The profile of `valid`'s user with `status`, showing `error` when an action failed.
pub(crate) async fn profile_page(
    auth: &SiteAuth,
    valid: &ValidSession<Profile, Device>,
    status: StatusCode,
    error: Option<&str>,
) -> Response {
    match auth.user_sessions(&valid.user.id).await {
        Ok(sessions) => render_profile(auth, valid, &sessions, status, error),
        Err(error) => unavailable(&error),
    }
}

fn render_profile(
    auth: &SiteAuth,
    valid: &ValidSession<Profile, Device>,
    sessions: &[Session<Device>],
    status: StatusCode,
    error: Option<&str>,
) -> Response {
    let now = auth.now();
    let page = ProfilePage {
        assets: &VERSIONS,
        user_id: valid.user.id.as_str(),
        username: &valid.user.attributes.username,
        error,
        sessions: sessions
            .iter()
            .map(|session| SessionView {
                id: session.id.as_str().to_owned(),
                agent: short_agent(session.attributes.user_agent.as_deref()),
                address: session
                    .attributes
                    .address
                    .clone()
                    .unwrap_or_else(|| "unknown address".to_owned()),
                created: when(session.created_at, now),
                last_seen: when(session.last_seen_at, now),
                current: session.id == valid.session.id,
            })
            .collect(),
        recent: account::is_recent(auth, &valid.session),
    };
    reply::html(status, page.render())
}

/// A time as people read it in a list: "just now", "5 minutes ago", or a date.
pub(crate) fn when(time: SystemTime, now: SystemTime) -> String {
    let Ok(ago) = now.duration_since(time) else {
        return "just now".to_owned();
    };
    match ago.as_secs() {
        0..60 => "just now".to_owned(),
        60..3_600 => format!("{} min ago", ago.as_secs() / 60),
        3_600..86_400 => format!("{} h ago", ago.as_secs() / 3_600),
        _ => {
            let date = time::OffsetDateTime::from(time);
            format!(
                "{}-{:02}-{:02}",
                date.year(),
                u8::from(date.month()),
                date.day()
            )
        }
    }
}

/// A short name for a browser from its `User-Agent`, such as "Firefox on Linux".
pub(crate) fn short_agent(agent: Option<&str>) -> String {
    let Some(agent) = agent.filter(|agent| !agent.is_empty()) else {
        return "Unknown browser".to_owned();
    };
    // Order matters: Edge and Opera also say Chrome, and Chrome also says Safari.
    const BROWSERS: [(&str, &str); 7] = [
        ("Edg/", "Edge"),
        ("OPR/", "Opera"),
        ("Firefox/", "Firefox"),
        ("Chromium/", "Chromium"),
        ("Chrome/", "Chrome"),
        ("Safari/", "Safari"),
        ("curl/", "curl"),
    ];
    const SYSTEMS: [(&str, &str); 6] = [
        ("Android", "Android"),
        ("iPhone", "iOS"),
        ("iPad", "iPadOS"),
        ("Windows", "Windows"),
        ("Mac OS X", "macOS"),
        ("Linux", "Linux"),
    ];
    let browser = BROWSERS.iter().find(|(needle, _)| agent.contains(needle));
    let system = SYSTEMS.iter().find(|(needle, _)| agent.contains(needle));
    match (browser, system) {
        (Some((_, browser)), Some((_, system))) => format!("{browser} on {system}"),
        (Some((_, browser)), None) => (*browser).to_owned(),
        _ => agent.chars().take(40).collect(),
    }
}

/// `GET /login`.
///
/// After a sign-out (`?signed-out`) the page also loads a stylesheet whose response clears
/// the browser's cache: Chromium keeps even `no-store` pages in its back/forward cache, and
/// the back button would otherwise show the profile as it was, even without JavaScript.
pub(crate) async fn login(session: SiteRequest, RawQuery(query): RawQuery) -> Response {
    if query.as_deref() == Some("signed-out") {
        return match session.validate().await {
            Ok(Some(_)) => reply::redirect(Format::Form, "/"),
            Ok(None) => reply::html(StatusCode::OK, Page::Login.render_signed_out()),
            Err(error) => unavailable(&error),
        };
    }
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

pub(crate) fn unavailable(error: &latchkey::Error) -> Response {
    tracing::warn!(error = %error_chain(error), "session check failed");
    message_page(StatusCode::SERVICE_UNAVAILABLE, "Unavailable", UNAVAILABLE)
}
