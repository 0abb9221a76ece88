//! What every request leaves behind: a request id, one log line, and metrics.
//!
//! A request keeps a valid incoming `X-Request-Id` (so that ids from a proxy carry through)
//! or gets a fresh one; either way the response returns it and every log line of the request
//! carries it. Only ids of at most 64 characters from `[A-Za-z0-9._-]` are kept, so that a
//! client cannot write arbitrary text into the logs.

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use latchkey::token::ALPHABET;
use rand::Rng;
use tracing::Instrument;

use super::metrics::Metrics;

/// The request id header.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Characters in a request id the site makes.
const ID_LENGTH: usize = 20;

/// Assigns the request id, runs the request inside a span that carries it, logs one line,
/// and counts the request.
pub(crate) async fn track(
    State(metrics): State<Metrics>,
    mut request: Request,
    next: Next,
) -> Response {
    let id = request
        .headers()
        .get(&REQUEST_ID)
        .and_then(|value| value.to_str().ok())
        .filter(|value| is_valid_id(value))
        .map(str::to_owned)
        .unwrap_or_else(fresh_id);
    let id_header =
        HeaderValue::from_str(&id).unwrap_or_else(|_| HeaderValue::from_static("invalid"));
    request.headers_mut().insert(REQUEST_ID, id_header.clone());

    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", |matched| matched.as_str())
        .to_owned();
    let span = tracing::info_span!("request", request_id = %id);
    let started = Instant::now();

    let mut response = next.run(request).instrument(span.clone()).await;

    let latency = started.elapsed();
    let status = response.status().as_u16();
    span.in_scope(|| {
        tracing::info!(%method, path, status, latency_ms = latency.as_secs_f64() * 1000.0, "request");
    });
    metrics.observe_request(&route, method.as_str(), status, latency);
    response.headers_mut().insert(REQUEST_ID, id_header);
    response
}

/// A request id is no secret, only unique in practice: 20 characters from the thread's
/// generator (ChaCha seeded from the OS) cost no system call, where the OS generator that
/// session tokens use costs one a request.
fn fresh_id() -> String {
    let mut rng = rand::thread_rng();
    (0..ID_LENGTH)
        .map(|_| char::from(ALPHABET[rng.gen_range(0..ALPHABET.len())]))
        .collect()
}

fn is_valid_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'.' | b'_' | b'-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fresh_ids_are_twenty_plain_characters_and_differ() {
        let (one, two) = (fresh_id(), fresh_id());

        assert_eq!(one.len(), ID_LENGTH);
        assert!(is_valid_id(&one));
        assert!(one.bytes().all(|byte| ALPHABET.contains(&byte)));
        assert_ne!(one, two);
    }

    #[test]
    fn only_short_plain_ids_are_kept() {
        assert!(is_valid_id("abc-123_X.y"));
        assert!(is_valid_id(&"a".repeat(64)));
        assert!(!is_valid_id(""));
        assert!(!is_valid_id(&"a".repeat(65)));
        assert!(!is_valid_id("a b"));
        assert!(!is_valid_id("evil\ninjected=1"));
        assert!(!is_valid_id("ünï"));
    }
}
