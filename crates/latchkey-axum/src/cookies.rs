//! The session cookie: its attributes, and reading it from a request.

use std::time::SystemTime;

use axum::http::header::COOKIE;
use axum::http::{HeaderMap, HeaderValue};
use cookie::{Cookie, SameSite};
use latchkey::SessionToken;
use time::OffsetDateTime;

/// The cookie's name, as in Lucia, so that an imported Lucia v2 site keeps its visitors
/// signed in.
pub const SESSION_COOKIE_NAME: &str = "auth_session";

/// How the session cookie is written.
///
/// Secure by default: `HttpOnly` (no script can read it), `SameSite=Lax` (not sent on
/// cross-site subresource requests or posts), `Path=/`, and `Secure` (only over HTTPS) unless
/// the application opts out with [`insecure_cookies`](Self::insecure_cookies).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CookieConfig {
    name: String,
    secure: bool,
}

impl Default for CookieConfig {
    fn default() -> Self {
        Self {
            name: SESSION_COOKIE_NAME.to_owned(),
            secure: true,
        }
    }
}

impl CookieConfig {
    /// Drops the `Secure` attribute so that the cookie works over plain HTTP, for development
    /// on a LAN. Over the internet this lets anyone on the path read the session.
    pub fn insecure_cookies(mut self, insecure: bool) -> Self {
        self.secure = !insecure;
        self
    }

    /// Renames the cookie.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// The cookie's name.
    pub fn cookie_name(&self) -> &str {
        &self.name
    }

    /// Whether the cookie is marked `Secure`.
    pub fn is_secure(&self) -> bool {
        self.secure
    }

    /// The `Set-Cookie` value that hands `token` to the client until `expires`.
    pub fn session_cookie(
        &self,
        token: &SessionToken,
        expires: SystemTime,
        now: SystemTime,
    ) -> HeaderValue {
        let remaining = expires.duration_since(now).unwrap_or_default();
        let cookie = self
            .base(token.expose_secret().to_owned())
            .max_age(time::Duration::seconds(
                i64::try_from(remaining.as_secs()).unwrap_or(i64::MAX),
            ))
            .expires(OffsetDateTime::from(expires));
        header_value(cookie)
    }

    /// The `Set-Cookie` value that removes the cookie: empty, `Max-Age=0`, expired at the epoch.
    pub fn cleared_cookie(&self) -> HeaderValue {
        let cookie = self
            .base(String::new())
            .max_age(time::Duration::ZERO)
            .expires(OffsetDateTime::UNIX_EPOCH);
        header_value(cookie)
    }

    /// The session token a request carries, if any. The first cookie of that name counts, as
    /// browsers send the most specific one first; a value that is not a token's shape counts
    /// as no cookie.
    pub fn read_token(&self, headers: &HeaderMap) -> Option<SessionToken> {
        let value = headers
            .get_all(COOKIE)
            .iter()
            .filter_map(|header| header.to_str().ok())
            .flat_map(|header| header.split(';'))
            .filter_map(|pair| Cookie::parse(pair.trim()).ok())
            .find(|cookie| cookie.name() == self.name)?;
        SessionToken::parse(value.value())
    }

    /// Whether the request carried a cookie of this name at all, well formed or not.
    pub fn is_present(&self, headers: &HeaderMap) -> bool {
        // The name is trimmed as `Cookie::parse` trims it in `read_token`, so that every
        // cookie read as a token also counts as sent.
        headers
            .get_all(COOKIE)
            .iter()
            .filter_map(|header| header.to_str().ok())
            .flat_map(|header| header.split(';'))
            .any(|pair| pair.split('=').next().map(str::trim) == Some(self.name.as_str()))
    }

    fn base(&self, value: String) -> cookie::CookieBuilder<'static> {
        Cookie::build((self.name.clone(), value))
            .http_only(true)
            .same_site(SameSite::Lax)
            .path("/")
            .secure(self.secure)
    }
}

fn header_value(cookie: impl Into<Cookie<'static>>) -> HeaderValue {
    // A token is [a-z0-9] and every attribute is ASCII, so the value is always valid.
    HeaderValue::from_str(&cookie.into().to_string())
        .unwrap_or_else(|_| HeaderValue::from_static(""))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn cookie_header(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(COOKIE, HeaderValue::from_str(value).expect("ascii"));
        headers
    }

    #[test]
    fn a_session_cookie_carries_every_protective_attribute() {
        let token = SessionToken::generate();
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);

        let value =
            CookieConfig::default().session_cookie(&token, now + Duration::from_secs(3_600), now);
        let text = value.to_str().expect("ascii");

        assert!(text.starts_with(&format!("auth_session={}", token.expose_secret())));
        for attribute in [
            "HttpOnly",
            "SameSite=Lax",
            "Path=/",
            "Secure",
            "Max-Age=3600",
            "Expires=Fri, 15 Jan 2027 09:00:00 GMT",
        ] {
            assert!(text.contains(attribute), "{attribute} missing from {text}");
        }
    }

    #[test]
    fn insecure_cookies_drop_only_the_secure_attribute() {
        let config = CookieConfig::default().insecure_cookies(true);
        let now = SystemTime::now();

        let text = config.session_cookie(&SessionToken::generate(), now, now);

        let text = text.to_str().expect("ascii");
        assert!(!text.contains("Secure"));
        assert!(text.contains("HttpOnly") && text.contains("SameSite=Lax"));
    }

    #[test]
    fn a_cleared_cookie_is_empty_and_expired() {
        let value = CookieConfig::default().cleared_cookie();
        let text = value.to_str().expect("ascii");

        assert!(text.starts_with("auth_session=;"));
        assert!(text.contains("Max-Age=0"));
        assert!(text.contains("Expires=Thu, 01 Jan 1970 00:00:00 GMT"));
    }

    #[test]
    fn the_token_is_read_from_among_other_cookies() {
        let token = SessionToken::generate();
        let header = format!(
            "theme=dark; auth_session={}; other=1",
            token.expose_secret()
        );

        let read = CookieConfig::default().read_token(&cookie_header(&header));

        assert_eq!(read, Some(token));
    }

    #[test]
    fn a_cookie_with_white_space_around_its_name_is_read_and_counts_as_sent() {
        // Found by the cookie fuzz target: the token was read, but the cookie did not count as
        // sent, so a stale one would not have been cleared.
        let token = SessionToken::generate();
        let headers = cookie_header(&format!("  auth_session =  {}  ;", token.expose_secret()));
        let config = CookieConfig::default();

        let read = config.read_token(&headers);

        assert_eq!(read, Some(token));
        assert!(config.is_present(&headers));
    }

    #[test]
    fn malformed_cookie_values_are_no_session() {
        for header in [
            "auth_session=",
            "auth_session=short",
            "auth_session=\"quoted\"",
            "auth_session",
            "=;;=",
            "auth_session=%00%00",
        ] {
            assert_eq!(
                CookieConfig::default().read_token(&cookie_header(header)),
                None,
                "{header}"
            );
        }
    }
}
