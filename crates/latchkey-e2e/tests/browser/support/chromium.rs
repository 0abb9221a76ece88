//! Headless Chromium driven through chromedriver, one private browser per test.
//!
//! Each [`Browser`] starts its own chromedriver on a free port, in a process group of its own,
//! and chromedriver starts Chromium with a new, empty profile directory. Dropping the browser
//! kills that whole group (chromedriver, Chromium and Chromium's helpers), so a failing test
//! leaves no process behind.

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use fantoccini::cookies::Cookie;
use fantoccini::key::Key;
use fantoccini::wd::{Capabilities, TimeoutConfiguration, WebDriverCompatibleCommand};
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{json, Value};
use tempfile::TempDir;

/// Debian's packages put them here; `scripts/test` installs them.
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";

/// How long a page, a script or a wait may take before the test fails.
pub const PATIENCE: Duration = Duration::from_secs(15);

/// Whether pages may run JavaScript.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scripting {
    /// Chromium's default.
    On,
    /// Switched off for every site by the content-settings preference an administrator would
    /// use, so pages behave as for a visitor who blocks scripts.
    Off,
}

/// A viewport size in CSS pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Viewport {
    /// A short name for file names.
    pub name: &'static str,
    /// Width in CSS pixels.
    pub width: u32,
    /// Height in CSS pixels.
    pub height: u32,
    /// Whether to emulate a phone: touch, and the page's `<meta name="viewport">` applies.
    pub mobile: bool,
}

/// A laptop screen.
pub const DESKTOP: Viewport = Viewport {
    name: "desktop",
    width: 1280,
    height: 800,
    mobile: false,
};

/// A current phone held upright.
pub const PHONE: Viewport = Viewport {
    name: "phone",
    width: 390,
    height: 844,
    mobile: true,
};

/// The colour scheme a page is asked for through `prefers-color-scheme`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// `prefers-color-scheme: light`.
    Light,
    /// `prefers-color-scheme: dark`.
    Dark,
}

impl Scheme {
    /// The media feature's value.
    pub fn name(self) -> &'static str {
        match self {
            Scheme::Light => "light",
            Scheme::Dark => "dark",
        }
    }
}

/// A headless Chromium with its own chromedriver and profile.
///
/// The fields drop in order: the WebDriver connection, then the process group, then the
/// profile directory once nothing writes to it any more.
pub struct Browser {
    client: Client,
    _driver: Group,
    _profile: TempDir,
}

impl Browser {
    /// Starts chromedriver and Chromium, or fails the test saying why.
    pub async fn start(scripting: Scripting) -> Browser {
        let (driver, port) = start_driver();
        let profile = tempfile::tempdir().expect("a temporary profile directory");
        let client = connect(port, &capabilities(scripting, profile.path())).await;
        let browser = Browser {
            client,
            _driver: driver,
            _profile: profile,
        };
        browser.set_timeouts().await;
        browser
    }

    async fn set_timeouts(&self) {
        let timeouts = TimeoutConfiguration::new(Some(PATIENCE), Some(PATIENCE), None);
        self.client
            .update_timeouts(timeouts)
            .await
            .expect("chromedriver accepts timeouts");
    }

    /// Opens `url` and waits for it to load.
    pub async fn open(&self, url: &str) {
        self.client
            .goto(url)
            .await
            .unwrap_or_else(|error| panic!("cannot open {url}: {error}"));
    }

    /// The address of the page shown.
    pub async fn url(&self) -> url::Url {
        self.client.current_url().await.expect("the current URL")
    }

    /// Waits until the page shown is `url` and has loaded, and fails the test if it never is.
    pub async fn wait_for(&self, url: &str) {
        let started = Instant::now();
        loop {
            let shown = self.url().await;
            if shown.as_str() == url && self.is_loaded().await {
                return;
            }
            assert!(
                started.elapsed() < PATIENCE,
                "the browser stayed at {shown} instead of reaching {url}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn is_loaded(&self) -> bool {
        let state = self
            .client
            .execute("return document.readyState", vec![])
            .await;
        matches!(state, Ok(Value::String(state)) if state == "complete")
    }

    /// Types `text` into the field with `id`, replacing what it held.
    pub async fn fill(&self, id: &str, text: &str) {
        let field = self.find(&format!("#{id}")).await;
        field.clear().await.expect("the field clears");
        field
            .send_keys(text)
            .await
            .unwrap_or_else(|error| panic!("cannot type into #{id}: {error}"));
    }

    /// Clicks the element `css` selects.
    pub async fn click(&self, css: &str) {
        self.find(css)
            .await
            .click()
            .await
            .unwrap_or_else(|error| panic!("cannot click {css}: {error}"));
    }

    /// The one element `css` selects, or a failed test.
    pub async fn find(&self, css: &str) -> fantoccini::elements::Element {
        match self.client.find(Locator::Css(css)).await {
            Ok(element) => element,
            Err(error) => panic!("no {css} on {}: {error}", self.url_or_unknown().await),
        }
    }

    /// The text of the element `css` selects, as rendered (hidden text is empty).
    pub async fn text(&self, css: &str) -> String {
        self.find(css)
            .await
            .text()
            .await
            .expect("the element's text")
    }

    /// Waits until the element `css` selects reads `expected`.
    pub async fn wait_for_text(&self, css: &str, expected: &str) {
        let started = Instant::now();
        loop {
            let text = self.text(css).await;
            if text == expected {
                return;
            }
            assert!(
                started.elapsed() < PATIENCE,
                "{css} reads {text:?}, not {expected:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The DOM property `name` of the element `css` selects, as text.
    pub async fn property(&self, css: &str, name: &str) -> String {
        self.find(css)
            .await
            .prop(name)
            .await
            .expect("the property")
            .unwrap_or_default()
    }

    /// The page's title.
    pub async fn title(&self) -> String {
        self.client.title().await.expect("the page title")
    }

    /// The page's main heading.
    pub async fn heading(&self) -> String {
        self.text("h1").await
    }

    /// The HTML of the page as it is now.
    pub async fn source(&self) -> String {
        self.client.source().await.expect("the page source")
    }

    async fn url_or_unknown(&self) -> String {
        match self.client.current_url().await {
            Ok(url) => url.to_string(),
            Err(_) => "an unknown page".to_owned(),
        }
    }

    /// Runs `script` in the page (WebDriver scripts are exempt from the page's CSP) and
    /// returns its result.
    pub async fn execute(&self, script: &str, args: Vec<Value>) -> Value {
        self.client
            .execute(script, args)
            .await
            .unwrap_or_else(|error| panic!("script failed: {error}"))
    }

    /// Runs `script`, which calls its last argument with a result, and returns that result.
    pub async fn execute_async(&self, script: &str, args: Vec<Value>) -> Value {
        self.client
            .execute_async(script, args)
            .await
            .unwrap_or_else(|error| panic!("script failed: {error}"))
    }

    /// Posts the page's first form as the browser does on its own, skipping the page's submit
    /// handlers and the browser's own checks of the fields.
    pub async fn submit_without_script(&self) {
        self.execute(
            "HTMLFormElement.prototype.submit.call(document.forms[0])",
            vec![],
        )
        .await;
    }

    /// Whether the page shown may run its scripts. HTML parses `<noscript>` content as
    /// elements only where scripting is off, which WebDriver's own scripts, allowed either
    /// way, can observe without touching the page.
    pub async fn runs_scripts(&self) -> bool {
        let parsed_as_elements = self
            .execute(
                "const probe = document.createElement('div');
                 probe.innerHTML = '<noscript><p></p></noscript>';
                 return probe.querySelector('p') !== null;",
                vec![],
            )
            .await;
        parsed_as_elements == Value::Bool(false)
    }

    /// Presses `key` on the focused element, as a keyboard user would.
    pub async fn press(&self, key: Key) {
        self.client
            .active_element()
            .await
            .expect("an element has focus")
            .send_keys(&char::from(key).to_string())
            .await
            .unwrap_or_else(|error| panic!("cannot press {key:?}: {error}"));
    }

    /// A description of the focused element: its tag, and its `id` or text.
    pub async fn focused(&self) -> String {
        let description = self
            .execute(
                "const element = document.activeElement;
                 const name = element.id ? '#' + element.id : element.textContent.trim();
                 return element.tagName.toLowerCase() + ' ' + name;",
                vec![],
            )
            .await;
        description.as_str().unwrap_or_default().to_owned()
    }

    /// Whether the focused element matches `:focus-visible` and draws an outline at least
    /// 2 CSS pixels wide, as WCAG 2.2's focus appearance criterion asks.
    pub async fn focus_is_visible(&self) -> bool {
        let visible = self
            .execute(
                "const element = document.activeElement;
                 const style = getComputedStyle(element);
                 return element.matches(':focus-visible')
                   && style.outlineStyle !== 'none'
                   && parseFloat(style.outlineWidth) >= 2;",
                vec![],
            )
            .await;
        visible == Value::Bool(true)
    }

    /// The WCAG relative luminance, 0 for black to 1 for white, of the colour CSS `property`
    /// computes to on the element `css` selects.
    pub async fn luminance(&self, css: &str, property: &str) -> f64 {
        let luminance = self
            .execute(
                "const [css, property] = arguments;
                 const colour = getComputedStyle(document.querySelector(css))[property];
                 const [r, g, b] = colour.match(/[0-9.]+/g).slice(0, 3).map((channel) => {
                   const c = channel / 255;
                   return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
                 });
                 return 0.2126 * r + 0.7152 * g + 0.0722 * b;",
                vec![json!(css), json!(property)],
            )
            .await;
        luminance.as_f64().expect("a luminance")
    }

    /// Goes back one page in the history, as the back button does.
    pub async fn back(&self) {
        self.client.back().await.expect("the browser goes back");
    }

    /// The cookie called `name` for the page shown, if the browser holds one.
    pub async fn cookie(&self, name: &str) -> Option<Cookie<'static>> {
        let cookies = self.client.get_all_cookies().await.expect("the cookies");
        cookies.into_iter().find(|cookie| cookie.name() == name)
    }

    /// Sizes the page to `viewport` and asks it for `scheme`, through the DevTools protocol,
    /// which sets the exact viewport rather than the window around it.
    pub async fn emulate(&self, viewport: Viewport, scheme: Scheme) {
        self.devtools(
            "Emulation.setDeviceMetricsOverride",
            json!({
                "width": viewport.width,
                "height": viewport.height,
                "deviceScaleFactor": 1,
                "mobile": viewport.mobile,
            }),
        )
        .await;
        self.devtools(
            "Emulation.setEmulatedMedia",
            json!({ "features": [{ "name": "prefers-color-scheme", "value": scheme.name() }] }),
        )
        .await;
    }

    /// A PNG of the viewport.
    pub async fn screenshot(&self) -> Vec<u8> {
        self.client.screenshot().await.expect("a screenshot")
    }

    /// Sends one DevTools protocol command through chromedriver.
    pub async fn devtools(&self, command: &str, params: Value) -> Value {
        let request = DevTools(json!({ "cmd": command, "params": params }));
        self.client
            .issue_cmd(request)
            .await
            .unwrap_or_else(|error| panic!("DevTools {command} failed: {error}"))
    }

    /// Ends the WebDriver session, so that Chromium shuts down cleanly before its process
    /// group is killed.
    pub async fn close(self) {
        let Browser { client, .. } = self;
        let _ = client.close().await;
    }
}

/// A process group whose leader we started: dropping it kills the whole group.
struct Group(Child);

impl Drop for Group {
    fn drop(&mut self) {
        kill_group(&mut self.0);
    }
}

/// Kills every process in the group `leader` leads, reaps the leader, and waits until no
/// other member still runs. The signal goes first: until the leader is reaped, and then
/// while any member exists, the group id cannot be reused.
fn kill_group(leader: &mut Child) {
    let group = leader.id();
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{group}")])
        .stderr(Stdio::null())
        .status();
    let _ = leader.wait();

    let started = Instant::now();
    while group_runs(group) && started.elapsed() < PATIENCE {
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Whether a process of `group` still runs. Killed members whose parent died are zombies
/// until the container's init reaps them, which can take seconds; they run no more.
fn group_runs(group: u32) -> bool {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return false;
    };
    entries.filter_map(Result::ok).any(|entry| {
        let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
        // `pid (command) state ppid pgrp …`, where the command may hold spaces and `)`.
        let fields: Vec<&str> = stat
            .rsplit_once(')')
            .map(|(_, rest)| rest.split_whitespace().collect())
            .unwrap_or_default();
        matches!(fields.as_slice(), [state, _, pgrp, ..]
            if *state != "Z" && *state != "X" && pgrp.parse() == Ok(group))
    })
}

/// Starts chromedriver on a port it picks, in a new process group, and returns the port.
fn start_driver() -> (Group, u16) {
    let driver = Command::new(CHROMEDRIVER)
        .args(["--port=0", "--log-level=SEVERE"])
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|error| {
            panic!(
                "cannot start {CHROMEDRIVER}: {error}; install Debian's chromium and \
                 chromium-driver packages (scripts/test does)"
            )
        });

    let mut driver = Group(driver);
    let stdout = driver.0.stdout.take().expect("chromedriver's stdout");
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(port) = line.strip_prefix("ChromeDriver was started successfully on port ")
            {
                let _ = sender.send(port.trim_end_matches('.').parse::<u16>());
            }
        }
    });
    match receiver.recv_timeout(PATIENCE) {
        Ok(Ok(port)) => (driver, port),
        outcome => {
            drop(driver);
            panic!("chromedriver did not say which port it listens on: {outcome:?}")
        }
    }
}

/// Headless Chromium as root in a container: no sandbox (it needs user namespaces), no GPU,
/// and none of the background connections to Google's services, which are refused here and
/// would slow every start.
fn capabilities(scripting: Scripting, profile: &Path) -> Capabilities {
    let mut options = json!({
        "binary": CHROMIUM,
        "args": [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            format!("--user-data-dir={}", profile.display()),
        ],
    });
    if scripting == Scripting::Off {
        options["prefs"] = json!({ "profile.managed_default_content_settings.javascript": 2 });
    }
    let mut capabilities = Capabilities::new();
    capabilities.insert("goog:chromeOptions".to_owned(), options);
    capabilities
}

async fn connect(port: u16, capabilities: &Capabilities) -> Client {
    ClientBuilder::new(HttpConnector::new())
        .capabilities(capabilities.clone())
        .connect(&format!("http://127.0.0.1:{port}"))
        .await
        .unwrap_or_else(|error| {
            panic!("Chromium ({CHROMIUM}) did not start under chromedriver: {error}")
        })
}

/// chromedriver's extension command that forwards to the DevTools protocol.
#[derive(Debug)]
struct DevTools(Value);

impl WebDriverCompatibleCommand for DevTools {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!(
            "session/{}/goog/cdp/execute",
            session_id.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _request_url: &url::Url) -> (http::Method, Option<String>) {
        (http::Method::POST, Some(self.0.to_string()))
    }
}
