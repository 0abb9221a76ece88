//! `bench-first-response`: how long a server takes from its start to its first successful
//! response, and how much memory it holds once idle.
//!
//! Starts the command after `--` with `--listen 127.0.0.1:PORT` appended, on a port that was
//! free a moment before, then sends `GET` requests over fresh connections, a fraction of a
//! millisecond apart, until one is answered 200. The time is from just before the spawn to
//! the end of that response's status line. It then waits for the server to settle, reads
//! its resident memory from `/proc`, and stops it with SIGTERM, so that the database is
//! closed cleanly for the next run.
//!
//! Prints one JSON object on standard output.

use std::io::{BufRead, BufReader, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Parser;

/// Times a server's start.
#[derive(Debug, Parser)]
#[command(name = "bench-first-response")]
struct Args {
    /// Starts to time.
    #[arg(long, default_value_t = 5)]
    runs: usize,

    /// The path to request.
    #[arg(long, default_value = "/")]
    path: String,

    /// A session token to send as the `auth_session` cookie.
    #[arg(long)]
    token: Option<String>,

    /// Seconds to wait after the first response before reading the idle memory.
    #[arg(long, default_value_t = 1.0)]
    settle: f64,

    /// Give up on a start after this many seconds.
    #[arg(long, default_value_t = 10.0)]
    timeout: f64,

    /// The server command and its arguments.
    #[arg(last = true, required = true)]
    command: Vec<String>,
}

/// One timed start.
struct Start {
    first_response: Duration,
    idle_rss_kib: u64,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let request = request(&args);

    let mut starts = Vec::new();
    for _ in 0..args.runs.max(1) {
        starts.push(time_start(&args, &request)?);
    }

    let mut millis: Vec<f64> = starts
        .iter()
        .map(|start| start.first_response.as_secs_f64() * 1e3)
        .collect();
    let rss: Vec<u64> = starts.iter().map(|start| start.idle_rss_kib).collect();
    let runs = millis.clone();
    millis.sort_by(f64::total_cmp);
    println!(
        "{}",
        serde_json::json!({
            "first_response_ms": runs,
            "first_response_ms_median": millis[millis.len() / 2],
            "idle_rss_kib": rss,
        })
    );
    Ok(())
}

fn request(args: &Args) -> String {
    let cookie = args
        .token
        .as_ref()
        .map(|token| format!("Cookie: auth_session={token}\r\n"))
        .unwrap_or_default();
    format!(
        "GET {} HTTP/1.1\r\nHost: 127.0.0.1\r\n{cookie}Connection: close\r\n\r\n",
        args.path
    )
}

fn time_start(args: &Args, request: &str) -> anyhow::Result<Start> {
    let port = free_port()?;
    let (program, rest) = args
        .command
        .split_first()
        .context("no server command given")?;

    let started = Instant::now();
    let mut child = Command::new(program)
        .args(rest)
        .arg("--listen")
        .arg(format!("127.0.0.1:{port}"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| format!("cannot start {program}"))?;

    let first_response = match wait_for_ok(port, request, started, args.timeout) {
        Ok(elapsed) => elapsed,
        Err(error) => {
            stop(&mut child)?;
            return Err(error);
        }
    };

    std::thread::sleep(Duration::from_secs_f64(args.settle));
    let idle_rss_kib = resident_kib(child.id())?;
    stop(&mut child)?;
    Ok(Start {
        first_response,
        idle_rss_kib,
    })
}

/// A port the kernel just handed out, free again once the listener is dropped.
fn free_port() -> anyhow::Result<u16> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    Ok(listener.local_addr()?.port())
}

fn wait_for_ok(
    port: u16,
    request: &str,
    started: Instant,
    timeout: f64,
) -> anyhow::Result<Duration> {
    let timeout = Duration::from_secs_f64(timeout);
    while started.elapsed() < timeout {
        if let Ok(200) = status(port, request) {
            return Ok(started.elapsed());
        }
        std::thread::sleep(Duration::from_micros(200));
    }
    bail!("no 200 response within {timeout:?}")
}

/// The status code of one request on a fresh connection.
fn status(port: u16, request: &str) -> anyhow::Result<u16> {
    let mut stream = TcpStream::connect((Ipv4Addr::LOCALHOST, port))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    stream.write_all(request.as_bytes())?;

    let mut line = String::new();
    BufReader::new(stream).read_line(&mut line)?;
    let code = line
        .split_whitespace()
        .nth(1)
        .context("no status line")?
        .parse()?;
    Ok(code)
}

/// `VmRSS` from `/proc/PID/status`.
fn resident_kib(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let line = status
        .lines()
        .find(|line| line.starts_with("VmRSS:"))
        .context("no VmRSS line")?;
    Ok(line
        .split_whitespace()
        .nth(1)
        .context("no VmRSS value")?
        .parse()?)
}

/// SIGTERM, then a wait; SIGKILL if it has not stopped in five seconds.
fn stop(child: &mut Child) -> anyhow::Result<()> {
    Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status()?;
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if child.try_wait()?.is_some() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    child.kill()?;
    child.wait()?;
    Ok(())
}
