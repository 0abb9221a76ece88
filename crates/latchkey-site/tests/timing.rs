//! A failed sign-in takes as long for a username that does not exist as for a wrong password,
//! with the production Argon2 parameters, so response time does not reveal which accounts
//! exist. Its own test binary, so that no other test of this crate runs beside it.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::connect_info::MockConnectInfo;
use axum::http::header::{CONTENT_TYPE, HOST};
use axum::http::{Method, Request, StatusCode};
use axum::Router;
use latchkey::Auth;
use latchkey_site::{SiteAuth, SiteConfig};
use latchkey_sqlite::SqliteAdapter;
use serde_json::json;
use tower::ServiceExt;

/// Trials of each kind; each uses a fresh username, so that no account reaches its delay.
const TRIALS: usize = 21;

async fn post(
    router: &Router,
    path: &str,
    username: &str,
    password: &str,
) -> (StatusCode, Duration) {
    let body = json!({ "username": username, "password": password }).to_string();
    let request = Request::builder()
        .method(Method::POST)
        .uri(path)
        .header(HOST, "latchkey.test")
        .header(CONTENT_TYPE, "application/json")
        .body(Body::from(body))
        .expect("request");
    let started = Instant::now();
    let response = router.clone().oneshot(request).await.expect("infallible");
    (response.status(), started.elapsed())
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort_unstable();
    samples[samples.len() / 2]
}

/// The medians of the two kinds of failure over one round of interleaved trials, on fresh
/// accounts and usernames named after `round`.
async fn one_round(router: &Router, round: usize) -> (Duration, Duration) {
    for n in 0..TRIALS {
        let name = format!("member{round}x{n}");
        let (status, _) = post(router, "/api/signup", &name, "a member password").await;
        assert_eq!(status, StatusCode::FOUND);
    }

    let (mut unknown, mut wrong) = (Vec::new(), Vec::new());
    for n in 0..TRIALS {
        let ghost = format!("ghost{round}x{n}");
        let member = format!("member{round}x{n}");
        let order = if n % 2 == 0 {
            [true, false]
        } else {
            [false, true]
        };
        for is_ghost in order {
            let username = if is_ghost { &ghost } else { &member };
            let (status, took) = post(router, "/api/login", username, "a guessed password").await;
            assert_eq!(status, StatusCode::BAD_REQUEST);
            if is_ghost {
                unknown.push(took);
            } else {
                wrong.push(took);
            }
        }
    }
    (median(unknown), median(wrong))
}

/// How far apart two durations are, as a fraction of the longer.
fn apart(a: Duration, b: Duration) -> f64 {
    let (low, high) = (a.min(b), a.max(b));
    (high - low).as_secs_f64() / high.as_secs_f64()
}

/// Up to three rounds: a real difference shows in every round, while a burst of noise from
/// other processes on a shared two-core machine rarely spoils three in a row.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_user_and_a_wrong_password_take_the_same_time() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("timing.db");
    let adapter = SqliteAdapter::connect(path.to_str().expect("utf-8"))
        .await
        .expect("sqlite opens");
    // The default hasher: production Argon2id parameters.
    let auth: SiteAuth = Auth::builder(adapter).build().expect("auth builds");
    let peer: SocketAddr = "192.0.2.99:1".parse().expect("address");
    let router = latchkey_site::router(auth, &SiteConfig::default()).layer(MockConnectInfo(peer));
    post(&router, "/api/login", "warming up", "a guessed password").await;

    let mut rounds = Vec::new();
    for round in 0..3 {
        let (unknown, wrong) = one_round(&router, round).await;
        eprintln!("median failed sign-in: unknown user {unknown:?}, wrong password {wrong:?}");
        rounds.push((unknown, wrong));
        if apart(unknown, wrong) < 0.30 {
            return;
        }
    }
    panic!("medians 30% or more apart in every round: {rounds:?}");
}
