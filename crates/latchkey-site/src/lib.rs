//! The Latchkey site and the `latchkey` command, as a library so that tests can build the
//! same router and server the binary runs.

pub mod admin;
pub mod audit;
pub mod cli;
pub mod commands;
pub mod database;
pub mod import;
pub mod logs;
pub mod serve;
pub mod site;

pub use site::{router, Device, Profile, SiteAuth, SiteConfig};
