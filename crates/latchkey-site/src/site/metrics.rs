//! Prometheus metrics: requests by route and status, their latency, sign-ins by outcome,
//! sign-ups, and the password-hash queue.
//!
//! Sign-in and sign-up outcomes are read off each API response's status, in the same
//! middleware that counts requests, so the handlers stay free of bookkeeping: a redirect is a
//! success, 429 is throttled, any other 4xx a failure.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use latchkey::WaitObserver;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

use super::SiteAuth;

/// How long a count of live sessions stands for the gauge. Counting reads an index of every
/// session, 45 ms of CPU at a million on SQLite, so a scraper or a script that asks every few
/// hundred milliseconds gets the last count instead of a new one each time.
const LIVE_SESSIONS_MAX_AGE: Duration = Duration::from_secs(15);

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: String,
    method: String,
    status: u16,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: &'static str,
}

/// The site's metrics, shared by every request.
#[derive(Clone)]
pub struct Metrics {
    inner: Arc<Inner>,
}

struct Inner {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabels, Histogram>,
    sign_ins: Family<OutcomeLabels, Counter>,
    sign_ups: Family<OutcomeLabels, Counter>,
    hash_queue_depth: Gauge,
    hash_wait: Histogram,
    live_sessions: Gauge,
    live_counted_at: Mutex<Option<Instant>>,
    last_seen_pending: Gauge,
    last_seen_dropped: Counter,
    // How much of the library's dropped count `last_seen_dropped` holds; a lock, so that two
    // scrapes at once do not both add the same difference.
    last_seen_dropped_reported: Mutex<u64>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A fresh set of metrics, all zero.
    pub fn new() -> Self {
        let requests = Family::<RequestLabels, Counter>::default();
        let latency = Family::<RouteLabels, Histogram>::new_with_constructor(|| {
            // 0.25 ms to about 8 s.
            Histogram::new(exponential_buckets(0.000_25, 2.0, 16))
        });
        let sign_ins = Family::<OutcomeLabels, Counter>::default();
        let sign_ups = Family::<OutcomeLabels, Counter>::default();
        let hash_queue_depth = Gauge::default();
        let hash_wait = Histogram::new(exponential_buckets(0.000_1, 2.0, 18));
        let live_sessions = Gauge::default();
        let last_seen_pending = Gauge::default();
        let last_seen_dropped = Counter::default();

        let mut registry = Registry::with_prefix("latchkey");
        registry.register(
            "http_requests",
            "HTTP requests by route, method and status",
            requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "HTTP request latency by route",
            latency.clone(),
        );
        registry.register("sign_ins", "Sign-in attempts by outcome", sign_ins.clone());
        registry.register("sign_ups", "Sign-up attempts by outcome", sign_ups.clone());
        registry.register(
            "password_hash_queue_depth",
            "Password hash jobs waiting for a thread",
            hash_queue_depth.clone(),
        );
        registry.register(
            "password_hash_wait_seconds",
            "Time password hash jobs waited for a thread",
            hash_wait.clone(),
        );

        registry.register(
            "live_sessions",
            "Sessions not yet expired, across every instance",
            live_sessions.clone(),
        );
        registry.register(
            "session_last_seen_pending",
            "Sessions of this instance whose last-seen time waits to be written",
            last_seen_pending.clone(),
        );
        registry.register(
            "session_last_seen_dropped",
            "Last-seen times this instance did not queue because its queue was full",
            last_seen_dropped.clone(),
        );

        Self {
            inner: Arc::new(Inner {
                registry,
                requests,
                latency,
                sign_ins,
                sign_ups,
                hash_queue_depth,
                hash_wait,
                live_sessions,
                live_counted_at: Mutex::new(None),
                last_seen_pending,
                last_seen_dropped,
                last_seen_dropped_reported: Mutex::new(0),
            }),
        }
    }

    /// Counts one finished request.
    pub(crate) fn observe_request(
        &self,
        route: &str,
        method: &str,
        status: u16,
        latency: Duration,
    ) {
        let inner = &self.inner;
        inner
            .requests
            .get_or_create(&RequestLabels {
                route: route.to_owned(),
                method: method.to_owned(),
                status,
            })
            .inc();
        inner
            .latency
            .get_or_create(&RouteLabels {
                route: route.to_owned(),
            })
            .observe(latency.as_secs_f64());

        let outcome = match status {
            300..=399 => "success",
            429 => "throttled",
            400..=499 => "failure",
            _ => "error",
        };
        match (method, route) {
            ("POST", "/api/login") => inner
                .sign_ins
                .get_or_create(&OutcomeLabels { outcome })
                .inc(),
            ("POST", "/api/signup") => inner
                .sign_ups
                .get_or_create(&OutcomeLabels { outcome })
                .inc(),
            _ => 0,
        };
    }

    /// An observer for [`latchkey::AuthBuilder::on_hash_wait`].
    pub fn hash_wait_observer(&self) -> WaitObserver {
        let wait = self.inner.hash_wait.clone();
        WaitObserver::new(move |waited| wait.observe(waited.as_secs_f64()))
    }

    /// The metrics in Prometheus' text format, with gauges read now. The live-session count
    /// is one indexed count in the database, made at most once every 15 seconds; when the
    /// database does not answer in time the gauge keeps its last value.
    pub(crate) async fn render(&self, auth: &SiteAuth) -> String {
        if self.live_count_is_due() {
            self.count_live_sessions(auth).await;
        }
        let depth = i64::try_from(auth.hasher().queue_depth()).unwrap_or(i64::MAX);
        self.inner.hash_queue_depth.set(depth);
        let pending = i64::try_from(auth.pending_session_activity()).unwrap_or(i64::MAX);
        self.inner.last_seen_pending.set(pending);
        self.report_dropped(auth.dropped_session_activity());

        let mut text = String::new();
        if let Err(error) =
            prometheus_client::encoding::text::encode(&mut text, &self.inner.registry)
        {
            tracing::error!(%error, "metrics failed to encode");
        }
        text
    }

    /// Brings the dropped last-seen counter up to the library's count.
    fn report_dropped(&self, dropped: u64) {
        let mut reported = self
            .inner
            .last_seen_dropped_reported
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        if dropped > *reported {
            self.inner.last_seen_dropped.inc_by(dropped - *reported);
            *reported = dropped;
        }
    }

    /// Whether the last count is old enough to make a new one; if so, the new one counts as
    /// made now, so that scrapes arriving together count once.
    fn live_count_is_due(&self) -> bool {
        let mut counted_at = self
            .inner
            .live_counted_at
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        let due = counted_at.is_none_or(|at| at.elapsed() >= LIVE_SESSIONS_MAX_AGE);
        if due {
            *counted_at = Some(Instant::now());
        }
        due
    }

    async fn count_live_sessions(&self, auth: &SiteAuth) {
        let count = tokio::time::timeout(super::HEALTH_TIMEOUT, auth.count_live_sessions()).await;
        match count {
            Ok(Ok(live)) => {
                self.inner
                    .live_sessions
                    .set(i64::try_from(live).unwrap_or(i64::MAX));
            }
            Ok(Err(error)) => tracing::warn!(%error, "live sessions could not be counted"),
            Err(_) => tracing::warn!("counting live sessions timed out"),
        }
    }
}
