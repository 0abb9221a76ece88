//! `bench-baseline`: the least a server can do to answer the site's `GET /`, as the yardstick
//! for the session path.
//!
//! One axum handler reads the `auth_session` cookie, checks its shape, hashes it with SHA-256,
//! makes the adapters' lookup (the session joined with its user, by primary keys) in the same
//! database through a pool opened by the same adapter with the site's default size, checks
//! the expiry and answers a page of the same size as the site's profile page. There is no
//! middleware, no cross-origin check, no security header and no request log: what the site
//! spends beyond this is what Latchkey and the site cost.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context;
use axum::extract::State;
use axum::http::header::{CONTENT_TYPE, COOKIE, LOCATION};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use clap::Parser;
use latchkey::token::{ALPHABET, TOKEN_LENGTH};
use latchkey_bench::Database;
use latchkey_sqlite::SqliteAdapter;
use sha2::{Digest, Sha256};
use tokio::net::TcpListener;

/// Serves the baseline page.
#[derive(Debug, Parser)]
#[command(name = "bench-baseline")]
struct Args {
    /// The address and port to listen on; port 0 picks a free one.
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,

    /// A SQLite path or a postgres:// URL, seeded by bench-seed.
    #[arg(long)]
    database_url: String,

    /// Connection pool size, as the site's --database-max-connections [default: the site's
    /// for the database: 4 for SQLite, 10 for PostgreSQL].
    #[arg(long)]
    database_max_connections: Option<u32>,

    /// Bytes in the page body: the size of the site's profile page.
    #[arg(long, default_value_t = 800)]
    page_bytes: usize,

    /// For experiments: a SQLite pragma (such as `cache_size = -512`) to run on every
    /// connection of the pool before serving; repeatable. The harness passes none.
    #[arg(long = "sqlite-pragma")]
    sqlite_pragmas: Vec<String>,
}

struct Baseline {
    database: Database,
    page_bytes: usize,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let database = Database::open(&args.database_url, args.database_max_connections).await?;
    if let Database::Sqlite(adapter) = &database {
        apply_pragmas(adapter, &args.sqlite_pragmas).await?;
    }
    let state = Arc::new(Baseline {
        database: database.clone(),
        page_bytes: args.page_bytes,
    });
    let app = Router::new().route("/", get(page)).with_state(state);

    let listener = TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    eprintln!("listening address={}", listener.local_addr()?);
    axum::serve(listener, app)
        .with_graceful_shutdown(stop_signal())
        .await?;

    database.close().await;
    Ok(())
}

/// Runs `pragmas` on every connection the pool can open, by holding them all at once.
async fn apply_pragmas(adapter: &SqliteAdapter, pragmas: &[String]) -> anyhow::Result<()> {
    if pragmas.is_empty() {
        return Ok(());
    }
    let mut held = Vec::new();
    for _ in 0..adapter.max_connections() {
        let mut connection = adapter.acquire().await?;
        for pragma in pragmas {
            sqlx::query(&format!("PRAGMA {pragma}"))
                .execute(&mut *connection)
                .await
                .with_context(|| format!("PRAGMA {pragma} failed"))?;
        }
        held.push(connection);
    }
    Ok(())
}

async fn page(State(state): State<Arc<Baseline>>, headers: HeaderMap) -> Response {
    let Some(token) = session_cookie(&headers) else {
        return to_login();
    };
    let id = hex::encode(Sha256::digest(token.as_bytes()));

    let found = match state.database.session(&id).await {
        Ok(Some(found)) => found,
        Ok(None) => return to_login(),
        Err(_) => return StatusCode::SERVICE_UNAVAILABLE.into_response(),
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| {
            i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX)
        });
    if now > found.idle_expires || now > found.absolute_expires {
        return to_login();
    }

    let username = serde_json::from_str::<serde_json::Value>(&found.user_attributes)
        .ok()
        .and_then(|attributes| attributes["username"].as_str().map(str::to_owned))
        .unwrap_or_default();
    let body = render(&found.user_id, &username, state.page_bytes);
    (
        [(
            CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        )],
        body,
    )
        .into_response()
}

/// The `auth_session` cookie's value, if it has the shape of a token.
fn session_cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == "auth_session")
        .map(|(_, value)| value)
        .filter(|value| {
            value.len() == TOKEN_LENGTH && value.bytes().all(|byte| ALPHABET.contains(&byte))
        })
}

fn to_login() -> Response {
    (StatusCode::SEE_OTHER, [(LOCATION, "/login")]).into_response()
}

/// A page like the site's profile, padded with white space to `bytes`. Seeded usernames and
/// user ids are `[a-z0-9]`, so nothing needs escaping.
fn render(user_id: &str, username: &str, bytes: usize) -> String {
    let mut page = format!(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <title>Profile</title>\n</head>\n<body>\n<main>\n<h1>Profile</h1>\n<dl>\n\
         <dt>User id</dt><dd><code>{user_id}</code></dd>\n\
         <dt>Username</dt><dd>{username}</dd>\n</dl>\n</main>\n</body>\n</html>\n"
    );
    // Padded in one copy: pushing the spaces one by one cost the baseline more than the
    // rest of its handler.
    page.push_str(&" ".repeat(bytes.saturating_sub(page.len())));
    page
}

async fn stop_signal() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = terminate => {}
    }
}
