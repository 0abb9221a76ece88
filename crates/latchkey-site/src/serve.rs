//! `latchkey serve`: the site on a socket, with request logs and a graceful stop.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::Context;
use latchkey::throttle::RateRule;
use latchkey::{AuditLog, Auth, HasherConfig, Throttle, ThrottleConfig};
use tokio::net::TcpListener;

use crate::cli::ServeArgs;
use crate::database::Database;
use crate::site::client::TrustedProxies;
use crate::site::{self, AbuseConfig, Metrics, SiteConfig};

/// How often the server deletes expired sessions, throttle records and old audit events.
const PURGE_INTERVAL: Duration = Duration::from_secs(60 * 60);
/// How often the sessions' queued last-seen times are written: well inside the library's
/// own delay, so no request writes them.
const ACTIVITY_INTERVAL: Duration = Duration::from_secs(5);
/// How often the last-seen writer looks whether the queue is half full between its regular
/// writes. A look is one atomic load.
const ACTIVITY_POLL: Duration = Duration::from_millis(200);

/// Serves the site until SIGINT or SIGTERM, then lets in-flight requests finish and closes
/// the database.
///
/// # Errors
///
/// When the database cannot be opened or the address cannot be bound.
pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    let database = Database::open(&args.database).await?;
    let metrics = Metrics::new();
    let hasher = HasherConfig {
        priority: args.hashing_priority.into(),
        ..HasherConfig::default()
    };
    let auth = Auth::builder_shared(database.adapter())
        .hasher(hasher)
        .on_hash_wait(metrics.hash_wait_observer())
        .build()
        .context("cannot start password hashing")?;
    let config = SiteConfig {
        insecure_cookies: args.insecure_cookies,
        public_origin: args.public_origin.clone(),
        metrics: metrics.clone(),
        metrics_on_main: args.metrics_listen.is_none(),
        abuse: abuse_config(&args),
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

    let retention = Duration::from_secs(u64::from(args.audit_retention_days) * 24 * 60 * 60);
    let purge = tokio::spawn(purge_expired(
        auth.clone(),
        config.abuse.throttle.clone(),
        retention,
    ));
    let activity = tokio::spawn(write_session_activity(auth.clone()));
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown_signal())
    .await
    .context("server failed")?;

    purge.abort();
    activity.abort();
    match auth.flush_session_activity().await {
        Ok(sessions) => tracing::debug!(sessions, "last-seen times written at shutdown"),
        Err(error) => tracing::warn!(%error, "last-seen times lost at shutdown"),
    }
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

/// The throttles and client addresses the options ask for.
fn abuse_config(args: &ServeArgs) -> AbuseConfig {
    AbuseConfig {
        trusted_proxies: TrustedProxies::new(args.trusted_proxies.clone(), args.forwarded_header),
        throttle: ThrottleConfig {
            sign_ups: RateRule::per_hour(args.sign_ups_per_hour),
            failed_sign_ins: RateRule::per_hour(args.failed_sign_ins_per_hour),
            ..ThrottleConfig::default()
        },
    }
}

/// Every [`PURGE_INTERVAL`]: deletes dead sessions, expired throttle records and full buckets,
/// and audit events older than `retention`.
async fn purge_expired(auth: site::SiteAuth, throttle: ThrottleConfig, retention: Duration) {
    let throttle = Throttle::new(auth.adapter().clone(), auth.clock().clone(), throttle);
    let audit = AuditLog::new(auth.adapter().clone(), auth.clock().clone());
    let mut interval = tokio::time::interval(PURGE_INTERVAL);
    loop {
        interval.tick().await;
        match auth.delete_expired_sessions().await {
            Ok(deleted) => tracing::info!(deleted, "expired sessions purged"),
            Err(error) => tracing::warn!(%error, "expired session purge failed"),
        }
        match throttle.delete_expired().await {
            Ok(deleted) => tracing::info!(deleted, "expired throttle records purged"),
            Err(error) => tracing::warn!(%error, "throttle purge failed"),
        }
        match audit.prune(retention).await {
            Ok(deleted) => tracing::info!(deleted, "old audit events purged"),
            Err(error) => tracing::warn!(%error, "audit log purge failed"),
        }
    }
}

/// Writes the sessions' last-seen times that validation queued, so that no request waits for
/// them: every 5 seconds, and sooner when the queue is half full, as when many sessions come
/// back at once. A full queue takes no new times. Runs until aborted.
pub async fn write_session_activity(auth: site::SiteAuth) {
    let mut poll = tokio::time::interval(ACTIVITY_POLL);
    poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut written_at = Instant::now();
    loop {
        poll.tick().await;
        if written_at.elapsed() < ACTIVITY_INTERVAL && !auth.session_activity_filling() {
            continue;
        }

        written_at = Instant::now();
        if let Err(error) = auth.flush_session_activity().await {
            tracing::warn!(%error, "last-seen times not written");
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
