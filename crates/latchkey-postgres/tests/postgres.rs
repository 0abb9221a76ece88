//! The PostgreSQL adapter against a real server: migrations, concurrency and error mapping.
//!
//! Each test gets an empty database of its own on a server shared by this binary (see
//! `latchkey-testdb`). The cross-adapter behaviour is checked by the conformance suite in
//! `latchkey::testing`; these tests cover what is particular to PostgreSQL.

use std::sync::Arc;

use latchkey::adapter::{KeyRow, LastSeen, SessionRow, UserRow};
use latchkey::{Adapter, AdapterError, PasswordHash};
use latchkey_postgres::PostgresAdapter;
use sqlx::Row;

async fn fresh_adapter() -> PostgresAdapter {
    let url = latchkey_testdb::fresh_database().await;
    PostgresAdapter::connect(&url).await.expect("connected")
}

fn user(id: &str) -> UserRow {
    UserRow {
        id: id.to_owned(),
        attributes: format!(r#"{{"name":"{id}"}}"#),
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

fn session(id: &str, user_id: &str) -> SessionRow {
    SessionRow {
        id: id.to_owned(),
        user_id: user_id.to_owned(),
        created_at: 1_000,
        active_expires: 2_000,
        idle_expires: 3_000,
        absolute_expires: 4_000,
        last_seen_at: 1_000,
        attributes: "{}".to_owned(),
    }
}

#[tokio::test]
async fn connecting_creates_the_tables_and_records_the_migration() {
    let adapter = fresh_adapter().await;

    let tables: Vec<String> = sqlx::query(
        "SELECT table_name::TEXT FROM information_schema.tables
         WHERE table_schema = 'public' ORDER BY table_name",
    )
    .fetch_all(&mut *adapter.acquire().await.expect("connection"))
    .await
    .expect("tables listed")
    .iter()
    .map(|row| row.get(0))
    .collect();
    let applied: i64 = sqlx::query_scalar("SELECT count(*) FROM _sqlx_migrations WHERE success")
        .fetch_one(&mut *adapter.acquire().await.expect("connection"))
        .await
        .expect("migrations listed");

    for table in [
        "_sqlx_migrations",
        "keys",
        "sessions",
        "users",
        "audit_events",
    ] {
        assert!(
            tables.contains(&table.to_owned()),
            "{table} missing from {tables:?}"
        );
    }
    let files = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations"))
        .expect("migrations folder")
        .count();
    assert_eq!(applied, i64::try_from(files).expect("few"));
}

#[tokio::test]
async fn connecting_again_to_a_migrated_database_changes_nothing() {
    let url = latchkey_testdb::fresh_database().await;
    let first = PostgresAdapter::connect(&url).await.expect("first connect");
    first
        .insert_user(&user("u1"), None)
        .await
        .expect("inserted");

    let second = PostgresAdapter::connect(&url)
        .await
        .expect("second connect");

    assert_eq!(second.user("u1").await.expect("read"), Some(user("u1")));
}

#[tokio::test]
async fn two_adapters_connecting_at_once_to_a_new_database_both_succeed() {
    // Without the migrator's advisory lock, both would try to create the tables and one
    // would fail on "relation already exists" or a duplicate migration row.
    for _ in 0..5 {
        let url = latchkey_testdb::fresh_database().await;

        let (a, b, c) = tokio::join!(
            PostgresAdapter::connect(&url),
            PostgresAdapter::connect(&url),
            PostgresAdapter::connect(&url)
        );

        a.expect("first connected");
        b.expect("second connected");
        c.expect("third connected");
    }
}

#[tokio::test]
async fn of_32_concurrent_sign_ups_for_one_key_exactly_one_wins() {
    let adapter = Arc::new(fresh_adapter().await);

    let tasks: Vec<_> = (0..32)
        .map(|n| {
            let adapter = adapter.clone();
            tokio::spawn(async move {
                let id = format!("racer{n:02}");
                adapter
                    .insert_user(&user(&id), Some(&key("alice", &id)))
                    .await
            })
        })
        .collect();
    let mut results = Vec::new();
    for task in tasks {
        results.push(task.await.expect("task finished"));
    }

    let winners = results.iter().filter(|result| result.is_ok()).count();
    let duplicates = results
        .iter()
        .filter(|result| matches!(result, Err(AdapterError::DuplicateKey)))
        .count();
    assert_eq!((winners, duplicates), (1, 31), "{results:?}");
    let users: i64 = sqlx::query_scalar("SELECT count(*) FROM users")
        .fetch_one(&mut *adapter.acquire().await.expect("connection"))
        .await
        .expect("counted");
    assert_eq!(users, 1, "the losers' users were rolled back");
}

#[tokio::test]
async fn a_duplicate_user_id_is_not_reported_as_a_duplicate_key() {
    let adapter = fresh_adapter().await;
    adapter
        .insert_user(&user("u1"), Some(&key("alice", "u1")))
        .await
        .expect("first");

    let again = adapter
        .insert_user(&user("u1"), Some(&key("bob", "u1")))
        .await;

    assert!(matches!(again, Err(AdapterError::Other(_))), "{again:?}");
    assert_eq!(adapter.key("username", "bob").await.expect("read"), None);
}

#[tokio::test]
async fn a_key_or_session_for_an_unknown_user_is_unknown_user() {
    let adapter = fresh_adapter().await;

    let key = adapter.insert_key(&key("ghost", "nobody")).await;
    let session = adapter.insert_session(&session("s1", "nobody")).await;

    assert!(matches!(key, Err(AdapterError::UnknownUser)), "{key:?}");
    assert!(
        matches!(session, Err(AdapterError::UnknownUser)),
        "{session:?}"
    );
}

#[tokio::test]
async fn a_taken_key_added_to_an_existing_user_is_a_duplicate_key() {
    let adapter = fresh_adapter().await;
    adapter
        .insert_user(&user("u1"), Some(&key("alice", "u1")))
        .await
        .expect("first");
    adapter
        .insert_user(&user("u2"), None)
        .await
        .expect("second");

    let taken = adapter.insert_key(&key("alice", "u2")).await;

    assert!(
        matches!(taken, Err(AdapterError::DuplicateKey)),
        "{taken:?}"
    );
}

#[tokio::test]
async fn a_session_and_its_user_come_back_together_and_go_with_the_user() {
    let adapter = fresh_adapter().await;
    adapter
        .insert_user(&user("u1"), Some(&key("alice", "u1")))
        .await
        .expect("user");
    adapter
        .insert_session(&session("s1", "u1"))
        .await
        .expect("session");

    let found = adapter.session_and_user("s1").await.expect("read");
    adapter.delete_user("u1").await.expect("deleted");

    assert_eq!(found, Some((session("s1", "u1"), user("u1"))));
    assert_eq!(adapter.session_and_user("s1").await.expect("read"), None);
    assert_eq!(adapter.key("username", "alice").await.expect("read"), None);
}

#[tokio::test]
async fn a_password_is_replaced_only_while_it_is_still_the_current_one() {
    let adapter = fresh_adapter().await;
    adapter
        .insert_user(&user("u1"), Some(&key("alice", "u1")))
        .await
        .expect("user");
    let current = key("alice", "u1").hashed_password.expect("has a hash");
    let (upgraded, changed) = (PasswordHash::new("upgraded"), PasswordHash::new("changed"));

    adapter
        .update_key_password("username", "alice", Some(&changed))
        .await
        .expect("changed");
    let replaced = adapter
        .replace_key_password("username", "alice", &current, &upgraded)
        .await
        .expect("compared");

    assert!(!replaced);
    let stored = adapter
        .key("username", "alice")
        .await
        .expect("read")
        .expect("present");
    assert_eq!(stored.hashed_password, Some(changed));
}

#[tokio::test]
async fn overlapping_last_seen_batches_in_opposite_orders_never_deadlock() {
    // Planned as a walk of the primary key in each batch's own order, as PostgreSQL plans
    // the update on a large table. Two batches that lock the same rows in opposite orders
    // then deadlock unless the adapter makes them take turns; on a table this small the
    // planner would otherwise scan the table, in one order for every batch.
    let url = latchkey_testdb::fresh_database().await;
    let index_walk = "options=-c%20enable_seqscan%3Doff%20-c%20enable_hashjoin%3Doff\
                      %20-c%20enable_mergejoin%3Doff%20-c%20deadlock_timeout%3D50ms";
    let adapter = Arc::new(
        PostgresAdapter::connect(&format!("{url}?{index_walk}"))
            .await
            .expect("connected"),
    );
    adapter.insert_user(&user("u"), None).await.expect("user");
    let ids: Vec<String> = (0..200).map(|n| format!("session{n:03}")).collect();
    for id in &ids {
        adapter
            .insert_session(&session(id, "u"))
            .await
            .expect("session");
    }

    let writers = (0..8_i64).map(|writer| {
        let adapter = adapter.clone();
        let mut batch: Vec<LastSeen> = ids
            .iter()
            .map(|id| LastSeen {
                session_id: id.clone(),
                user_id: "u".to_owned(),
                at: 10_000 + writer,
            })
            .collect();
        if writer % 2 == 1 {
            batch.reverse();
        }
        tokio::spawn(async move { adapter.update_sessions_last_seen(&batch).await })
    });

    for writer in writers.collect::<Vec<_>>() {
        writer
            .await
            .expect("joined")
            .expect("written without a deadlock");
    }
    let latest: i64 = sqlx::query_scalar("SELECT min(last_seen_at) FROM sessions")
        .fetch_one(&mut *adapter.acquire().await.expect("connection"))
        .await
        .expect("read");
    assert_eq!(latest, 10_007);
}

#[tokio::test]
async fn a_bucket_taken_and_returned_thousands_of_times_stays_on_one_page() {
    // Every sign-in takes a token from its address's bucket and a successful one returns it:
    // one row that changes twice a sign-in. Updated in place (HOT), its old versions are
    // pruned from the page; with the changed column in an index, each version also needed an
    // index entry, and the table grew until a vacuum. A server of its own: transactions of
    // the other tests, in other databases, would hold back which old versions may go.
    let server = latchkey_testdb::PostgresServer::start_new();
    let adapter = PostgresAdapter::connect(&server.fresh_database().await)
        .await
        .expect("connected");
    let rule = latchkey::throttle::RateRule::per_hour(1_000_000);

    for n in 0..2_000 {
        assert!(adapter
            .take_token("address:203.0.113.7", n, &rule)
            .await
            .expect("taken"));
        adapter
            .return_token("address:203.0.113.7", &rule)
            .await
            .expect("returned");
    }
    let pages: i64 = sqlx::query_scalar(
        "SELECT pg_relation_size('rate_buckets') / current_setting('block_size')::bigint",
    )
    .fetch_one(&mut *adapter.acquire().await.expect("connection"))
    .await
    .expect("size read");

    assert!(pages <= 1, "the bucket's table grew to {pages} pages");
}

#[tokio::test]
async fn a_last_seen_update_keeps_the_session_on_its_page() {
    // The first page is as full as the table lets it be: at the default fill the new
    // version of the row went to another page, and into every index of the table.
    let adapter = fresh_adapter().await;
    adapter.insert_user(&user("u"), None).await.expect("user");
    for n in 0..300 {
        adapter
            .insert_session(&session(&format!("session{n:03}"), "u"))
            .await
            .expect("session");
    }
    // The block number of the row's current version: the first of its ctid's two numbers.
    let page = || async {
        let mut connection = adapter.acquire().await.expect("connection");
        sqlx::query_scalar::<_, f64>(
            "SELECT (ctid::text::point)[0] FROM sessions WHERE id = 'session000'",
        )
        .fetch_one(&mut *connection)
        .await
    };
    let before = page().await.expect("read");

    adapter
        .update_sessions_last_seen(&[LastSeen {
            session_id: "session000".to_owned(),
            user_id: "u".to_owned(),
            at: 5_000,
        }])
        .await
        .expect("written");
    let after = page().await.expect("read");

    assert_eq!(after, before, "moved from block {before} to block {after}");
}
