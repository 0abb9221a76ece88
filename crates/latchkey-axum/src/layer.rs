//! The tower layer that guards writes and carries the session cookie.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::extract::Request;
use axum::http::header::{CACHE_CONTROL, SET_COOKIE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use latchkey::{Attributes, Auth};
use tower::{Layer, Service};

use crate::cookies::CookieConfig;
use crate::origin::{self, PublicOrigin};
use crate::request::AuthRequest;

/// Adds an [`AuthRequest`] to every request and refuses cross-origin writes.
pub struct AuthLayer<U, S = ()> {
    auth: Auth<U, S>,
    cookies: Arc<CookieConfig>,
    public_origin: Option<Arc<PublicOrigin>>,
}

impl<U, S> Clone for AuthLayer<U, S> {
    fn clone(&self) -> Self {
        Self {
            auth: self.auth.clone(),
            cookies: Arc::clone(&self.cookies),
            public_origin: self.public_origin.clone(),
        }
    }
}

impl<U, S> AuthLayer<U, S> {
    /// A layer with secure cookies and origin checks against the `Host` header.
    pub fn new(auth: Auth<U, S>) -> Self {
        Self {
            auth,
            cookies: Arc::new(CookieConfig::default()),
            public_origin: None,
        }
    }

    /// How the session cookie is written.
    pub fn cookies(mut self, cookies: CookieConfig) -> Self {
        self.cookies = Arc::new(cookies);
        self
    }

    /// An origin that writes may come from besides the `Host` header's, such as the public
    /// address of a site behind a proxy that rewrites `Host`.
    pub fn public_origin(mut self, origin: Option<PublicOrigin>) -> Self {
        self.public_origin = origin.map(Arc::new);
        self
    }
}

impl<Inner, U, S> Layer<Inner> for AuthLayer<U, S> {
    type Service = AuthService<Inner, U, S>;

    fn layer(&self, inner: Inner) -> Self::Service {
        AuthService {
            inner,
            layer: self.clone(),
        }
    }
}

/// The service [`AuthLayer`] wraps around a router.
pub struct AuthService<Inner, U, S> {
    inner: Inner,
    layer: AuthLayer<U, S>,
}

impl<Inner: Clone, U, S> Clone for AuthService<Inner, U, S> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            layer: self.layer.clone(),
        }
    }
}

impl<Inner, U, S> Service<Request> for AuthService<Inner, U, S>
where
    Inner: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    Inner::Future: Send + 'static,
    U: Attributes + Clone,
    S: Attributes + Clone,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request) -> Self::Future {
        // The clone that was polled ready is the one to call; leave a fresh clone behind.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let layer = self.layer.clone();

        Box::pin(async move {
            let public = layer.public_origin.as_deref();
            if let Err(refusal) =
                origin::check(request.method(), request.headers(), request.uri(), public)
            {
                tracing::warn!(method = %request.method(), path = request.uri().path(), ?refusal, "cross-origin write refused");
                return Ok(refused());
            }

            let headers = request.headers();
            let token = layer.cookies.read_token(headers);
            let present = layer.cookies.is_present(headers);
            let auth_request =
                AuthRequest::new(layer.auth.clone(), layer.cookies.clone(), token, present);
            request.extensions_mut().insert(auth_request.clone());

            let mut response = inner.call(request).await?;

            if let Some(cookie) = auth_request.outgoing_cookie() {
                let headers = response.headers_mut();
                headers.append(SET_COOKIE, cookie);
                // A response that hands out a session must never be stored by a shared cache
                // and replayed to someone else.
                if !headers.contains_key(CACHE_CONTROL) {
                    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
                }
            }
            Ok(response)
        })
    }
}

fn refused() -> Response {
    let body = serde_json::json!({ "error": "Cross-origin request refused" });
    (StatusCode::FORBIDDEN, Json(body)).into_response()
}
