//! `bench-seed`: fills an empty database with users, username keys and sessions for the
//! benchmarks, fast, and writes some of the session tokens to a file for the load generator.
//!
//! Rows are written directly, in large multi-row inserts inside few transactions, because a
//! million sessions through `Auth::create_session` would take longer than the benchmark. They
//! are the rows the library would write: the schema comes from the adapters' own migrations,
//! user ids and tokens from the library's generators, session ids are the library's SHA-256
//! of the token, usernames are stored in the library's lookup form, and attributes are the
//! site's JSON. Every user has the same password hash, made once by the library's hasher at
//! the production cost; verifying it costs what verifying any production hash costs.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context};
use clap::Parser;
use latchkey::token::{random_string, USER_ID_LENGTH};
use latchkey::{HasherConfig, Password, PasswordHasher, SessionConfig, SessionToken, Username};
use latchkey_bench::{Database, USERNAME_PROVIDER};
use sqlx::{Connection, QueryBuilder};

/// Seeds a benchmark database.
#[derive(Debug, Parser)]
#[command(name = "bench-seed")]
struct Args {
    /// A SQLite path or a postgres:// URL; the database must hold no users yet.
    #[arg(long)]
    database_url: String,

    /// Users to create, named `bench000000` onwards.
    #[arg(long, default_value_t = 100_000)]
    users: usize,

    /// Sessions to create, spread evenly over the users.
    #[arg(long, default_value_t = 1_000_000)]
    sessions: usize,

    /// The password of every user.
    #[arg(long, default_value = "correct horse battery staple")]
    password: String,

    /// Where to write session tokens, one a line.
    #[arg(long)]
    tokens: PathBuf,

    /// How many tokens to write, taken evenly from all the sessions, old and new.
    #[arg(long, default_value_t = 100_000)]
    keep_tokens: usize,
}

/// Rows per INSERT statement: well under both databases' limits on bound parameters.
const ROWS_PER_STATEMENT: usize = 500;

/// Rows per transaction: large enough that commits cost nothing, small enough that SQLite's
/// write-ahead log stays modest.
const ROWS_PER_TRANSACTION: usize = 50_000;

/// One user and the lookup form of their username.
struct SeedUser {
    id: String,
    attributes: String,
    lookup: String,
}

/// One session row, as `Auth::create_session` would write it.
struct SeedSession {
    id: String,
    user: usize,
    created_at: i64,
    active_expires: i64,
    idle_expires: i64,
    absolute_expires: i64,
}

/// The site's session attributes (its `Device`), the same for every seeded session.
const SESSION_ATTRIBUTES: &str = r#"{"user_agent":"bench-seed"}"#;

/// Inserts users, keys and sessions over one connection, in either database. A macro because
/// sqlx's query builder is generic over the database only through a wall of trait bounds.
macro_rules! seed {
    ($connection:expr, $db:ty, $hash:expr, $users:expr, $sessions:expr) => {{
        let connection = $connection;
        let existing: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users")
            .fetch_one(&mut *connection)
            .await?;
        if existing != 0 {
            bail!("the database already holds {existing} users: seed an empty one");
        }

        for chunk in $users.chunks(ROWS_PER_TRANSACTION) {
            let mut tx = connection.begin().await?;
            for rows in chunk.chunks(ROWS_PER_STATEMENT) {
                QueryBuilder::<$db>::new("INSERT INTO users (id, attributes) ")
                    .push_values(rows, |mut row, user| {
                        row.push_bind(&user.id).push_bind(&user.attributes);
                    })
                    .build()
                    .execute(&mut *tx)
                    .await?;
                QueryBuilder::<$db>::new(
                    "INSERT INTO keys (provider_id, provider_user_id, user_id, hashed_password) ",
                )
                .push_values(rows, |mut row, user| {
                    row.push_bind(USERNAME_PROVIDER)
                        .push_bind(&user.lookup)
                        .push_bind(&user.id)
                        .push_bind($hash.expose_secret());
                })
                .build()
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
        }

        for chunk in $sessions.chunks(ROWS_PER_TRANSACTION) {
            let mut tx = connection.begin().await?;
            for rows in chunk.chunks(ROWS_PER_STATEMENT) {
                QueryBuilder::<$db>::new(
                    "INSERT INTO sessions (id, user_id, created_at, active_expires, \
                     idle_expires, absolute_expires, attributes) ",
                )
                .push_values(rows, |mut row, session| {
                    row.push_bind(&session.id)
                        .push_bind(&$users[session.user].id)
                        .push_bind(session.created_at)
                        .push_bind(session.active_expires)
                        .push_bind(session.idle_expires)
                        .push_bind(session.absolute_expires)
                        .push_bind(SESSION_ATTRIBUTES);
                })
                .build()
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
        }
    }};
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if args.users == 0 {
        bail!("at least one user is needed");
    }
    let started = Instant::now();

    let hash = PasswordHasher::new(HasherConfig::default())?
        .hash(&Password::new(args.password.clone()))
        .await?;
    let users = make_users(args.users)?;
    let (sessions, tokens) = make_sessions(args.sessions, args.users, args.keep_tokens)?;
    write_tokens(&args.tokens, &tokens)?;

    let database = Database::open(&args.database_url, None).await?;
    match &database {
        Database::Sqlite(adapter) => {
            let mut connection = adapter.acquire().await?;
            // Room for the whole index of session ids, so that inserting in random id order
            // does not reread pages, and no sync at checkpoints: a seed that a crash cuts
            // short is thrown away anyway. This connection only.
            for pragma in ["PRAGMA cache_size = -262144", "PRAGMA synchronous = OFF"] {
                sqlx::query(pragma).execute(&mut *connection).await?;
            }
            seed!(&mut *connection, sqlx::Sqlite, hash, users, sessions);
        }
        Database::Postgres(adapter) => {
            let mut connection = adapter.acquire().await?;
            seed!(&mut *connection, sqlx::Postgres, hash, users, sessions);
            // Fresh statistics, as autovacuum would have gathered on a database in use.
            sqlx::query("VACUUM ANALYZE")
                .execute(&mut *connection)
                .await?;
        }
    }
    database.close().await;

    eprintln!(
        "seeded {} users and {} sessions in {:.1} s; {} tokens in {}",
        args.users,
        args.sessions,
        started.elapsed().as_secs_f64(),
        tokens.len(),
        args.tokens.display()
    );
    Ok(())
}

fn make_users(count: usize) -> anyhow::Result<Vec<SeedUser>> {
    (0..count)
        .map(|n| {
            let name = format!("bench{n:06}");
            let username = Username::parse(&name, 4..=31)
                .with_context(|| format!("{name} is not a valid username"))?;
            Ok(SeedUser {
                id: random_string(USER_ID_LENGTH),
                attributes: serde_json::json!({ "username": username.display() }).to_string(),
                lookup: username.lookup().to_owned(),
            })
        })
        .collect()
}

/// Sessions created over the last six hours, inside the default active period, so that
/// validating one during the benchmark reads and never writes. Returns the rows and the
/// tokens kept for the load generator.
fn make_sessions(
    count: usize,
    users: usize,
    keep: usize,
) -> anyhow::Result<(Vec<SeedSession>, Vec<SessionToken>)> {
    let config = SessionConfig::default();
    let now = millis(SystemTime::now().duration_since(UNIX_EPOCH)?);
    let spread = millis(Duration::from_secs(6 * 60 * 60));
    let step = (count / keep.max(1)).max(1);

    let mut sessions = Vec::with_capacity(count);
    let mut kept = Vec::with_capacity(keep.min(count));
    for n in 0..count {
        let token = SessionToken::generate();
        // Older sessions first, as rows accumulate in a database in use.
        let created_at = now - spread + spread * i64::try_from(n)? / i64::try_from(count)?;
        let active_expires = created_at + millis(config.active_period);
        sessions.push(SeedSession {
            id: token.session_id().as_str().to_owned(),
            user: n % users,
            created_at,
            active_expires,
            idle_expires: active_expires + millis(config.idle_period),
            absolute_expires: created_at + millis(config.absolute_lifetime),
        });
        if n % step == 0 && kept.len() < keep {
            kept.push(token);
        }
    }
    Ok((sessions, kept))
}

fn write_tokens(path: &PathBuf, tokens: &[SessionToken]) -> anyhow::Result<()> {
    let file = File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    let mut out = BufWriter::new(file);
    for token in tokens {
        writeln!(out, "{}", token.expose_secret())?;
    }
    out.flush()?;
    Ok(())
}

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}
