//! A signed-in person's own account: sessions, password and deletion, through the router on
//! SQLite and on PostgreSQL.

mod common;

use std::time::Duration;

use axum::body::Body;
use axum::http::{Method, StatusCode};
use common::{request, Reply, TestSite};
use serde_json::{json, Value};

const PASSWORD: &str = "my own secret";
const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";

/// Runs each scenario on SQLite and on PostgreSQL.
macro_rules! on_both_databases {
    ($($scenario:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    super::$scenario(super::common::site().await).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    super::$scenario(super::common::site_on_postgres().await).await;
                }
            )*
        }
    };
}

on_both_databases!(
    the_profile_lists_the_users_live_sessions_and_marks_this_device,
    last_seen_moves_at_most_once_a_minute,
    revoking_a_session_ends_that_one_only,
    revoking_the_current_session_signs_this_browser_out,
    signing_out_everywhere_else_keeps_this_session,
    signing_out_everywhere_else_after_ten_minutes_needs_the_password,
    changing_the_password_needs_the_current_one_and_ends_other_sessions,
    a_new_password_must_follow_the_policy,
    a_form_that_changes_the_password_answers_303_or_the_profile_with_the_message,
    deleting_the_account_needs_the_password_and_removes_everything,
    account_actions_without_a_session_are_401,
    guessing_the_password_through_account_actions_is_throttled,
);

async fn sign_in_as(site: &TestSite, agent: &str) -> String {
    let request = request(Method::POST, "/api/login")
        .header("content-type", "application/json")
        .header("user-agent", agent)
        .body(Body::from(
            json!({ "username": "owner", "password": PASSWORD }).to_string(),
        ))
        .expect("request");
    site.send(request).await.token().expect("signed in")
}

async fn sessions(site: &TestSite, token: &str) -> Vec<Value> {
    let reply = site.get("/api/sessions", Some(token)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    reply.json()["sessions"].as_array().expect("a list").clone()
}

/// The public id of the session `token` holds.
async fn own_id(site: &TestSite, token: &str) -> Value {
    let listed = sessions(site, token).await;
    let current = listed.iter().find(|session| session["current"] == true);
    current.expect("the current session is listed")["id"].clone()
}

async fn post(site: &TestSite, path: &str, body: Value, token: &str) -> Reply {
    site.post_json(path, body, Some(token)).await
}

async fn the_profile_lists_the_users_live_sessions_and_marks_this_device(site: TestSite) {
    let first = site.sign_up("owner", PASSWORD).await;
    let second = sign_in_as(&site, FIREFOX).await;

    let listed = sessions(&site, &second).await;
    let page = site.get("/", Some(&second)).await;

    assert_eq!(listed.len(), 2);
    let current: Vec<_> = listed.iter().filter(|s| s["current"] == true).collect();
    assert_eq!(current.len(), 1);
    assert_eq!(current[0]["device"], "Firefox on Linux");
    assert_eq!(current[0]["id"].as_str().map(str::len), Some(64));
    assert!(!page.body.contains(&first) && !page.body.contains(&second));
    assert_eq!(page.body.matches("this device").count(), 1);
    assert!(page.body.contains("Firefox on Linux"));
    assert!(page.body.contains("just now"));
    assert_eq!(
        page.body.matches("action=\"/api/sessions/revoke\"").count(),
        1
    );
}

async fn last_seen_moves_at_most_once_a_minute(site: TestSite) {
    let token = site.sign_up("owner", PASSWORD).await;
    let last_seen = |listed: Vec<Value>| listed[0]["last_seen_at"].as_i64().expect("a time");
    let at_start = last_seen(sessions(&site, &token).await);

    site.clock.advance(Duration::from_secs(59));
    let early = last_seen(sessions(&site, &token).await);
    site.clock.advance(Duration::from_secs(1));
    let due = last_seen(sessions(&site, &token).await);

    assert_eq!(early, at_start);
    assert_eq!(due, at_start + 60_000);
}

async fn revoking_a_session_ends_that_one_only(site: TestSite) {
    let phone = site.sign_up("owner", PASSWORD).await;
    let laptop = sign_in_as(&site, FIREFOX).await;
    let stranger = site.sign_up("stranger", "strangers password").await;
    let phone_id = own_id(&site, &phone).await;
    let stranger_id = own_id(&site, &stranger).await;

    let foreign = post(
        &site,
        "/api/sessions/revoke",
        json!({ "session": stranger_id }),
        &laptop,
    )
    .await;
    let garbage = post(
        &site,
        "/api/sessions/revoke",
        json!({ "session": "zz" }),
        &laptop,
    )
    .await;
    let revoked = post(
        &site,
        "/api/sessions/revoke",
        json!({ "session": phone_id }),
        &laptop,
    )
    .await;

    assert_eq!(foreign.status, StatusCode::NOT_FOUND);
    assert_eq!(foreign.error(), "No such session");
    assert_eq!(garbage.status, StatusCode::BAD_REQUEST);
    assert_eq!(revoked.status, StatusCode::OK);
    assert_eq!(revoked.json()["revoked"], 1);
    assert_eq!(site.get("/", Some(&phone)).await.location(), Some("/login"));
    assert_eq!(site.get("/", Some(&laptop)).await.status, StatusCode::OK);
    assert_eq!(site.get("/", Some(&stranger)).await.status, StatusCode::OK);
}

async fn revoking_the_current_session_signs_this_browser_out(site: TestSite) {
    let token = site.sign_up("owner", PASSWORD).await;
    let id = own_id(&site, &token).await;

    let reply = site
        .post_form(
            "/api/sessions/revoke",
            &format!("session={}", id.as_str().expect("id")),
            Some(&token),
        )
        .await;

    assert_eq!(reply.status, StatusCode::SEE_OTHER);
    assert_eq!(reply.location(), Some("/login?signed-out"));
    assert!(reply
        .session_cookie()
        .expect("cleared")
        .contains("Max-Age=0"));
    assert!(site.auth.validate_token(&token).await.is_err());
}

async fn signing_out_everywhere_else_keeps_this_session(site: TestSite) {
    let elsewhere = site.sign_up("owner", PASSWORD).await;
    let also = sign_in_as(&site, "curl/8.0").await;
    let here = sign_in_as(&site, FIREFOX).await;

    let reply = post(&site, "/api/sessions/revoke-others", json!({}), &here).await;

    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.json()["revoked"], 2);
    assert!(site.auth.validate_token(&elsewhere).await.is_err());
    assert!(site.auth.validate_token(&also).await.is_err());
    assert_eq!(sessions(&site, &here).await.len(), 1);
}

async fn signing_out_everywhere_else_after_ten_minutes_needs_the_password(site: TestSite) {
    let elsewhere = site.sign_up("owner", PASSWORD).await;
    let here = sign_in_as(&site, FIREFOX).await;
    site.clock.advance(Duration::from_secs(10 * 60 + 1));

    let bare = post(&site, "/api/sessions/revoke-others", json!({}), &here).await;
    let wrong = post(
        &site,
        "/api/sessions/revoke-others",
        json!({ "password": "nope" }),
        &here,
    )
    .await;
    let page = site.get("/", Some(&here)).await;
    let right = post(
        &site,
        "/api/sessions/revoke-others",
        json!({ "password": PASSWORD }),
        &here,
    )
    .await;

    assert_eq!(bare.status, StatusCode::FORBIDDEN);
    assert_eq!(bare.error(), "Enter your password to confirm");
    assert_eq!(wrong.status, StatusCode::BAD_REQUEST);
    assert_eq!(wrong.error(), "Incorrect password");
    assert!(page.body.contains("id=\"others-password\""));
    assert_eq!(right.status, StatusCode::OK);
    assert!(site.auth.validate_token(&elsewhere).await.is_err());
    assert!(site.auth.validate_token(&here).await.is_ok());
}

async fn changing_the_password_needs_the_current_one_and_ends_other_sessions(site: TestSite) {
    let elsewhere = site.sign_up("owner", PASSWORD).await;
    let here = sign_in_as(&site, FIREFOX).await;
    let new = "a brand new passphrase";

    let wrong = post(
        &site,
        "/api/password",
        json!({ "current_password": "nope", "new_password": new }),
        &here,
    )
    .await;
    let changed = post(
        &site,
        "/api/password",
        json!({ "current_password": PASSWORD, "new_password": new }),
        &here,
    )
    .await;

    assert_eq!(wrong.status, StatusCode::BAD_REQUEST);
    assert_eq!(wrong.error(), "Incorrect password");
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.body);
    assert_eq!(changed.json()["revoked"], 1);
    assert!(site.auth.validate_token(&elsewhere).await.is_err());
    assert!(site.auth.validate_token(&here).await.is_ok());
    assert_eq!(
        site.sign_in("owner", PASSWORD).await.status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(site.sign_in("owner", new).await.status, StatusCode::FOUND);
}

async fn a_new_password_must_follow_the_policy(site: TestSite) {
    let token = site.sign_up("owner", PASSWORD).await;
    let change = |new: &str| json!({ "current_password": PASSWORD, "new_password": new });

    let common = post(&site, "/api/password", change("Password123"), &token).await;
    let short = post(&site, "/api/password", change("12345"), &token).await;
    let missing = post(
        &site,
        "/api/password",
        json!({ "current_password": PASSWORD }),
        &token,
    )
    .await;

    assert_eq!(common.status, StatusCode::BAD_REQUEST);
    assert_eq!(common.error(), "Password is too common");
    assert_eq!(short.error(), "Invalid new password");
    assert_eq!(missing.error(), "Invalid new password");
    assert_eq!(
        site.sign_in("owner", PASSWORD).await.status,
        StatusCode::FOUND
    );
}

async fn a_form_that_changes_the_password_answers_303_or_the_profile_with_the_message(
    site: TestSite,
) {
    let token = site.sign_up("owner", PASSWORD).await;

    let failed = site
        .post_form(
            "/api/password",
            "current_password=wrong&new_password=another+passphrase",
            Some(&token),
        )
        .await;
    let changed = site
        .post_form(
            "/api/password",
            "current_password=my+own+secret&new_password=another+passphrase",
            Some(&token),
        )
        .await;

    assert_eq!(failed.status, StatusCode::BAD_REQUEST);
    assert!(failed.body.contains("Incorrect password"));
    assert!(failed.body.contains("<h1>Profile</h1>"));
    assert_eq!(changed.status, StatusCode::SEE_OTHER);
    assert_eq!(changed.location(), Some("/"));
}

async fn deleting_the_account_needs_the_password_and_removes_everything(site: TestSite) {
    let elsewhere = site.sign_up("owner", PASSWORD).await;
    let here = sign_in_as(&site, FIREFOX).await;
    let user = site.auth.validate_token(&here).await.expect("valid").user;

    let wrong = post(
        &site,
        "/api/account/delete",
        json!({ "password": "nope" }),
        &here,
    )
    .await;
    let deleted = post(
        &site,
        "/api/account/delete",
        json!({ "password": PASSWORD }),
        &here,
    )
    .await;

    assert_eq!(wrong.status, StatusCode::BAD_REQUEST);
    assert_eq!(deleted.status, StatusCode::OK, "{}", deleted.body);
    assert!(deleted
        .session_cookie()
        .expect("cleared")
        .contains("Max-Age=0"));
    assert!(site.auth.user(&user.id).await.is_err());
    assert!(site
        .auth
        .user_keys(&user.id)
        .await
        .expect("listed")
        .is_empty());
    assert!(site.auth.validate_token(&elsewhere).await.is_err());
    assert_eq!(
        site.sign_in("owner", PASSWORD).await.status,
        StatusCode::BAD_REQUEST
    );
    site.sign_up("owner", "the name is free again").await;
}

async fn account_actions_without_a_session_are_401(site: TestSite) {
    for path in [
        "/api/sessions/revoke",
        "/api/sessions/revoke-others",
        "/api/password",
        "/api/account/delete",
    ] {
        let reply = site.post_json(path, json!({}), None).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{path}");
        assert_eq!(reply.error(), "Not authenticated");
    }
    assert_eq!(
        site.get("/api/sessions", None).await.status,
        StatusCode::UNAUTHORIZED
    );
}

async fn guessing_the_password_through_account_actions_is_throttled(site: TestSite) {
    let token = site.sign_up("owner", PASSWORD).await;
    let guess = |n: usize| json!({ "password": format!("guess number {n}") });

    for n in 0..5 {
        let reply = post(&site, "/api/account/delete", guess(n), &token).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "guess {n}");
    }
    let refused = post(
        &site,
        "/api/account/delete",
        json!({ "password": PASSWORD }),
        &token,
    )
    .await;

    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(refused.header("retry-after").is_some());
    assert!(site.auth.validate_token(&token).await.is_ok());
}
