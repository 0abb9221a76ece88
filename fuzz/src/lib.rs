//! What the fuzz targets share: the site's API, built once per process over an in-memory
//! SQLite database, and a readable layout for the bytes of one request.
//!
//! An API input is `<content type><flags><body>`:
//!
//! - byte 0 picks the `Content-Type`: `j` `application/json`, `J` `Application/JSON;
//!   charset=utf-8`, `f` `application/x-www-form-urlencoded`, `F` the same with `;
//!   charset=UTF-8`, `m` `multipart/form-data; boundary=x`, `t` `text/plain`, `n` none; any
//!   other byte picks one of these by its value;
//! - the low four bits of byte 1 are flags, so that the digits `0`-`9` read as them: 1 sends a
//!   session cookie of the seeded user, freshly issued; 2 sends a valid device cookie for the
//!   seeded user; 4 takes the body's first line (up to `\n`) as one more `Cookie` header; 8
//!   sends the request six times, the lockout's five free failures and one more;
//! - the rest is the body.
//!
//! So `j0{"username":"fuzzuser","password":"fuzzing is fun 42"}` signs the seeded user in.
//!
//! The clock is a [`ManualClock`] that steps 15 minutes and a second before each input: past
//! the longest lockout delay, and enough to refill the per-address buckets, so that every input
//! starts with open throttles and answers the same whatever ran before it. State still builds
//! up (users signed up, sessions), so the whole site is built afresh every [`RECYCLE_AFTER`]
//! inputs; the clock then stays within a few years of its start.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::Duration;

use axum::body::Body;
use axum::http::header::{CONTENT_TYPE, COOKIE, LOCATION, SET_COOKIE};
use axum::http::{HeaderValue, Request, Response};
use axum::Router;
use latchkey::device::{DeviceId, DeviceKey, DEFAULT_LIFETIME};
use latchkey::{Clock, ManualClock, NewKey, Password, UserId};
use latchkey_site::{Device, Profile, SiteAuth, SiteConfig};
use latchkey_sqlite::SqliteAdapter;
use tower::ServiceExt;

/// The seeded user's username, whose lookup form is the same.
pub const SEEDED_USERNAME: &str = "fuzzuser";

/// The seeded user's password.
pub const SEEDED_PASSWORD: &str = "fuzzing is fun 42";

/// Inputs after which the site is built afresh.
pub const RECYCLE_AFTER: u64 = 100_000;

/// How far the clock steps before each input: past the longest lockout delay (15 minutes).
const STEP: Duration = Duration::from_secs(15 * 60 + 1);

/// Byte 0 of an input, and the `Content-Type` it stands for (`None`: no header).
const CONTENT_TYPES: [(u8, Option<&str>); 7] = [
    (b'j', Some("application/json")),
    (b'J', Some("Application/JSON; charset=utf-8")),
    (b'f', Some("application/x-www-form-urlencoded")),
    (
        b'F',
        Some("application/x-www-form-urlencoded; charset=UTF-8"),
    ),
    (b'm', Some("multipart/form-data; boundary=x")),
    (b't', Some("text/plain")),
    (b'n', None),
];

const FLAG_SESSION: u8 = 1;
const FLAG_DEVICE: u8 = 2;
const FLAG_COOKIE_LINE: u8 = 4;
const FLAG_REPEAT: u8 = 8;

/// Sends of one request when [`FLAG_REPEAT`] is set: one past the lockout's free failures.
const REPEATS: usize = 6;

/// One request, decoded from fuzz input.
pub struct ApiInput<'a> {
    content_type: Option<&'static str>,
    session: bool,
    device: bool,
    repeats: usize,
    cookie_line: Option<&'a [u8]>,
    body: &'a [u8],
}

impl<'a> ApiInput<'a> {
    /// Reads the layout in the module docs; `None` for inputs under two bytes.
    pub fn parse(data: &'a [u8]) -> Option<Self> {
        let (&selector, rest) = data.split_first()?;
        let (&flags, mut body) = rest.split_first()?;

        let content_type = CONTENT_TYPES
            .iter()
            .find(|(tag, _)| *tag == selector)
            .unwrap_or(&CONTENT_TYPES[usize::from(selector) % CONTENT_TYPES.len()])
            .1;

        let mut cookie_line = None;
        if flags & FLAG_COOKIE_LINE != 0 {
            let end = body.iter().position(|&b| b == b'\n').unwrap_or(body.len());
            cookie_line = Some(&body[..end]);
            body = body.get(end + 1..).unwrap_or_default();
        }

        Some(Self {
            content_type,
            session: flags & FLAG_SESSION != 0,
            device: flags & FLAG_DEVICE != 0,
            repeats: if flags & FLAG_REPEAT != 0 { REPEATS } else { 1 },
            cookie_line,
            body,
        })
    }

    /// Whether the site answers failures in JSON: anything but a form.
    fn answered_in_json(&self) -> bool {
        let essence = self
            .content_type
            .and_then(|value| value.split(';').next())
            .map(str::trim);
        !essence.is_some_and(|essence| essence.eq_ignore_ascii_case(FORM))
    }
}

const FORM: &str = "application/x-www-form-urlencoded";

impl std::fmt::Debug for ApiInput<'_> {
    /// Bytes as text where they are text, so that a failure reads as the request it was.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiInput")
            .field("content_type", &self.content_type)
            .field("session", &self.session)
            .field("device", &self.device)
            .field("repeats", &self.repeats)
            .field(
                "cookie_line",
                &self.cookie_line.map(String::from_utf8_lossy),
            )
            .field("body", &String::from_utf8_lossy(self.body))
            .finish()
    }
}

/// The site with its seeded user, and the runtime it runs on.
struct Site {
    runtime: tokio::runtime::Runtime,
    router: Router,
    auth: SiteAuth,
    adapter: SqliteAdapter,
    clock: Arc<ManualClock>,
    user_id: UserId,
    device_key: DeviceKey,
    device_id: DeviceId,
    inputs: u64,
}

static SITE: Mutex<Option<Site>> = Mutex::new(None);

impl Site {
    fn build() -> Self {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a tokio runtime");

        let (router, auth, adapter, clock, user_id, device_key) = runtime.block_on(async {
            let adapter = SqliteAdapter::connect("sqlite::memory:")
                .await
                .expect("an in-memory database");
            let clock = Arc::new(ManualClock::at_millis(latchkey::testing::START));
            let auth: SiteAuth = latchkey::Auth::builder(adapter.clone())
                .clock(clock.clone())
                .hasher(latchkey::testing::cheap_hashing())
                .build()
                .expect("valid hasher settings");

            let key = NewKey::new("username", SEEDED_USERNAME)
                .with_password(Password::new(SEEDED_PASSWORD));
            let profile = Profile {
                username: SEEDED_USERNAME.to_owned(),
            };
            let user = auth
                .create_user(Some(key), profile)
                .await
                .expect("the seeded user");
            let device_key = DeviceKey::load(auth.adapter().as_ref())
                .await
                .expect("the device cookie key");

            let router = latchkey_site::router(auth.clone(), &SiteConfig::default());
            (router, auth, adapter, clock, user.id, device_key)
        });

        Self {
            runtime,
            router,
            auth,
            adapter,
            clock,
            user_id,
            device_key,
            device_id: DeviceId::generate(),
            inputs: 0,
        }
    }

    /// Closes the database inside the runtime that opened it, then drops the rest.
    fn shut_down(self) {
        let Self {
            runtime,
            router,
            auth,
            adapter,
            ..
        } = self;
        drop((router, auth));
        runtime.block_on(adapter.close());
    }

    /// Sends `input` to `path` as many times as it asks, checking every response.
    fn send(&mut self, path: &'static str, input: &ApiInput<'_>) {
        self.inputs += 1;
        self.clock.advance(STEP);

        self.runtime.block_on(async {
            let mut cookies = Vec::new();
            if input.session {
                let issued = self
                    .auth
                    .create_session(&self.user_id, Device::default())
                    .await
                    .expect("a session for the seeded user");
                cookies.push(format!("auth_session={}", issued.token.expose_secret()).into_bytes());
            }
            if input.device {
                let expires = self.clock.now() + DEFAULT_LIFETIME;
                let value =
                    self.device_key
                        .issue("username", SEEDED_USERNAME, &self.device_id, expires);
                cookies
                    .push(format!("{}={value}", latchkey_site::site::DEVICE_COOKIE).into_bytes());
            }
            if let Some(line) = input.cookie_line {
                cookies.push(line.to_vec());
            }

            for _ in 0..input.repeats {
                let request = request(path, input, &cookies);
                let response = self
                    .router
                    .clone()
                    .oneshot(request)
                    .await
                    .unwrap_or_else(|never| match never {});
                check(path, input, response).await;
            }
        });
    }
}

/// Sends one fuzz input to the site's `path`, building the site on first use, and panics on
/// any answer the site must never give (see [`check`]).
pub fn fuzz_api(path: &'static str, data: &[u8]) {
    let Some(input) = ApiInput::parse(data) else {
        return;
    };

    let mut slot = lock(&SITE);
    if slot
        .as_ref()
        .is_some_and(|site| site.inputs >= RECYCLE_AFTER)
    {
        if let Some(old) = slot.take() {
            old.shut_down();
        }
    }
    slot.get_or_insert_with(Site::build).send(path, &input);
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic is a crash that ends the process, so a poisoned lock is never seen again.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A POST to `path` with the input's content type, cookies and body. A cookie line that is not
/// a valid header value is left out, as no HTTP parser would let it through.
fn request(path: &str, input: &ApiInput<'_>, cookies: &[Vec<u8>]) -> Request<Body> {
    let mut request = Request::post(path)
        .body(Body::from(input.body.to_vec()))
        .expect("a valid request");
    let headers = request.headers_mut();

    if let Some(content_type) = input.content_type {
        headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    }
    for cookie in cookies {
        if let Ok(value) = HeaderValue::from_bytes(cookie) {
            headers.append(COOKIE, value);
        }
    }
    request
}

/// Whether `LATCHKEY_FUZZ_SHOW` is set, to print every answer: for seeing what a corpus
/// reaches, with `-runs=0`.
fn showing() -> bool {
    static SHOWING: OnceLock<bool> = OnceLock::new();
    *SHOWING.get_or_init(|| std::env::var_os("LATCHKEY_FUZZ_SHOW").is_some())
}

/// What every answer of the API must be: never a 5xx; the security headers; a redirect that
/// says where and hands over or clears the session cookie; and, to a client that did not send
/// a form, a failure as a JSON object with an `error` string.
async fn check(path: &str, input: &ApiInput<'_>, response: Response<Body>) {
    let (parts, body) = response.into_parts();
    let body = axum::body::to_bytes(body, usize::MAX)
        .await
        .expect("the response body");
    let status = parts.status;
    let shown = || {
        let body = String::from_utf8_lossy(&body);
        format!("{path} answered {status} to {input:?}: {body:?}")
    };
    if showing() {
        eprintln!("{}", shown());
    }

    assert!(!status.is_server_error(), "{}", shown());
    assert_eq!(
        parts
            .headers
            .get("x-content-type-options")
            .map(HeaderValue::as_bytes),
        Some(&b"nosniff"[..]),
        "{}",
        shown()
    );

    if status.is_redirection() {
        assert!(parts.headers.contains_key(LOCATION), "{}", shown());
        let sets_session = parts
            .headers
            .get_all(SET_COOKIE)
            .iter()
            .any(|cookie| cookie.as_bytes().starts_with(b"auth_session="));
        assert!(sets_session, "{}", shown());
    }

    if status.is_client_error() && input.answered_in_json() {
        let json: serde_json::Value =
            serde_json::from_slice(&body).unwrap_or_else(|error| panic!("{error}: {}", shown()));
        assert!(json["error"].is_string(), "{}", shown());
    }
}
