//! A server of one's own: it starts, serves fresh databases, stops, starts again and cleans up.

use sqlx::{Connection, PgConnection};

async fn answers(url: &str) -> bool {
    match PgConnection::connect(url).await {
        Ok(connection) => connection.close().await.is_ok(),
        Err(_) => false,
    }
}

#[tokio::test]
async fn a_server_serves_fresh_databases_and_can_be_stopped_and_started_again() {
    let server = latchkey_testdb::PostgresServer::start_new();
    let first = server.fresh_database().await;
    let second = server.fresh_database().await;

    assert_ne!(first, second);
    assert!(answers(&first).await, "{}", server.log());

    server.stop();
    assert!(!server.is_running());
    assert!(!answers(&first).await);

    server.start();
    assert!(answers(&first).await, "{}", server.log());
}

#[tokio::test]
async fn dropping_a_server_stops_it_and_removes_its_directory() {
    let server = latchkey_testdb::PostgresServer::start_new();
    let url = server.fresh_database().await;
    let port = server.port();

    drop(server);

    assert!(!answers(&url).await);
    let leftovers = std::fs::read_dir(std::env::temp_dir())
        .expect("temp dir listed")
        .filter_map(Result::ok)
        .filter(|entry| {
            entry
                .file_name()
                .to_string_lossy()
                .starts_with("latchkey-pg-")
        })
        .filter(|entry| {
            let log = std::fs::read_to_string(entry.path().join("server.log")).unwrap_or_default();
            log.contains(&format!("port {port}"))
        })
        .count();
    assert_eq!(leftovers, 0);
}

#[tokio::test]
async fn the_shared_server_gives_each_caller_its_own_database() {
    let (a, b) = tokio::join!(
        latchkey_testdb::fresh_database(),
        latchkey_testdb::fresh_database()
    );

    assert_ne!(a, b);
    assert!(answers(&a).await);
    assert!(answers(&b).await);
}

#[tokio::test]
async fn nothing_listens_on_a_closed_port_url() {
    assert!(!answers(&latchkey_testdb::closed_port_url()).await);
}
