//! What operators see: request ids, metrics, and machine-readable logs.

mod common;

use std::time::Duration;

use axum::body::Body;
use axum::http::{Method, StatusCode};
use common::process::Server;
use common::{request, site};
use latchkey_site::serve::write_session_activity;
use latchkey_site::site::Device;
use serde_json::json;

#[tokio::test]
async fn a_request_keeps_a_valid_incoming_request_id_and_gets_one_otherwise() {
    let site = site().await;
    let with_id = |id: &str| {
        request(Method::GET, "/login")
            .header("x-request-id", id)
            .body(Body::empty())
            .expect("request")
    };

    let kept = site.send(with_id("lb-7f3a.9_x")).await;
    let replaced = site.send(with_id("bad id\twith tab")).await;
    let fresh = site.get("/login", None).await;
    let another = site.get("/login", None).await;

    assert_eq!(kept.header("x-request-id"), Some("lb-7f3a.9_x"));
    let replaced = replaced.header("x-request-id").expect("an id");
    assert_ne!(replaced, "bad id\twith tab");
    assert_eq!(replaced.len(), 20);
    let (fresh, another) = (
        fresh.header("x-request-id").expect("id"),
        another.header("x-request-id").expect("id"),
    );
    assert_ne!(fresh, another);
}

fn sample(metrics: &str, name_and_labels: &str) -> f64 {
    metrics
        .lines()
        .find(|line| line.starts_with(name_and_labels))
        .and_then(|line| line.rsplit(' ').next())
        .and_then(|value| value.parse().ok())
        .unwrap_or_else(|| panic!("no sample {name_and_labels} in\n{metrics}"))
}

#[tokio::test]
async fn metrics_count_requests_sign_ins_sign_ups_and_hash_waits() {
    let site = site().await;
    site.sign_up("counted", "count me in").await;
    site.sign_in("counted", "count me in").await;
    site.sign_in("counted", "wrong password").await;
    site.sign_in("counted", "wrong again").await;
    site.get("/login", None).await;

    let reply = site.get("/metrics", None).await;

    assert_eq!(reply.status, StatusCode::OK);
    let text = &reply.body;
    assert!(reply
        .header("content-type")
        .is_some_and(|value| value.contains("openmetrics-text")));
    assert_eq!(
        sample(text, r#"latchkey_sign_ins_total{outcome="success"}"#),
        1.0
    );
    assert_eq!(
        sample(text, r#"latchkey_sign_ins_total{outcome="failure"}"#),
        2.0
    );
    assert_eq!(
        sample(text, r#"latchkey_sign_ups_total{outcome="success"}"#),
        1.0
    );
    assert_eq!(
        sample(
            text,
            r#"latchkey_http_requests_total{route="/api/login",method="POST",status="400"}"#
        ),
        2.0
    );
    assert_eq!(
        sample(
            text,
            r#"latchkey_http_requests_total{route="/login",method="GET",status="200"}"#
        ),
        1.0
    );
    assert_eq!(
        sample(
            text,
            r#"latchkey_http_request_duration_seconds_count{route="/api/login"}"#
        ),
        3.0
    );
    assert_eq!(sample(text, "latchkey_password_hash_queue_depth"), 0.0);
    // The sign-up's session and the sign-in's.
    assert_eq!(sample(text, "latchkey_live_sessions"), 2.0);
    assert!(text.contains("# TYPE latchkey_password_hash_wait_seconds histogram"));
    assert!(text.trim_end().ends_with("# EOF"));
}

#[tokio::test]
async fn live_sessions_are_counted_once_for_scrapes_close_together() {
    let site = site().await;
    let live = |text: &str| sample(text, "latchkey_live_sessions");
    site.sign_up("first", "first password").await;
    let first = live(&site.get("/metrics", None).await.body);

    site.sign_up("second", "second password").await;
    let soon_after = live(&site.get("/metrics", None).await.body);

    assert_eq!(first, 1.0);
    assert_eq!(soon_after, 1.0);
}

#[tokio::test]
async fn metrics_count_last_seen_times_waiting_to_be_written_until_they_are() {
    let site = site().await;
    let token = site.sign_up("seen", "seen and noted").await;
    let pending = |text: &str| sample(text, "latchkey_session_last_seen_pending");
    let fresh = pending(&site.get("/metrics", None).await.body);

    site.clock.advance(Duration::from_secs(60));
    site.get("/", Some(&token)).await;
    let queued = pending(&site.get("/metrics", None).await.body);
    site.auth.flush_session_activity().await.expect("written");
    let written = pending(&site.get("/metrics", None).await.body);

    assert_eq!(fresh, 0.0);
    assert_eq!(queued, 1.0);
    assert_eq!(written, 0.0);
    let text = site.get("/metrics", None).await.body;
    assert_eq!(
        sample(&text, "latchkey_session_last_seen_dropped_total"),
        0.0
    );
}

#[tokio::test]
async fn the_last_seen_writer_writes_a_half_full_queue_before_its_regular_turn() {
    let site = site().await;
    let token = site.sign_up("returning", "back after a pause").await;
    let token = latchkey::SessionToken::parse(&token).expect("a token");
    let user = site
        .auth
        .validate_session(&token)
        .await
        .expect("valid")
        .user;
    let mut tokens = Vec::new();
    for _ in 0..4_096 {
        let issued = site
            .auth
            .create_session(&user.id, Device::default())
            .await
            .expect("session created");
        tokens.push(issued.token);
    }
    let writer = tokio::spawn(write_session_activity(site.auth.clone()));
    // The writer's first turn comes at once; the next regular one 5 s later.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let started = std::time::Instant::now();

    site.clock.advance(Duration::from_secs(60));
    for token in &tokens {
        site.auth.validate_session(token).await.expect("valid");
    }
    let queued = site.auth.pending_session_activity();
    while site.auth.pending_session_activity() > 0 && started.elapsed() < Duration::from_secs(4) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let waited = started.elapsed();
    writer.abort();

    assert_eq!(queued, 4_096);
    assert_eq!(
        site.auth.pending_session_activity(),
        0,
        "written after {waited:?}"
    );
    assert!(waited < Duration::from_secs(4));
}

#[test]
fn json_logs_carry_the_request_id_and_metrics_can_listen_apart() {
    let dir = tempfile::tempdir().expect("temp dir");
    let metrics_port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port();
    let metrics_address = format!("127.0.0.1:{metrics_port}");
    let server = Server::start(
        &["--log-format", "json", "--metrics-listen", &metrics_address],
        dir.path(),
    );
    let runtime = tokio::runtime::Runtime::new().expect("runtime");

    let (login, on_main, apart) = runtime.block_on(async {
        let client = reqwest::Client::new();
        let login = client
            .post(server.url("/api/login"))
            .header("x-request-id", "trace-me-123")
            .json(&json!({ "username": "nobody", "password": "secret-password-xyz" }))
            .send()
            .await
            .expect("login answers");
        let on_main = client
            .get(server.url("/metrics"))
            .send()
            .await
            .expect("answers")
            .status();
        let apart = client
            .get(format!("http://{metrics_address}/metrics"))
            .send()
            .await
            .expect("metrics answer")
            .text()
            .await
            .expect("body");
        (login, on_main, apart)
    });
    std::thread::sleep(Duration::from_millis(200));
    let log = server.log.lock().expect("log").clone();

    assert_eq!(login.status(), reqwest::StatusCode::BAD_REQUEST);
    assert_eq!(on_main, reqwest::StatusCode::NOT_FOUND);
    assert!(apart.contains("latchkey_sign_ins_total"));
    let line = log
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .find(|entry| entry["path"] == "/api/login")
        .unwrap_or_else(|| panic!("no JSON request line in\n{log}"));
    assert_eq!(line["span"]["request_id"], "trace-me-123", "{line}");
    assert_eq!(line["status"], 400);
    assert!(!log.contains("secret-password-xyz"));
}

#[test]
fn every_log_line_is_written_before_the_server_exits() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = Server::start(&[], dir.path());
    let log = server.log.clone();
    let runtime = tokio::runtime::Runtime::new().expect("runtime");

    runtime.block_on(async {
        let client = reqwest::Client::new();
        let requests = (0..300).map(|_| client.get(server.url("/login")).send());
        for answer in futures::future::join_all(requests).await {
            assert!(answer.expect("answers").status().is_success());
        }
    });
    let status = server.terminate(Duration::from_secs(10));
    // The reader thread copies the pipe into `log` until the end of the file.
    std::thread::sleep(Duration::from_millis(300));
    let log = log.lock().expect("log").clone();

    assert!(status.success());
    assert_eq!(log.matches(r#"path="/login" status=200"#).count(), 300);
    assert!(log.trim_end().ends_with("stopped"), "{log}");
}
