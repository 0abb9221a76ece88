//! HTTP behaviour through the router: malformed requests, methods, sizes, cross-origin writes,
//! cookies, renewal, pages and headers.

mod common;

use std::time::Duration;

use axum::body::Body;
use axum::http::{Method, StatusCode};
use common::{request, site, site_with};
use latchkey_axum::origin::PublicOrigin;
use latchkey_site::SiteConfig;
use serde_json::json;

#[tokio::test]
async fn nothing_a_client_sends_gets_a_server_error() {
    let site = site().await;
    let bodies: [(&str, &[u8]); 12] = [
        ("application/json", b""),
        ("application/json", b"{"),
        ("application/json", b"[]"),
        ("application/json", b"null"),
        ("application/json", b"\xff\xfe\x00"),
        (
            "application/json",
            br#"{"username": {"$gt": ""}, "password": {"$gt": ""}}"#,
        ),
        (
            "application/json",
            br#"{"username": "a\ud800b", "password": "x"}"#,
        ),
        (
            "application/json; charset=latin1",
            br#"{"username":"abcd","password":"abcdef"}"#,
        ),
        ("application/x-www-form-urlencoded", b"\xff\xff=\xff&&&=="),
        (
            "application/x-www-form-urlencoded",
            b"username=%ZZ&password=%",
        ),
        ("application/x-www-form-urlencoded", b""),
        ("application/json", &[b'['; 5000]),
    ];

    for path in ["/api/signup", "/api/login", "/api/logout"] {
        for (content_type, body) in bodies {
            let request = request(Method::POST, path)
                .header("content-type", content_type)
                .body(Body::from(body.to_vec()))
                .expect("request");
            let reply = site.send(request).await;
            assert!(
                !reply.status.is_server_error(),
                "{path} {content_type} {body:?}: {}",
                reply.status
            );
        }
    }
}

#[tokio::test]
async fn malformed_json_is_a_400_with_a_message() {
    let site = site().await;

    let reply = site
        .post(
            "/api/login",
            "application/json",
            "{not json".to_owned(),
            None,
        )
        .await;

    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.error(), "Malformed request body");
}

#[tokio::test]
async fn an_unsupported_content_type_is_415() {
    let site = site().await;

    for content_type in [
        "text/plain",
        "multipart/form-data; boundary=x",
        "application/xml",
    ] {
        let reply = site
            .post(
                "/api/signup",
                content_type,
                "username=abcd&password=abcdef".to_owned(),
                None,
            )
            .await;
        assert_eq!(
            reply.status,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "{content_type}"
        );
        assert!(reply.error().contains("application/json"));
    }
    let missing = request(Method::POST, "/api/login")
        .body(Body::from("{}"))
        .expect("request");
    assert_eq!(
        site.send(missing).await.status,
        StatusCode::UNSUPPORTED_MEDIA_TYPE
    );
}

#[tokio::test]
async fn a_body_over_16_kib_is_413() {
    let site = site().await;
    let password = "x".repeat(17 * 1024);

    let json = site
        .post_json(
            "/api/signup",
            json!({ "username": "abcd", "password": password }),
            None,
        )
        .await;
    let form = site
        .post_form(
            "/api/login",
            &format!("username=abcd&password={password}"),
            None,
        )
        .await;

    assert_eq!(json.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(form.status, StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn other_methods_on_the_api_are_405_with_allow_post() {
    let site = site().await;

    for path in ["/api/signup", "/api/login", "/api/logout"] {
        for method in [Method::GET, Method::PUT, Method::DELETE, Method::PATCH] {
            let reply = site
                .send(
                    request(method.clone(), path)
                        .body(Body::empty())
                        .expect("request"),
                )
                .await;
            assert_eq!(
                reply.status,
                StatusCode::METHOD_NOT_ALLOWED,
                "{method} {path}"
            );
            assert_eq!(reply.header("allow"), Some("POST"));
            assert_eq!(reply.error(), "Method not allowed");
        }
    }
}

#[tokio::test]
async fn cross_origin_writes_are_refused_and_same_origin_ones_pass() {
    let site = site().await;
    let login = json!({ "username": "nobody", "password": "whatever" }).to_string();
    // Each row: headers, whether the write may go through.
    let matrix: [(&[(&str, &str)], bool); 11] = [
        (&[("sec-fetch-site", "same-origin")], true),
        (&[("sec-fetch-site", "none")], true),
        (&[("sec-fetch-site", "same-site")], false),
        (&[("sec-fetch-site", "cross-site")], false),
        (
            &[
                ("sec-fetch-site", "cross-site"),
                ("origin", "http://latchkey.test"),
            ],
            false,
        ),
        (&[("origin", "http://latchkey.test")], true),
        (&[("origin", "https://latchkey.test")], true),
        (&[("origin", "http://evil.test")], false),
        (&[("origin", "http://latchkey.test:8080")], false),
        (&[("origin", "null")], false),
        (&[], true),
    ];

    for (headers, passes) in matrix {
        for path in ["/api/signup", "/api/login", "/api/logout"] {
            let mut builder =
                request(Method::POST, path).header("content-type", "application/json");
            for (name, value) in headers {
                builder = builder.header(*name, *value);
            }
            let reply = site
                .send(builder.body(Body::from(login.clone())).expect("request"))
                .await;
            if passes {
                assert_ne!(reply.status, StatusCode::FORBIDDEN, "{path} {headers:?}");
            } else {
                assert_eq!(reply.status, StatusCode::FORBIDDEN, "{path} {headers:?}");
                assert_eq!(reply.error(), "Cross-origin request refused");
            }
        }
    }
}

#[tokio::test]
async fn a_cross_site_sign_in_creates_no_session_and_a_cross_site_sign_out_ends_none() {
    let site = site().await;
    let victim = site.sign_up("victim", "victims password").await;
    let attack = |path: &str, body: &str, token: Option<&str>| {
        let mut builder = request(Method::POST, path)
            .header("content-type", "application/x-www-form-urlencoded")
            .header("sec-fetch-site", "cross-site")
            .header("origin", "http://evil.test");
        if let Some(token) = token {
            builder = builder.header("cookie", format!("auth_session={token}"));
        }
        builder.body(Body::from(body.to_owned())).expect("request")
    };

    let login = site
        .send(attack(
            "/api/login",
            "username=victim&password=victims+password",
            None,
        ))
        .await;
    let logout = site.send(attack("/api/logout", "", Some(&victim))).await;

    assert_eq!(login.status, StatusCode::FORBIDDEN);
    assert!(login.token().is_none());
    assert_eq!(logout.status, StatusCode::FORBIDDEN);
    assert_eq!(site.get("/", Some(&victim)).await.status, StatusCode::OK);
    let user = site
        .auth
        .validate_token(&victim)
        .await
        .expect("still valid")
        .user;
    assert_eq!(
        site.auth
            .user_sessions(&user.id)
            .await
            .expect("listed")
            .len(),
        1
    );
}

#[tokio::test]
async fn safe_methods_are_never_refused() {
    let site = site().await;

    for method in [Method::GET, Method::HEAD] {
        let request = request(method.clone(), "/login")
            .header("sec-fetch-site", "cross-site")
            .header("origin", "null")
            .body(Body::empty())
            .expect("request");
        assert_eq!(site.send(request).await.status, StatusCode::OK, "{method}");
    }
}

#[tokio::test]
async fn a_configured_public_origin_may_write() {
    let config = SiteConfig {
        public_origin: PublicOrigin::parse("https://login.example.com"),
        ..SiteConfig::default()
    };
    let site = site_with(config).await;
    let body = json!({ "username": "abcd", "password": "abcdef 123" }).to_string();

    let from_public = request(Method::POST, "/api/signup")
        .header("content-type", "application/json")
        .header("origin", "https://login.example.com")
        .body(Body::from(body.clone()))
        .expect("request");
    let from_other = request(Method::POST, "/api/signup")
        .header("content-type", "application/json")
        .header("origin", "https://evil.example.com")
        .body(Body::from(body))
        .expect("request");

    assert_eq!(site.send(from_public).await.status, StatusCode::FOUND);
    assert_eq!(site.send(from_other).await.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn the_session_cookie_has_the_protective_attributes_and_matches_the_session() {
    let site = site().await;

    let reply = site
        .post_json(
            "/api/signup",
            json!({ "username": "cookie", "password": "cookie monster" }),
            None,
        )
        .await;

    let cookie = reply.session_cookie().expect("cookie");
    for attribute in ["HttpOnly", "SameSite=Lax", "Path=/", "Secure"] {
        assert!(cookie.contains(attribute), "{attribute} missing: {cookie}");
    }
    // Fifteen days from the test clock's 2026-01-01: the active plus the idle period.
    assert!(
        cookie.contains(&format!("Max-Age={}", 15 * 24 * 60 * 60)),
        "{cookie}"
    );
    assert!(
        cookie.contains("Expires=Fri, 16 Jan 2026 00:00:00 GMT"),
        "{cookie}"
    );
    assert_eq!(reply.header("cache-control"), Some("no-store"));
}

#[tokio::test]
async fn insecure_cookies_must_be_asked_for_and_drop_only_secure() {
    let site = site_with(SiteConfig {
        insecure_cookies: true,
        ..SiteConfig::default()
    })
    .await;

    let reply = site
        .post_json(
            "/api/signup",
            json!({ "username": "plain", "password": "http only" }),
            None,
        )
        .await;

    let cookie = reply.session_cookie().expect("cookie");
    assert!(!cookie.contains("Secure"));
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"));
}

#[tokio::test]
async fn a_session_extended_by_validation_gets_its_cookie_sent_again() {
    let site = site().await;
    let token = site.sign_up("renew", "renew me").await;
    let day = Duration::from_secs(24 * 60 * 60);

    let quiet = site.get("/", Some(&token)).await;
    site.clock.advance(day + Duration::from_millis(1));
    let renewed = site.get("/", Some(&token)).await;
    let after = site.get("/", Some(&token)).await;

    assert!(quiet.session_cookie().is_none());
    let cookie = renewed.session_cookie().expect("cookie sent again");
    assert!(cookie.starts_with(&format!("auth_session={token};")));
    assert!(
        cookie.contains(&format!("Max-Age={}", 15 * 24 * 60 * 60)),
        "{cookie}"
    );
    assert!(
        cookie.contains("Expires=Sat, 17 Jan 2026 00:00:00 GMT"),
        "{cookie}"
    );
    assert!(after.session_cookie().is_none());
}

#[tokio::test]
async fn malformed_unknown_and_expired_cookies_are_no_session_and_are_cleared() {
    let site = site().await;
    let expired = site.sign_up("expiry", "expire me").await;
    site.clock.advance(Duration::from_secs(16 * 24 * 60 * 60));
    let cases = [
        "",
        "garbage",
        "%%%",
        &"z".repeat(40),
        &"A".repeat(40),
        &expired,
    ];

    for token in cases {
        let reply = site.get("/", Some(token)).await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER, "{token:?}");
        assert_eq!(reply.location(), Some("/login"));
        let cleared = reply.session_cookie().expect("cookie cleared");
        assert!(cleared.contains("Max-Age=0"), "{token:?}");
    }
}

#[tokio::test]
async fn a_token_the_server_did_not_issue_is_never_adopted() {
    let site = site().await;
    site.sign_up("fixate", "fixated!").await;
    let planted = "a".repeat(40);

    let reply = site
        .post_json(
            "/api/login",
            json!({ "username": "fixate", "password": "fixated!" }),
            Some(&planted),
        )
        .await;

    let issued = reply.token().expect("a fresh token");
    assert_ne!(issued, planted);
    assert!(site.auth.validate_token(&planted).await.is_err());
}

#[tokio::test]
async fn the_profile_shows_the_escaped_username_and_is_never_cached() {
    let site = site().await;
    let token = site.sign_up("<b>&\"'x", "escape me").await;

    let reply = site.get("/", Some(&token)).await;

    assert_eq!(reply.status, StatusCode::OK);
    assert!(!reply.body.contains("<b>&"));
    assert!(
        reply.body.contains("&#60;b&#62;&#38;&#34;&#39;x"),
        "{}",
        reply.body
    );
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    assert!(reply.body.contains("action=\"/api/logout\""));
    let user = site.auth.validate_token(&token).await.expect("valid").user;
    assert!(reply.body.contains(user.id.as_str()));
}

#[tokio::test]
async fn an_anonymous_visitor_is_sent_from_the_profile_to_the_login_page() {
    let site = site().await;

    let reply = site.get("/", None).await;

    assert_eq!(reply.status, StatusCode::SEE_OTHER);
    assert_eq!(reply.location(), Some("/login"));
}

#[tokio::test]
async fn a_signed_in_user_is_sent_from_the_forms_to_the_profile() {
    let site = site().await;
    let token = site.sign_up("signedin", "signed in").await;

    for path in ["/login", "/signup"] {
        let reply = site.get(path, Some(&token)).await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER, "{path}");
        assert_eq!(reply.location(), Some("/"));
    }
}

#[tokio::test]
async fn the_forms_match_the_servers_rules() {
    let site = site().await;

    let signup = site.get("/signup", None).await.body;
    let login = site.get("/login", None).await.body;

    for needle in [
        "<label for=\"username\">",
        "<label for=\"password\">",
        "autocomplete=\"username\"",
        "autocomplete=\"new-password\"",
        "minlength=\"4\" maxlength=\"31\"",
        "minlength=\"6\" maxlength=\"255\"",
        "href=\"/login\"",
        "action=\"/api/signup\"",
        "method=\"post\"",
    ] {
        assert!(signup.contains(needle), "signup lacks {needle}");
    }
    for needle in [
        "autocomplete=\"current-password\"",
        "minlength=\"1\" maxlength=\"31\"",
        "minlength=\"1\" maxlength=\"255\"",
        "href=\"/signup\"",
        "action=\"/api/login\"",
    ] {
        assert!(login.contains(needle), "login lacks {needle}");
    }
    assert_eq!(signup.matches("required").count(), 2);
    assert!(signup.contains("<html lang=\"en\">"));
}

#[tokio::test]
async fn every_html_response_carries_the_security_headers() {
    let site = site().await;
    let token = site.sign_up("headers", "headers!").await;

    let replies = [
        site.get("/login", None).await,
        site.get("/signup", None).await,
        site.get("/", Some(&token)).await,
        site.get("/nowhere", None).await,
        site.post_form("/api/login", "username=x&password=y", None)
            .await,
    ];

    for reply in replies {
        let policy = reply.header("content-security-policy").expect("a CSP");
        assert!(policy.contains("frame-ancestors 'none'"));
        assert!(policy.contains("script-src 'self'"));
        assert!(!policy.contains("unsafe-inline"));
        assert_eq!(reply.header("x-content-type-options"), Some("nosniff"));
        assert_eq!(reply.header("referrer-policy"), Some("same-origin"));
    }
}

#[tokio::test]
async fn pages_carry_no_inline_script() {
    let site = site().await;

    for path in ["/login", "/signup"] {
        let body = site.get(path, None).await.body;
        for script in body.split("<script").skip(1) {
            assert!(
                script.trim_start().starts_with("src=\"/static/"),
                "{path}: inline script"
            );
        }
        assert!(!body.contains(" onclick=") && !body.contains(" onsubmit="));
    }
}

#[tokio::test]
async fn static_files_are_served_with_caching_headers() {
    let site = site().await;
    let page = site.get("/login", None).await.body;
    let versioned = page
        .split("href=\"")
        .find_map(|rest| {
            rest.split('"')
                .next()
                .filter(|href| href.starts_with("/static/style.css"))
        })
        .expect("stylesheet link")
        .to_owned();

    let style = site.get(&versioned, None).await;
    let etag = style.header("etag").expect("an etag").to_owned();
    let revalidated = site
        .send(
            request(Method::GET, "/static/app.js")
                .header("if-none-match", "\"nope\"")
                .body(Body::empty())
                .expect("request"),
        )
        .await;
    let unchanged = site
        .send(
            request(Method::GET, "/static/style.css")
                .header("if-none-match", etag)
                .body(Body::empty())
                .expect("request"),
        )
        .await;

    assert_eq!(style.status, StatusCode::OK);
    assert!(style
        .header("content-type")
        .is_some_and(|value| value.starts_with("text/css")));
    assert_eq!(
        style.header("cache-control"),
        Some("public, max-age=31536000, immutable")
    );
    assert_eq!(revalidated.header("cache-control"), Some("no-cache"));
    assert!(revalidated
        .header("content-type")
        .is_some_and(|value| value.starts_with("text/javascript")));
    assert_eq!(unchanged.status, StatusCode::NOT_MODIFIED);
    assert_eq!(
        site.get("/static/../Cargo.toml", None).await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn the_health_check_reports_the_database() {
    let site = site().await;

    let reply = site.get("/healthz", None).await;

    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json()["database"], "up");
}
