//! The stylesheet and script, embedded in the binary so that the site runs from any
//! directory, and served with caching headers.
//!
//! Pages link them with `?v=<hash of the content>`; a request carrying the current hash may
//! be cached for a year, since a new version has a new URL. Any other request is revalidated
//! with its `ETag`.

use std::sync::LazyLock;

use axum::extract::{Path, RawQuery};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, ETAG, IF_NONE_MATCH};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

const STYLE: &str = include_str!("../../static/style.css");
const SCRIPT: &str = include_str!("../../static/app.js");

/// The content hashes that version the asset URLs.
#[derive(Debug)]
pub(crate) struct Versions {
    /// The stylesheet's.
    pub style: String,
    /// The script's.
    pub script: String,
}

/// The versions of the embedded assets.
pub(crate) static VERSIONS: LazyLock<Versions> = LazyLock::new(|| Versions {
    style: version_of(STYLE),
    script: version_of(SCRIPT),
});

fn version_of(content: &str) -> String {
    hex::encode(&Sha256::digest(content.as_bytes())[..6])
}

/// `GET /static/{file}`.
pub(crate) async fn serve(
    Path(file): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    if file == "signed-out.css" {
        return signed_out();
    }
    let (content, content_type, version) = match file.as_str() {
        "style.css" => (STYLE, "text/css; charset=utf-8", &VERSIONS.style),
        "app.js" => (SCRIPT, "text/javascript; charset=utf-8", &VERSIONS.script),
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    let etag = format!("\"{version}\"");
    let cache = if query.as_deref() == Some(&format!("v={version}")) {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    let headers_out = [
        (CONTENT_TYPE, HeaderValue::from_static(content_type)),
        (CACHE_CONTROL, HeaderValue::from_static(cache)),
        (
            ETAG,
            HeaderValue::from_str(&etag).unwrap_or(HeaderValue::from_static("\"\"")),
        ),
    ];

    let unchanged = headers
        .get(IF_NONE_MATCH)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.split(',').any(|tag| tag.trim() == etag));
    if unchanged {
        return (StatusCode::NOT_MODIFIED, headers_out).into_response();
    }
    (headers_out, content).into_response()
}

/// An empty stylesheet whose response tells the browser to drop its cache for this site,
/// back/forward cache included: linked by the sign-in page right after a sign-out.
fn signed_out() -> Response {
    let headers = [
        (
            CONTENT_TYPE,
            HeaderValue::from_static("text/css; charset=utf-8"),
        ),
        (CACHE_CONTROL, HeaderValue::from_static("no-store")),
        (CLEAR_SITE_DATA, HeaderValue::from_static("\"cache\"")),
    ];
    (headers, "").into_response()
}

/// The `Clear-Site-Data` response header (W3C Clear Site Data).
const CLEAR_SITE_DATA: axum::http::HeaderName =
    axum::http::HeaderName::from_static("clear-site-data");
