//! The site in headless Chromium: the journeys people take, cross-origin forms, accessibility
//! and screenshots, against the real `latchkey` binary.
//!
//! Each test starts its own `latchkey` over a new SQLite file and its own Chromium with an
//! empty profile, so tests share nothing and run in parallel. They fail, never skip, when
//! Chromium or chromedriver cannot start: `scripts/test` installs Debian's `chromium` and
//! `chromium-driver` packages and the `axe-core` npm package they need.

mod support;

/// Runs each named journey twice, as `<journey>::with_javascript` and
/// `<journey>::without_javascript`: the site must work for both kinds of visitor.
macro_rules! with_and_without_javascript {
    ($($journey:ident),+ $(,)?) => {$(
        mod $journey {
            use crate::support::Scripting;

            #[tokio::test]
            async fn with_javascript() {
                super::$journey(Scripting::On).await;
            }

            #[tokio::test]
            async fn without_javascript() {
                super::$journey(Scripting::Off).await;
            }
        }
    )+};
}

mod accessibility;
mod cross_origin;
mod journeys;
mod screenshots;
