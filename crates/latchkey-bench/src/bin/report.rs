//! `bench-report`: turns the measurements `bench/run` collected into the Markdown tables of
//! `docs/benchmarks.md`: medians with their spread, the ratios to the baselines, and whether
//! each target was met.
//!
//! Its input has one JSON object a line, `{"db", "case", "run", "data"}`, where `data` is
//! what wrk's script, `bench-argon2`, `bench-first-response` or the script itself printed.
//! A ratio is taken within each run, between measurements made a few seconds apart, and its
//! median over the runs is reported: on a shared machine that is steadier than a ratio of
//! medians.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;
use serde_json::Value;

/// Summarises a results file.
#[derive(Debug, Parser)]
#[command(name = "bench-report")]
struct Args {
    /// The results file `bench/run` wrote.
    results: PathBuf,
}

/// Every measurement of one database, by case, in run order.
type Cases = BTreeMap<String, Vec<Value>>;

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let text = std::fs::read_to_string(&args.results)
        .with_context(|| format!("cannot read {}", args.results.display()))?;

    let mut databases: BTreeMap<String, Cases> = BTreeMap::new();
    for (number, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let record: Value = serde_json::from_str(line)
            .with_context(|| format!("line {} is not JSON", number + 1))?;
        let db = record["db"].as_str().unwrap_or("?").to_owned();
        let case = record["case"].as_str().unwrap_or("?").to_owned();
        databases
            .entry(db)
            .or_default()
            .entry(case)
            .or_default()
            .push(record["data"].clone());
    }

    let mut out = String::new();
    for (db, cases) in &databases {
        report(&mut out, db, cases)?;
    }
    print!("{out}");
    Ok(())
}

fn report(out: &mut String, db: &str, cases: &Cases) -> std::fmt::Result {
    writeln!(out, "### {db}\n")?;
    writeln!(
        out,
        "| measure | median | spread (min–max) | runs | target | met |"
    )?;
    writeln!(out, "|---|---:|---:|---:|---|---|")?;
    let mut table = Table { out, cases };

    table.section("session path: GET / at 32 connections")?;
    table.value("baseline, requests/s", "get.baseline", "rps", None)?;
    table.value("site, requests/s", "get.site", "rps", None)?;
    table.ratio(
        "site / baseline, requests/s",
        ("get.site", "rps"),
        ("get.baseline", "rps"),
        Target::AtLeast(0.8),
    )?;
    table.value(
        "site, session check only (GET /login, 303), requests/s",
        "get.validate",
        "rps",
        None,
    )?;
    table.ratio(
        "session check only / baseline, requests/s",
        ("get.validate", "rps"),
        ("get.baseline", "rps"),
        Target::Info,
    )?;
    table.value(
        "baseline, CPU µs a request (server and database)",
        "get.baseline",
        "cpu_us_per_request",
        None,
    )?;
    table.value(
        "site, CPU µs a request (server and database)",
        "get.site",
        "cpu_us_per_request",
        None,
    )?;
    table.ratio(
        "baseline / site, CPU a request",
        ("get.baseline", "cpu_us_per_request"),
        ("get.site", "cpu_us_per_request"),
        Target::Info,
    )?;
    table.ratio(
        "baseline / session check only, CPU a request",
        ("get.baseline", "cpu_us_per_request"),
        ("get.validate", "cpu_us_per_request"),
        Target::Info,
    )?;
    table.value("baseline, p50 ms", "get.baseline", "p50_ms", None)?;
    table.value("site, p50 ms", "get.site", "p50_ms", None)?;
    table.value("baseline, p99 ms", "get.baseline", "p99_ms", None)?;
    table.value(
        "site, p99 ms",
        "get.site",
        "p99_ms",
        Some(Target::Below(10.0)),
    )?;

    table.section("session path: 1,000,000 against 10,000 sessions")?;
    table.value(
        "session check only at 10k sessions, p50 ms",
        "get.validate_10k",
        "p50_ms",
        None,
    )?;
    table.ratio(
        "session check only, 1M / 10k, p50 latency",
        ("get.validate", "p50_ms"),
        ("get.validate_10k", "p50_ms"),
        Target::AtMost(1.25),
    )?;
    table.ratio(
        "session check only, 1M / 10k, mean latency",
        ("get.validate", "mean_ms"),
        ("get.validate_10k", "mean_ms"),
        Target::AtMost(1.25),
    )?;
    table.value(
        "GET / at 10k sessions, p50 ms",
        "get.site_10k",
        "p50_ms",
        None,
    )?;
    table.value(
        "GET / at 10k sessions, requests/s",
        "get.site_10k",
        "rps",
        None,
    )?;
    table.ratio(
        "GET /, 1M / 10k, p50 latency (10 sessions a user against 0.1)",
        ("get.site", "p50_ms"),
        ("get.site_10k", "p50_ms"),
        Target::Info,
    )?;

    table.section("sign-in path: POST /api/login")?;
    table.value(
        "one verification, ms",
        "signin.bound",
        "verify_ms_median",
        None,
    )?;
    table.value(
        "Argon2 bound (cores / verification), sign-ins/s",
        "signin.bound",
        "bound_per_s",
        None,
    )?;
    table.value(
        "one Argon2 loop per core at once, verifications/s",
        "signin.bound",
        "parallel_per_s",
        None,
    )?;
    table.value("site, sign-ins/s", "signin.site", "rps", None)?;
    table.value("site, p50 ms", "signin.site", "p50_ms", None)?;
    table.ratio(
        "site / Argon2 bound",
        ("signin.site", "rps"),
        ("signin.bound", "bound_per_s"),
        Target::AtLeast(0.9),
    )?;
    table.ratio(
        "site / one Argon2 loop per core at once",
        ("signin.site", "rps"),
        ("signin.bound", "parallel_per_s"),
        Target::Info,
    )?;
    table.value(
        "CPU a sign-in in the hashing threads, µs",
        "signin.site",
        "hash_cpu_us",
        None,
    )?;
    table.value(
        "CPU a sign-in besides hashing (requests, queries, database), µs",
        "signin.site",
        "other_cpu_us",
        None,
    )?;
    table.ratio(
        "hashing / all of a sign-in's CPU",
        ("signin.site", "hash_cpu_us"),
        ("signin.site", "all_cpu_us"),
        Target::Info,
    )?;

    table.section("isolation: GET / at 32 connections during a sign-in flood")?;
    table.value("unloaded, requests/s", "isolation.unloaded", "rps", None)?;
    table.value(
        "during the flood, requests/s",
        "isolation.flood_get",
        "rps",
        None,
    )?;
    table.ratio(
        "during / unloaded, requests/s",
        ("isolation.flood_get", "rps"),
        ("isolation.unloaded", "rps"),
        Target::AtLeast(0.5),
    )?;
    table.value("unloaded, p99 ms", "isolation.unloaded", "p99_ms", None)?;
    table.value(
        "during the flood, p99 ms",
        "isolation.flood_get",
        "p99_ms",
        Some(Target::Below(25.0)),
    )?;
    table.value("flood, sign-ins/s", "isolation.flood_login", "rps", None)?;

    table.section("footprint")?;
    table.mib(
        "resident at idle after start, MiB",
        "footprint.start",
        "idle_rss_kib",
        Some(Target::Below(20.0)),
    )?;
    table.mib(
        "resident at idle after the GET runs, MiB",
        "footprint.after_load",
        "rss_kib",
        Some(Target::Below(20.0)),
    )?;
    table.mib(
        "resident at idle 2 s after the flood, MiB",
        "footprint.after_flood",
        "rss_kib",
        Some(Target::Below(20.0)),
    )?;
    table.mib(
        "resident under the flood, peak, MiB",
        "isolation.rss",
        "peak_rss_kib",
        Some(Target::Below(64.0)),
    )?;
    table.value(
        "start to first response, ms",
        "footprint.start",
        "first_response_ms",
        Some(Target::Below(150.0)),
    )?;

    table.errors()?;
    writeln!(table.out)
}

/// What a figure should be.
#[derive(Debug, Clone, Copy)]
enum Target {
    AtLeast(f64),
    AtMost(f64),
    Below(f64),
    Info,
}

impl Target {
    fn describe(self) -> String {
        match self {
            Self::AtLeast(bound) => format!("≥ {bound}"),
            Self::AtMost(bound) => format!("≤ {bound}"),
            Self::Below(bound) => format!("< {bound}"),
            Self::Info => String::new(),
        }
    }

    fn is_met(self, value: f64) -> Option<bool> {
        match self {
            Self::AtLeast(bound) => Some(value >= bound),
            Self::AtMost(bound) => Some(value <= bound),
            Self::Below(bound) => Some(value < bound),
            Self::Info => None,
        }
    }
}

struct Table<'a> {
    out: &'a mut String,
    cases: &'a Cases,
}

impl Table<'_> {
    fn section(&mut self, title: &str) -> std::fmt::Result {
        if self.cases.is_empty() {
            return Ok(());
        }
        writeln!(self.out, "| **{title}** | | | | | |")
    }

    /// Every value of `field` in `case`; a field holding an array gives all its elements.
    fn values(&self, case: &str, field: &str) -> Vec<f64> {
        let Some(records) = self.cases.get(case) else {
            return Vec::new();
        };
        records
            .iter()
            .flat_map(|record| match &record[field] {
                Value::Array(items) => items.iter().filter_map(Value::as_f64).collect(),
                other => other.as_f64().into_iter().collect::<Vec<_>>(),
            })
            .collect()
    }

    fn value(
        &mut self,
        label: &str,
        case: &str,
        field: &str,
        target: Option<Target>,
    ) -> std::fmt::Result {
        let values = self.values(case, field);
        self.row(label, &values, target.unwrap_or(Target::Info), 1.0)
    }

    fn mib(
        &mut self,
        label: &str,
        case: &str,
        field: &str,
        target: Option<Target>,
    ) -> std::fmt::Result {
        let values = self.values(case, field);
        self.row(label, &values, target.unwrap_or(Target::Info), 1.0 / 1024.0)
    }

    /// The run-by-run ratio of two measurements, paired by position.
    fn ratio(
        &mut self,
        label: &str,
        (case, field): (&str, &str),
        (base_case, base_field): (&str, &str),
        target: Target,
    ) -> std::fmt::Result {
        let over = self.values(case, field);
        let under = self.values(base_case, base_field);
        let ratios: Vec<f64> = over
            .iter()
            .zip(&under)
            .filter(|(_, under)| **under > 0.0)
            .map(|(over, under)| over / under)
            .collect();
        self.row(label, &ratios, target, 1.0)
    }

    fn row(&mut self, label: &str, values: &[f64], target: Target, scale: f64) -> std::fmt::Result {
        let Some(stats) = Stats::of(values, scale) else {
            return Ok(());
        };
        let met = match target.is_met(stats.median) {
            Some(true) => "yes",
            Some(false) => "**no**",
            None => "",
        };
        writeln!(
            self.out,
            "| {label} | {} | {}–{} | {} | {} | {met} |",
            number(stats.median),
            number(stats.min),
            number(stats.max),
            values.len(),
            target.describe()
        )
    }

    /// Any wrk run that saw errors or non-2xx/3xx answers makes its figures suspect.
    fn errors(&mut self) -> std::fmt::Result {
        let mut lines = Vec::new();
        for (case, records) in self.cases {
            for (run, record) in records.iter().enumerate() {
                let Some(errors) = record.get("errors").and_then(Value::as_object) else {
                    continue;
                };
                let total: f64 = errors.values().filter_map(Value::as_f64).sum();
                if total > 0.0 {
                    lines.push(format!(
                        "{case} run {}: {}",
                        run + 1,
                        Value::from(errors.clone())
                    ));
                }
            }
        }
        if !lines.is_empty() {
            writeln!(
                self.out,
                "\nErrors seen by wrk (these figures are suspect):\n"
            )?;
            for line in lines {
                writeln!(self.out, "- {line}")?;
            }
        }
        Ok(())
    }
}

struct Stats {
    median: f64,
    min: f64,
    max: f64,
}

impl Stats {
    fn of(values: &[f64], scale: f64) -> Option<Self> {
        let mut sorted: Vec<f64> = values.iter().map(|value| value * scale).collect();
        sorted.sort_by(f64::total_cmp);
        let (&min, &max) = (sorted.first()?, sorted.last()?);
        let middle = sorted.len() / 2;
        let median = if sorted.len() % 2 == 0 {
            (sorted[middle - 1] + sorted[middle]) / 2.0
        } else {
            sorted[middle]
        };
        Some(Self { median, min, max })
    }
}

/// Three significant figures, without scientific notation.
fn number(value: f64) -> String {
    let magnitude = value.abs();
    if magnitude >= 100.0 {
        format!("{value:.0}")
    } else if magnitude >= 10.0 {
        format!("{value:.1}")
    } else if magnitude >= 1.0 {
        format!("{value:.2}")
    } else {
        format!("{value:.3}")
    }
}
