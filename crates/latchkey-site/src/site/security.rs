//! Headers every response carries.
//!
//! The Content-Security-Policy allows scripts, styles and form targets from this origin only,
//! no inline script, and no framing (`frame-ancestors 'none'`, against clickjacking); see
//! OWASP's Content Security Policy and Clickjacking Defense cheat sheets.

use axum::http::header::{
    CONTENT_SECURITY_POLICY, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use axum::http::HeaderValue;
use axum::response::Response;

const POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Adds the security headers to a response that has not set them itself.
pub(crate) async fn add_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    let defaults = [
        (CONTENT_SECURITY_POLICY, POLICY),
        (X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (REFERRER_POLICY, "same-origin"),
        // For browsers older than frame-ancestors.
        (X_FRAME_OPTIONS, "DENY"),
    ];
    for (name, value) in defaults {
        if !headers.contains_key(&name) {
            headers.insert(name, HeaderValue::from_static(value));
        }
    }
    response
}
