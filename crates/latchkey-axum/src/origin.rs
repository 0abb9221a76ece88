//! Cross-origin write protection.
//!
//! A browser attaches cookies to a cross-site form post, so without this check another site
//! could sign a visitor out, or sign them in to the attacker's account (login CSRF). The rules,
//! for every request whose method is not GET, HEAD or OPTIONS:
//!
//! 1. Where `Sec-Fetch-Site` is present, only `same-origin` and `none` (typed in the address
//!    bar, a bookmark) pass. Every current browser sends it; it cannot be set by a page.
//!    See the W3C Fetch Metadata specification and OWASP's CSRF prevention cheat sheet.
//! 2. Otherwise, where `Origin` is present, its host and port must equal the `Host` header's
//!    or those of the configured public origin (for a site behind a proxy that rewrites
//!    `Host`). `Origin: null`, sent from sandboxed frames and some redirects, and an `Origin`
//!    that does not parse are refused: Lucia v2 threw an exception on them.
//! 3. A request with neither header comes from a client that is not a browser (curl, a
//!    script), which carries no ambient cookies of a victim, and passes.

use axum::http::header::{HOST, ORIGIN};
use axum::http::uri::{Authority, Scheme};
use axum::http::{HeaderMap, HeaderName, Method, Uri};

/// The `Sec-Fetch-Site` request header.
pub const SEC_FETCH_SITE: HeaderName = HeaderName::from_static("sec-fetch-site");

/// Why a request was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// `Sec-Fetch-Site` said the request came from another site or origin.
    CrossSite,
    /// `Origin` named another origin.
    OriginMismatch,
    /// `Origin` was `null` or did not parse.
    OpaqueOrigin,
}

/// An origin a site is reachable at: scheme, host and port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicOrigin {
    host: String,
    port: u16,
}

impl PublicOrigin {
    /// Parses `https://example.com` or `http://127.0.0.1:3000`; `None` when it is not an
    /// origin (no scheme or host, or a path).
    pub fn parse(origin: &str) -> Option<Self> {
        let (scheme, authority) = split_origin(origin)?;
        Some(Self {
            host: authority.host().to_ascii_lowercase(),
            port: port_of(&authority, &scheme)?,
        })
    }
}

/// Decides whether a request may go on.
///
/// # Errors
///
/// [`Refusal`] when the request is a cross-origin write.
pub fn check(
    method: &Method,
    headers: &HeaderMap,
    uri: &Uri,
    public: Option<&PublicOrigin>,
) -> Result<(), Refusal> {
    if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return Ok(());
    }

    if let Some(site) = headers.get(SEC_FETCH_SITE) {
        let same = site.as_bytes().eq_ignore_ascii_case(b"same-origin")
            || site.as_bytes().eq_ignore_ascii_case(b"none");
        return if same {
            Ok(())
        } else {
            Err(Refusal::CrossSite)
        };
    }

    let Some(origin) = headers.get(ORIGIN) else {
        return Ok(());
    };
    let origin = origin
        .to_str()
        .ok()
        .and_then(PublicOrigin::parse)
        .ok_or(Refusal::OpaqueOrigin)?;

    let host = request_host(headers, uri);
    let matches_host = host.is_some_and(|(name, port)| {
        let same_port = match port {
            Some(port) => port == origin.port,
            None => origin.port == 80 || origin.port == 443,
        };
        name == origin.host && same_port
    });
    if matches_host || public == Some(&origin) {
        Ok(())
    } else {
        Err(Refusal::OriginMismatch)
    }
}

/// The host name and, when given, port the client addressed: the `Host` header, or the
/// request target's authority under HTTP/2.
fn request_host(headers: &HeaderMap, uri: &Uri) -> Option<(String, Option<u16>)> {
    let authority = match headers.get(HOST) {
        Some(host) => host.to_str().ok()?.parse::<Authority>().ok()?,
        None => uri.authority()?.clone(),
    };
    Some((authority.host().to_ascii_lowercase(), authority.port_u16()))
}

fn split_origin(origin: &str) -> Option<(Scheme, Authority)> {
    let uri: Uri = origin.parse().ok()?;
    let has_path = uri
        .path_and_query()
        .is_some_and(|path| path.as_str() != "/");
    if has_path || origin.ends_with('/') {
        return None;
    }
    let parts = uri.into_parts();
    Some((parts.scheme?, parts.authority?))
}

fn port_of(authority: &Authority, scheme: &Scheme) -> Option<u16> {
    authority.port_u16().or(match scheme.as_str() {
        "http" => Some(80),
        "https" => Some(443),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(
                HeaderName::from_bytes(name.as_bytes()).expect("name"),
                HeaderValue::from_str(value).expect("value"),
            );
        }
        map
    }

    fn post(pairs: &[(&str, &str)]) -> Result<(), Refusal> {
        check(
            &Method::POST,
            &headers(pairs),
            &Uri::from_static("/api/login"),
            None,
        )
    }

    #[test]
    fn safe_methods_are_never_checked() {
        let hostile = [
            ("sec-fetch-site", "cross-site"),
            ("origin", "null"),
            ("host", "a.test"),
        ];
        for method in [Method::GET, Method::HEAD, Method::OPTIONS] {
            assert_eq!(
                check(&method, &headers(&hostile), &Uri::from_static("/"), None),
                Ok(())
            );
        }
    }

    #[test]
    fn sec_fetch_site_decides_when_present() {
        let cases = [
            ("same-origin", Ok(())),
            ("none", Ok(())),
            ("same-site", Err(Refusal::CrossSite)),
            ("cross-site", Err(Refusal::CrossSite)),
            ("bogus", Err(Refusal::CrossSite)),
        ];
        for (value, expected) in cases {
            // A matching Origin does not rescue a cross-site fetch, nor a foreign one spoil a
            // same-origin fetch: the browser's own header wins.
            let with_origin = post(&[
                ("sec-fetch-site", value),
                ("origin", "http://a.test"),
                ("host", "a.test"),
            ]);
            let foreign = post(&[
                ("sec-fetch-site", value),
                ("origin", "http://evil.test"),
                ("host", "a.test"),
            ]);
            assert_eq!(with_origin, expected, "{value}");
            assert_eq!(foreign, expected, "{value}");
        }
    }

    #[test]
    fn an_origin_must_match_the_host_and_port() {
        assert_eq!(
            post(&[("origin", "http://a.test:3000"), ("host", "a.test:3000")]),
            Ok(())
        );
        assert_eq!(
            post(&[("origin", "http://A.TEST:3000"), ("host", "a.test:3000")]),
            Ok(())
        );
        assert_eq!(
            post(&[("origin", "https://a.test"), ("host", "a.test")]),
            Ok(())
        );
        assert_eq!(
            post(&[("origin", "http://a.test:3001"), ("host", "a.test:3000")]),
            Err(Refusal::OriginMismatch)
        );
        assert_eq!(
            post(&[("origin", "http://evil.test"), ("host", "a.test")]),
            Err(Refusal::OriginMismatch)
        );
        assert_eq!(
            post(&[("origin", "http://a.test.evil.test"), ("host", "a.test")]),
            Err(Refusal::OriginMismatch)
        );
    }

    #[test]
    fn a_null_or_garbled_origin_is_refused() {
        for origin in ["null", "not a url", "http://", "http://a.test/path", "*"] {
            assert_eq!(
                post(&[("origin", origin), ("host", "a.test")]),
                Err(Refusal::OpaqueOrigin),
                "{origin}"
            );
        }
    }

    #[test]
    fn a_request_without_either_header_is_from_a_non_browser_client_and_passes() {
        assert_eq!(post(&[("host", "a.test")]), Ok(()));
        assert_eq!(post(&[]), Ok(()));
    }

    #[test]
    fn the_configured_public_origin_is_accepted_behind_a_proxy() {
        let public = PublicOrigin::parse("https://login.example.com").expect("origin");
        let request = headers(&[
            ("origin", "https://login.example.com"),
            ("host", "127.0.0.1:3000"),
        ]);
        let other = headers(&[
            ("origin", "https://evil.example.com"),
            ("host", "127.0.0.1:3000"),
        ]);
        let uri = Uri::from_static("/api/login");

        assert_eq!(check(&Method::POST, &request, &uri, Some(&public)), Ok(()));
        assert_eq!(
            check(&Method::POST, &other, &uri, Some(&public)),
            Err(Refusal::OriginMismatch)
        );
    }

    #[test]
    fn every_unsafe_method_is_checked() {
        let hostile = headers(&[("origin", "http://evil.test"), ("host", "a.test")]);
        for method in [
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
            Method::TRACE,
        ] {
            assert!(
                check(&method, &hostile, &Uri::from_static("/"), None).is_err(),
                "{method}"
            );
        }
    }
}
