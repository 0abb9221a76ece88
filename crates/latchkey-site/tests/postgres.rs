//! Several `latchkey` processes on one PostgreSQL database, and PostgreSQL going away under a
//! running instance.

mod common;

use std::time::{Duration, Instant};

use common::process::Server;
use latchkey_testdb::PostgresServer;
use reqwest::{Client, StatusCode};
use serde_json::json;

fn client() -> Client {
    Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client")
}

fn token_of(response: &reqwest::Response) -> Option<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find_map(|value| value.strip_prefix("auth_session="))
        .and_then(|rest| rest.split(';').next())
        .filter(|token| !token.is_empty())
        .map(str::to_owned)
}

async fn sign_up(
    client: &Client,
    server: &Server,
    username: &str,
    password: &str,
) -> reqwest::Response {
    client
        .post(server.url("/api/signup"))
        .json(&json!({ "username": username, "password": password }))
        .send()
        .await
        .expect("sign-up answers")
}

async fn profile(client: &Client, server: &Server, token: &str) -> reqwest::Response {
    client
        .get(server.url("/"))
        .header("cookie", format!("auth_session={token}"))
        .send()
        .await
        .expect("profile answers")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_on_one_database_share_users_and_sessions() {
    let url = latchkey_testdb::fresh_database().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let first = Server::start(&["--database-url", &url], dir.path());
    let second = Server::start(&["--database-url", &url], dir.path());
    let client = client();

    let signed_up = sign_up(&client, &first, "Shared", "across instances").await;
    let token = token_of(&signed_up).expect("a session cookie");
    let on_second = profile(&client, &second, &token).await;
    assert_eq!(on_second.status(), StatusCode::OK);
    assert!(on_second.text().await.expect("body").contains("Shared"));

    let signed_out = client
        .post(second.url("/api/logout"))
        .header("cookie", format!("auth_session={token}"))
        .send()
        .await
        .expect("sign-out answers");
    assert_eq!(signed_out.status(), StatusCode::FOUND);
    let on_first = profile(&client, &first, &token).await;
    assert_eq!(on_first.status(), StatusCode::SEE_OTHER);
    assert_eq!(on_first.headers()["location"], "/login");

    let signed_in = client
        .post(first.url("/api/login"))
        .json(&json!({ "username": "SHARED", "password": "across instances" }))
        .send()
        .await
        .expect("sign-in answers");
    assert_eq!(signed_in.status(), StatusCode::FOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_sign_ups_of_one_name_across_instances_make_exactly_one_user() {
    let url = latchkey_testdb::fresh_database().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let servers = [
        Server::start(&["--database-url", &url], dir.path()),
        Server::start(&["--database-url", &url], dir.path()),
    ];
    let client = client();
    let spellings = ["racer", "RACER", "Racer", "ｒａｃｅｒ"];

    let attempts = (0..24).map(|n| {
        let server = &servers[n % 2];
        sign_up(
            &client,
            server,
            spellings[n % spellings.len()],
            "first past the post",
        )
    });
    let responses = futures::future::join_all(attempts).await;

    let mut created = 0;
    for response in responses {
        match response.status() {
            StatusCode::FOUND => created += 1,
            StatusCode::BAD_REQUEST => {
                let body: serde_json::Value = response.json().await.expect("json");
                assert_eq!(body["error"], "Username already taken");
            }
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!(created, 1);
    let pool = sqlx::PgPool::connect(&url).await.expect("connects");
    let users: i64 = sqlx::query_scalar("SELECT count(*) FROM users")
        .fetch_one(&pool)
        .await
        .expect("counts");
    assert_eq!(users, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_answers_503_while_postgresql_is_down_and_recovers_without_a_restart() {
    let postgres = PostgresServer::start_new();
    let url = postgres.fresh_database().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let server = Server::start(
        &["--database-url", &url, "--database-timeout", "1"],
        dir.path(),
    );
    let client = client();
    let token =
        token_of(&sign_up(&client, &server, "outage", "survives outages").await).expect("cookie");

    postgres.stop();
    let started = Instant::now();
    let page = profile(&client, &server, &token).await;
    let page_time = started.elapsed();
    let health = client
        .get(server.url("/healthz"))
        .send()
        .await
        .expect("health answers");
    let login = client
        .post(server.url("/api/login"))
        .json(&json!({ "username": "outage", "password": "survives outages" }))
        .send()
        .await
        .expect("login answers");

    assert_eq!(page.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(page_time < Duration::from_secs(10), "took {page_time:?}");
    assert_eq!(health.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        health.json::<serde_json::Value>().await.expect("json")["status"],
        "unavailable"
    );
    assert_eq!(login.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        login.json::<serde_json::Value>().await.expect("json")["error"],
        "Service unavailable, try again later"
    );

    postgres.start();
    let deadline = Instant::now() + Duration::from_secs(30);
    let recovered = loop {
        let login = client
            .post(server.url("/api/login"))
            .json(&json!({ "username": "outage", "password": "survives outages" }))
            .send()
            .await
            .expect("login answers");
        if login.status() == StatusCode::FOUND || Instant::now() > deadline {
            break login;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert_eq!(recovered.status(), StatusCode::FOUND);
    assert_eq!(
        client
            .get(server.url("/healthz"))
            .send()
            .await
            .expect("health")
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        profile(&client, &server, &token).await.status(),
        StatusCode::OK
    );
}
