//! Answering a request in the format it came in: JSON for scripts, pages for forms.
//!
//! Every failure has two audiences: the client gets one of the fixed messages below and never
//! a cause, the log gets the cause and never a secret.

use askama::Template;
use axum::http::header::{CACHE_CONTROL, LOCATION};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::Json;

use super::assets::{Versions, VERSIONS};
use super::input::Format;

pub(crate) const INVALID_USERNAME: &str = "Invalid username";
pub(crate) const INVALID_PASSWORD: &str = "Invalid password";
pub(crate) const USERNAME_TAKEN: &str = "Username already taken";
pub(crate) const PASSWORD_TOO_COMMON: &str = "Password is too common";
pub(crate) const TOO_MANY_ATTEMPTS: &str = "Too many attempts, try again later";
pub(crate) const INCORRECT_CREDENTIALS: &str = "Incorrect username or password";
pub(crate) const NOT_AUTHENTICATED: &str = "Not authenticated";
pub(crate) const MALFORMED_BODY: &str = "Malformed request body";
pub(crate) const UNSUPPORTED_TYPE: &str =
    "Unsupported content type: send application/json or application/x-www-form-urlencoded";
pub(crate) const METHOD_NOT_ALLOWED: &str = "Method not allowed";
pub(crate) const UNAVAILABLE: &str = "Service unavailable, try again later";
pub(crate) const UNKNOWN_ERROR: &str = "An unknown error occurred";

/// A sign-up or sign-in page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Page {
    /// `/signup`.
    Signup,
    /// `/login`.
    Login,
}

/// The sign-up and sign-in pages share one template.
#[derive(Template)]
#[template(path = "credentials.html")]
pub(crate) struct CredentialsPage<'a> {
    assets: &'a Versions,
    heading: &'a str,
    action: &'a str,
    error: Option<&'a str>,
    username: &'a str,
    username_min: usize,
    password_min: usize,
    password_autocomplete: &'a str,
    submit: &'a str,
    switch_prompt: &'a str,
    switch_href: &'a str,
    switch_label: &'a str,
    signed_out: bool,
}

/// A page that only says something, for errors.
#[derive(Template)]
#[template(path = "message.html")]
pub(crate) struct MessagePage<'a> {
    assets: &'a Versions,
    heading: &'a str,
    message: &'a str,
}

impl Page {
    /// The page, with an error to show and the username to keep in the form.
    pub(crate) fn render(
        self,
        error: Option<&str>,
        username: &str,
    ) -> Result<String, askama::Error> {
        let page = match self {
            Page::Signup => CredentialsPage {
                assets: &VERSIONS,
                heading: "Create an account",
                action: "/api/signup",
                error,
                username,
                username_min: 4,
                password_min: 6,
                password_autocomplete: "new-password",
                submit: "Sign up",
                switch_prompt: "Already have an account?",
                switch_href: "/login",
                switch_label: "Sign in",
                signed_out: false,
            },
            Page::Login => CredentialsPage {
                assets: &VERSIONS,
                heading: "Sign in",
                action: "/api/login",
                error,
                username,
                username_min: 1,
                password_min: 1,
                password_autocomplete: "current-password",
                submit: "Sign in",
                switch_prompt: "No account yet?",
                switch_href: "/signup",
                switch_label: "Create an account",
                signed_out: false,
            },
        };
        page.render()
    }

    /// The sign-in page right after a sign-out, which also clears the browser's cache.
    pub(crate) fn render_signed_out(self) -> Result<String, askama::Error> {
        match self {
            Page::Login => CredentialsPage {
                assets: &VERSIONS,
                heading: "Sign in",
                action: "/api/login",
                error: None,
                username: "",
                username_min: 1,
                password_min: 1,
                password_autocomplete: "current-password",
                submit: "Sign in",
                switch_prompt: "No account yet?",
                switch_href: "/signup",
                switch_label: "Create an account",
                signed_out: true,
            }
            .render(),
            Page::Signup => self.render(None, ""),
        }
    }
}

/// A rendered page with `status`, never cached.
pub(crate) fn html(status: StatusCode, rendered: Result<String, askama::Error>) -> Response {
    match rendered {
        Ok(body) => (
            status,
            [(CACHE_CONTROL, HeaderValue::from_static("no-store"))],
            Html(body),
        )
            .into_response(),
        Err(error) => {
            tracing::error!(%error, "template failed to render");
            (StatusCode::INTERNAL_SERVER_ERROR, UNKNOWN_ERROR).into_response()
        }
    }
}

/// A page saying `message`.
pub(crate) fn message_page(status: StatusCode, heading: &str, message: &str) -> Response {
    let page = MessagePage {
        assets: &VERSIONS,
        heading,
        message,
    };
    html(status, page.render())
}

/// `{"error": message}` with `status`.
pub(crate) fn json_error(status: StatusCode, message: &str) -> Response {
    (status, Json(serde_json::json!({ "error": message }))).into_response()
}

/// A redirect to `to`: `302` for scripts as in the Lucia guide, `303` for forms so the
/// browser follows with a GET.
pub(crate) fn redirect(format: Format, to: &'static str) -> Response {
    let status = match format {
        Format::Json => StatusCode::FOUND,
        Format::Form => StatusCode::SEE_OTHER,
    };
    (status, [(LOCATION, HeaderValue::from_static(to))]).into_response()
}

/// How to answer one API request.
pub(crate) struct Reply {
    format: Format,
    page: Page,
    username: String,
}

impl Reply {
    /// Answers in `format`, re-rendering `page` with `username` kept when a form fails.
    pub(crate) fn new(format: Format, page: Page, username: Option<&str>) -> Self {
        Self {
            format,
            page,
            username: username.unwrap_or_default().to_owned(),
        }
    }

    /// A failure the client caused.
    pub(crate) fn fail(&self, status: StatusCode, message: &str) -> Response {
        match self.format {
            Format::Json => json_error(status, message),
            Format::Form => html(status, self.page.render(Some(message), &self.username)),
        }
    }

    /// A failure of ours: 503 when the database is unreachable, otherwise 500.
    pub(crate) fn error(&self, error: latchkey::Error) -> Response {
        match error {
            latchkey::Error::StorageUnavailable(_) => {
                tracing::warn!(error = %error_chain(&error), "database unavailable");
                self.fail(StatusCode::SERVICE_UNAVAILABLE, UNAVAILABLE)
            }
            _ => {
                tracing::error!(error = %error_chain(&error), "request failed");
                self.fail(StatusCode::INTERNAL_SERVER_ERROR, UNKNOWN_ERROR)
            }
        }
    }

    /// Success: on to `to`.
    pub(crate) fn redirect(&self, to: &'static str) -> Response {
        redirect(self.format, to)
    }
}

/// An error and its sources on one line, for the log.
pub(crate) fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
