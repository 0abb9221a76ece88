//! The pages: sign-up, sign-in and the profile, plus health and not-found.

use std::fmt::{self, Write as _};
use std::rc::Rc;
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
    sessions: Vec<SessionView<'a>>,
    recent: bool,
}

/// One of the user's sessions as the profile lists it.
struct SessionView<'a> {
    id: &'a str,
    agent: Rc<str>,
    address: &'a str,
    created: Ago,
    last_seen: Ago,
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
    let mut agents = AgentNames::default();
    let page = ProfilePage {
        assets: &VERSIONS,
        user_id: valid.user.id.as_str(),
        username: &valid.user.attributes.username,
        error,
        sessions: sessions
            .iter()
            .map(|session| SessionView {
                id: session.id.as_str(),
                agent: agents.name(session.attributes.user_agent.as_deref()),
                address: session
                    .attributes
                    .address
                    .as_deref()
                    .unwrap_or("unknown address"),
                created: Ago::new(session.created_at, now),
                last_seen: Ago::new(session.last_seen_at, now),
                current: session.id == valid.session.id,
            })
            .collect(),
        recent: account::is_recent(auth, &valid.session),
    };
    // Room for the whole page up front: grown from askama's estimate, the string was copied
    // into a larger one a dozen times a view.
    let mut body = String::with_capacity(PROFILE_BYTES + SESSION_BYTES * sessions.len());
    reply::html(status, page.render_into(&mut body).map(|()| body))
}

/// About what the profile page takes without its list of sessions.
const PROFILE_BYTES: usize = 4 * 1024;

/// About what each listed session adds to the profile page.
const SESSION_BYTES: usize = 640;

/// A time as people read it in a list: "just now", "5 min ago", "3 h ago" or a date.
///
/// Written straight into the page rather than into a string of its own: the profile shows
/// two for every session on every view. The text holds only ASCII letters, digits, spaces and
/// hyphens, so the template need not escape it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ago {
    time: SystemTime,
    now: SystemTime,
}

impl Ago {
    pub(crate) fn new(time: SystemTime, now: SystemTime) -> Self {
        Self { time, now }
    }
}

impl fmt::Display for Ago {
    // Digits by hand rather than through `write!`: a profile view shows two times for each
    // session, and the formatting machinery was a fifth of the page's rendering.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Ok(ago) = self.now.duration_since(self.time) else {
            return f.write_str("just now");
        };
        let mut digits = itoa::Buffer::new();
        match ago.as_secs() {
            0..60 => f.write_str("just now"),
            seconds @ 60..3_600 => {
                f.write_str(digits.format(seconds / 60))?;
                f.write_str(" min ago")
            }
            seconds @ 3_600..86_400 => {
                f.write_str(digits.format(seconds / 3_600))?;
                f.write_str(" h ago")
            }
            _ => {
                let date = time::OffsetDateTime::from(self.time);
                f.write_str(digits.format(date.year()))?;
                for part in [u8::from(date.month()), date.day()] {
                    f.write_char('-')?;
                    f.write_char(char::from(b'0' + part / 10))?;
                    f.write_char(char::from(b'0' + part % 10))?;
                }
                Ok(())
            }
        }
    }
}

/// The short names of the browsers in one list, each worked out once: a user's sessions
/// mostly come from a handful of browsers, and naming one takes a dozen substring searches.
#[derive(Default)]
struct AgentNames<'a> {
    named: Vec<(Option<&'a str>, Rc<str>)>,
}

impl<'a> AgentNames<'a> {
    fn name(&mut self, agent: Option<&'a str>) -> Rc<str> {
        if let Some((_, name)) = self.named.iter().find(|(seen, _)| *seen == agent) {
            return Rc::clone(name);
        }
        let name: Rc<str> = short_agent(agent).into();
        self.named.push((agent, Rc::clone(&name)));
        name
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

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;

    #[test]
    fn times_read_as_just_now_minutes_hours_or_a_date() {
        let now = UNIX_EPOCH + Duration::from_secs(1_764_763_200); // 2025-12-03 12:00 UTC
        let ago = |seconds| Ago::new(now - Duration::from_secs(seconds), now).to_string();

        assert_eq!(ago(0), "just now");
        assert_eq!(ago(59), "just now");
        assert_eq!(ago(60), "1 min ago");
        assert_eq!(ago(3_599), "59 min ago");
        assert_eq!(ago(3_600), "1 h ago");
        assert_eq!(ago(86_399), "23 h ago");
        assert_eq!(ago(86_400), "2025-12-02");
        assert_eq!(ago(40 * 86_400), "2025-10-24");
        // A clock that went back must not show a time in the future.
        assert_eq!(
            Ago::new(now + Duration::from_secs(30), now).to_string(),
            "just now"
        );
    }

    #[test]
    fn a_time_never_needs_escaping_in_the_page() {
        let now = UNIX_EPOCH + Duration::from_secs(1_764_763_200);
        for seconds in [0, 61, 7_200, 90_000, 1_700_000_000] {
            let text = Ago::new(now - Duration::from_secs(seconds), now).to_string();
            assert!(
                text.bytes()
                    .all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b' ' | b'-')),
                "{text:?}"
            );
        }
    }

    #[test]
    fn each_browser_in_a_list_is_named_once_and_named_as_alone() {
        let firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0";
        let curl = "curl/8.5.0";
        let mut names = AgentNames::default();

        let first = names.name(Some(firefox));
        let second = names.name(Some(curl));
        let again = names.name(Some(firefox));
        let unknown = names.name(None);

        assert_eq!(&*first, "Firefox on Linux");
        assert_eq!(&*second, short_agent(Some(curl)));
        assert!(
            Rc::ptr_eq(&first, &again),
            "the second Firefox reused the first name"
        );
        assert_eq!(&*unknown, "Unknown browser");
        assert_eq!(names.named.len(), 3);
    }
}
