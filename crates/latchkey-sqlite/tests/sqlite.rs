//! SQLite-specific behaviour: opening, pragmas, migrations, concurrency and error mapping.
//! What every adapter must do is checked by the conformance suite in `latchkey::testing`.

use std::path::Path;

use latchkey::adapter::{KeyRow, SessionRow, UserRow};
use latchkey::{Adapter, AdapterError, PasswordHash};
use latchkey_sqlite::{SqliteAdapter, SqliteConfig, SqliteError};
use sqlx::Row;
use tempfile::TempDir;

fn user(id: &str) -> UserRow {
    UserRow {
        id: id.to_owned(),
        attributes: serde_json::json!({ "name": id }).to_string(),
    }
}

fn key(username: &str, user_id: &str) -> KeyRow {
    KeyRow {
        provider_id: "username".to_owned(),
        provider_user_id: username.to_owned(),
        user_id: user_id.to_owned(),
        hashed_password: Some(PasswordHash::new(
            "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA",
        )),
    }
}

fn session(id: &str, user_id: &str, created_at: i64) -> SessionRow {
    SessionRow {
        id: id.to_owned(),
        user_id: user_id.to_owned(),
        created_at,
        active_expires: created_at + 1_000,
        idle_expires: created_at + 2_000,
        absolute_expires: created_at + 10_000,
        last_seen_at: created_at,
        attributes: "{}".to_owned(),
    }
}

async fn open_file(dir: &TempDir) -> SqliteAdapter {
    let path = dir.path().join("latchkey.db");
    SqliteAdapter::connect(path_str(&path))
        .await
        .expect("connect")
}

fn path_str(path: &Path) -> &str {
    path.to_str().expect("utf-8 temp path")
}

async fn pragma(adapter: &SqliteAdapter, name: &str) -> String {
    let row = sqlx::query(&format!("PRAGMA {name}"))
        .fetch_one(&mut *adapter.acquire().await.expect("connection"))
        .await
        .expect("pragma");

    // Some pragmas answer with text and some with a number.
    row.try_get::<String, _>(0)
        .or_else(|_| row.try_get::<i64, _>(0).map(|n| n.to_string()))
        .expect("pragma value")
}

async fn count(adapter: &SqliteAdapter, table: &str) -> i64 {
    sqlx::query(&format!("SELECT count(*) FROM {table}"))
        .fetch_one(&mut *adapter.acquire().await.expect("connection"))
        .await
        .expect("count")
        .get(0)
}

#[tokio::test]
async fn connecting_creates_a_missing_file_and_sets_the_pragmas() {
    let dir = TempDir::new().expect("tempdir");
    let path = dir.path().join("new.db");
    assert!(!path.exists());

    let adapter = SqliteAdapter::connect(path_str(&path))
        .await
        .expect("connect");

    assert!(path.exists());
    assert_eq!(pragma(&adapter, "journal_mode").await, "wal");
    assert_eq!(pragma(&adapter, "foreign_keys").await, "1");
    assert_eq!(pragma(&adapter, "busy_timeout").await, "5000");
    assert_eq!(pragma(&adapter, "synchronous").await, "1", "1 is NORMAL");
    assert_eq!(
        pragma(&adapter, "cache_size").await,
        "-512",
        "512 KiB a connection"
    );
    adapter.close().await;
}

#[tokio::test]
async fn sqlite_urls_with_and_without_slashes_name_a_file() {
    let dir = TempDir::new().expect("tempdir");

    for (name, url) in [
        (
            "slashes.db",
            format!("sqlite://{}", path_str(&dir.path().join("slashes.db"))),
        ),
        (
            "plain.db",
            format!("sqlite:{}", path_str(&dir.path().join("plain.db"))),
        ),
    ] {
        let adapter = SqliteAdapter::connect(&url).await.expect("connect");
        adapter.ping().await.expect("ping");
        adapter.close().await;
        assert!(dir.path().join(name).exists(), "{url} created no file");
    }
}

#[tokio::test]
async fn a_url_without_a_database_path_is_rejected() {
    for url in ["", "sqlite://", "sqlite:"] {
        let result = SqliteAdapter::connect(url).await;
        assert!(
            matches!(result, Err(SqliteError::InvalidUrl(_))),
            "{url:?} gave {result:?}"
        );
    }
}

#[tokio::test]
async fn connecting_twice_to_one_file_keeps_the_data_and_migrates_once() {
    let dir = TempDir::new().expect("tempdir");
    let first = open_file(&dir).await;
    first.insert_user(&user("u1"), None).await.expect("insert");
    first.close().await;

    let second = open_file(&dir).await;

    assert_eq!(second.user("u1").await.expect("user"), Some(user("u1")));
    let files = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations"))
        .expect("migrations folder")
        .count();
    assert_eq!(
        count(&second, "_sqlx_migrations").await,
        i64::try_from(files).expect("few")
    );
    second.close().await;
}

#[tokio::test]
async fn closing_folds_the_wal_back_into_the_database_file() {
    let dir = TempDir::new().expect("tempdir");
    let adapter = open_file(&dir).await;
    adapter
        .insert_user(&user("u1"), None)
        .await
        .expect("insert");

    adapter.close().await;

    assert!(!dir.path().join("latchkey.db-wal").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_call_on_an_in_memory_adapter_sees_the_same_database() {
    let adapter = SqliteAdapter::connect("sqlite::memory:")
        .await
        .expect("connect");
    adapter
        .insert_user(&user("u1"), None)
        .await
        .expect("insert");

    let reads: Vec<_> = (0..16)
        .map(|_| {
            let adapter = adapter.clone();
            tokio::spawn(async move { adapter.user("u1").await })
        })
        .collect();

    for read in reads {
        let found = read.await.expect("task").expect("user");
        assert_eq!(found, Some(user("u1")));
    }
    assert_eq!(adapter.max_connections(), 1);
}

#[tokio::test]
async fn two_in_memory_adapters_do_not_share_a_database() {
    let first = SqliteAdapter::connect("sqlite::memory:")
        .await
        .expect("connect");
    let second = SqliteAdapter::connect(":memory:").await.expect("connect");

    first.insert_user(&user("u1"), None).await.expect("insert");

    assert_eq!(second.user("u1").await.expect("user"), None);
    assert_eq!(pragma(&second, "foreign_keys").await, "1");
}

async fn race_for_one_key(adapter: &SqliteAdapter) {
    let attempts: Vec<_> = (0..32)
        .map(|i| {
            let adapter = adapter.clone();
            tokio::spawn(async move {
                let user_id = format!("u{i}");
                adapter
                    .insert_user(&user(&user_id), Some(&key("alice", &user_id)))
                    .await
            })
        })
        .collect();

    let mut won = 0;
    for attempt in attempts {
        match attempt.await.expect("task") {
            Ok(()) => won += 1,
            Err(AdapterError::DuplicateKey) => {}
            Err(other) => panic!("expected a duplicate key, got {other:?}"),
        }
    }

    assert_eq!(won, 1);
    assert_eq!(
        count(adapter, "users").await,
        1,
        "losers' users rolled back"
    );
    assert_eq!(count(adapter, "keys").await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn of_concurrent_sign_ups_for_one_key_in_a_file_exactly_one_succeeds() {
    let dir = TempDir::new().expect("tempdir");
    let adapter = open_file(&dir).await;

    race_for_one_key(&adapter).await;
    adapter.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn of_concurrent_sign_ups_for_one_key_in_memory_exactly_one_succeeds() {
    let adapter = SqliteAdapter::connect("sqlite::memory:")
        .await
        .expect("connect");

    race_for_one_key(&adapter).await;
}

#[tokio::test]
async fn a_taken_user_id_is_not_reported_as_a_taken_key() {
    let adapter = SqliteAdapter::connect(":memory:").await.expect("connect");
    adapter
        .insert_user(&user("u1"), Some(&key("alice", "u1")))
        .await
        .expect("first insert");

    let result = adapter
        .insert_user(&user("u1"), Some(&key("bob", "u1")))
        .await;

    assert!(
        matches!(result, Err(AdapterError::Other(_))),
        "got {result:?}"
    );
    assert_eq!(adapter.key("username", "bob").await.expect("key"), None);
}

#[tokio::test]
async fn a_taken_key_is_a_duplicate_key_and_rolls_back_the_user() {
    let adapter = SqliteAdapter::connect(":memory:").await.expect("connect");
    adapter
        .insert_user(&user("u1"), Some(&key("alice", "u1")))
        .await
        .expect("first insert");

    let with_user = adapter
        .insert_user(&user("u2"), Some(&key("alice", "u2")))
        .await;
    let alone = adapter.insert_key(&key("alice", "u1")).await;

    assert!(
        matches!(with_user, Err(AdapterError::DuplicateKey)),
        "got {with_user:?}"
    );
    assert!(
        matches!(alone, Err(AdapterError::DuplicateKey)),
        "got {alone:?}"
    );
    assert_eq!(adapter.user("u2").await.expect("user"), None);
}

#[tokio::test]
async fn a_key_or_session_for_an_unknown_user_is_an_unknown_user() {
    let adapter = SqliteAdapter::connect(":memory:").await.expect("connect");

    let key_result = adapter.insert_key(&key("alice", "nobody")).await;
    let session_result = adapter.insert_session(&session("s1", "nobody", 0)).await;

    assert!(
        matches!(key_result, Err(AdapterError::UnknownUser)),
        "got {key_result:?}"
    );
    assert!(
        matches!(session_result, Err(AdapterError::UnknownUser)),
        "got {session_result:?}"
    );
}

#[tokio::test]
async fn deleting_a_user_removes_their_sessions_and_keys_and_nobody_elses() {
    let adapter = SqliteAdapter::connect(":memory:").await.expect("connect");
    for id in ["u1", "u2"] {
        adapter
            .insert_user(&user(id), Some(&key(&format!("{id}-name"), id)))
            .await
            .expect("insert user");
        adapter
            .insert_session(&session(&format!("{id}-session"), id, 0))
            .await
            .expect("insert session");
    }

    adapter.delete_user("u1").await.expect("delete");

    assert_eq!(adapter.user("u1").await.expect("user"), None);
    assert!(adapter.user_keys("u1").await.expect("keys").is_empty());
    assert_eq!(
        adapter
            .session_and_user("u1-session")
            .await
            .expect("session"),
        None
    );
    assert_eq!(adapter.user_keys("u2").await.expect("keys").len(), 1);
    assert!(adapter
        .session_and_user("u2-session")
        .await
        .expect("session")
        .is_some());
}

#[tokio::test]
async fn deleting_a_users_sessions_spares_the_one_kept() {
    let adapter = SqliteAdapter::connect(":memory:").await.expect("connect");
    adapter
        .insert_user(&user("u1"), None)
        .await
        .expect("insert");
    for id in ["s1", "s2", "s3"] {
        adapter
            .insert_session(&session(id, "u1", 0))
            .await
            .expect("insert");
    }

    let kept_one = adapter
        .delete_user_sessions("u1", Some("s2"))
        .await
        .expect("delete");
    let kept_none = adapter
        .delete_user_sessions("u1", None)
        .await
        .expect("delete");

    assert_eq!((kept_one, kept_none), (2, 1));
}

#[tokio::test]
async fn a_closed_adapter_is_unavailable() {
    let adapter = SqliteAdapter::connect(":memory:").await.expect("connect");

    adapter.close().await;

    let result = adapter.ping().await;
    assert!(
        matches!(result, Err(AdapterError::Unavailable(_))),
        "got {result:?}"
    );
}

// A call is dropped when its client hangs up, and the pool hands its connection on without
// checking it (src/pool.rs): whatever the call left behind must be over before the next
// call's first statement runs. Each round drops a write transaction after a different wait,
// so the cancellations land before, during and after its statements, and the one connection
// then serves a write of its own. With `BEGIN IMMEDIATE` this failed within a few rounds
// (src/adapter.rs, `begin_write`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_cancelled_at_any_point_leaves_its_connection_fit_for_the_next() {
    let dir = TempDir::new().expect("tempdir");
    let path = dir.path().join("latchkey.db");
    let config = SqliteConfig::new().with_max_connections(1);
    let adapter = SqliteAdapter::connect_with(path_str(&path), config)
        .await
        .expect("connect");

    let (mut cancelled_calls, mut stored_users) = (0, 0);
    for round in 0..200u64 {
        let cancelled = format!("cancelled{round}");
        let (row, key_row) = (user(&cancelled), key(&cancelled, &cancelled));
        let call = adapter.insert_user(&row, Some(&key_row));
        // Tokio's timers count whole milliseconds, longer than the call takes; yielding to
        // the scheduler `round` times is a finer clock.
        let yields = async {
            for _ in 0..round {
                tokio::task::yield_now().await;
            }
        };
        let completed = tokio::select! {
            biased;
            result = call => {
                result.expect("a call left to finish");
                true
            }
            () = yields => {
                cancelled_calls += 1;
                false
            }
        };

        let next = format!("next{round}");
        adapter
            .insert_user(&user(&next), Some(&key(&next, &next)))
            .await
            .expect("the next write on the connection");

        // All or nothing: a user is never left without the key written with it.
        let stored = adapter.user(&cancelled).await.expect("user").is_some();
        let keyed = adapter
            .key("username", &cancelled)
            .await
            .expect("key")
            .is_some();
        assert_eq!(stored, keyed, "round {round}");
        assert!(
            stored || !completed,
            "round {round}: a finished call stored nothing"
        );
        stored_users += i64::from(stored);
    }

    assert!(cancelled_calls > 0, "no call was cancelled");
    assert_eq!(count(&adapter, "users").await, 200 + stored_users);
    adapter.close().await;
}

#[tokio::test]
async fn sessions_stored_before_they_were_ordered_by_user_survive_the_migration() {
    // A database as the three migrations before 0004 left it, with sessions in it.
    let dir = TempDir::new().expect("tempdir");
    let earlier = dir.path().join("migrations");
    std::fs::create_dir(&earlier).expect("mkdir");
    for name in [
        "0001_init.sql",
        "0002_abuse.sql",
        "0003_session_activity.sql",
    ] {
        let source = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("migrations")
            .join(name);
        std::fs::copy(source, earlier.join(name)).expect("copy migration");
    }
    let path = dir.path().join("old.db");
    let options = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(&path)
        .create_if_missing(true);
    let pool = sqlx::SqlitePool::connect_with(options).await.expect("open");
    sqlx::migrate::Migrator::new(earlier.as_path())
        .await
        .expect("read migrations")
        .run(&pool)
        .await
        .expect("migrate to 0003");
    sqlx::query("INSERT INTO users (id, attributes) VALUES ('u1', '{}'), ('u2', '{}')")
        .execute(&pool)
        .await
        .expect("users");
    for (id, user_id, created_at) in [("s1", "u1", 1), ("s2", "u2", 2), ("s3", "u1", 3)] {
        sqlx::query(
            "INSERT INTO sessions (id, user_id, created_at, active_expires, idle_expires, \
             absolute_expires, attributes, last_seen_at) VALUES (?, ?, ?, 100, 200, 300, \
             '{\"ua\":\"x\"}', 7)",
        )
        .bind(id)
        .bind(user_id)
        .bind(created_at)
        .execute(&pool)
        .await
        .expect("session");
    }
    pool.close().await;

    let adapter = SqliteAdapter::connect(path_str(&path))
        .await
        .expect("connect applies 0004");
    let (found, owner) = adapter
        .session_and_user("s3")
        .await
        .expect("read")
        .expect("kept");
    let listed = adapter.user_sessions("u1", 0).await.expect("listed");
    let duplicate = adapter.insert_session(&session("s2", "u1", 9)).await;

    assert_eq!(owner.id, "u1");
    assert_eq!(found.created_at, 3);
    assert_eq!(found.last_seen_at, 7);
    assert_eq!(found.attributes, "{\"ua\":\"x\"}");
    let ids: Vec<&str> = listed.iter().map(|row| row.id.as_str()).collect();
    assert_eq!(ids, ["s3", "s1"]);
    assert!(duplicate.is_err(), "a session id stays unique across users");
    assert_eq!(count(&adapter, "sessions").await, 3);
}
