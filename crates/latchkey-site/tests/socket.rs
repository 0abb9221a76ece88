//! The whole flow against a real socket, with a client that keeps cookies as a browser does.

mod common;

use latchkey_site::SiteConfig;
use reqwest::redirect::Policy;
use reqwest::StatusCode;

/// A site on a free loopback port: its base URL and the task serving it.
async fn serve_site() -> (String, tokio::task::JoinHandle<std::io::Result<()>>) {
    // Plain HTTP on loopback: the client would rightly withhold a Secure cookie.
    let site = common::site_with(SiteConfig {
        insecure_cookies: true,
        ..SiteConfig::default()
    })
    .await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("address"));
    // The task owns the whole site, temporary directory included, so the database outlives
    // this function.
    let server = tokio::spawn(async move {
        let site = site;
        axum::serve(listener, site.router.clone()).await
    });
    (base, server)
}

#[tokio::test]
async fn a_person_signs_up_sees_the_profile_signs_out_and_signs_in_again() {
    let (base, server) = serve_site().await;
    let browser = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(Policy::limited(5))
        .build()
        .expect("client");

    let login_page = browser.get(format!("{base}/")).send().await.expect("get /");
    assert_eq!(login_page.url().path(), "/login");

    let signed_up = browser
        .post(format!("{base}/api/signup"))
        .form(&[("username", "Ünïcødé"), ("password", "pässwörd ñ 1")])
        .send()
        .await
        .expect("sign up");
    assert_eq!(signed_up.url().path(), "/");
    assert_eq!(signed_up.status(), StatusCode::OK);
    assert!(signed_up.text().await.expect("body").contains("Ünïcødé"));

    let signed_out = browser
        .post(format!("{base}/api/logout"))
        .form(&[("", "")])
        .send()
        .await
        .expect("sign out");
    assert_eq!(signed_out.url().path(), "/login");
    let anonymous = browser.get(format!("{base}/")).send().await.expect("get /");
    assert_eq!(anonymous.url().path(), "/login");

    let wrong = browser
        .post(format!("{base}/api/login"))
        .form(&[("username", "ÜNÏCØDÉ"), ("password", "wrong")])
        .send()
        .await
        .expect("sign in");
    assert_eq!(wrong.status(), StatusCode::BAD_REQUEST);
    assert!(wrong
        .text()
        .await
        .expect("body")
        .contains("Incorrect username or password"));

    let signed_in = browser
        .post(format!("{base}/api/login"))
        .form(&[("username", "ünïcødé"), ("password", "pässwörd ñ 1")])
        .send()
        .await
        .expect("sign in");
    assert_eq!(signed_in.url().path(), "/");
    assert!(signed_in.text().await.expect("body").contains("Ünïcødé"));

    server.abort();
}

#[tokio::test]
async fn a_script_uses_the_json_api_over_a_socket() {
    let (base, server) = serve_site().await;
    let script = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(Policy::none())
        .build()
        .expect("client");

    let signed_up = script
        .post(format!("{base}/api/signup"))
        .json(&serde_json::json!({ "username": "scripted", "password": "by a script" }))
        .send()
        .await
        .expect("sign up");
    let profile = script
        .get(format!("{base}/"))
        .send()
        .await
        .expect("profile");
    let signed_out = script
        .post(format!("{base}/api/logout"))
        .send()
        .await
        .expect("sign out");
    let again = script
        .post(format!("{base}/api/logout"))
        .send()
        .await
        .expect("sign out again");

    assert_eq!(signed_up.status(), StatusCode::FOUND);
    assert_eq!(profile.status(), StatusCode::OK);
    assert_eq!(signed_out.status(), StatusCode::FOUND);
    assert_eq!(again.status(), StatusCode::UNAUTHORIZED);
    let body: serde_json::Value = again.json().await.expect("json");
    assert_eq!(body["error"], "Not authenticated");

    server.abort();
}
