//! The API routes through the router, over a real SQLite file: the contract of the Lucia
//! guide, in JSON and form variants.

mod common;

use axum::http::StatusCode;
use common::{site, Reply};
use serde_json::json;

fn assert_json_error(reply: &Reply, status: StatusCode, message: &str) {
    assert_eq!(reply.status, status, "{}", reply.body);
    assert_eq!(reply.error(), message);
    assert!(reply.session_cookie().is_none());
}

#[tokio::test]
async fn signing_up_creates_a_user_and_a_session_and_redirects_to_the_profile() {
    let site = site().await;

    let reply = site
        .post_json(
            "/api/signup",
            json!({ "username": "Alice", "password": "wonderland 1865" }),
            None,
        )
        .await;

    assert_eq!(reply.status, StatusCode::FOUND);
    assert_eq!(reply.location(), Some("/"));
    let token = reply.token().expect("session cookie");
    let profile = site.get("/", Some(&token)).await;
    assert_eq!(profile.status, StatusCode::OK);
    assert!(profile.body.contains("Alice"));
}

#[tokio::test]
async fn a_form_sign_up_answers_303_to_the_profile() {
    let site = site().await;

    let reply = site
        .post_form("/api/signup", "username=Bobby&password=builder1", None)
        .await;

    assert_eq!(reply.status, StatusCode::SEE_OTHER);
    assert_eq!(reply.location(), Some("/"));
    assert!(reply.token().is_some());
}

#[tokio::test]
async fn sign_up_enforces_the_username_and_password_rules_in_json() {
    let site = site().await;
    let cases = [
        (
            json!({ "username": "abc", "password": "secret" }),
            "Invalid username",
        ),
        (
            json!({ "username": "a".repeat(32), "password": "secret" }),
            "Invalid username",
        ),
        (
            json!({ "username": " alice", "password": "secret" }),
            "Invalid username",
        ),
        (
            json!({ "username": "al\u{0}ce", "password": "secret" }),
            "Invalid username",
        ),
        (json!({ "password": "secret" }), "Invalid username"),
        (
            json!({ "username": 1234, "password": "secret" }),
            "Invalid username",
        ),
        (
            json!({ "username": null, "password": "secret" }),
            "Invalid username",
        ),
        (
            json!({ "username": "alice", "password": "12345" }),
            "Invalid password",
        ),
        (
            json!({ "username": "alice", "password": "x".repeat(256) }),
            "Invalid password",
        ),
        (json!({ "username": "alice" }), "Invalid password"),
        (
            json!({ "username": "alice", "password": ["secret"] }),
            "Invalid password",
        ),
    ];

    for (body, message) in cases {
        let reply = site.post_json("/api/signup", body.clone(), None).await;
        assert_json_error(&reply, StatusCode::BAD_REQUEST, message);
    }
}

#[tokio::test]
async fn the_length_limits_count_characters_not_bytes() {
    let site = site().await;

    let four = site
        .post_json(
            "/api/signup",
            json!({ "username": "ünïç", "password": "ñññññ1" }),
            None,
        )
        .await;
    let thirty_one = site
        .post_json(
            "/api/signup",
            json!({ "username": "é".repeat(31), "password": "é".repeat(255) }),
            None,
        )
        .await;

    assert_eq!(four.status, StatusCode::FOUND, "{}", four.body);
    assert_eq!(thirty_one.status, StatusCode::FOUND, "{}", thirty_one.body);
}

#[tokio::test]
async fn a_failed_form_sign_up_re_renders_the_page_with_the_message_and_the_username() {
    let site = site().await;

    let reply = site
        .post_form("/api/signup", "username=%3Cb%3Ex%22y&password=123", None)
        .await;

    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert!(reply
        .header("content-type")
        .is_some_and(|value| value.starts_with("text/html")));
    assert!(reply.body.contains("Invalid password"));
    assert!(
        reply.body.contains("value=\"&#60;b&#62;x&#34;y\""),
        "{}",
        reply.body
    );
    assert!(!reply.body.contains("<b>x"));
}

#[tokio::test]
async fn a_username_taken_in_any_case_or_width_is_refused() {
    let site = site().await;
    site.sign_up("Alice", "wonderland 1865").await;

    for taken in ["Alice", "alice", "ALICE", "ＡＬＩＣＥ"] {
        let reply = site
            .post_json(
                "/api/signup",
                json!({ "username": taken, "password": "another one 2" }),
                None,
            )
            .await;
        assert_json_error(&reply, StatusCode::BAD_REQUEST, "Username already taken");
    }
    let form = site
        .post_form("/api/signup", "username=ALICE&password=another+one+2", None)
        .await;
    assert_eq!(form.status, StatusCode::BAD_REQUEST);
    assert!(form.body.contains("Username already taken"));
    assert!(form.body.contains("value=\"ALICE\""));
}

#[tokio::test]
async fn signing_in_issues_a_new_session_each_time() {
    let site = site().await;
    let from_sign_up = site.sign_up("carol", "c4r0l!c4r0l").await;

    let first = site.sign_in("CAROL", "c4r0l!c4r0l").await;
    let second = site.sign_in("carol", "c4r0l!c4r0l").await;

    assert_eq!(first.status, StatusCode::FOUND);
    assert_eq!(first.location(), Some("/"));
    let (first, second) = (
        first.token().expect("cookie"),
        second.token().expect("cookie"),
    );
    assert_ne!(first, from_sign_up);
    assert_ne!(first, second);
    assert_eq!(site.get("/", Some(&second)).await.status, StatusCode::OK);
}

#[tokio::test]
async fn signing_in_over_an_existing_session_ends_it() {
    let site = site().await;
    let old = site.sign_up("dave.o", "      six spaces").await;

    let reply = site
        .post_json(
            "/api/login",
            json!({ "username": "dave.o", "password": "      six spaces" }),
            Some(&old),
        )
        .await;

    let new = reply.token().expect("a new cookie");
    assert_ne!(new, old);
    assert_eq!(site.get("/", Some(&old)).await.location(), Some("/login"));
    assert_eq!(site.get("/", Some(&new)).await.status, StatusCode::OK);
}

#[tokio::test]
async fn a_wrong_password_and_an_unknown_user_get_the_same_answer() {
    let site = site().await;
    site.sign_up("erin", "correct horse").await;

    let wrong = site.sign_in("erin", "battery staple").await;
    let unknown = site.sign_in("nobody", "battery staple").await;

    assert_json_error(
        &wrong,
        StatusCode::BAD_REQUEST,
        "Incorrect username or password",
    );
    assert_eq!(wrong.status, unknown.status);
    assert_eq!(wrong.body, unknown.body);
    let mut wrong_headers: Vec<_> = wrong.headers.keys().map(|name| name.as_str()).collect();
    let mut unknown_headers: Vec<_> = unknown.headers.keys().map(|name| name.as_str()).collect();
    wrong_headers.sort_unstable();
    unknown_headers.sort_unstable();
    assert_eq!(wrong_headers, unknown_headers);
}

#[tokio::test]
async fn sign_in_enforces_its_length_rules() {
    let site = site().await;
    let cases = [
        (
            json!({ "username": "", "password": "x" }),
            "Invalid username",
        ),
        (
            json!({ "username": "a".repeat(32), "password": "x" }),
            "Invalid username",
        ),
        (json!({ "password": "x" }), "Invalid username"),
        (
            json!({ "username": "abc", "password": "" }),
            "Invalid password",
        ),
        (
            json!({ "username": "abc", "password": "x".repeat(256) }),
            "Invalid password",
        ),
        (
            json!({ "username": "abc", "password": false }),
            "Invalid password",
        ),
    ];

    for (body, message) in cases {
        let reply = site.post_json("/api/login", body.clone(), None).await;
        assert_json_error(&reply, StatusCode::BAD_REQUEST, message);
    }
    let short = site.sign_in("a", "x").await;
    assert_json_error(
        &short,
        StatusCode::BAD_REQUEST,
        "Incorrect username or password",
    );
}

#[tokio::test]
async fn a_failed_form_sign_in_re_renders_the_login_page() {
    let site = site().await;
    site.sign_up("frank", "franks password").await;

    let reply = site
        .post_form("/api/login", "username=Frank&password=nope", None)
        .await;

    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert!(reply.body.contains("Incorrect username or password"));
    assert!(reply.body.contains("value=\"Frank\""));
    assert!(reply.body.contains("action=\"/api/login\""));
}

#[tokio::test]
async fn signing_out_ends_the_session_everywhere_and_clears_the_cookie() {
    let site = site().await;
    let token = site.sign_up("gina", "ginas password").await;

    let reply = site
        .post(
            "/api/logout",
            "application/json",
            String::new(),
            Some(&token),
        )
        .await;

    assert_eq!(reply.status, StatusCode::FOUND);
    assert_eq!(reply.location(), Some("/login"));
    let cleared = reply.session_cookie().expect("a clearing cookie");
    assert!(cleared.starts_with("auth_session=;"));
    assert!(cleared.contains("Max-Age=0"));
    assert_eq!(site.get("/", Some(&token)).await.location(), Some("/login"));
    assert!(site.auth.validate_token(&token).await.is_err());
}

#[tokio::test]
async fn a_form_sign_out_answers_303_to_a_login_page_that_clears_the_browser_cache() {
    let site = site().await;
    let token = site.sign_up("hank", "hanks password").await;

    let reply = site.post_form("/api/logout", "", Some(&token)).await;
    let page = site.get("/login?signed-out", None).await;
    let clearing = site.get("/static/signed-out.css", None).await;

    assert_eq!(reply.status, StatusCode::SEE_OTHER);
    assert_eq!(reply.location(), Some("/login?signed-out"));
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("href=\"/static/signed-out.css\""));
    assert!(!site
        .get("/login", None)
        .await
        .body
        .contains("signed-out.css"));
    assert_eq!(clearing.header("clear-site-data"), Some("\"cache\""));
    assert_eq!(clearing.header("cache-control"), Some("no-store"));
}

#[tokio::test]
async fn signing_out_without_a_session_is_401() {
    let site = site().await;

    let none = site
        .post("/api/logout", "application/json", String::new(), None)
        .await;
    let bogus = site
        .post(
            "/api/logout",
            "application/json",
            String::new(),
            Some(&"z".repeat(40)),
        )
        .await;
    let form = site.post_form("/api/logout", "", None).await;

    assert_eq!(none.status, StatusCode::UNAUTHORIZED);
    assert_eq!(none.error(), "Not authenticated");
    assert_eq!(bogus.status, StatusCode::UNAUTHORIZED);
    assert_eq!(form.status, StatusCode::UNAUTHORIZED);
    assert!(form.body.contains("Not authenticated"));
}

#[tokio::test]
async fn a_sign_out_posted_without_a_content_type_works() {
    let site = site().await;
    let token = site.sign_up("ivy_", "ivys password").await;
    let request = common::request(axum::http::Method::POST, "/api/logout")
        .header("cookie", format!("auth_session={token}"))
        .body(axum::body::Body::empty())
        .expect("request");

    let reply = site.send(request).await;

    assert_eq!(reply.status, StatusCode::FOUND);
}
