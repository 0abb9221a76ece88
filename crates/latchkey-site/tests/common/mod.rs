//! A site over a real SQLite file, driven through its router.

#![allow(dead_code)]

pub mod process;

use std::sync::Arc;

use axum::body::Body;
use axum::http::header::{CONTENT_TYPE, COOKIE, HOST, LOCATION, SET_COOKIE};
use axum::http::{HeaderMap, Method, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use latchkey::{Auth, ManualClock};
use latchkey_site::{SiteAuth, SiteConfig};
use latchkey_sqlite::SqliteAdapter;
use tempfile::TempDir;
use tower::ServiceExt;

/// The clock every test site starts at: 2026-01-01T00:00:00Z.
pub const START: i64 = 1_767_225_600_000;

pub struct TestSite {
    pub router: Router,
    pub auth: SiteAuth,
    pub clock: Arc<ManualClock>,
    _dir: TempDir,
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }

    pub fn location(&self) -> Option<&str> {
        self.header(LOCATION.as_str())
    }

    /// The `Set-Cookie` header for the session, if any.
    pub fn session_cookie(&self) -> Option<&str> {
        self.headers
            .get_all(SET_COOKIE)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .find(|value| value.starts_with("auth_session="))
    }

    /// The session token the response hands out, if any.
    pub fn token(&self) -> Option<String> {
        let cookie = self.session_cookie()?;
        let value = cookie
            .trim_start_matches("auth_session=")
            .split(';')
            .next()?;
        (!value.is_empty()).then(|| value.to_owned())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|_| panic!("not JSON: {}", self.body))
    }

    pub fn error(&self) -> String {
        self.json()["error"]
            .as_str()
            .expect("an error message")
            .to_owned()
    }
}

pub async fn site() -> TestSite {
    site_with(SiteConfig::default()).await
}

pub async fn site_with(config: SiteConfig) -> TestSite {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("site.db");
    let adapter = SqliteAdapter::connect(path.to_str().expect("utf-8 path"))
        .await
        .expect("sqlite opens");
    let clock = Arc::new(ManualClock::at_millis(START));
    let auth: SiteAuth = Auth::builder(adapter)
        .clock(clock.clone())
        .hasher(latchkey::testing::cheap_hashing())
        .build()
        .expect("auth builds");
    TestSite {
        router: latchkey_site::router(auth.clone(), &config),
        auth,
        clock,
        _dir: dir,
    }
}

/// A site like [`site`] over a fresh database of the test PostgreSQL server.
pub async fn site_on_postgres() -> TestSite {
    let url = latchkey_testdb::fresh_database().await;
    let adapter = latchkey_postgres::PostgresAdapter::connect(&url)
        .await
        .expect("postgres opens");
    let clock = Arc::new(ManualClock::at_millis(START));
    let auth: SiteAuth = Auth::builder(adapter)
        .clock(clock.clone())
        .hasher(latchkey::testing::cheap_hashing())
        .build()
        .expect("auth builds");
    TestSite {
        router: latchkey_site::router(auth.clone(), &SiteConfig::default()),
        auth,
        clock,
        _dir: tempfile::tempdir().expect("temp dir"),
    }
}

/// A request builder with a `Host` header, as every HTTP/1.1 client sends.
pub fn request(method: Method, path: &str) -> axum::http::request::Builder {
    Request::builder()
        .method(method)
        .uri(path)
        .header(HOST, "latchkey.test")
}

impl TestSite {
    pub async fn send(&self, request: Request<Body>) -> Reply {
        let response = self
            .router
            .clone()
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

    pub async fn get(&self, path: &str, token: Option<&str>) -> Reply {
        let mut builder = request(Method::GET, path);
        if let Some(token) = token {
            builder = builder.header(COOKIE, format!("auth_session={token}"));
        }
        self.send(builder.body(Body::empty()).expect("request"))
            .await
    }

    pub async fn post_json(
        &self,
        path: &str,
        body: serde_json::Value,
        token: Option<&str>,
    ) -> Reply {
        self.post(path, "application/json", body.to_string(), token)
            .await
    }

    pub async fn post_form(&self, path: &str, body: &str, token: Option<&str>) -> Reply {
        self.post(
            path,
            "application/x-www-form-urlencoded",
            body.to_owned(),
            token,
        )
        .await
    }

    pub async fn post(
        &self,
        path: &str,
        content_type: &str,
        body: String,
        token: Option<&str>,
    ) -> Reply {
        let mut builder = request(Method::POST, path).header(CONTENT_TYPE, content_type);
        if let Some(token) = token {
            builder = builder.header(COOKIE, format!("auth_session={token}"));
        }
        self.send(builder.body(Body::from(body)).expect("request"))
            .await
    }

    /// Signs up and returns the session token.
    pub async fn sign_up(&self, username: &str, password: &str) -> String {
        let reply = self
            .post_json(
                "/api/signup",
                serde_json::json!({ "username": username, "password": password }),
                None,
            )
            .await;
        assert_eq!(
            reply.status,
            StatusCode::FOUND,
            "sign-up failed: {}",
            reply.body
        );
        reply.token().expect("a session cookie")
    }

    /// Signs in and returns the reply.
    pub async fn sign_in(&self, username: &str, password: &str) -> Reply {
        self.post_json(
            "/api/login",
            serde_json::json!({ "username": username, "password": password }),
            None,
        )
        .await
    }
}
