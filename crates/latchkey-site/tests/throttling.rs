//! Throttling through the router, over a real SQLite file, with the site's injected clock:
//! the per-account delay, the per-address buckets, client addresses behind proxies, device
//! cookies, the common-password refusal and the audit trail of it all.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use axum::body::Body;
use axum::extract::connect_info::MockConnectInfo;
use axum::http::header::{CONTENT_TYPE, COOKIE, SET_COOKIE};
use axum::http::{Method, Request, StatusCode};
use common::{request, site_with, Reply, TestSite};
use http_body_util::BodyExt;
use latchkey::audit::AuditFilter;
use latchkey::throttle::RateRule;
use latchkey::{AuditKind, AuditLog, ThrottleConfig};
use latchkey_site::site::client::{ForwardedHeader, TrustedProxies};
use latchkey_site::site::AbuseConfig;
use latchkey_site::SiteConfig;
use serde_json::json;
use tower::ServiceExt;

const TOO_MANY: &str = "Too many attempts, try again later";
const PEER: &str = "192.0.2.10:50000";

async fn site_with_abuse(abuse: AbuseConfig) -> TestSite {
    site_with(SiteConfig {
        abuse,
        ..SiteConfig::default()
    })
    .await
}

async fn plain_site() -> TestSite {
    site_with_abuse(AbuseConfig::default()).await
}

fn limits(sign_ups: u32, failed_sign_ins: u32) -> AbuseConfig {
    AbuseConfig {
        throttle: ThrottleConfig {
            sign_ups: RateRule::per_hour(sign_ups),
            failed_sign_ins: RateRule::per_hour(failed_sign_ins),
            ..ThrottleConfig::default()
        },
        ..AbuseConfig::default()
    }
}

/// Sends `request` as if from the socket peer `peer`.
async fn send_from(site: &TestSite, peer: &str, request: Request<Body>) -> Reply {
    let peer: SocketAddr = peer.parse().expect("socket address");
    let response = site
        .router
        .clone()
        .layer(MockConnectInfo(peer))
        .oneshot(request)
        .await
        .expect("infallible");
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    Reply {
        status,
        headers,
        body: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

fn json_post(path: &str) -> axum::http::request::Builder {
    request(Method::POST, path).header(CONTENT_TYPE, "application/json")
}

fn body(username: &str, password: &str) -> Body {
    Body::from(json!({ "username": username, "password": password }).to_string())
}

async fn sign_in_from(
    site: &TestSite,
    peer: &str,
    username: &str,
    password: &str,
    extra: &[(&str, &str)],
) -> Reply {
    let mut builder = json_post("/api/login");
    for (name, value) in extra {
        builder = builder.header(*name, *value);
    }
    let request = builder.body(body(username, password)).expect("request");
    send_from(site, peer, request).await
}

async fn sign_in(site: &TestSite, username: &str, password: &str) -> Reply {
    sign_in_from(site, PEER, username, password, &[]).await
}

async fn sign_up_from(site: &TestSite, peer: &str, username: &str, password: &str) -> Reply {
    let request = json_post("/api/signup")
        .body(body(username, password))
        .expect("request");
    send_from(site, peer, request).await
}

fn assert_refused(reply: &Reply, retry_after: &str) {
    assert_eq!(
        reply.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        reply.body
    );
    assert_eq!(reply.error(), TOO_MANY);
    assert_eq!(reply.header("retry-after"), Some(retry_after));
    assert!(reply.session_cookie().is_none());
}

fn assert_wrong(reply: &Reply) {
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.body);
    assert_eq!(reply.error(), "Incorrect username or password");
}

/// The `auth_device` cookie a response sets, as `name=value` for a `Cookie` header.
fn device_cookie(reply: &Reply) -> String {
    reply
        .headers
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find(|value| value.starts_with("auth_device="))
        .and_then(|value| value.split(';').next())
        .expect("a device cookie")
        .to_owned()
}

async fn fail_five_times(site: &TestSite, username: &str) {
    for _ in 0..5 {
        assert_wrong(&sign_in(site, username, "not the password").await);
    }
}

#[tokio::test]
async fn an_account_is_refused_for_a_doubling_delay_after_five_failures_even_with_the_right_password(
) {
    let site = plain_site().await;
    assert_eq!(
        sign_up_from(&site, PEER, "alice", "lewis carroll 1865")
            .await
            .status,
        StatusCode::FOUND
    );

    fail_five_times(&site, "alice").await;
    assert_refused(&sign_in(&site, "alice", "lewis carroll 1865").await, "1");
    site.clock.advance(Duration::from_millis(999));
    assert_refused(&sign_in(&site, "alice", "lewis carroll 1865").await, "1");
    site.clock.advance(Duration::from_millis(1));
    assert_wrong(&sign_in(&site, "alice", "still wrong").await);
    assert_refused(&sign_in(&site, "ALICE", "lewis carroll 1865").await, "2");
    site.clock.advance(Duration::from_secs(2));
    assert_wrong(&sign_in(&site, "alice", "still wrong").await);
    assert_refused(&sign_in(&site, "alice", "lewis carroll 1865").await, "4");
    site.clock.advance(Duration::from_secs(4));

    let signed_in = sign_in(&site, "alice", "lewis carroll 1865").await;

    assert_eq!(signed_in.status, StatusCode::FOUND, "{}", signed_in.body);
    assert!(signed_in.token().is_some());
    fail_five_times(&site, "alice").await;
    assert_refused(&sign_in(&site, "alice", "lewis carroll 1865").await, "1");
}

#[tokio::test]
async fn the_delay_grows_to_fifteen_minutes_and_no_further() {
    let site = plain_site().await;

    fail_five_times(&site, "target").await;
    for expected in [1_u64, 2, 4, 8, 16, 32, 64, 128, 256, 512, 900, 900] {
        let refused = sign_in(&site, "target", "guess").await;
        assert_refused(&refused, &expected.to_string());
        site.clock.advance(Duration::from_secs(expected));
        assert_wrong(&sign_in(&site, "target", "guess").await);
    }
}

#[tokio::test]
async fn an_unknown_username_is_throttled_exactly_like_a_real_one() {
    let site = plain_site().await;
    site.sign_up("realuser", "a real password 1").await;

    let mut seen = Vec::new();
    for username in ["realuser", "ghostuser"] {
        let mut replies = Vec::new();
        for _ in 0..7 {
            let reply = sign_in(&site, username, "wrong password").await;
            replies.push((
                reply.status,
                reply.header("retry-after").map(str::to_owned),
                reply.body,
            ));
        }
        seen.push(replies);
    }

    assert_eq!(seen[0], seen[1]);
    assert_eq!(seen[0][5].0, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn throttling_one_account_leaves_other_accounts_alone() {
    let site = plain_site().await;
    site.sign_up("bystander", "innocent bystander 9").await;

    fail_five_times(&site, "victim").await;
    assert_refused(&sign_in(&site, "victim", "x").await, "1");

    let other = sign_in(&site, "bystander", "innocent bystander 9").await;
    assert_eq!(other.status, StatusCode::FOUND, "{}", other.body);
}

#[tokio::test]
async fn a_refused_form_sign_in_re_renders_the_page_with_the_message() {
    let site = plain_site().await;
    fail_five_times(&site, "formuser").await;

    let request = request(Method::POST, "/api/login")
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from("username=formuser&password=guess"))
        .expect("request");
    let reply = send_from(&site, PEER, request).await;

    assert_eq!(reply.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(reply.header("retry-after"), Some("1"));
    assert!(reply
        .header("content-type")
        .unwrap_or_default()
        .starts_with("text/html"));
    assert!(reply.body.contains(TOO_MANY), "{}", reply.body);
    assert!(reply.body.contains("value=\"formuser\""));
}

#[tokio::test]
async fn failed_sign_ins_per_address_are_limited_and_refill_over_the_hour() {
    let site = site_with_abuse(limits(300, 3)).await;
    site.sign_up("loyal", "loyal customer 42").await;

    for _ in 0..3 {
        assert_eq!(
            sign_in(&site, "loyal", "loyal customer 42").await.status,
            StatusCode::FOUND
        );
    }
    for name in ["one", "two", "three"] {
        assert_wrong(&sign_in(&site, name, "guess").await);
    }
    assert_refused(&sign_in(&site, "four", "guess").await, "1200");
    assert_refused(&sign_in(&site, "loyal", "loyal customer 42").await, "1200");
    assert_wrong(&sign_in_from(&site, "192.0.2.11:1", "four", "guess", &[]).await);

    site.clock.advance(Duration::from_secs(1_199));
    assert_refused(&sign_in(&site, "four", "guess").await, "1");
    site.clock.advance(Duration::from_secs(1));
    assert_wrong(&sign_in(&site, "four", "guess").await);
    assert_refused(&sign_in(&site, "five", "guess").await, "1200");
}

#[tokio::test]
async fn sign_ups_per_address_are_limited_whatever_their_outcome() {
    let site = site_with_abuse(limits(2, 300)).await;

    assert_eq!(
        sign_up_from(&site, PEER, "first", "first password 1")
            .await
            .status,
        StatusCode::FOUND
    );
    let taken = sign_up_from(&site, PEER, "FIRST", "first password 1").await;
    assert_eq!(taken.error(), "Username already taken");
    let refused = sign_up_from(&site, PEER, "second", "second password 2").await;
    let elsewhere = sign_up_from(&site, "198.51.100.1:9", "second", "second password 2").await;

    assert_refused(&refused, "1800");
    assert_eq!(elsewhere.status, StatusCode::FOUND);
}

#[tokio::test]
async fn ipv6_clients_share_one_limit_per_64_network() {
    let site = site_with_abuse(limits(300, 2)).await;

    assert_wrong(&sign_in_from(&site, "[2001:db8:1:2::1]:1", "a", "guess", &[]).await);
    assert_wrong(&sign_in_from(&site, "[2001:db8:1:2:ffff::9]:1", "b", "guess", &[]).await);
    let same_network = sign_in_from(&site, "[2001:db8:1:2:abcd::1]:1", "c", "guess", &[]).await;
    let next_network = sign_in_from(&site, "[2001:db8:1:3::1]:1", "c", "guess", &[]).await;

    assert_refused(&same_network, "1800");
    assert_wrong(&next_network);
}

#[tokio::test]
async fn forged_forwarding_headers_are_ignored_without_a_trusted_proxy() {
    let site = site_with_abuse(limits(300, 2)).await;

    let mut replies = Vec::new();
    for (n, forged) in ["203.0.113.1", "203.0.113.2", "203.0.113.3"]
        .iter()
        .enumerate()
    {
        let headers = [
            ("x-forwarded-for", *forged),
            ("forwarded", &*format!("for={forged}")),
            ("x-real-ip", *forged),
        ];
        replies.push(sign_in_from(&site, PEER, &format!("user{n}"), "guess", &headers).await);
    }

    assert_wrong(&replies[0]);
    assert_wrong(&replies[1]);
    assert_refused(&replies[2], "1800");
}

#[tokio::test]
async fn behind_a_trusted_proxy_the_right_most_untrusted_address_is_limited() {
    let mut abuse = limits(300, 2);
    let networks = vec!["10.0.0.0/8".parse().expect("cidr")];
    abuse.trusted_proxies = TrustedProxies::new(networks, ForwardedHeader::XForwardedFor);
    let site = site_with_abuse(abuse).await;
    let proxy = "10.0.0.1:443";

    // The attacker at 198.51.100.7 writes a different address to the left each time.
    for (n, forged) in ["1.1.1.1", "2.2.2.2"].iter().enumerate() {
        let xff = format!("{forged}, 198.51.100.7, 10.0.0.2");
        let headers = [("x-forwarded-for", xff.as_str())];
        assert_wrong(&sign_in_from(&site, proxy, &format!("u{n}"), "guess", &headers).await);
    }
    let xff = [("x-forwarded-for", "3.3.3.3, 198.51.100.7, 10.0.0.2")];
    let attacker = sign_in_from(&site, proxy, "u3", "guess", &xff).await;
    let neighbour = [("x-forwarded-for", "198.51.100.8")];
    let other = sign_in_from(&site, proxy, "u4", "guess", &neighbour).await;
    let direct = sign_in_from(&site, "198.51.100.7:1", "u5", "guess", &xff).await;

    assert_refused(&attacker, "1800");
    assert_wrong(&other);
    assert_refused(&direct, "1800");
    let log = AuditLog::new(site.auth.adapter().clone(), site.auth.clock().clone());
    let filter = AuditFilter {
        user: Some("u4".into()),
        ..AuditFilter::default()
    };
    let events = log.recent(&filter).await.expect("audit");
    assert_eq!(events[0].address.as_deref(), Some("198.51.100.8"));
}

#[tokio::test]
async fn a_device_cookie_lets_its_browser_sign_in_while_the_account_is_locked() {
    let site = plain_site().await;
    let signed_up = sign_up_from(&site, PEER, "owner", "owners own password").await;
    let device = device_cookie(&signed_up);

    fail_five_times(&site, "owner").await;
    assert_refused(&sign_in(&site, "owner", "owners own password").await, "1");
    let cookie = [("cookie", device.as_str())];
    let from_device = sign_in_from(&site, PEER, "owner", "owners own password", &cookie).await;

    assert_eq!(
        from_device.status,
        StatusCode::FOUND,
        "{}",
        from_device.body
    );
    let renewed = device_cookie(&from_device);
    assert_eq!(
        renewed.split('.').nth(1),
        device.split('.').nth(1),
        "same device id"
    );
    assert_refused(&sign_in(&site, "owner", "owners own password").await, "1");
}

#[tokio::test]
async fn a_device_that_keeps_failing_gets_a_delay_of_its_own() {
    let site = plain_site().await;
    let device = device_cookie(&sign_up_from(&site, PEER, "owner", "owners own password").await);
    let cookie = [("cookie", device.as_str())];

    for _ in 0..5 {
        assert_wrong(&sign_in_from(&site, PEER, "owner", "guess", &cookie).await);
    }
    let device_refused = sign_in_from(&site, PEER, "owner", "owners own password", &cookie).await;
    let without_cookie = sign_in(&site, "owner", "owners own password").await;

    assert_refused(&device_refused, "1");
    assert_eq!(
        without_cookie.status,
        StatusCode::FOUND,
        "the account itself is not locked"
    );
}

#[tokio::test]
async fn a_forged_or_transplanted_device_cookie_gives_no_exemption() {
    let site = plain_site().await;
    let alice = device_cookie(&sign_up_from(&site, PEER, "alice", "alices password 1").await);
    let bob = device_cookie(&sign_up_from(&site, PEER, "bobby", "bobbys password 1").await);
    fail_five_times(&site, "alice").await;

    let mut tampered = alice.clone().into_bytes();
    let last = tampered.len() - 1;
    tampered[last] = if tampered[last] == b'0' { b'1' } else { b'0' };
    let tampered = String::from_utf8(tampered).expect("ascii");
    let mut later_expiry = alice.clone();
    later_expiry.insert(later_expiry.find('=').expect("=") + 1, '9');
    let invented =
        "auth_device=99999999999.0123456789abcdef0123456789abcdef.".to_owned() + &"ab".repeat(32);

    for cookie in [
        bob,
        tampered,
        later_expiry,
        invented,
        "auth_device=garbage".into(),
    ] {
        let headers = [("cookie", cookie.as_str())];
        let reply = sign_in_from(&site, PEER, "alice", "alices password 1", &headers).await;
        assert_refused(&reply, "1");
    }
    let genuine = [("cookie", alice.as_str())];
    let reply = sign_in_from(&site, PEER, "alice", "alices password 1", &genuine).await;
    assert_eq!(reply.status, StatusCode::FOUND);
}

#[tokio::test]
async fn the_device_cookie_is_http_only_lax_long_lived_and_sent_only_to_sign_in() {
    let site = plain_site().await;
    let reply = sign_up_from(&site, PEER, "cookied", "cookie jar 2000").await;

    let set = reply
        .headers
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find(|value| value.starts_with("auth_device="))
        .expect("device cookie")
        .to_owned();

    for attribute in [
        "HttpOnly",
        "SameSite=Lax",
        "Path=/api/login",
        "Secure",
        "Max-Age=31536000",
    ] {
        assert!(set.contains(attribute), "{attribute} missing from {set}");
    }
    assert!(
        !set.contains("cookied"),
        "the cookie does not name the account: {set}"
    );
    assert!(reply.session_cookie().is_some());
}

#[tokio::test]
async fn a_common_password_is_refused_at_sign_up_in_any_case_or_width() {
    let site = plain_site().await;

    for password in [
        "password1",
        "Password1",
        "ＰＡＳＳＷＯＲＤ1",
        "qwerty123",
        "iloveyou",
    ] {
        let reply = sign_up_from(&site, PEER, "careless", password).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{password}");
        assert_eq!(reply.error(), "Password is too common");
        assert!(reply.session_cookie().is_none());
    }
    let form = request(Method::POST, "/api/signup")
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from("username=careless&password=letmein1"))
        .expect("request");
    let page = send_from(&site, PEER, form).await;

    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert!(page.body.contains("Password is too common"));
    let fine = sign_up_from(&site, PEER, "careless", "letmein1 but longer").await;
    assert_eq!(fine.status, StatusCode::FOUND);
}

#[tokio::test]
async fn the_audit_log_records_each_step_without_a_secret() {
    let site = plain_site().await;
    let agent = [("user-agent", "Audit/1.0")];
    let password = "correct staple 77";

    let signed_up = sign_up_from(&site, PEER, "Audited", password).await;
    let token = signed_up.token().expect("token");
    fail_five_times(&site, "audited").await;
    let refused = sign_in_from(&site, PEER, "audited", password, &agent).await;
    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
    site.clock.advance(Duration::from_secs(1));
    let signed_in = sign_in_from(&site, PEER, "audited", password, &agent).await;
    let new_token = signed_in.token().expect("token");
    let logout = request(Method::POST, "/api/logout")
        .header(COOKIE, format!("auth_session={new_token}"))
        .body(Body::empty())
        .expect("request");
    assert_eq!(
        send_from(&site, PEER, logout).await.status,
        StatusCode::FOUND
    );

    let log = AuditLog::new(site.auth.adapter().clone(), site.auth.clock().clone());
    let events = log.recent(&AuditFilter::default()).await.expect("audit");
    let kinds: Vec<AuditKind> = events.iter().rev().map(|event| event.kind).collect();
    assert_eq!(
        kinds,
        [
            [AuditKind::SignUp].as_slice(),
            &[AuditKind::SignInFailed; 5],
            &[AuditKind::Throttled, AuditKind::SignIn, AuditKind::SignOut],
        ]
        .concat()
    );
    let user_id = events[0].user_id.clone().expect("user id");
    for event in &events {
        assert_eq!(event.username.as_deref(), Some("audited"));
        assert_eq!(event.address.as_deref(), Some("192.0.2.10"));
        let text = format!("{event:?}");
        for secret in [password, &token, &new_token, "not the password"] {
            assert!(!text.contains(secret), "{text}");
        }
    }
    assert_eq!(events[0].user_id.as_ref(), Some(&user_id));
    assert_eq!(events[1].user_agent.as_deref(), Some("Audit/1.0"));
    assert_eq!(events[2].detail.as_deref(), Some("account"));
}
