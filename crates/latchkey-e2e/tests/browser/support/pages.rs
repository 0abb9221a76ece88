//! Every page the site shows, in each state worth looking at.

use super::visit::Visit;

/// A page in one state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Page {
    /// `/signup`, empty.
    SignUp,
    /// The sign-up page as the server renders it after refusing a form post.
    SignUpRefused,
    /// `/login`, empty.
    SignIn,
    /// The sign-in page after the script showed a wrong-password message.
    SignInFailed,
    /// The page for an unknown address.
    NotFound,
    /// `/`, signed in.
    Profile,
}

impl Page {
    /// Every page, the signed-out ones first since signing up ends them.
    pub const ALL: [Page; 6] = [
        Page::SignUp,
        Page::SignUpRefused,
        Page::SignIn,
        Page::SignInFailed,
        Page::NotFound,
        Page::Profile,
    ];

    /// A short name for reports and file names.
    pub fn name(self) -> &'static str {
        match self {
            Page::SignUp => "signup",
            Page::SignUpRefused => "signup-refused",
            Page::SignIn => "login",
            Page::SignInFailed => "login-failed",
            Page::NotFound => "not-found",
            Page::Profile => "profile",
        }
    }

    /// Brings the visit's browser to this page; needs scripting on.
    pub async fn show(self, visit: &Visit) {
        let browser = &visit.browser;
        match self {
            Page::SignUp => visit.open("/signup").await,
            Page::SignUpRefused => {
                visit.open("/signup").await;
                browser.fill("username", "abc").await;
                browser.fill("password", "secret password").await;
                // Past the browser's length check, so the server renders its refusal.
                browser.submit_without_script().await;
                visit.wait_for("/api/signup").await;
                browser
                    .wait_for_text("#form-error", "Invalid username")
                    .await;
            }
            Page::SignIn => visit.open("/login").await,
            Page::SignInFailed => {
                visit.open("/login").await;
                visit
                    .submit_credentials("Nobody_Here", "not the password")
                    .await;
                browser
                    .wait_for_text("#form-error", "Incorrect username or password")
                    .await;
            }
            Page::NotFound => visit.open("/no-such-page").await,
            Page::Profile => {
                visit.open("/").await;
                if browser.url().await.path() != "/" {
                    visit.sign_up("Alice_Example").await;
                }
            }
        }
    }
}
