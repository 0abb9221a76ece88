//! `latchkey`: serves the site and administers it.

use std::io::{BufWriter, IsTerminal};
use std::process::ExitCode;

use clap::Parser;
use latchkey_site::cli::{Cli, Command, LogFormat};
use tracing_appender::non_blocking::{NonBlockingBuilder, WorkerGuard};
use tracing_subscriber::EnvFilter;

/// Room for the log lines that arrive while the writer thread writes the last ones.
const LOG_BUFFER_BYTES: usize = 64 * 1024;

/// Lines the hand-over queue holds before a request waits for the writer. Its slots are
/// allocated and touched up front: tracing-appender's default of 128,000 kept 4 MiB
/// resident from the start.
const LOG_QUEUE_LINES: usize = 4_096;

/// jemalloc, for the whole process: `unprefixed_malloc_on_supported_platforms` makes it
/// SQLite's `malloc` too. glibc kept 2-3 MiB of freed memory in the arena of each runtime
/// worker and SQLite connection thread, 22-23 MiB resident in all after load on SQLite
/// against a 20 MiB goal. jemalloc, built with a background thread that returns pages a
/// second after they were freed and one arena (`.cargo/config.toml`), held 17-19 MiB, and
/// 15-16 MiB after a sign-in flood against glibc's 22, at no measurable cost a request
/// (docs/benchmarks.md).
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let command = cli.command.unwrap_or(Command::Serve(cli.serve));
    let logs = init_logging(command.log_format(), command.default_log_filter());

    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            drop(logs);
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(latchkey_site::commands::run(command));

    // Every log line is out before the final word, so that an error comes last.
    drop(runtime);
    drop(logs);
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// Logs to standard error from a thread of their own: a request formats its line and hands
/// it over instead of making a system call, and under load the thread writes many lines at
/// once. Nothing is dropped: when the hand-over queue is full, the request waits, as it did
/// when it wrote the line itself. The returned guard writes what is left when dropped.
fn init_logging(format: LogFormat, default_filter: &str) -> WorkerGuard {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    let ansi = std::io::stderr().is_terminal();
    let (writer, guard) = NonBlockingBuilder::default()
        .lossy(false)
        .buffered_lines_limit(LOG_QUEUE_LINES)
        .thread_name("latchkey-log")
        .finish(BufWriter::with_capacity(
            LOG_BUFFER_BYTES,
            std::io::stderr(),
        ));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_ansi(ansi);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().flatten_event(true).init(),
    }
    guard
}
