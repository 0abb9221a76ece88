//! One person's visit: a fresh site, a fresh browser, and the steps people take on it.

use super::chromium::{Browser, Scripting};
use super::site::Site;

/// The password every test account uses.
pub const PASSWORD: &str = "correct horse battery";

/// A site and a browser pointed at it.
pub struct Visit {
    /// The running `latchkey`.
    pub site: Site,
    /// The visitor's browser.
    pub browser: Browser,
}

impl Visit {
    /// Starts both, and checks that scripting is as asked: a test meant to run without
    /// JavaScript must not pass because the script did the work.
    pub async fn start(scripting: Scripting) -> Visit {
        let site = Site::start();
        let browser = Browser::start(scripting).await;
        browser.open(&site.url("/login")).await;
        assert_eq!(
            browser.runs_scripts().await,
            scripting == Scripting::On,
            "the browser's scripting is not {scripting:?}"
        );
        Visit { site, browser }
    }

    /// Opens `path` on the site.
    pub async fn open(&self, path: &str) {
        self.browser.open(&self.site.url(path)).await;
    }

    /// Waits until the browser shows `path` on the site.
    pub async fn wait_for(&self, path: &str) {
        self.browser.wait_for(&self.site.url(path)).await;
    }

    /// Creates an account through the sign-up page and waits for the profile.
    pub async fn sign_up(&self, username: &str) {
        self.open("/signup").await;
        self.submit_credentials(username, PASSWORD).await;
        self.wait_for("/").await;
    }

    /// Signs in through the sign-in page and waits for the profile.
    pub async fn sign_in(&self, username: &str) {
        self.open("/login").await;
        self.submit_credentials(username, PASSWORD).await;
        self.wait_for("/").await;
    }

    /// Fills in the username and password on the page shown and presses its button.
    pub async fn submit_credentials(&self, username: &str, password: &str) {
        self.browser.fill("username", username).await;
        self.browser.fill("password", password).await;
        self.browser.click("button[type=submit]").await;
    }

    /// Presses "Sign out" on the profile and waits for the sign-in page that follows it.
    pub async fn sign_out(&self) {
        assert_eq!(self.browser.heading().await, "Profile");
        self.browser.click("button[type=submit]").await;
        self.wait_for("/login?signed-out").await;
    }

    /// The username the profile shows.
    pub async fn profile_username(&self) -> String {
        assert_eq!(self.browser.heading().await, "Profile");
        self.browser.text("dl dd:nth-of-type(2)").await
    }

    /// Closes the browser, then stops the site.
    pub async fn finish(self) {
        let Visit { site, browser } = self;
        browser.close().await;
        drop(site);
    }
}
