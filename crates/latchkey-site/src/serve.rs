//! `latchkey serve`: the site on a socket, with request logs and a graceful stop.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use latchkey::Auth;
use tokio::net::TcpListener;

use crate::cli::ServeArgs;
use crate::database::Database;
use crate::site::{self, Metrics, SiteConfig};

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
    let metrics = Metrics::new();
    let auth = Auth::builder_shared(database.adapter())
        .on_hash_wait(metrics.hash_wait_observer())
        .build()
        .context("cannot start password hashing")?;
    let config = SiteConfig {
        insecure_cookies: args.insecure_cookies,
        public_origin: args.public_origin.clone(),
        metrics: metrics.clone(),
        metrics_on_main: args.metrics_listen.is_none(),
    };
    let app = site::router(auth.clone(), &config);
    let metrics_server = match args.metrics_listen {
        Some(address) => Some(serve_metrics(address, metrics, auth.clone()).await?),
        None => None,
    };

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
    if let Some(metrics_server) = metrics_server {
        metrics_server.abort();
    }
    database.close().await;
    tracing::info!("stopped");
    Ok(())
}

/// Serves `/metrics` alone on `address`, until aborted.
async fn serve_metrics(
    address: SocketAddr,
    metrics: Metrics,
    auth: site::SiteAuth,
) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    let listener = TcpListener::bind(address)
        .await
        .with_context(|| format!("cannot listen for metrics on {address}"))?;
    let app = site::metrics_router(metrics).with_state(auth);
    tracing::info!(metrics_address = %listener.local_addr().context("cannot read the bound address")?, "serving metrics");
    Ok(tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, app).await {
            tracing::error!(%error, "metrics server failed");
        }
    }))
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
