//! A database that cannot be reached makes calls fail as `Unavailable` within a bounded
//! time, never hang, and calls succeed again once it is back.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use latchkey::adapter::UserRow;
use latchkey::{Adapter, AdapterError};
use latchkey_postgres::{PostgresAdapter, PostgresConfig, PostgresError};
use sqlx::Connection;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

fn user(id: &str) -> UserRow {
    UserRow {
        id: id.to_owned(),
        attributes: "{}".to_owned(),
    }
}

/// Settings that make these tests quick.
fn impatient() -> PostgresConfig {
    PostgresConfig::new()
        .with_acquire_timeout(Duration::from_millis(500))
        .with_call_timeout(Duration::from_secs(3))
}

#[tokio::test]
async fn connecting_to_a_closed_port_fails_as_unavailable_within_the_acquire_timeout() {
    let started = Instant::now();

    let result =
        PostgresAdapter::connect_with(&latchkey_testdb::closed_port_url(), impatient()).await;

    assert!(
        matches!(result, Err(PostgresError::Unavailable(_))),
        "{result:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "took {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_stopped_database_makes_calls_fail_as_unavailable_in_bounded_time_until_it_is_back() {
    let server = latchkey_testdb::PostgresServer::start_new();
    let url = server.fresh_database().await;
    let adapter = PostgresAdapter::connect_with(&url, impatient())
        .await
        .expect("connected");
    adapter
        .insert_user(&user("u1"), None)
        .await
        .expect("inserted");

    server.stop();
    let started = Instant::now();
    let first = adapter.user("u1").await;
    let second = adapter.ping().await;
    let elapsed = started.elapsed();

    assert!(
        matches!(first, Err(AdapterError::Unavailable(_))),
        "{first:?}"
    );
    assert!(
        matches!(second, Err(AdapterError::Unavailable(_))),
        "{second:?}"
    );
    assert!(elapsed < Duration::from_secs(4), "took {elapsed:?}");

    server.start();
    assert_eq!(
        adapter.user("u1").await.expect("read again"),
        Some(user("u1"))
    );
}

#[tokio::test]
async fn a_database_that_goes_silent_makes_calls_fail_within_the_call_timeout() {
    let proxy = FreezingProxy::start(&latchkey_testdb::shared_server_url()).await;
    let database = latchkey_testdb::fresh_database().await;
    let name = database.rsplit('/').next().expect("a database name");
    let config = PostgresConfig::new()
        .with_acquire_timeout(Duration::from_secs(30))
        .with_call_timeout(Duration::from_secs(1));
    let adapter = PostgresAdapter::connect_with(&proxy.url(name), config)
        .await
        .expect("connected");
    adapter.ping().await.expect("answers before the freeze");

    proxy.freeze();
    let started = Instant::now();
    let result = adapter.ping().await;

    assert!(
        matches!(result, Err(AdapterError::Unavailable(_))),
        "{result:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "took {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_closed_adapter_answers_unavailable() {
    let url = latchkey_testdb::fresh_database().await;
    let adapter = PostgresAdapter::connect(&url).await.expect("connected");

    adapter.close().await;
    let result = adapter.ping().await;

    assert!(
        matches!(result, Err(AdapterError::Unavailable(_))),
        "{result:?}"
    );
}

// The pool does not ping a connection that was used a moment ago (src/pool.rs). When the
// server ends every connection at once, the first call to meet a dead one fails, and from
// then on each connection is checked before its next use: one call fails, not one for each
// connection in the pool.
#[tokio::test]
async fn when_the_server_ends_every_connection_one_call_fails_and_the_next_succeed() {
    let url = latchkey_testdb::fresh_database().await;
    let config = PostgresConfig::new().with_max_connections(4);
    let adapter = PostgresAdapter::connect_with(&url, config)
        .await
        .expect("connected");
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(adapter.acquire().await.expect("a connection"));
    }
    drop(held);

    let mut admin = sqlx::PgConnection::connect(&url).await.expect("admin");
    let ended: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = current_database() AND pid <> pg_backend_pid()) AS ended",
    )
    .fetch_one(&mut admin)
    .await
    .expect("backends ended");
    let mut failed = 0;
    for _ in 0..8 {
        if adapter.ping().await.is_err() {
            failed += 1;
        }
    }

    assert_eq!(ended, 4);
    assert!(failed <= 1, "{failed} of 8 calls failed");
    adapter.ping().await.expect("answers again");
}

/// A TCP proxy to a server that can stop forwarding while keeping every connection open, as
/// a network does when it drops packets: no error, no end of stream, just silence.
struct FreezingProxy {
    port: u16,
    frozen: Arc<AtomicBool>,
}

impl FreezingProxy {
    async fn start(server_url: &str) -> Self {
        let upstream = server_url
            .split('@')
            .nth(1)
            .and_then(|rest| rest.split('/').next())
            .expect("url with host:port")
            .to_owned();
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bound");
        let port = listener.local_addr().expect("address").port();
        let frozen = Arc::new(AtomicBool::new(false));

        let flag = frozen.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let server = TcpStream::connect(&upstream)
                    .await
                    .expect("upstream reachable");
                let (client_read, client_write) = client.into_split();
                let (server_read, server_write) = server.into_split();
                tokio::spawn(forward(client_read, server_write, flag.clone()));
                tokio::spawn(forward(server_read, client_write, flag.clone()));
            }
        });

        Self { port, frozen }
    }

    fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    fn freeze(&self) {
        self.frozen.store(true, Ordering::SeqCst);
    }
}

/// Copies bytes one way until frozen, then holds both ends open forever.
async fn forward(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    frozen: Arc<AtomicBool>,
) {
    let mut buffer = vec![0; 16 * 1024];
    loop {
        let Ok(read) = from.read(&mut buffer).await else {
            return;
        };
        if read == 0 {
            return;
        }
        if frozen.load(Ordering::SeqCst) {
            std::future::pending::<()>().await;
        }
        if to.write_all(&buffer[..read]).await.is_err() {
            return;
        }
    }
}
