//! The API's defences against guessing and flooding, in one place: throttles, device
//! cookies and the audit log, over the same database and clock as the site's [`SiteAuth`].
//!
//! A sign-in first takes a token from its client's bucket of failed sign-ins, then starts an
//! attempt on its account (or, with a valid device cookie for that account, on its device);
//! a refusal at either step is a 429 before any password is hashed, and gives the token
//! back when it was the account that refused. Unknown usernames go through the same steps,
//! so a refusal says nothing about whether an account exists. A success clears the attempt,
//! returns the token and hands out a device cookie.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::header::COOKIE;
use axum::http::{HeaderMap, HeaderValue};
use latchkey::device::{DeviceId, DeviceKey, DEFAULT_LIFETIME};
use latchkey::throttle::{Decision, Limit, Subject};
use latchkey::{Adapter, AuditEvent, AuditKind, AuditLog, Clock, Error, Throttle, ThrottleConfig};

use super::client::{Client, TrustedProxies};
use super::SiteAuth;

/// The device cookie's name.
pub const DEVICE_COOKIE: &str = "auth_device";

/// The one path the device cookie is sent to: sign-in, the only reader.
const DEVICE_COOKIE_PATH: &str = "/api/login";

/// A refusal of one subject is written to the audit log at most once in this window by
/// each server, so that a flood of refused requests cannot flood the log.
const REFUSAL_LOG_WINDOW: i64 = 60_000;

/// Refusals remembered for [`REFUSAL_LOG_WINDOW`] before the memory is cut back.
const REFUSAL_LOG_ENTRIES: usize = 10_000;

/// Abuse-resistance settings of the site.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AbuseConfig {
    /// The proxies whose forwarding header names the client.
    pub trusted_proxies: TrustedProxies,
    /// The throttle's rules.
    pub throttle: ThrottleConfig,
}

/// Whether a sign-in or sign-up may go on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Gate {
    /// It may.
    Open,
    /// Refused; a retry may succeed after this long.
    Closed(Duration),
}

/// The throttles, device cookies and audit log of one site.
pub(crate) struct Guard {
    throttle: Throttle,
    audit: AuditLog,
    adapter: Arc<dyn Adapter>,
    clock: Arc<dyn Clock>,
    device_key: tokio::sync::OnceCell<DeviceKey>,
    proxies: TrustedProxies,
    secure_cookies: bool,
    refusals_logged: Mutex<HashMap<String, i64>>,
}

impl Guard {
    /// The guard over `auth`'s database and clock.
    pub(crate) fn new(auth: &SiteAuth, config: &AbuseConfig, insecure_cookies: bool) -> Self {
        let adapter = auth.adapter().clone();
        let clock = auth.clock().clone();
        Self {
            throttle: Throttle::new(adapter.clone(), clock.clone(), config.throttle.clone()),
            audit: AuditLog::new(adapter.clone(), clock.clone()),
            adapter,
            clock,
            device_key: tokio::sync::OnceCell::new(),
            proxies: config.trusted_proxies.clone(),
            secure_cookies: !insecure_cookies,
            refusals_logged: Mutex::new(HashMap::new()),
        }
    }

    /// The trusted proxies, for working out the client's address.
    pub(crate) fn proxies(&self) -> &TrustedProxies {
        &self.proxies
    }

    /// The device the request's cookie names, when the cookie is valid for this account.
    pub(crate) async fn device(
        &self,
        headers: &HeaderMap,
        provider_id: &str,
        provider_user_id: &str,
    ) -> Option<DeviceId> {
        let cookie = device_cookie_value(headers)?;
        let key = self.device_key().await?;
        key.verify(cookie, provider_id, provider_user_id, self.clock.now())
    }

    /// The `Set-Cookie` value that marks this browser as a device of the account, keeping its
    /// device id when it had one. `None` when the key cannot be had, which only costs the
    /// browser its exemption.
    pub(crate) async fn device_cookie(
        &self,
        provider_id: &str,
        provider_user_id: &str,
        device: Option<DeviceId>,
    ) -> Option<HeaderValue> {
        let key = self.device_key().await?;
        let device = device.unwrap_or_else(DeviceId::generate);
        let value = key.issue(
            provider_id,
            provider_user_id,
            &device,
            self.clock.now() + DEFAULT_LIFETIME,
        );
        let secure = if self.secure_cookies { "; Secure" } else { "" };
        let cookie = format!(
            "{DEVICE_COOKIE}={value}; Max-Age={}; Path={DEVICE_COOKIE_PATH}; HttpOnly; \
             SameSite=Lax{secure}",
            DEFAULT_LIFETIME.as_secs()
        );
        HeaderValue::from_str(&cookie).ok()
    }

    /// Lets a sign-in on `subject` go on, or refuses it before any hashing.
    ///
    /// # Errors
    ///
    /// Storage errors.
    pub(crate) async fn begin_sign_in(
        &self,
        client: &Client,
        subject: Subject<'_>,
        username: &str,
    ) -> Result<Gate, Error> {
        let network = client.network();
        let taken = self.throttle.take(Limit::FailedSignIns, &network).await?;
        if let Decision::Refused { retry_after } = taken {
            self.refused(client, username, "address", &network).await;
            return Ok(Gate::Closed(retry_after));
        }

        let attempt = self.throttle.begin_sign_in(subject).await?;
        if let Decision::Refused { retry_after } = attempt {
            self.throttle
                .give_back(Limit::FailedSignIns, &network)
                .await?;
            let (which, key) = match subject {
                Subject::Device(device) => ("device", device.as_str().to_owned()),
                Subject::Account { .. } => ("account", username.to_owned()),
            };
            self.refused(client, username, which, &key).await;
            return Ok(Gate::Closed(retry_after));
        }
        Ok(Gate::Open)
    }

    /// Clears a successful sign-in's attempt and returns its token.
    ///
    /// # Errors
    ///
    /// Storage errors.
    pub(crate) async fn sign_in_succeeded(
        &self,
        client: &Client,
        subject: Subject<'_>,
    ) -> Result<(), Error> {
        self.throttle.sign_in_succeeded(subject).await?;
        self.throttle
            .give_back(Limit::FailedSignIns, &client.network())
            .await
    }

    /// Lets a sign-up go on, or refuses it; a sign-up takes a token whatever its outcome.
    ///
    /// # Errors
    ///
    /// Storage errors.
    pub(crate) async fn begin_sign_up(
        &self,
        client: &Client,
        username: &str,
    ) -> Result<Gate, Error> {
        let network = client.network();
        match self.throttle.take(Limit::SignUps, &network).await? {
            Decision::Allowed => Ok(Gate::Open),
            Decision::Refused { retry_after } => {
                self.refused(client, username, "sign-up address", &network)
                    .await;
                Ok(Gate::Closed(retry_after))
            }
        }
    }

    /// An audit event of `kind` about `client`.
    pub(crate) fn event(&self, kind: AuditKind, client: &Client) -> AuditEvent {
        let event = AuditEvent::new(kind).with_user_agent(client.user_agent.as_deref());
        match client.address_text() {
            Some(address) => event.with_address(address),
            None => event,
        }
    }

    /// Writes an event to the audit log. A failure is logged and otherwise ignored: it must
    /// not fail the request it describes.
    pub(crate) async fn record(&self, event: AuditEvent) {
        let kind = event.kind;
        if let Err(error) = self.audit.record(event).await {
            tracing::warn!(%error, kind = kind.as_str(), "audit event not recorded");
        }
    }

    /// Records a refusal by the limit `which` on `key`, unless this server recorded one for
    /// the same limit and key within the last minute.
    async fn refused(&self, client: &Client, username: &str, which: &str, key: &str) {
        tracing::info!(limit = which, "request throttled");
        if !self.first_refusal_in_window(&format!("{which}:{key}")) {
            return;
        }
        let event = self
            .event(AuditKind::Throttled, client)
            .with_username(username)
            .with_detail(which);
        self.record(event).await;
    }

    fn first_refusal_in_window(&self, key: &str) -> bool {
        let now = latchkey::clock::to_millis(self.clock.now());
        let mut logged = self
            .refusals_logged
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());

        if logged.len() >= REFUSAL_LOG_ENTRIES {
            logged.retain(|_, at| now - *at < REFUSAL_LOG_WINDOW);
            if logged.len() >= REFUSAL_LOG_ENTRIES {
                logged.clear();
            }
        }
        match logged.get(key) {
            Some(at) if now - *at < REFUSAL_LOG_WINDOW => false,
            _ => {
                logged.insert(key.to_owned(), now);
                true
            }
        }
    }

    /// The device cookie key, loaded from the database on first use and kept.
    async fn device_key(&self) -> Option<&DeviceKey> {
        let loaded = self
            .device_key
            .get_or_try_init(|| DeviceKey::load(self.adapter.as_ref()))
            .await;
        match loaded {
            Ok(key) => Some(key),
            Err(error) => {
                tracing::warn!(%error, "device cookie key unavailable");
                None
            }
        }
    }
}

/// The first `auth_device` cookie of the request, if any.
///
/// TODO: a browser holds one device cookie, for the account it last signed in to; a second
/// account signed in from the same browser replaces it, and the first loses its exemption.
/// Keeping a short list of signed entries in the cookie would cover shared browsers.
fn device_cookie_value(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|header| header.to_str().ok())
        .flat_map(|header| header.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == DEVICE_COOKIE)
        .map(|(_, value)| value)
}
