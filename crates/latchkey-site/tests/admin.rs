//! `latchkey user` and `latchkey sessions`: the real binary on a SQLite file and on
//! PostgreSQL, its effects checked through the library and the site over the same database.
//!
//! Each scenario uses usernames of its own, so that the PostgreSQL test runs them all, one
//! after another, in one database.

mod common;

use std::net::SocketAddr;
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::body::Body;
use axum::extract::connect_info::MockConnectInfo;
use axum::http::header::CONTENT_TYPE;
use axum::http::{Method, StatusCode};
use latchkey::adapter::SessionRow;
use latchkey::audit::AuditFilter;
use latchkey::clock::to_millis;
use latchkey::{
    Adapter, AuditKind, AuditLog, Auth, Error, IssuedSession, ManualClock, NewKey, Password,
    SessionToken, SystemClock, User,
};
use latchkey_postgres::PostgresAdapter;
use latchkey_site::{Device, Profile, SiteAuth, SiteConfig};
use latchkey_sqlite::SqliteAdapter;
use serde_json::Value;
use tempfile::TempDir;
use tower::ServiceExt;

const BINARY: &str = env!("CARGO_BIN_EXE_latchkey");

/// A database the binary and the library share.
struct Db {
    url: String,
    adapter: Arc<dyn Adapter>,
    auth: SiteAuth,
    _dir: Option<TempDir>,
}

async fn sqlite() -> Db {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = dir
        .path()
        .join("admin.db")
        .to_str()
        .expect("utf-8")
        .to_owned();
    let adapter = SqliteAdapter::connect(&url).await.expect("sqlite opens");
    Db::new(url, Arc::new(adapter), Some(dir))
}

async fn postgres() -> Db {
    let url = latchkey_testdb::fresh_database().await;
    let adapter = PostgresAdapter::connect(&url)
        .await
        .expect("postgres opens");
    Db::new(url, Arc::new(adapter), None)
}

impl Db {
    fn new(url: String, adapter: Arc<dyn Adapter>, dir: Option<TempDir>) -> Self {
        let auth = Auth::builder_shared(adapter.clone())
            .hasher(latchkey::testing::cheap_hashing())
            .build()
            .expect("auth builds");
        Self {
            url,
            adapter,
            auth,
            _dir: dir,
        }
    }

    /// Runs `latchkey ARGS --database-url URL`, with `stdin` piped in when given.
    fn latchkey(&self, args: &[&str], stdin: Option<&str>) -> Output {
        let mut command = Command::new(BINARY);
        command
            .args(args)
            .args(["--database-url", &self.url])
            .env_remove("DATABASE_URL")
            .env_remove("RUST_LOG")
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command.spawn().expect("latchkey runs");
        if let Some(input) = stdin {
            use std::io::Write;
            let mut pipe = child.stdin.take().expect("stdin");
            pipe.write_all(input.as_bytes()).expect("stdin written");
        }
        child.wait_with_output().expect("latchkey ends")
    }

    /// The standard output of a command that must succeed.
    fn ok(&self, args: &[&str], stdin: Option<&str>) -> String {
        let output = self.latchkey(args, stdin);
        assert!(
            output.status.success(),
            "latchkey {args:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).expect("utf-8")
    }

    /// The JSON document a command that must succeed prints with `--json`.
    fn json(&self, args: &[&str], stdin: Option<&str>) -> Value {
        let args: Vec<&str> = args.iter().copied().chain(["--json"]).collect();
        let text = self.ok(&args, stdin);
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("not one JSON document: {text}"))
    }

    /// The one error line of a command that must fail with status 1.
    fn fails(&self, args: &[&str], stdin: Option<&str>) -> String {
        let output = self.latchkey(args, stdin);
        let stderr = String::from_utf8(output.stderr).expect("utf-8");
        assert_eq!(output.status.code(), Some(1), "latchkey {args:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "not one line: {stderr}");
        assert!(stderr.starts_with("error: "), "{stderr}");
        assert!(output.stdout.is_empty());
        stderr
    }

    /// A user created through the library, as the site's sign-up does.
    async fn user(&self, username: &str, password: &str) -> User<Profile> {
        let key = NewKey::new("username", latchkey::lookup_form(username))
            .with_password(Password::new(password));
        let profile = Profile {
            username: username.to_owned(),
        };
        self.auth
            .create_user(Some(key), profile)
            .await
            .expect("user created")
    }

    async fn session(&self, user: &User<Profile>, agent: &str) -> IssuedSession<Device> {
        let device = Device {
            user_agent: Some(agent.to_owned()),
            address: Some("192.0.2.7".to_owned()),
        };
        self.auth
            .create_session(&user.id, device)
            .await
            .expect("session created")
    }

    async fn signs_in(&self, username: &str, password: &str) -> bool {
        let lookup = latchkey::lookup_form(username);
        match self
            .auth
            .sign_in_with_password("username", &lookup, &Password::new(password))
            .await
        {
            Ok(_) => true,
            Err(Error::InvalidCredentials) => false,
            Err(error) => panic!("sign-in failed: {error}"),
        }
    }

    async fn is_live(&self, issued: &IssuedSession<Device>) -> bool {
        match self.auth.validate_session(&issued.token).await {
            Ok(_) => true,
            Err(Error::InvalidSession) => false,
            Err(error) => panic!("validation failed: {error}"),
        }
    }

    /// The newest audit event of `kind` about `user`, if any.
    async fn audit(&self, kind: AuditKind, user: &str) -> Option<latchkey::AuditEvent> {
        let log = AuditLog::new(self.adapter.clone(), Arc::new(SystemClock));
        let filter = AuditFilter {
            user: Some(user.to_owned()),
            kind: Some(kind),
            limit: 1,
        };
        log.recent(&filter).await.expect("audit log").pop()
    }
}

// ---- scenarios ----

async fn user_create(db: &Db) {
    let text = db.ok(&["user", "create", "Ａlice"], Some("mauve wombat ladder\n"));
    let generated = db.json(&["user", "create", "Bobby", "--generate-password"], None);

    let alice = db
        .auth
        .key("username", "alice")
        .await
        .expect("a username key under the lookup form");
    let profile = db.auth.user(&alice.user_id).await.expect("the user");
    assert!(alice.has_password);
    assert_eq!(profile.attributes.username, "Alice");
    assert_eq!(text, format!("created user Alice (id {})\n", alice.user_id));
    assert!(db.signs_in("ALICE", "mauve wombat ladder").await);
    let password = generated["password"]
        .as_str()
        .expect("a generated password");
    assert_eq!(generated["username"], "Bobby");
    assert!(db.signs_in("bobby", password).await);
    let event = db
        .audit(AuditKind::SignUp, "alice")
        .await
        .expect("recorded");
    assert_eq!(event.detail.as_deref(), Some("operator"));
}

async fn user_create_refusals(db: &Db) {
    let before = db.auth.users(0, 1_000).await.expect("users").len();

    let short_name = db.fails(&["user", "create", "abc"], Some("mauve wombat ladder\n"));
    let short_password = db.fails(&["user", "create", "Carol"], Some("five5\n"));
    let common = db.fails(&["user", "create", "Carol"], Some("Password1\n"));
    let no_password = db.fails(&["user", "create", "Carol"], None);
    db.ok(&["user", "create", "Carol"], Some("mauve wombat ladder\n"));
    let taken = db.fails(&["user", "create", "CAROL"], Some("another good one\n"));

    assert!(short_name.contains("4 to 31 characters"), "{short_name}");
    assert!(
        short_password.contains("6 to 255 characters"),
        "{short_password}"
    );
    assert!(common.contains("too common"), "{common}");
    assert!(no_password.contains("--generate-password"), "{no_password}");
    assert!(taken.contains("taken"), "{taken}");
    let after = db.auth.users(0, 1_000).await.expect("users").len();
    assert_eq!(after, before + 1);
}

async fn user_list(db: &Db) {
    let first = db.user("Lister1", "first password 1").await;
    let second = db.user("Lister2", "second password 2").await;
    db.session(&second, "agent a").await;
    db.session(&second, "agent b").await;

    let all = db.json(&["user", "list", "--limit", "1000"], None);
    let text = db.ok(&["user", "list", "--limit", "1000"], None);
    let page = db.json(&["user", "list", "--offset", "1", "--limit", "1"], None);

    let users = all["users"].as_array().expect("users");
    let listed = |id: &str| {
        users
            .iter()
            .find(|user| user["id"] == id)
            .unwrap_or_else(|| panic!("{id} not listed: {all}"))
            .clone()
    };
    let listed_second = listed(second.id.as_str());
    assert_eq!(listed_second["username"], "Lister2");
    assert_eq!(listed_second["live_sessions"], 2);
    assert_eq!(
        listed_second["keys"],
        serde_json::json!([{ "provider": "username", "provider_user_id": "lister2", "has_password": true }])
    );
    assert_eq!(listed(first.id.as_str())["live_sessions"], 0);
    assert_eq!(page["users"].as_array().map(Vec::len), Some(1));
    assert_eq!(page["users"][0], users[1]);
    assert_eq!(
        (page["offset"].as_u64(), page["limit"].as_u64()),
        (Some(1), Some(1))
    );
    assert!(text.starts_with("ID "), "{text}");
    let line = text
        .lines()
        .find(|line| line.starts_with(second.id.as_str()))
        .expect("a line for Lister2");
    let cells: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(
        cells,
        [
            second.id.as_str(),
            "Lister2",
            "2",
            "username:lister2",
            "(password)"
        ]
    );
}

async fn user_show(db: &Db) {
    let user = db.user("Shown", "shown password 1").await;
    let issued = db.session(&user, "Firefox/130").await;

    let by_name = db.ok(&["user", "show", "SHOWN"], None);
    let by_id = db.json(&["user", "show", user.id.as_str()], None);
    let unknown = db.fails(&["user", "show", "nobody-at-all"], None);

    let session_id = issued.session.id.as_str();
    assert!(by_name.starts_with("user:       Shown\n"), "{by_name}");
    assert!(
        by_name.contains(&format!("id:         {}\n", user.id)),
        "{by_name}"
    );
    assert!(
        by_name.contains("key:        username:shown (password)\n"),
        "{by_name}"
    );
    assert!(by_name.contains("throttling: none\n"), "{by_name}");
    let line = by_name
        .lines()
        .find(|line| line.starts_with(session_id))
        .expect("a line for the session");
    assert!(
        line.contains("192.0.2.7") && line.ends_with("Firefox/130"),
        "{line}"
    );
    assert!(!by_name.contains(issued.token.expose_secret()));
    assert_eq!(by_id["username"], "Shown");
    assert_eq!(by_id["throttling"], Value::Null);
    assert_eq!(by_id["sessions"][0]["id"], session_id);
    assert_eq!(by_id["sessions"][0]["address"], "192.0.2.7");
    assert_eq!(by_id["sessions"][0]["user_agent"], "Firefox/130");
    assert!(by_id["sessions"][0]["expires_at"].as_str().is_some());
    assert!(unknown.contains("no user has the username or id \"nobody-at-all\""));
}

async fn user_reset_password(db: &Db) {
    let user = db.user("Resetter", "first password 1").await;
    let sessions = [db.session(&user, "a").await, db.session(&user, "b").await];

    let text = db.ok(
        &["user", "reset-password", "resetter"],
        Some("second password 2\n"),
    );

    assert_eq!(
        text,
        format!(
            "set a new password for Resetter (id {}); ended 2 sessions\n",
            user.id
        )
    );
    assert!(!db.signs_in("resetter", "first password 1").await);
    assert!(db.signs_in("resetter", "second password 2").await);
    for issued in &sessions {
        assert!(!db.is_live(issued).await);
    }
    let event = db.audit(AuditKind::PasswordChanged, user.id.as_str()).await;
    assert_eq!(event.expect("recorded").detail.as_deref(), Some("operator"));

    let refused = db.fails(&["user", "reset-password", "resetter"], Some("123456\n"));
    assert!(refused.contains("too common"), "{refused}");
    assert!(db.signs_in("resetter", "second password 2").await);

    let kept = db.session(&user, "c").await;
    let generated = db.json(
        &[
            "user",
            "reset-password",
            user.id.as_str(),
            "--generate-password",
        ],
        None,
    );
    let password = generated["password"]
        .as_str()
        .expect("a generated password");
    assert_eq!(generated["sessions_ended"], 1);
    assert!(!db.is_live(&kept).await);
    assert!(!db.signs_in("resetter", "second password 2").await);
    assert!(db.signs_in("resetter", password).await);
}

async fn user_delete(db: &Db) {
    let user = db.user("Deleted", "deleted password 1").await;
    let issued = db.session(&user, "a").await;

    let refused = db.fails(&["user", "delete", "deleted"], None);
    assert!(refused.contains("--yes"), "{refused}");
    assert!(db.is_live(&issued).await);

    let deleted = db.json(&["user", "delete", "deleted", "--yes"], None);

    assert_eq!(
        deleted,
        serde_json::json!({ "id": user.id.as_str(), "username": "Deleted", "keys": 1, "sessions": 1 })
    );
    assert!(matches!(
        db.auth.user(&user.id).await,
        Err(Error::UnknownUser)
    ));
    assert!(matches!(
        db.auth.key("username", "deleted").await,
        Err(Error::UnknownKey)
    ));
    let row = db
        .adapter
        .session_and_user(issued.session.id.as_str())
        .await;
    assert!(row.expect("read").is_none());
    assert!(db
        .audit(AuditKind::AccountDeleted, user.id.as_str())
        .await
        .is_some());
    db.fails(&["user", "delete", "deleted", "--yes"], None);
}

async fn user_unlock(db: &Db) {
    let user = db.user("Locked", "locked password 1").await;
    let site = site_over(db);

    // Failures through the site, waiting out each delay on the site's clock, until the
    // account is locked for well over what the commands below take in real time.
    let mut failures = 0;
    while failures < 9 {
        match site.sign_in("locked", "wrong password").await {
            (StatusCode::BAD_REQUEST, _) => failures += 1,
            (StatusCode::TOO_MANY_REQUESTS, Some(wait)) => site.clock.advance(wait),
            other => panic!("unexpected answer {other:?}"),
        }
    }
    let (locked, _) = site.sign_in("locked", "locked password 1").await;
    let shown = db.json(&["user", "show", "locked"], None);

    let text = db.ok(&["user", "unlock", "LOCKED"], None);
    let (after, _) = site.sign_in("locked", "locked password 1").await;
    let again = db.json(&["user", "unlock", "locked"], None);

    assert_eq!(locked, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(shown["throttling"]["failures"], 9);
    assert!(shown["throttling"]["locked_until"].is_string(), "{shown}");
    assert_eq!(
        text,
        format!(
            "unlocked Locked (id {}): forgot 9 failed sign-ins\n",
            user.id
        )
    );
    assert_eq!(after, StatusCode::FOUND);
    assert_eq!(
        again,
        serde_json::json!({ "id": user.id.as_str(), "username": "Locked", "failures_forgotten": 0, "was_locked": false })
    );
}

async fn sessions_list(db: &Db) {
    let user = db.user("Listed", "listed password 1").await;
    let older = db.session(&user, "older").await;
    let newer = db.session(&user, "newer").await;

    let text = db.ok(&["sessions", "list", "--user", "listed"], None);
    let json = db.json(&["sessions", "list", "--user", user.id.as_str()], None);
    let live = db.auth.count_live_sessions().await.expect("count");
    let total_text = db.ok(&["sessions", "list"], None);
    let total = db.json(&["sessions", "list"], None);

    assert!(
        text.starts_with(&format!(
            "2 live sessions of Listed (id {})\n\nSESSION ID",
            user.id
        )),
        "{text}"
    );
    for issued in [&older, &newer] {
        assert!(text.contains(issued.session.id.as_str()), "{text}");
        assert!(!text.contains(issued.token.expose_secret()));
    }
    assert_eq!(json["live_sessions"], 2);
    assert_eq!(json["user"]["username"], "Listed");
    let mut ids: Vec<&str> = json["sessions"]
        .as_array()
        .expect("sessions")
        .iter()
        .map(|session| session["id"].as_str().expect("an id"))
        .collect();
    ids.sort_unstable();
    let mut expected = [older.session.id.as_str(), newer.session.id.as_str()];
    expected.sort_unstable();
    assert_eq!(ids, expected);
    assert_eq!(total, serde_json::json!({ "live_sessions": live }));
    assert_eq!(total_text, format!("{live} live sessions\n"));
}

async fn sessions_revoke(db: &Db) {
    let user = db.user("Revoker", "revoker password 1").await;
    let [first, second, third] = [
        db.session(&user, "a").await,
        db.session(&user, "b").await,
        db.session(&user, "c").await,
    ];
    let second_id = second.session.id.as_str();

    let text = db.ok(&["sessions", "revoke", &second_id.to_uppercase()], None);

    assert_eq!(
        text,
        format!("revoked session {second_id} of Revoker (id {})\n", user.id)
    );
    assert!(!db.is_live(&second).await);
    assert!(db.is_live(&first).await && db.is_live(&third).await);
    let event = db.audit(AuditKind::SessionRevoked, "revoker").await;
    let detail = event.expect("recorded").detail.expect("a detail");
    assert_eq!(detail, format!("operator, session {}", &second_id[..8]));
    let again = db.fails(&["sessions", "revoke", second_id], None);
    assert!(again.contains("no session has the id"), "{again}");

    let all = db.json(&["sessions", "revoke", "--user", "REVOKER", "--all"], None);

    assert_eq!(
        all,
        serde_json::json!({
            "user": { "id": user.id.as_str(), "username": "Revoker" },
            "revoked": 2,
            "session_id": null,
        })
    );
    assert!(!db.is_live(&first).await && !db.is_live(&third).await);
}

async fn sessions_purge(db: &Db) {
    let user = db.user("Purger", "purger password 1").await;
    let live = db.session(&user, "live").await;
    let now = to_millis(SystemTime::now());
    let day = 24 * 60 * 60 * 1_000;
    let idle_ended = expired_row(&user, now - 20 * day, now - day, now + 9 * day);
    let lifetime_ended = expired_row(&user, now - 40 * day, now - 10 * day, now - 10 * day);
    for row in [&idle_ended, &lifetime_ended] {
        db.adapter.insert_session(row).await.expect("inserted");
    }

    let purged = db.json(&["sessions", "purge"], None);
    let again = db.ok(&["sessions", "purge"], None);

    assert_eq!(purged, serde_json::json!({ "purged": 2 }));
    assert_eq!(again, "purged 0 expired sessions\n");
    for row in [&idle_ended, &lifetime_ended] {
        let found = db.adapter.session_and_user(&row.id).await.expect("read");
        assert!(found.is_none());
    }
    assert!(db.is_live(&live).await);
}

/// A session of `user` created at `created`, dead since `idle_expires`.
fn expired_row(user: &User<Profile>, created: i64, idle_expires: i64, absolute: i64) -> SessionRow {
    SessionRow {
        id: SessionToken::generate().session_id().as_str().to_owned(),
        user_id: user.id.as_str().to_owned(),
        created_at: created,
        active_expires: idle_expires,
        idle_expires,
        absolute_expires: absolute.max(idle_expires),
        last_seen_at: created,
        attributes: "{}".to_owned(),
    }
}

/// The site over `db`, on a clock of its own that starts now, from one client address.
struct Site {
    router: axum::Router,
    clock: Arc<ManualClock>,
}

fn site_over(db: &Db) -> Site {
    let clock = Arc::new(ManualClock::new(SystemTime::now()));
    let auth: SiteAuth = Auth::builder_shared(db.adapter.clone())
        .clock(clock.clone())
        .hasher(latchkey::testing::cheap_hashing())
        .build()
        .expect("auth builds");
    let peer: SocketAddr = "192.0.2.60:4000".parse().expect("address");
    let router = latchkey_site::router(auth, &SiteConfig::default()).layer(MockConnectInfo(peer));
    Site { router, clock }
}

impl Site {
    /// Posts to `/api/login`: the status, and the `Retry-After` of a refusal.
    async fn sign_in(&self, username: &str, password: &str) -> (StatusCode, Option<Duration>) {
        let body = serde_json::json!({ "username": username, "password": password });
        let request = common::request(Method::POST, "/api/login")
            .header(CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_string()))
            .expect("request");
        let response = self
            .router
            .clone()
            .oneshot(request)
            .await
            .expect("infallible");
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|value| value.to_str().ok()?.parse().ok())
            .map(Duration::from_secs);
        (response.status(), retry_after)
    }
}

// ---- SQLite ----

#[tokio::test]
async fn user_create_makes_a_user_who_signs_in_like_one_who_signed_up() {
    user_create(&sqlite().await).await;
}

#[tokio::test]
async fn user_create_refuses_what_sign_up_refuses_and_creates_nothing() {
    user_create_refusals(&sqlite().await).await;
}

#[tokio::test]
async fn user_list_shows_each_user_with_keys_and_live_sessions_a_page_at_a_time() {
    user_list(&sqlite().await).await;
}

#[tokio::test]
async fn user_show_finds_a_user_by_any_case_or_id_and_lists_sessions_without_tokens() {
    user_show(&sqlite().await).await;
}

#[tokio::test]
async fn user_reset_password_ends_every_session_and_only_the_new_password_signs_in() {
    user_reset_password(&sqlite().await).await;
}

#[tokio::test]
async fn user_delete_needs_yes_and_then_removes_the_user_keys_and_sessions() {
    user_delete(&sqlite().await).await;
}

#[tokio::test]
async fn user_unlock_lets_a_throttled_account_sign_in_at_once() {
    user_unlock(&sqlite().await).await;
}

#[tokio::test]
async fn sessions_list_shows_a_users_sessions_and_counts_every_live_one() {
    sessions_list(&sqlite().await).await;
}

#[tokio::test]
async fn sessions_revoke_ends_exactly_that_session_or_all_of_a_users() {
    sessions_revoke(&sqlite().await).await;
}

#[tokio::test]
async fn sessions_purge_removes_expired_sessions_only() {
    sessions_purge(&sqlite().await).await;
}

// ---- PostgreSQL ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_admin_command_works_on_postgresql() {
    let db = postgres().await;

    user_create(&db).await;
    user_create_refusals(&db).await;
    user_list(&db).await;
    user_show(&db).await;
    user_reset_password(&db).await;
    user_delete(&db).await;
    user_unlock(&db).await;
    sessions_list(&db).await;
    sessions_revoke(&db).await;
    sessions_purge(&db).await;
}

// ---- the command line ----

#[test]
fn every_admin_command_has_help_and_takes_the_database_options() {
    let commands: [&[&str]; 11] = [
        &["user"],
        &["user", "create"],
        &["user", "list"],
        &["user", "show"],
        &["user", "reset-password"],
        &["user", "delete"],
        &["user", "unlock"],
        &["sessions", "list"],
        &["sessions", "revoke"],
        &["sessions", "purge"],
        &["sessions"],
    ];
    for command in commands {
        let output = Command::new(BINARY)
            .args(command)
            .arg("--help")
            .output()
            .expect("latchkey runs");
        let help = String::from_utf8_lossy(&output.stdout);

        assert!(output.status.success(), "{command:?}");
        if command.len() == 2 {
            assert!(help.contains("--database-url"), "{command:?}: {help}");
            assert!(help.contains("--json"), "{command:?}: {help}");
        }
    }
}

#[test]
fn malformed_arguments_are_usage_errors() {
    let cases: [&[&str]; 5] = [
        &[
            "sessions",
            "revoke",
            "o0zhasfnxogeat5iuzqqstymr0lcxgq0j3kymifp",
        ],
        &["sessions", "revoke", "--user", "alice"],
        &["sessions", "revoke"],
        &["user", "list", "--limit", "0"],
        &["user", "show"],
    ];
    for args in cases {
        let output = Command::new(BINARY)
            .args(args)
            .args(["--database-url", "/nonexistent/never-opened.db"])
            .output()
            .expect("latchkey runs");

        assert_eq!(output.status.code(), Some(2), "{args:?}");
    }
}
