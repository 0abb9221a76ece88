//! `latchkey`: serves the site and administers it.

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use latchkey_site::cli::{Cli, Command, LogFormat};
use latchkey_site::logs::{self, BatchedWriter, FlushGuard};
use tracing_subscriber::EnvFilter;

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
    let logs = match init_logging(command.log_format(), command.default_log_filter()) {
        Ok(logs) => logs,
        Err(error) => {
            eprintln!("error: cannot start the log writer: {error}");
            return ExitCode::FAILURE;
        }
    };

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

/// Logs to standard error in batches, written by a thread of their own (`logs`): a request
/// formats its line and appends it to a buffer instead of making a system call. Nothing is
/// dropped. The returned guard writes what is left when dropped.
fn init_logging(format: LogFormat, default_filter: &str) -> std::io::Result<FlushGuard> {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    let ansi = std::io::stderr().is_terminal();
    let (writer, guard) = BatchedWriter::new(
        std::io::stderr(),
        logs::FLUSH_INTERVAL,
        logs::BUFFER_BYTES,
        "latchkey-log",
    )?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_ansi(ansi);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().flatten_event(true).init(),
    }
    Ok(guard)
}
