//! Rebuilds the crate when a migration changes.

// `sqlx::migrate!` embeds the migrations at compile time, but on stable Rust a proc macro cannot
// tell Cargo which files it read, so without this an edited migration would not be picked up.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
