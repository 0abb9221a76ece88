//! [`AuthRequest`]: one request's view of its session.

use std::sync::{Arc, Mutex, MutexGuard};

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode};
use latchkey::{Attributes, Auth, Error, IssuedSession, Session, SessionToken, ValidSession};

use crate::cookies::CookieConfig;

/// The session of one request: validated at most once, and the cookie to send back.
///
/// Taken as an extractor in handlers behind an [`AuthLayer`](crate::AuthLayer). Clones share
/// one state, so the layer sees what the handler decided.
pub struct AuthRequest<U, S = ()> {
    inner: Arc<Inner<U, S>>,
}

struct Inner<U, S> {
    auth: Auth<U, S>,
    cookies: Arc<CookieConfig>,
    // Serialises validation, so two calls in one request cost one lookup.
    validating: tokio::sync::Mutex<()>,
    state: Mutex<State<U, S>>,
}

struct State<U, S> {
    token: Option<SessionToken>,
    cookie_sent_by_client: bool,
    validated: Option<Option<ValidSession<U, S>>>,
    outgoing: Outgoing,
}

enum Outgoing {
    Nothing,
    Set(SessionToken, std::time::SystemTime),
    Clear,
}

impl<U, S> Clone for AuthRequest<U, S> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<U: Attributes + Clone, S: Attributes + Clone> AuthRequest<U, S> {
    /// The state of a request that carried `token`, and a cookie of the session's name at all
    /// when `cookie_sent_by_client`.
    pub(crate) fn new(
        auth: Auth<U, S>,
        cookies: Arc<CookieConfig>,
        token: Option<SessionToken>,
        cookie_sent_by_client: bool,
    ) -> Self {
        let state = State {
            token,
            cookie_sent_by_client,
            validated: None,
            outgoing: Outgoing::Nothing,
        };
        Self {
            inner: Arc::new(Inner {
                auth,
                cookies,
                validating: tokio::sync::Mutex::new(()),
                state: Mutex::new(state),
            }),
        }
    }

    /// The request's session and user, or `None` when it has none.
    ///
    /// A missing, malformed, unknown or expired token is `None`, and a cookie that carried one
    /// is cleared. A session that validation extended gets its cookie sent again with the new
    /// expiry. The result is kept for the rest of the request.
    ///
    /// # Errors
    ///
    /// Storage failures, which the caller should answer with a 503.
    pub async fn validate(&self) -> Result<Option<ValidSession<U, S>>, Error> {
        let _one_at_a_time = self.inner.validating.lock().await;
        let token = match self.validated_or_token() {
            Ok(done) => return Ok(done),
            Err(token) => token,
        };

        let outcome = match &token {
            Some(token) => match self.inner.auth.validate_session(token).await {
                Ok(valid) => Some(valid),
                Err(Error::InvalidSession) => None,
                Err(other) => return Err(other),
            },
            None => None,
        };

        self.settle(token, outcome.clone());
        Ok(outcome)
    }

    /// Like [`validate`](Self::validate), with the user's live sessions, newest first: for a
    /// page that lists them, read together with the session where the adapter allows
    /// ([`Auth::validate_session_listing`]).
    ///
    /// # Errors
    ///
    /// As for [`validate`](Self::validate).
    pub async fn validate_listing(
        &self,
    ) -> Result<Option<(ValidSession<U, S>, Vec<Session<S>>)>, Error> {
        let _one_at_a_time = self.inner.validating.lock().await;
        let token = match self.validated_or_token() {
            Ok(Some(valid)) => {
                let sessions = self.inner.auth.user_sessions(&valid.user.id).await?;
                return Ok(Some((valid, sessions)));
            }
            Ok(None) => return Ok(None),
            Err(token) => token,
        };

        let outcome = match &token {
            Some(token) => match self.inner.auth.validate_session_listing(token).await {
                Ok(listed) => Some(listed),
                Err(Error::InvalidSession) => None,
                Err(other) => return Err(other),
            },
            None => None,
        };

        self.settle(token, outcome.as_ref().map(|(valid, _)| valid.clone()));
        Ok(outcome)
    }

    /// The outcome of an earlier validation, or the token to validate when there was none.
    fn validated_or_token(&self) -> Result<Option<ValidSession<U, S>>, Option<SessionToken>> {
        let state = self.state();
        match &state.validated {
            Some(done) => Ok(done.clone()),
            None => Err(state.token.clone()),
        }
    }

    /// Keeps a validation's outcome for the rest of the request, and decides the cookie: sent
    /// again for a renewed session, cleared for one the client sent in vain.
    fn settle(&self, token: Option<SessionToken>, outcome: Option<ValidSession<U, S>>) {
        let mut state = self.state();
        match (&outcome, token) {
            (Some(valid), Some(token)) if valid.session.fresh => {
                state.outgoing = Outgoing::Set(token, valid.session.expires_at);
            }
            (None, _) if state.cookie_sent_by_client => state.outgoing = Outgoing::Clear,
            _ => {}
        }
        state.validated = Some(outcome);
    }

    /// Sets the session the response hands to the client: `Some` writes its cookie, `None`
    /// clears the cookie. Later calls to [`validate`](Self::validate) see the new session.
    pub fn set_session(&self, session: Option<&IssuedSession<S>>) {
        let mut state = self.state();
        match session {
            Some(issued) => {
                state.token = Some(issued.token.clone());
                state.validated = None;
                state.outgoing = Outgoing::Set(issued.token.clone(), issued.session.expires_at);
            }
            None => {
                state.token = None;
                state.validated = Some(None);
                state.outgoing = Outgoing::Clear;
            }
        }
    }

    /// The [`Auth`] behind this request, for calls beyond the session.
    pub fn auth(&self) -> &Auth<U, S> {
        &self.inner.auth
    }

    /// The `Set-Cookie` value the response must carry, if any.
    pub(crate) fn outgoing_cookie(&self) -> Option<HeaderValue> {
        let state = self.state();
        match &state.outgoing {
            Outgoing::Nothing => None,
            Outgoing::Set(token, expires) => Some(self.inner.cookies.session_cookie(
                token,
                *expires,
                self.inner.auth.now(),
            )),
            Outgoing::Clear => Some(self.inner.cookies.cleared_cookie()),
        }
    }

    fn state(&self) -> MutexGuard<'_, State<U, S>> {
        // A panic elsewhere while holding the lock leaves the state whole: every write to
        // it is a single assignment.
        self.inner
            .state
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }
}

impl<U, S, St> FromRequestParts<St> for AuthRequest<U, S>
where
    U: Attributes + Clone,
    S: Attributes + Clone,
    St: Send + Sync,
{
    type Rejection = (StatusCode, &'static str);

    async fn from_request_parts(parts: &mut Parts, _state: &St) -> Result<Self, Self::Rejection> {
        parts.extensions.get::<Self>().cloned().ok_or((
            StatusCode::INTERNAL_SERVER_ERROR,
            "AuthRequest used without AuthLayer on the route",
        ))
    }
}
