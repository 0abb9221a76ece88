//! What the browser tests run on: the real binary, a real browser, a page on another origin
//! and axe-core.

pub mod attacker;
pub mod axe;
pub mod chromium;
pub mod pages;
pub mod site;
pub mod visit;

pub use attacker::Attacker;
pub use chromium::{Scheme, Scripting, DESKTOP, PHONE};
pub use visit::{Visit, PASSWORD};
