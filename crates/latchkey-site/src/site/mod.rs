//! The site: pages, the JSON and form API, and the headers every response carries.
//!
//! Routes follow the Lucia v2 username-and-password guide: `/signup`, `/login` and `/` are
//! pages; `/api/signup`, `/api/login` and `/api/logout` take a JSON body from scripts or a
//! form post from a browser without JavaScript, and answer in kind.

mod account;
mod api;
pub(crate) mod assets;
pub mod client;
mod guard;
mod input;
pub mod metrics;
pub mod observe;
mod pages;
mod reply;
mod security;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, State};
use axum::http::header::CONTENT_TYPE;
use axum::routing::{get, post};
use axum::{Extension, Router};
use latchkey::Auth;
use latchkey_axum::origin::PublicOrigin;
use latchkey_axum::{AuthLayer, CookieConfig};
use serde::{Deserialize, Serialize};

pub use guard::{AbuseConfig, DEVICE_COOKIE};
pub use metrics::Metrics;

/// The key provider of usernames, as in the Lucia guide: every username key is
/// (`username`, the username's lookup form).
pub const USERNAME_PROVIDER: &str = "username";

/// Request bodies above this size are refused with 413: a username and a password fit many
/// times over.
pub const BODY_LIMIT: usize = 16 * 1024;

/// What the site keeps about a user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Profile {
    /// The username as typed at sign-up, NFKC-normalised.
    pub username: String,
}

/// What the site keeps about a session, to show a person where they are signed in.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Device {
    /// The `User-Agent` the session was created with, shortened.
    #[serde(default)]
    pub user_agent: Option<String>,
    /// The client address the session was created from.
    #[serde(default)]
    pub address: Option<String>,
}

/// The site's [`Auth`].
pub type SiteAuth = Auth<Profile, Device>;

/// The per-request session type handlers take.
pub type SiteRequest = latchkey_axum::AuthRequest<Profile, Device>;

/// How the site is set up.
#[derive(Debug, Clone)]
pub struct SiteConfig {
    /// Cookies without `Secure`, for plain-HTTP development.
    pub insecure_cookies: bool,
    /// The origin the site is reached at, when a proxy rewrites `Host`.
    pub public_origin: Option<PublicOrigin>,
    /// Where requests are counted.
    pub metrics: Metrics,
    /// Whether `/metrics` is served beside the site, rather than on an address of its own.
    pub metrics_on_main: bool,
    /// Throttles and the client address behind proxies.
    pub abuse: AbuseConfig,
}

impl Default for SiteConfig {
    fn default() -> Self {
        Self {
            insecure_cookies: false,
            public_origin: None,
            metrics: Metrics::new(),
            metrics_on_main: true,
            abuse: AbuseConfig::default(),
        }
    }
}

/// The site's router over `auth`.
pub fn router(auth: SiteAuth, config: &SiteConfig) -> Router {
    let cookies = CookieConfig::default().insecure_cookies(config.insecure_cookies);
    let auth_layer = AuthLayer::new(auth.clone())
        .cookies(cookies)
        .public_origin(config.public_origin.clone());

    let api = Router::new()
        .route(
            "/api/signup",
            post(api::signup).fallback(api::method_not_allowed),
        )
        .route(
            "/api/login",
            post(api::login).fallback(api::method_not_allowed),
        )
        .route(
            "/api/logout",
            post(api::logout).fallback(api::method_not_allowed),
        )
        .route("/api/sessions", get(account::sessions))
        .route(
            "/api/sessions/revoke",
            post(account::revoke_session).fallback(api::method_not_allowed),
        )
        .route(
            "/api/sessions/revoke-others",
            post(account::revoke_other_sessions).fallback(api::method_not_allowed),
        )
        .route(
            "/api/password",
            post(account::change_password).fallback(api::method_not_allowed),
        )
        .route(
            "/api/account/delete",
            post(account::delete_account).fallback(api::method_not_allowed),
        )
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(Extension(Arc::new(guard::Guard::new(
            &auth,
            &config.abuse,
            config.insecure_cookies,
        ))));

    let mut site = Router::new()
        .route("/", get(pages::profile))
        .route("/login", get(pages::login))
        .route("/signup", get(pages::signup))
        .route("/healthz", get(pages::health))
        .route("/static/{file}", get(assets::serve))
        .merge(api)
        .fallback(pages::not_found);
    if config.metrics_on_main {
        site = site.merge(metrics_router(config.metrics.clone()));
    }

    site.layer(auth_layer)
        .layer(axum::middleware::map_response(security::add_headers))
        .layer(axum::middleware::from_fn_with_state(
            config.metrics.clone(),
            observe::track,
        ))
        .with_state(auth)
}

/// `GET /metrics` alone, for serving on an address of its own.
pub fn metrics_router(metrics: Metrics) -> Router<SiteAuth> {
    Router::new().route(
        "/metrics",
        get(move |State(auth): State<SiteAuth>| {
            let metrics = metrics.clone();
            async move {
                let content_type = "application/openmetrics-text; version=1.0.0; charset=utf-8";
                ([(CONTENT_TYPE, content_type)], metrics.render(&auth).await)
            }
        }),
    )
}

/// How long a health check waits for the database before calling it down.
pub const HEALTH_TIMEOUT: Duration = Duration::from_secs(2);
