//! Latchkey for axum: the per-request glue between an axum app and [`latchkey::Auth`].
//!
//! Add [`AuthLayer`] to a router and take [`AuthRequest`] as an extractor in handlers. The
//! layer does two things for every request:
//!
//! - it refuses cross-origin writes before any handler runs ([`origin`] has the rules), so
//!   that another site can neither sign a visitor out nor sign them in to an account of its
//!   choosing (login CSRF);
//! - it reads the `auth_session` cookie into an [`AuthRequest`], which validates the session
//!   at most once per request, and after the handler it writes whatever the handler decided
//!   about the cookie: a new session, a cleared one, or the same session sent again because
//!   validation extended it.
//!
//! ```no_run
//! use axum::{routing::get, Router};
//! use latchkey::Auth;
//! use latchkey_axum::{AuthLayer, AuthRequest};
//!
//! async fn profile(auth: AuthRequest<serde_json::Value>) -> String {
//!     match auth.validate().await {
//!         Ok(Some(valid)) => format!("hello, {}", valid.user.id),
//!         Ok(None) => "not signed in".to_owned(),
//!         Err(_) => "try again later".to_owned(),
//!     }
//! }
//!
//! # async fn run(auth: Auth<serde_json::Value>) {
//! let app: Router = Router::new()
//!     .route("/", get(profile))
//!     .layer(AuthLayer::new(auth));
//! # }
//! ```

mod cookies;
mod layer;
pub mod origin;
mod request;

pub use cookies::{CookieConfig, SESSION_COOKIE_NAME};
pub use layer::{AuthLayer, AuthService};
pub use request::AuthRequest;
