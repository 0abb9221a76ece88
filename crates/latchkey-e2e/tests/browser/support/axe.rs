//! axe-core, Deque's accessibility rules engine, run inside the page.
//!
//! `scripts/test` installs the npm package into `target/e2e-node`; `LATCHKEY_AXE_CORE` may
//! name another copy of `axe.min.js`. The script goes in through WebDriver, which Chromium
//! runs outside the page's Content-Security-Policy, so the site's policy against inline
//! script stays as it is in production.

use std::path::PathBuf;
use std::sync::OnceLock;

use serde_json::{json, Value};

use super::chromium::Browser;

/// One rule the page breaks.
#[derive(Debug, Clone)]
pub struct Violation {
    /// The rule, e.g. `color-contrast`.
    pub rule: String,
    /// `minor`, `moderate`, `serious` or `critical`.
    pub impact: String,
    /// What the rule asks for.
    pub help: String,
    /// The offending elements, as CSS selectors, with axe's summary of each failure.
    pub nodes: Vec<String>,
}

impl Violation {
    /// Whether axe rates it `serious` or `critical`.
    pub fn is_serious(&self) -> bool {
        matches!(self.impact.as_str(), "serious" | "critical")
    }
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "{} ({}): {}", self.rule, self.impact, self.help)?;
        for node in &self.nodes {
            writeln!(f, "    {node}")?;
        }
        Ok(())
    }
}

/// What axe found on one page.
#[derive(Debug, Clone)]
pub struct Report {
    /// How many rules applied to the page and held.
    pub passes: usize,
    /// The rules the page breaks.
    pub violations: Vec<Violation>,
}

/// Runs every axe rule but the experimental ones on the page shown.
pub async fn check(browser: &Browser) -> Report {
    browser.execute(source(), vec![]).await;
    let result = browser
        .execute_async(
            r#"const done = arguments[arguments.length - 1];
            axe.run(document, { resultTypes: ["violations"] })
              .then((results) => done({
                passes: results.passes.length,
                violations: results.violations,
              }))
              .catch((error) => done({ error: String(error) }));"#,
            vec![],
        )
        .await;
    if let Some(error) = result.get("error") {
        panic!("axe failed: {error}");
    }
    let violations = result["violations"].as_array().cloned().unwrap_or_default();
    Report {
        passes: result["passes"].as_u64().unwrap_or_default() as usize,
        violations: violations.iter().map(violation).collect(),
    }
}

fn violation(value: &Value) -> Violation {
    let text = |value: &Value| value.as_str().unwrap_or_default().to_owned();
    let nodes = value["nodes"].as_array().cloned().unwrap_or_default();
    Violation {
        rule: text(&value["id"]),
        impact: text(&value["impact"]),
        help: text(&value["help"]),
        nodes: nodes
            .iter()
            .map(|node| {
                let summary = text(&node["failureSummary"]).replace('\n', " ");
                format!("{} {summary}", json!(node["target"]))
            })
            .collect(),
    }
}

/// The text of `axe.min.js`, read once.
fn source() -> &'static str {
    static SOURCE: OnceLock<String> = OnceLock::new();
    SOURCE.get_or_init(|| {
        let path = std::env::var_os("LATCHKEY_AXE_CORE")
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                    .join("../../target/e2e-node/node_modules/axe-core/axe.min.js")
            });
        std::fs::read_to_string(&path).unwrap_or_else(|error| {
            panic!(
                "cannot read axe-core at {}: {error}; scripts/test installs it, or run \
                 npm install --prefix target/e2e-node axe-core@4",
                path.display()
            )
        })
    })
}
