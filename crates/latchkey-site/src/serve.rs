//! `latchkey serve`: the site on a socket, with request logs and a graceful stop.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::Context;
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use latchkey::Auth;
use tokio::net::TcpListener;

use crate::cli::ServeArgs;
use crate::database::Database;
use crate::site::{self, SiteConfig};

/// How often the server deletes expired sessions.
const PURGE_INTERVAL: Duration = Duration::from_secs(60 * 60);

/// Serves the site until SIGINT or SIGTERM, then lets in-flight requests finish and closes
/// the database.
///
/// # Errors
///
/// When the database cannot be opened or the address cannot be bound.
pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    let database = Database::open(&args.database).await?;
    let auth = Auth::builder_shared(database.adapter())
        .build()
        .context("cannot start password hashing")?;
    let config = SiteConfig {
        insecure_cookies: args.insecure_cookies,
        public_origin: args.public_origin.clone(),
    };
    let app = site::router(auth.clone(), &config).layer(axum::middleware::from_fn(log_request));

    let listener = TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let address = listener
        .local_addr()
        .context("cannot read the bound address")?;
    tracing::info!(%address, database = database.kind(), "listening");
    if args.insecure_cookies {
        tracing::warn!("session cookies are sent without Secure: use only for development");
    }

    let purge = tokio::spawn(purge_expired_sessions(auth));
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown_signal())
    .await
    .context("server failed")?;

    purge.abort();
    database.close().await;
    tracing::info!("stopped");
    Ok(())
}

/// One log line per request: method, path (never the query, which may carry anything),
/// status and latency.
async fn log_request(request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let started = Instant::now();

    let response = next.run(request).await;

    let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
    tracing::info!(%method, path, status = response.status().as_u16(), latency_ms, "request");
    response
}

async fn purge_expired_sessions(auth: site::SiteAuth) {
    let mut interval = tokio::time::interval(PURGE_INTERVAL);
    loop {
        interval.tick().await;
        match auth.delete_expired_sessions().await {
            Ok(deleted) => tracing::info!(deleted, "expired sessions purged"),
            Err(error) => tracing::warn!(%error, "expired session purge failed"),
        }
    }
}

async fn shutdown_signal() {
    let interrupt = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };

    tokio::select! {
        () = interrupt => {}
        () = terminate => {}
    }
    tracing::info!("stopping: letting in-flight requests finish");
}
