//! `latchkey import-lucia` on the database the real Lucia 2.7 wrote
//! (`../shared/fixtures/lucia-v2`, beside the workspace), then the real site on the result:
//! every Lucia user signs in with their password, and every live cookie Lucia set reaches
//! the profile. On SQLite and on PostgreSQL.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use common::process::{Server, BINARY};
use latchkey::adapter::KeyRow;
use latchkey_site::cli::DatabaseArgs;
use latchkey_site::database::Database;
use reqwest::{Client, StatusCode};
use serde_json::{json, Value};
use sqlx::{Connection, SqliteConnection};

/// The fixture: `lucia-v2.sqlite`, and `users.json` with the passwords and live tokens.
const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/fixtures/lucia-v2"
);

struct LuciaUser {
    id: String,
    username: String,
    password: String,
    token: String,
}

struct Fixture {
    users: Vec<LuciaUser>,
    expired_token: String,
}

fn fixture() -> Fixture {
    let path = Path::new(FIXTURE).join("users.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()));
    let json: Value = serde_json::from_str(&text).expect("users.json parses");
    let field = |user: &Value, name: &str| user[name].as_str().expect(name).to_owned();
    Fixture {
        users: json["users"]
            .as_array()
            .expect("users")
            .iter()
            .map(|user| LuciaUser {
                id: field(user, "userId"),
                username: field(user, "username"),
                password: field(user, "password"),
                token: field(user, "liveSessionToken"),
            })
            .collect(),
        expired_token: field(&json, "expiredSessionToken"),
    }
}

/// A copy of Lucia's database in `dir`, since the fixture is read-only.
fn lucia_copy(dir: &Path) -> PathBuf {
    let copy = dir.join("lucia.sqlite");
    std::fs::copy(Path::new(FIXTURE).join("lucia-v2.sqlite"), &copy).expect("fixture copies");
    copy
}

/// Runs `latchkey import-lucia` with `args`, with no database named by the environment.
fn import(args: &[&str]) -> Output {
    Command::new(BINARY)
        .arg("import-lucia")
        .args(args)
        .env_remove("DATABASE_URL")
        .env_remove("LATCHKEY_IMPORT_FROM")
        .env_remove("RUST_LOG")
        .output()
        .expect("latchkey runs")
}

/// Runs the import with `--json` and returns its report.
fn import_json(from: &str, target: &str) -> Value {
    let output = import(&["--from", from, "--database-url", target, "--json"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "import failed: {stderr}");
    serde_json::from_slice(&output.stdout).expect("the report is JSON")
}

fn counts(report: &Value, kind: &str) -> Value {
    report[kind].clone()
}

fn client() -> Client {
    Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client")
}

async fn open(url: &str) -> Database {
    Database::open(&DatabaseArgs {
        database_url: url.to_owned(),
        database_max_connections: Some(2),
        database_timeout: Duration::from_secs(5),
    })
    .await
    .expect("the imported database opens")
}

async fn username_key(database: &Database, username: &str) -> KeyRow {
    let lookup = latchkey::lookup_form(&latchkey::normalize_username(username));
    database
        .adapter()
        .key("username", &lookup)
        .await
        .expect("reads")
        .unwrap_or_else(|| panic!("no key for {username}"))
}

/// Lucia's hashes as written, by user id.
async fn lucia_hashes(lucia: &Path) -> Vec<(String, String)> {
    let url = format!("sqlite:{}?mode=ro", lucia.display());
    let mut connection = SqliteConnection::connect(&url).await.expect("opens");
    sqlx::query_as("SELECT user_id, hashed_password FROM user_key ORDER BY user_id")
        .fetch_all(&mut connection)
        .await
        .expect("reads")
}

/// Checks the site on `database_url` as a person coming from Lucia meets it: the cookie
/// Lucia set shows their profile, a dead one does not, the password signs in, and the hash
/// Lucia wrote is Argon2id afterwards.
async fn check_the_site_serves_lucia_users(database_url: &str, lucia_hash: &[(String, String)]) {
    let fixture = fixture();
    let dir = tempfile::tempdir().expect("temp dir");
    let server = Server::start(&["--database-url", database_url], dir.path());
    let client = client();
    let database = open(database_url).await;

    for user in &fixture.users {
        let key = username_key(&database, &user.username).await;
        let lucia = lucia_hash.iter().find(|(id, _)| *id == user.id);
        assert_eq!(key.user_id, user.id);
        assert_eq!(
            key.hashed_password
                .as_ref()
                .map(|hash| hash.expose_secret()),
            lucia.map(|(_, hash)| hash.as_str()),
            "{} keeps Lucia's hash until they sign in",
            user.username
        );

        let profile = client
            .get(server.url("/"))
            .header("cookie", format!("auth_session={}", user.token))
            .send()
            .await
            .expect("profile answers");
        assert_eq!(profile.status(), StatusCode::OK, "{}", user.username);
        let page = profile.text().await.expect("body");
        assert!(page.contains(&user.username), "{} not shown", user.username);
    }

    let expired = client
        .get(server.url("/"))
        .header("cookie", format!("auth_session={}", fixture.expired_token))
        .send()
        .await
        .expect("profile answers");
    assert_eq!(expired.status(), StatusCode::SEE_OTHER);
    assert_eq!(expired.headers()["location"], "/login");

    for user in &fixture.users {
        let signed_in = client
            .post(server.url("/api/login"))
            .json(&json!({ "username": user.username, "password": user.password }))
            .send()
            .await
            .expect("sign-in answers");
        assert_eq!(signed_in.status(), StatusCode::FOUND, "{}", user.username);

        let key = username_key(&database, &user.username).await;
        let hash = key.hashed_password.expect("a hash");
        assert!(
            hash.expose_secret().starts_with("$argon2id$"),
            "{} still has Lucia's hash",
            user.username
        );
    }

    // Lucia's guides lowercased the name; the site folds case, so both still sign in.
    let lowercased = client
        .post(server.url("/api/login"))
        .json(&json!({ "username": "alice", "password": "wonderland 42" }))
        .send()
        .await
        .expect("sign-in answers");
    assert_eq!(lowercased.status(), StatusCode::FOUND);
    database.close().await;
}

/// Every row of every table of a SQLite database, as text, in a stable order.
async fn sqlite_rows(path: &Path) -> Vec<String> {
    let url = format!("sqlite:{}?mode=ro", path.display());
    let mut connection = SqliteConnection::connect(&url).await.expect("opens");
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'
         ORDER BY name",
    )
    .fetch_all(&mut connection)
    .await
    .expect("lists tables");

    let mut rows = Vec::new();
    for table in tables {
        let columns: Vec<String> = sqlx::query_scalar("SELECT name FROM pragma_table_info($1)")
            .bind(&table)
            .fetch_all(&mut connection)
            .await
            .expect("lists columns");
        let quoted: Vec<String> = columns
            .iter()
            .map(|column| format!(r#"quote("{column}")"#))
            .collect();
        let sql = format!(
            r#"SELECT '{table}: ' || {} AS row FROM "{table}" ORDER BY 1"#,
            quoted.join(" || ',' || ")
        );
        let table_rows: Vec<String> = sqlx::query_scalar(&sql)
            .fetch_all(&mut connection)
            .await
            .expect("reads rows");
        rows.extend(table_rows);
    }
    rows
}

/// Every row of every table of a PostgreSQL database, as JSON text, in a stable order.
async fn postgres_rows(url: &str) -> Vec<String> {
    let mut connection = sqlx::PgConnection::connect(url).await.expect("connects");
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT CAST(table_name AS TEXT) FROM information_schema.tables
         WHERE table_schema = current_schema() ORDER BY 1",
    )
    .fetch_all(&mut connection)
    .await
    .expect("lists tables");

    let mut rows = Vec::new();
    for table in tables {
        let sql = format!(
            r#"SELECT '{table}: ' || CAST(row_to_json(t) AS TEXT) FROM "{table}" t ORDER BY 1"#
        );
        let table_rows: Vec<String> = sqlx::query_scalar(&sql)
            .fetch_all(&mut connection)
            .await
            .expect("reads rows");
        rows.extend(table_rows);
    }
    rows
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_an_import_into_sqlite_lucia_users_sign_in_and_their_cookies_reach_the_profile() {
    let dir = tempfile::tempdir().expect("temp dir");
    let lucia = lucia_copy(dir.path());
    let target = dir.path().join("site.db");
    let target = target.to_str().expect("utf-8 path");

    let report = import_json(lucia.to_str().expect("utf-8 path"), target);

    assert_eq!(report["source"], "sqlite");
    assert_eq!(report["user_table"], "user");
    assert_eq!(
        counts(&report, "users"),
        json!({ "imported": 6, "skipped": 0, "refused": 0 })
    );
    assert_eq!(
        counts(&report, "keys"),
        json!({ "imported": 6, "skipped": 0, "refused": 0 })
    );
    assert_eq!(
        counts(&report, "sessions"),
        json!({ "imported": 6, "skipped": 0, "expired": 1, "refused": 0, "shortened": 6 })
    );
    assert_eq!(report["issues"], json!([]));
    check_the_site_serves_lucia_users(target, &lucia_hashes(&lucia).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn running_the_import_twice_reports_everything_skipped_and_changes_no_row() {
    let dir = tempfile::tempdir().expect("temp dir");
    let lucia = lucia_copy(dir.path());
    let lucia_bytes = std::fs::read(&lucia).expect("reads");
    let target = dir.path().join("site.db");
    let (from, to) = (
        lucia.to_str().expect("utf-8 path"),
        target.to_str().expect("utf-8 path"),
    );

    let first = import(&["--from", from, "--database-url", to]);
    assert!(first.status.success());
    let rows_after_first = sqlite_rows(&target).await;
    let second = import_json(from, to);
    let rows_after_second = sqlite_rows(&target).await;

    let text = String::from_utf8_lossy(&first.stdout);
    assert!(
        text.contains("users:    6 imported, 0 skipped, 0 refused"),
        "{text}"
    );
    assert!(
        text.contains("sessions: 6 imported, 0 skipped, 1 expired, 0 refused"),
        "{text}"
    );
    assert_eq!(
        counts(&second, "users"),
        json!({ "imported": 0, "skipped": 6, "refused": 0 })
    );
    assert_eq!(
        counts(&second, "keys"),
        json!({ "imported": 0, "skipped": 6, "refused": 0 })
    );
    assert_eq!(
        counts(&second, "sessions"),
        json!({ "imported": 0, "skipped": 6, "expired": 1, "refused": 0, "shortened": 0 })
    );
    assert!(rows_after_first.len() >= 6 + 6 + 6, "{rows_after_first:?}");
    assert_eq!(rows_after_first, rows_after_second);
    assert!(
        std::fs::read(&lucia).expect("reads") == lucia_bytes,
        "the Lucia database was written to"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_that_is_not_lucia_v2_is_refused_with_one_line_naming_what_is_missing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let target = dir.path().join("site.db");
    let to = target.to_str().expect("utf-8 path");

    // Lucia's documented minimal schema, without the username the guide adds, and a key
    // table missing its hash.
    let partial = dir.path().join("partial.sqlite");
    let url = format!("sqlite:{}?mode=rwc", partial.display());
    let mut connection = SqliteConnection::connect(&url).await.expect("creates");
    sqlx::raw_sql(
        "CREATE TABLE user (id TEXT NOT NULL PRIMARY KEY);
         CREATE TABLE user_key (id TEXT NOT NULL PRIMARY KEY, user_id TEXT NOT NULL);
         CREATE TABLE user_session (id TEXT NOT NULL PRIMARY KEY, user_id TEXT NOT NULL,
             active_expires INTEGER NOT NULL, idle_expires INTEGER NOT NULL);",
    )
    .execute(&mut connection)
    .await
    .expect("creates tables");
    connection.close().await.expect("closes");

    // A Latchkey database is not a Lucia one either.
    let latchkey_db = dir.path().join("latchkey.db");
    open(latchkey_db.to_str().expect("utf-8 path"))
        .await
        .close()
        .await;

    let cases = [
        (
            partial.to_str().expect("utf-8 path").to_owned(),
            "error: not a Lucia v2 database: missing column user.username, column user_key.hashed_password",
        ),
        (
            latchkey_db.to_str().expect("utf-8 path").to_owned(),
            "error: not a Lucia v2 database: missing table user (or auth_user), table user_key, table user_session",
        ),
        (
            dir.path().join("absent.sqlite").display().to_string(),
            "error: cannot open the Lucia database",
        ),
        (
            latchkey_testdb::closed_port_url().replace("postgres@", "postgres:secret-pw@"),
            "error: cannot open the Lucia database",
        ),
    ];
    for (from, expected) in cases {
        let output = import(&["--from", &from, "--database-url", to]);
        let stderr = String::from_utf8_lossy(&output.stderr);

        assert_eq!(output.status.code(), Some(1), "{from}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.starts_with(expected), "{stderr}");
        assert!(!stderr.contains("secret-pw"), "{stderr}");
        assert!(output.stdout.is_empty());
    }
    assert!(!target.exists(), "a refused import created the target");
}

/// Lucia's PostgreSQL schema (`lucia-v2.md` §7, with the guide's `username`) in a fresh
/// database, holding the fixture's rows; its URL.
async fn lucia_on_postgres() -> String {
    let url = latchkey_testdb::fresh_database().await;
    let mut postgres = sqlx::PgConnection::connect(&url).await.expect("connects");
    sqlx::raw_sql(
        "CREATE TABLE auth_user (id TEXT NOT NULL PRIMARY KEY, username TEXT NOT NULL UNIQUE);
         CREATE TABLE user_key (id TEXT NOT NULL PRIMARY KEY,
             user_id TEXT NOT NULL REFERENCES auth_user(id), hashed_password TEXT);
         CREATE TABLE user_session (id TEXT NOT NULL PRIMARY KEY,
             user_id TEXT NOT NULL REFERENCES auth_user(id),
             active_expires BIGINT NOT NULL, idle_expires BIGINT NOT NULL);",
    )
    .execute(&mut postgres)
    .await
    .expect("creates Lucia's tables");

    let fixture = format!("sqlite:{FIXTURE}/lucia-v2.sqlite?mode=ro");
    let mut sqlite = SqliteConnection::connect(&fixture).await.expect("opens");
    let users: Vec<(String, String)> = sqlx::query_as("SELECT id, username FROM user")
        .fetch_all(&mut sqlite)
        .await
        .expect("reads users");
    for (id, username) in users {
        sqlx::query("INSERT INTO auth_user (id, username) VALUES ($1, $2)")
            .bind(id)
            .bind(username)
            .execute(&mut postgres)
            .await
            .expect("copies a user");
    }
    let keys: Vec<(String, String, Option<String>)> =
        sqlx::query_as("SELECT id, user_id, hashed_password FROM user_key")
            .fetch_all(&mut sqlite)
            .await
            .expect("reads keys");
    for (id, user_id, hash) in keys {
        sqlx::query("INSERT INTO user_key (id, user_id, hashed_password) VALUES ($1, $2, $3)")
            .bind(id)
            .bind(user_id)
            .bind(hash)
            .execute(&mut postgres)
            .await
            .expect("copies a key");
    }
    let sessions: Vec<(String, String, i64, i64)> =
        sqlx::query_as("SELECT id, user_id, active_expires, idle_expires FROM user_session")
            .fetch_all(&mut sqlite)
            .await
            .expect("reads sessions");
    for (id, user_id, active, idle) in sessions {
        sqlx::query(
            "INSERT INTO user_session (id, user_id, active_expires, idle_expires)
             VALUES ($1, $2, $3, $4)",
        )
        .bind(id)
        .bind(user_id)
        .bind(active)
        .bind(idle)
        .execute(&mut postgres)
        .await
        .expect("copies a session");
    }
    url
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lucia_database_on_postgresql_imports_into_postgresql_once_and_keeps_everyone_signed_in()
{
    let lucia = lucia_on_postgres().await;
    let target = latchkey_testdb::fresh_database().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let hashes = lucia_hashes(&lucia_copy(dir.path())).await;

    let first = import_json(&lucia, &target);
    let rows_after_first = postgres_rows(&target).await;
    let second = import_json(&lucia, &target);
    let rows_after_second = postgres_rows(&target).await;

    assert_eq!(first["source"], "postgres");
    assert_eq!(first["user_table"], "auth_user");
    assert_eq!(
        counts(&first, "users"),
        json!({ "imported": 6, "skipped": 0, "refused": 0 })
    );
    assert_eq!(
        counts(&first, "sessions"),
        json!({ "imported": 6, "skipped": 0, "expired": 1, "refused": 0, "shortened": 6 })
    );
    assert_eq!(
        counts(&second, "users"),
        json!({ "imported": 0, "skipped": 6, "refused": 0 })
    );
    assert_eq!(
        counts(&second, "keys"),
        json!({ "imported": 0, "skipped": 6, "refused": 0 })
    );
    assert_eq!(
        counts(&second, "sessions"),
        json!({ "imported": 0, "skipped": 6, "expired": 1, "refused": 0, "shortened": 0 })
    );
    assert_eq!(rows_after_first, rows_after_second);
    check_the_site_serves_lucia_users(&target, &hashes).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unusual_lucia_rows_are_imported_as_is_or_refused_with_a_reason() {
    let dir = tempfile::tempdir().expect("temp dir");
    let lucia = dir.path().join("unusual.sqlite");
    let url = format!("sqlite:{}?mode=rwc", lucia.display());
    let mut connection = SqliteConnection::connect(&url).await.expect("creates");
    let live = 4_102_444_800_000_i64; // 2100-01-01
    sqlx::raw_sql(&format!(
        r#"CREATE TABLE user (id TEXT PRIMARY KEY, username TEXT, email TEXT);
        CREATE TABLE user_key (id TEXT PRIMARY KEY, user_id TEXT NOT NULL, hashed_password TEXT);
        CREATE TABLE user_session (id TEXT PRIMARY KEY, user_id TEXT NOT NULL,
            active_expires INTEGER NOT NULL, idle_expires INTEGER NOT NULL, country TEXT);
        INSERT INTO user VALUES ('carol', 'Carol', 'carol@example.com'),
            ('renamed', 'NewName', NULL), ('taken', 'Taken', NULL),
            ('keyless', 'Keyless', NULL), ('nameless', NULL, NULL);
        INSERT INTO user_key VALUES ('username:carol', 'carol', 's2:abc:def'),
            ('github:12:34', 'carol', NULL), ('username:oldname', 'renamed', 's2:ghi:jkl'),
            ('username:taken', 'taken', 's2:mno:pqr'), ('username:ghost', 'ghost', NULL);
        INSERT INTO user_session VALUES
            ('aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', 'carol', {live}, {live}, 'NL'),
            ('bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb', 'carol', 1, 2, 'NL'),
            ('custom-session', 'carol', {live}, {live}, 'NL'),
            ('cccccccccccccccccccccccccccccccccccccccc', 'taken', {live}, {live}, 'NL'),
            ('dddddddddddddddddddddddddddddddddddddddd', 'ghost', {live}, {live}, 'NL');"#
    ))
    .execute(&mut connection)
    .await
    .expect("fills Lucia's tables");
    connection.close().await.expect("closes");

    // Someone signed up as "taken" on the new site before the import.
    let target = dir.path().join("site.db");
    let to = target.to_str().expect("utf-8 path");
    let database = open(to).await;
    let squatter = latchkey::adapter::UserRow {
        id: "squatter".to_owned(),
        attributes: json!({ "username": "TAKEN" }).to_string(),
    };
    let squatter_key = KeyRow {
        provider_id: "username".to_owned(),
        provider_user_id: "taken".to_owned(),
        user_id: "squatter".to_owned(),
        hashed_password: None,
    };
    let adapter = database.adapter();
    adapter
        .insert_user(&squatter, Some(&squatter_key))
        .await
        .expect("inserts");

    let report = import_json(lucia.to_str().expect("utf-8 path"), to);

    assert_eq!(
        counts(&report, "users"),
        json!({ "imported": 3, "skipped": 0, "refused": 2 })
    );
    assert_eq!(
        counts(&report, "keys"),
        json!({ "imported": 3, "skipped": 0, "refused": 2 })
    );
    assert_eq!(
        counts(&report, "sessions"),
        json!({ "imported": 1, "skipped": 0, "expired": 1, "refused": 3, "shortened": 1 })
    );
    assert_eq!(
        report["ignored_columns"],
        json!(["user.email", "user_session.country"])
    );
    let issues: Vec<String> = report["issues"]
        .as_array()
        .expect("issues")
        .iter()
        .map(|issue| format!("{}: {}", issue["user_id"], issue["problem"]))
        .collect();
    for expected in [
        r#""renamed": "key username:oldname does not match username \"NewName\""#,
        r#""taken": "not imported: username \"Taken\" is taken by another user"#,
        r#""nameless": "not imported: has no username"#,
        r#""carol": "a session id that is not 40 characters"#,
        r#""ghost": "1 key(s) of a user that does not exist"#,
        r#""ghost": "1 session(s) of a user that does not exist"#,
    ] {
        assert!(
            issues.iter().any(|issue| issue.starts_with(expected)),
            "no {expected} in {issues:#?}"
        );
    }
    assert_eq!(issues.len(), 6, "{issues:#?}");

    let github = adapter.key("github", "12:34").await.expect("reads");
    assert_eq!(
        github.map(|key| (key.user_id, key.hashed_password)),
        Some(("carol".to_owned(), None))
    );
    let renamed = adapter.key("username", "newname").await.expect("reads");
    assert_eq!(renamed.map(|key| key.user_id), Some("renamed".to_owned()));
    let squatted = adapter.key("username", "taken").await.expect("reads");
    assert_eq!(squatted.map(|key| key.user_id), Some("squatter".to_owned()));
    assert!(adapter.user("taken").await.expect("reads").is_none());
    assert!(adapter.user("keyless").await.expect("reads").is_some());
    database.close().await;
}
