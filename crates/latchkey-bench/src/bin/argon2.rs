//! `bench-argon2`: the Argon2 bound on sign-ins per second, measured on this machine now.
//!
//! The bound is the number of cores divided by the time of one verification at the
//! production cost (Latchkey's default `Argon2Params`). A verification is one Argon2id
//! computation into a reused buffer, as Latchkey's hashing threads do it, with nothing else
//! around it. It also reports the throughput of one such loop per core running at once,
//! which is lower than the bound when the cores share memory bandwidth or are shared with
//! other work.
//!
//! Prints one JSON object on standard output.

use std::time::{Duration, Instant};

use anyhow::anyhow;
use argon2::{Algorithm, Argon2, Block, Params, Version};
use clap::Parser;
use latchkey::Argon2Params;

/// Times Argon2id verifications at the production cost.
#[derive(Debug, Parser)]
#[command(name = "bench-argon2")]
struct Args {
    /// Verifications timed one after another, after one untimed.
    #[arg(long, default_value_t = 15)]
    runs: usize,

    /// Seconds of the loop on every core at once; 0 skips it.
    #[arg(long, default_value_t = 2.0)]
    parallel_seconds: f64,

    /// For experiments: memory in KiB instead of the production cost's, to see how the
    /// parallel rate depends on the cache. The harness passes none.
    #[arg(long)]
    memory_kib: Option<u32>,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let mut production = Argon2Params::default();
    if let Some(memory_kib) = args.memory_kib {
        production.memory_kib = memory_kib;
    }
    let params = Params::new(
        production.memory_kib,
        production.iterations,
        production.parallelism,
        None,
    )
    .map_err(|error| anyhow!("invalid argon2 params: {error}"))?;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());

    let mut verifier = Verifier::new(params.clone());
    verifier.verify()?;
    let mut times: Vec<Duration> = (0..args.runs.max(1))
        .map(|_| verifier.timed())
        .collect::<Result<_, _>>()?;
    times.sort();
    let median = times[times.len() / 2];
    let bound = cores as f64 / median.as_secs_f64();

    let parallel = if args.parallel_seconds > 0.0 {
        parallel_rate(
            &params,
            cores,
            Duration::from_secs_f64(args.parallel_seconds),
        )?
    } else {
        0.0
    };

    println!(
        "{}",
        serde_json::json!({
            "memory_kib": production.memory_kib,
            "iterations": production.iterations,
            "parallelism": production.parallelism,
            "cores": cores,
            "verify_ms_median": median.as_secs_f64() * 1e3,
            "verify_ms_min": times[0].as_secs_f64() * 1e3,
            "verify_ms_max": times[times.len() - 1].as_secs_f64() * 1e3,
            "bound_per_s": bound,
            "parallel_per_s": parallel,
        })
    );
    Ok(())
}

/// One Argon2id computation at a time, in one buffer kept between them.
struct Verifier {
    argon2: Argon2<'static>,
    blocks: Vec<Block>,
}

impl Verifier {
    fn new(params: Params) -> Self {
        let blocks = vec![Block::new(); params.block_count()];
        Self {
            argon2: Argon2::new(Algorithm::Argon2id, Version::V0x13, params),
            blocks,
        }
    }

    fn verify(&mut self) -> anyhow::Result<()> {
        let mut out = [0u8; 32];
        self.argon2
            .hash_password_into_with_memory(
                b"correct horse battery staple",
                b"sixteen byte salt",
                &mut out,
                &mut self.blocks,
            )
            .map_err(|error| anyhow!("argon2 failed: {error}"))
    }

    fn timed(&mut self) -> anyhow::Result<Duration> {
        let started = Instant::now();
        self.verify()?;
        Ok(started.elapsed())
    }
}

/// Verifications per second with one verifying thread per core for `length`.
fn parallel_rate(params: &Params, threads: usize, length: Duration) -> anyhow::Result<f64> {
    let started = Instant::now();
    let counts = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| -> anyhow::Result<u64> {
                    let mut verifier = Verifier::new(params.clone());
                    let mut done = 0;
                    while started.elapsed() < length {
                        verifier.verify()?;
                        done += 1;
                    }
                    Ok(done)
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|worker| {
                worker
                    .join()
                    .map_err(|_| anyhow!("a verifying thread panicked"))?
            })
            .collect::<anyhow::Result<Vec<u64>>>()
    })?;
    Ok(counts.iter().sum::<u64>() as f64 / started.elapsed().as_secs_f64())
}
