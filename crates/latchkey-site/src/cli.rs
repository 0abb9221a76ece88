//! The command line: `latchkey [serve]` and its options, each with an environment fallback.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use ipnet::IpNet;
use latchkey::{AuditKind, HashingPriority};
use latchkey_axum::origin::PublicOrigin;

use crate::site::client::ForwardedHeader;

/// Username-and-password sign-in: the site, and the tools to run it.
#[derive(Debug, Parser)]
#[command(name = "latchkey", version, args_conflicts_with_subcommands = true)]
pub struct Cli {
    /// What to do; without one, `serve`.
    #[command(subcommand)]
    pub command: Option<Command>,

    /// Options of `serve`, when no subcommand is given.
    #[command(flatten)]
    pub serve: ServeArgs,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the site (the default).
    Serve(ServeArgs),
    /// Print recent security events: sign-ups, sign-ins and their failures, throttled
    /// requests, sign-outs.
    Audit(AuditArgs),
    /// Import users, keys and live sessions from a Lucia v2 database.
    ImportLucia(crate::import::ImportLuciaArgs),
    /// Manage users: create, list, show, reset-password, delete, unlock.
    User(crate::admin::UserArgs),
    /// Manage sessions: list, revoke, purge.
    Sessions(crate::admin::SessionsArgs),
}

impl Command {
    /// How this command's log lines are written: as asked for `serve`, as text on standard
    /// error for the tools, whose standard output is their answer.
    pub fn log_format(&self) -> LogFormat {
        match self {
            Self::Serve(args) => args.log_format,
            Self::Audit(_) => LogFormat::Text,
            Self::ImportLucia(_) => LogFormat::Text,
            Self::User(_) | Self::Sessions(_) => LogFormat::Text,
        }
    }

    /// The log filter when `RUST_LOG` is unset: `warn` for the administration commands, whose
    /// answer is their output and whose errors are one line, else `info`.
    pub fn default_log_filter(&self) -> &'static str {
        match self {
            Self::User(_) | Self::Sessions(_) => "warn",
            _ => "info",
        }
    }
}

/// Options of `latchkey serve`.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// The address and port to listen on.
    #[arg(long, env = "LATCHKEY_LISTEN", default_value = "127.0.0.1:3000")]
    pub listen: SocketAddr,

    /// The origin people reach the site at, such as `https://login.example.com`, when a proxy
    /// in front rewrites the Host header. Writes from it pass the cross-origin check.
    #[arg(long, env = "LATCHKEY_PUBLIC_ORIGIN", value_parser = parse_origin)]
    pub public_origin: Option<PublicOrigin>,

    /// Send the session cookie without `Secure`, so that it works over plain HTTP. Only for
    /// development on a trusted network.
    #[arg(long, env = "LATCHKEY_INSECURE_COOKIES")]
    pub insecure_cookies: bool,

    /// Serve `/metrics` (Prometheus text format) on this address instead of beside the site.
    #[arg(long, env = "LATCHKEY_METRICS_LISTEN")]
    pub metrics_listen: Option<SocketAddr>,

    /// A proxy in front of the site, as an address or CIDR network; repeatable. Only requests
    /// from these peers have their forwarding header believed, and then its right-most entry
    /// that is not itself such a proxy is the client's address. Without any, the client is the
    /// socket's peer.
    #[arg(
        long = "trusted-proxy",
        env = "LATCHKEY_TRUSTED_PROXIES",
        value_name = "CIDR",
        value_delimiter = ',',
        value_parser = parse_network
    )]
    pub trusted_proxies: Vec<IpNet>,

    /// The header the trusted proxies write the client's address in.
    #[arg(
        long,
        env = "LATCHKEY_FORWARDED_HEADER",
        value_enum,
        default_value_t = ForwardedHeader::XForwardedFor
    )]
    pub forwarded_header: ForwardedHeader,

    /// Sign-ups allowed per client address (IPv6: per /64) an hour, refilled continuously.
    #[arg(
        long,
        env = "LATCHKEY_SIGN_UPS_PER_HOUR",
        default_value_t = 300,
        value_parser = clap::value_parser!(u32).range(1..)
    )]
    pub sign_ups_per_hour: u32,

    /// Failed sign-ins allowed per client address (IPv6: per /64) an hour, refilled
    /// continuously.
    #[arg(
        long,
        env = "LATCHKEY_FAILED_SIGN_INS_PER_HOUR",
        default_value_t = 300,
        value_parser = clap::value_parser!(u32).range(1..)
    )]
    pub failed_sign_ins_per_hour: u32,

    /// Days the audit log keeps an event.
    #[arg(
        long,
        env = "LATCHKEY_AUDIT_RETENTION_DAYS",
        default_value_t = 90,
        value_parser = clap::value_parser!(u32).range(1..)
    )]
    pub audit_retention_days: u32,

    /// The CPU priority of the password-hashing threads. `lowered` (ten nice levels down, on
    /// Linux) keeps pages quick while a flood of sign-ins fills the hashing threads; `normal`
    /// gives sign-ins a larger share of a host that other busy programs share.
    #[arg(
        long,
        env = "LATCHKEY_HASHING_PRIORITY",
        value_enum,
        default_value_t = HashingPriorityArg::Lowered
    )]
    pub hashing_priority: HashingPriorityArg,

    /// How log lines are written.
    #[arg(long, env = "LATCHKEY_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// The database.
    #[command(flatten)]
    pub database: DatabaseArgs,
}

/// Options of `latchkey audit`.
#[derive(Debug, Clone, Args)]
pub struct AuditArgs {
    /// Only events of this user, by username (in any case) or user id.
    #[arg(long)]
    pub user: Option<String>,

    /// Only events of this kind: sign_up, sign_in, sign_in_failed, throttled, sign_out,
    /// session_revoked or password_changed.
    #[arg(long, value_parser = parse_kind)]
    pub kind: Option<AuditKind>,

    /// At most this many events, newest first.
    #[arg(long, default_value_t = 50)]
    pub limit: u32,

    /// One JSON object a line instead of a table.
    #[arg(long)]
    pub json: bool,

    /// The database.
    #[command(flatten)]
    pub database: DatabaseArgs,
}

/// Where the data lives; shared by every subcommand.
#[derive(Debug, Clone, Args)]
pub struct DatabaseArgs {
    /// The database: a SQLite file path or `sqlite://` URL (created with its schema if
    /// missing), or a `postgres://` URL.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "latchkey.db",
        hide_env_values = true
    )]
    pub database_url: String,

    /// The most connections to keep open to the database [default: 4 for SQLite, 10 for
    /// PostgreSQL].
    #[arg(long, env = "LATCHKEY_DATABASE_MAX_CONNECTIONS")]
    pub database_max_connections: Option<u32>,

    /// How long a request waits for a database connection before it is answered with 503,
    /// in seconds.
    #[arg(long, env = "LATCHKEY_DATABASE_TIMEOUT", default_value = "3", value_parser = parse_seconds)]
    pub database_timeout: Duration,
}

/// `--hashing-priority`: the library's [`HashingPriority`] as the command line spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum HashingPriorityArg {
    /// Ten nice levels below the server's other threads.
    Lowered,
    /// The same priority as the server's other threads.
    Normal,
}

impl From<HashingPriorityArg> for HashingPriority {
    fn from(priority: HashingPriorityArg) -> Self {
        match priority {
            HashingPriorityArg::Lowered => Self::Lowered,
            HashingPriorityArg::Normal => Self::Normal,
        }
    }
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// For people.
    Text,
    /// One JSON object a line, for machines.
    Json,
}

fn parse_origin(value: &str) -> Result<PublicOrigin, String> {
    PublicOrigin::parse(value).ok_or_else(|| {
        "expected an origin such as https://login.example.com, with no path".to_owned()
    })
}

fn parse_network(value: &str) -> Result<IpNet, String> {
    value
        .parse::<IpNet>()
        .or_else(|_| value.parse::<IpAddr>().map(IpNet::from))
        .map_err(|_| "expected an address or a CIDR network such as 10.0.0.0/8".to_owned())
}

fn parse_kind(value: &str) -> Result<AuditKind, String> {
    value.parse().map_err(|_| {
        let kinds: Vec<&str> = AuditKind::ALL.iter().map(|kind| kind.as_str()).collect();
        format!("expected one of {}", kinds.join(", "))
    })
}

fn parse_seconds(value: &str) -> Result<Duration, String> {
    let seconds: f64 = value
        .parse()
        .map_err(|_| "expected a number of seconds".to_owned())?;
    Duration::try_from_secs_f64(seconds)
        .map_err(|_| "expected a positive number of seconds".to_owned())
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn the_command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn no_subcommand_means_serve_with_the_defaults() {
        let cli = Cli::try_parse_from(["latchkey"]).expect("parses");
        assert!(cli.command.is_none());
        assert_eq!(cli.serve.listen, "127.0.0.1:3000".parse().expect("address"));
        assert!(!cli.serve.insecure_cookies);
    }

    #[test]
    fn trusted_proxies_are_repeatable_and_take_bare_addresses() {
        let cli = Cli::try_parse_from([
            "latchkey",
            "--trusted-proxy",
            "10.0.0.0/8,192.0.2.1",
            "--trusted-proxy",
            "2001:db8::/32",
        ])
        .expect("parses");

        let networks: Vec<String> = cli
            .serve
            .trusted_proxies
            .iter()
            .map(|n| n.to_string())
            .collect();
        assert_eq!(networks, ["10.0.0.0/8", "192.0.2.1/32", "2001:db8::/32"]);
        assert!(Cli::try_parse_from(["latchkey", "--trusted-proxy", "10.0.0.0/33"]).is_err());
        assert!(Cli::try_parse_from(["latchkey", "--sign-ups-per-hour", "0"]).is_err());
    }

    #[test]
    fn the_audit_command_takes_filters_and_refuses_unknown_kinds() {
        let cli = Cli::try_parse_from(["latchkey", "audit", "--kind", "throttled", "--json"])
            .expect("parses");
        let Some(Command::Audit(args)) = cli.command else {
            panic!("not the audit command");
        };
        assert_eq!(args.kind, Some(AuditKind::Throttled));
        assert!(args.json);
        assert!(Cli::try_parse_from(["latchkey", "audit", "--kind", "login"]).is_err());
    }

    #[test]
    fn a_public_origin_with_a_path_is_refused() {
        let parsed = Cli::try_parse_from(["latchkey", "--public-origin", "https://a.test/login"]);
        assert!(parsed.is_err());
    }
}
