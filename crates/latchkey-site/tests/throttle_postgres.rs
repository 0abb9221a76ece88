//! Two instances of the site on one PostgreSQL database share their throttles: failures on
//! one count on the other, and a crowd of concurrent guesses spread over both gets exactly the
//! five tries the rule allows.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::connect_info::MockConnectInfo;
use axum::http::header::CONTENT_TYPE;
use axum::http::{Method, StatusCode};
use axum::Router;
use common::{request, START};
use latchkey::{Auth, ManualClock};
use latchkey_postgres::PostgresAdapter;
use latchkey_site::{SiteAuth, SiteConfig};
use serde_json::json;
use tower::ServiceExt;

/// Two routers, each with its own pool, on one fresh database, keeping one time.
async fn two_instances() -> (Router, Router, Arc<ManualClock>) {
    let url = latchkey_testdb::fresh_database().await;
    let clock = Arc::new(ManualClock::at_millis(START));
    let mut routers = Vec::new();
    for _ in 0..2 {
        let adapter = PostgresAdapter::connect(&url)
            .await
            .expect("postgres opens");
        let auth: SiteAuth = Auth::builder(adapter)
            .clock(clock.clone())
            .hasher(latchkey::testing::cheap_hashing())
            .build()
            .expect("auth builds");
        let peer: SocketAddr = "192.0.2.50:4000".parse().expect("address");
        let router = latchkey_site::router(auth, &SiteConfig::default());
        routers.push(router.layer(MockConnectInfo(peer)));
    }
    let second = routers.pop().expect("two");
    let first = routers.pop().expect("two");
    (first, second, clock)
}

/// Posts credentials to `path` and returns the status and `Retry-After`.
async fn post(
    router: &Router,
    path: &str,
    username: &str,
    password: &str,
) -> (StatusCode, Option<String>) {
    let body = json!({ "username": username, "password": password }).to_string();
    let request = request(Method::POST, path)
        .header(CONTENT_TYPE, "application/json")
        .body(Body::from(body))
        .expect("request");
    let response = router.clone().oneshot(request).await.expect("infallible");
    let retry_after = response
        .headers()
        .get("retry-after")
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    (response.status(), retry_after)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_on_one_instance_lock_the_account_on_the_other() {
    let (first, second, clock) = two_instances().await;
    let signed_up = post(&first, "/api/signup", "shared", "shared secret 1").await;
    assert_eq!(signed_up.0, StatusCode::FOUND);

    for router in [&first, &second, &first, &second, &first] {
        let failed = post(router, "/api/login", "shared", "guess").await;
        assert_eq!(failed.0, StatusCode::BAD_REQUEST);
    }
    let on_second = post(&second, "/api/login", "SHARED", "shared secret 1").await;
    let on_first = post(&first, "/api/login", "shared", "shared secret 1").await;

    assert_eq!(
        on_second,
        (StatusCode::TOO_MANY_REQUESTS, Some("1".to_owned()))
    );
    assert_eq!(
        on_first,
        (StatusCode::TOO_MANY_REQUESTS, Some("1".to_owned()))
    );
    clock.advance(Duration::from_secs(1));
    let after = post(&second, "/api/login", "shared", "shared secret 1").await;
    assert_eq!(after.0, StatusCode::FOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_guesses_over_two_instances_get_exactly_five_tries() {
    let (first, second, _) = two_instances().await;

    let guesses: Vec<_> = (0..24)
        .map(|n| {
            let router = if n % 2 == 0 {
                first.clone()
            } else {
                second.clone()
            };
            tokio::spawn(async move {
                post(&router, "/api/login", "crowded", &format!("guess {n}")).await
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for guess in guesses {
        statuses.push(guess.await.expect("task").0);
    }

    let tried = statuses
        .iter()
        .filter(|s| **s == StatusCode::BAD_REQUEST)
        .count();
    let refused = statuses
        .iter()
        .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert_eq!((tried, refused), (5, 19), "{statuses:?}");
}
