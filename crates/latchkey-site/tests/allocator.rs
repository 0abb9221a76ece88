//! The allocator the `latchkey` binary runs with, read off the running server in `/proc`.
#![cfg(target_os = "linux")]

mod common;

use std::fs;
use std::thread;
use std::time::{Duration, Instant};

use common::process::Server;

/// jemalloc's name for the threads that give freed pages back to the system.
const PURGE_THREAD: &str = "jemalloc_bg_thd";

/// The names of the process's threads.
fn thread_names(pid: u32) -> Vec<String> {
    let Ok(tasks) = fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    tasks
        .filter_map(Result::ok)
        .filter_map(|task| fs::read_to_string(task.path().join("comm")).ok())
        .map(|name| name.trim_end().to_owned())
        .collect()
}

/// Whether a thread named `name` appears in the server within a few seconds.
fn runs_thread(server: &Server, name: &str) -> bool {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if thread_names(server.pid())
            .iter()
            .any(|thread| thread == name)
        {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        thread::sleep(Duration::from_millis(20));
    }
}

/// What gives an idle server's freed memory back (docs/benchmarks.md measures how much) is
/// a thread of jemalloc's that exists only with the options the binary is built with.
#[test]
fn the_server_runs_the_allocators_purge_thread_its_build_asks_for() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = Server::start_with_env(&[], dir.path(), &[], &["MALLOC_CONF"]);

    let purging = runs_thread(&server, PURGE_THREAD);

    let log = server.log.lock().expect("log").clone();
    assert!(
        purging,
        "no {PURGE_THREAD}: {:?}",
        thread_names(server.pid())
    );
    // An option jemalloc does not know is reported on standard error, and ignored.
    assert!(!log.contains("<jemalloc>"), "{log}");
}

#[test]
fn malloc_conf_overrides_the_allocators_built_in_options() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = Server::start_with_env(
        &[],
        dir.path(),
        &[("MALLOC_CONF", "background_thread:false")],
        &[],
    );

    // The server is up and has answered nothing: a purge thread would have started by now.
    thread::sleep(Duration::from_millis(500));
    let names = thread_names(server.pid());

    assert!(
        names.iter().any(|name| name.starts_with("tokio-rt")),
        "{names:?}"
    );
    assert!(!names.iter().any(|name| name == PURGE_THREAD), "{names:?}");
}
