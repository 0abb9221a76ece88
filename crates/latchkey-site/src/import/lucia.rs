//! Reading a Lucia v2 database: its tables checked, then its rows.
//!
//! Lucia v2 lets the application name its tables; the guides use `user` (or `auth_user` on
//! PostgreSQL, where `user` is a reserved word), `user_key` and `user_session`, and the
//! username-and-password guide adds a `username` column to the user table. Those are the
//! names read here. The source is only ever read: a SQLite file is opened read-only.

use std::str::FromStr;
use std::time::Duration;

use latchkey::BoxError;
use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sqlx::{ConnectOptions, Connection};

use super::ImportError;

/// How long opening the database may take: a server that does not answer at all would
/// otherwise hold the command until the operating system gives up on the connection.
const OPEN_TIMEOUT: Duration = Duration::from_secs(10);

/// The names the user table goes by, in the order they are looked for.
const USER_TABLES: [&str; 2] = ["user", "auth_user"];

/// The columns each table must have; any others are not imported.
const USER_COLUMNS: [&str; 2] = ["id", "username"];
const KEY_COLUMNS: [&str; 3] = ["id", "user_id", "hashed_password"];
const SESSION_COLUMNS: [&str; 4] = ["id", "user_id", "active_expires", "idle_expires"];

/// A user row of Lucia's: `username` is `None` when the column holds NULL.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct LuciaUser {
    /// The user's id, 15 characters of `[a-z0-9]` when Lucia generated it.
    pub id: String,
    /// The username as the person typed it at sign-up.
    pub username: Option<String>,
}

/// A key row of Lucia's.
#[derive(Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct LuciaKey {
    /// `providerId:providerUserId`, such as `username:alice`.
    pub id: String,
    /// The user the key signs in as.
    pub user_id: String,
    /// Lucia's `s2:` scrypt hash (or the older `salt:hex`), when the key has a password.
    pub hashed_password: Option<String>,
}

impl std::fmt::Debug for LuciaKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LuciaKey")
            .field("id", &self.id)
            .field("user_id", &self.user_id)
            .field(
                "hashed_password",
                &self.hashed_password.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

/// A session row of Lucia's. Its id is the token in the person's cookie, so it is a secret.
#[derive(Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct LuciaSession {
    /// The session token, stored in plain text by Lucia.
    pub id: String,
    /// The user the session belongs to.
    pub user_id: String,
    /// The end of the active period, in milliseconds since the Unix epoch.
    pub active_expires: i64,
    /// The end of the idle period, in milliseconds since the Unix epoch: dead after it.
    pub idle_expires: i64,
}

impl std::fmt::Debug for LuciaSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LuciaSession")
            .field("id", &"<redacted>")
            .field("user_id", &self.user_id)
            .field("active_expires", &self.active_expires)
            .field("idle_expires", &self.idle_expires)
            .finish()
    }
}

/// What was found in a Lucia database's tables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LuciaSchema {
    /// `sqlite` or `postgres`.
    pub source: &'static str,
    /// The user table's name: `user` or `auth_user`.
    pub user_table: &'static str,
    /// Columns that exist but are not imported, as `table.column`.
    pub ignored_columns: Vec<String>,
}

/// Everything an import needs from a Lucia database, read at one moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LuciaData {
    /// Where the rows came from.
    pub schema: LuciaSchema,
    /// Every user, by id.
    pub users: Vec<LuciaUser>,
    /// Every key, by id.
    pub keys: Vec<LuciaKey>,
    /// The sessions still alive at the moment of reading, by id.
    pub live_sessions: Vec<LuciaSession>,
    /// How many sessions had died by then.
    pub expired_sessions: u64,
}

/// An open Lucia database: one connection, since the import reads one table at a time.
pub enum LuciaDatabase {
    /// A SQLite file, opened read-only.
    Sqlite(SqliteConnection),
    /// A PostgreSQL database.
    Postgres(PgConnection),
}

/// Runs the same statement on either connection: the SQL read here is written to mean the
/// same on both, and only the driver types differ.
macro_rules! on_connection {
    ($database:expr, $connection:ident => $body:expr) => {
        match $database {
            LuciaDatabase::Sqlite($connection) => $body,
            LuciaDatabase::Postgres($connection) => $body,
        }
    };
}

impl LuciaDatabase {
    /// Opens the database `url` names: a `postgres://` URL, or a SQLite path or `sqlite:` URL.
    ///
    /// # Errors
    ///
    /// [`ImportError::Open`] when it cannot be opened within ten seconds; a SQLite file that
    /// does not exist is not created.
    pub async fn open(url: &str) -> Result<Self, ImportError> {
        let opening = async {
            if url.starts_with("postgres://") || url.starts_with("postgresql://") {
                let options = PgConnectOptions::from_str(url)?;
                return Ok(Self::Postgres(options.connect().await?));
            }

            let options = if url.starts_with("sqlite:") {
                SqliteConnectOptions::from_str(url)?
            } else {
                // A bare path is a file name, so `?` and `%` in it are not URL syntax.
                SqliteConnectOptions::new().filename(url)
            };
            let options = options.read_only(true).create_if_missing(false);
            Ok(Self::Sqlite(options.connect().await?))
        };

        match tokio::time::timeout(OPEN_TIMEOUT, opening).await {
            Ok(Ok(database)) => Ok(database),
            Ok(Err(error)) => Err(ImportError::Open(driver_error(error))),
            Err(_) => Err(ImportError::Open("no answer within 10 seconds".into())),
        }
    }

    /// `sqlite` or `postgres`, for the report.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Sqlite(_) => "sqlite",
            Self::Postgres(_) => "postgres",
        }
    }

    /// Checks that the tables and columns of Lucia v2 are there.
    ///
    /// # Errors
    ///
    /// [`ImportError::NotLucia`] naming every table or column missing;
    /// [`ImportError::Read`] when the database does not answer.
    pub async fn schema(&mut self) -> Result<LuciaSchema, ImportError> {
        let mut missing = Vec::new();
        let mut ignored_columns = Vec::new();

        let mut user_table = None;
        for table in USER_TABLES {
            let columns = self.columns(table).await?;
            if !columns.is_empty() {
                user_table = Some(table);
                check_table(
                    table,
                    &columns,
                    &USER_COLUMNS,
                    &mut missing,
                    &mut ignored_columns,
                );
                break;
            }
        }
        if user_table.is_none() {
            missing.push("table user (or auth_user)".to_owned());
        }

        for (table, required) in [
            ("user_key", &KEY_COLUMNS[..]),
            ("user_session", &SESSION_COLUMNS[..]),
        ] {
            let columns = self.columns(table).await?;
            if columns.is_empty() {
                missing.push(format!("table {table}"));
            } else {
                check_table(
                    table,
                    &columns,
                    required,
                    &mut missing,
                    &mut ignored_columns,
                );
            }
        }

        match user_table {
            Some(user_table) if missing.is_empty() => Ok(LuciaSchema {
                source: self.kind(),
                user_table,
                ignored_columns,
            }),
            _ => Err(ImportError::NotLucia { missing }),
        }
    }

    /// Reads the users, keys and live sessions, and counts the dead sessions, at `now` (in
    /// milliseconds since the Unix epoch).
    ///
    /// # Errors
    ///
    /// As for [`schema`](Self::schema).
    //
    // TODO: every user and key is held in memory at once, about 300 bytes each, so a Lucia
    // database of millions of users needs gigabytes; reading in pages of user ids would
    // bound it, and has not been needed yet. Dead sessions, which Lucia never deletes and
    // which can be the bulk of a database, are only counted.
    pub async fn read(&mut self, now: i64) -> Result<LuciaData, ImportError> {
        let schema = self.schema().await?;

        // Casts make a column declared with another type (VARCHAR, INT8, or none at all in
        // SQLite) decode the same way; the table names are from the fixed lists above.
        let users_sql = format!(
            r#"SELECT CAST(id AS TEXT) AS id, CAST(username AS TEXT) AS username
               FROM "{}" ORDER BY id"#,
            schema.user_table
        );
        let keys_sql = r#"SELECT CAST(id AS TEXT) AS id, CAST(user_id AS TEXT) AS user_id,
                CAST(hashed_password AS TEXT) AS hashed_password
            FROM user_key ORDER BY id"#;
        let live_sql = r#"SELECT CAST(id AS TEXT) AS id, CAST(user_id AS TEXT) AS user_id,
                CAST(active_expires AS BIGINT) AS active_expires,
                CAST(idle_expires AS BIGINT) AS idle_expires
            FROM user_session WHERE idle_expires >= $1 ORDER BY id"#;
        let expired_sql = "SELECT COUNT(*) FROM user_session WHERE idle_expires < $1";

        let users: Vec<LuciaUser> = on_connection!(self, connection => sqlx::query_as(&users_sql)
            .fetch_all(connection)
            .await
            .map_err(read_error)?);
        let keys: Vec<LuciaKey> = on_connection!(self, connection => sqlx::query_as(keys_sql)
            .fetch_all(connection)
            .await
            .map_err(read_error)?);
        let live_sessions: Vec<LuciaSession> = on_connection!(self, connection => sqlx::query_as(live_sql)
                .bind(now)
                .fetch_all(connection)
                .await
                .map_err(read_error)?);
        let expired: i64 = on_connection!(self, connection => sqlx::query_scalar(expired_sql)
            .bind(now)
            .fetch_one(connection)
            .await
            .map_err(read_error)?);

        Ok(LuciaData {
            schema,
            users,
            keys,
            live_sessions,
            expired_sessions: u64::try_from(expired).unwrap_or(0),
        })
    }

    /// Closes the connection, telling the server.
    pub async fn close(self) {
        // The rows are read by now; a failed goodbye loses nothing.
        let _ = on_connection!(self, connection => connection.close().await);
    }

    /// The lowercased column names of `table` in the current schema; empty when there is no
    /// such table.
    async fn columns(&mut self, table: &str) -> Result<Vec<String>, ImportError> {
        let names: Vec<String> = match self {
            Self::Sqlite(connection) => {
                sqlx::query_scalar("SELECT name FROM pragma_table_info($1)")
                    .bind(table)
                    .fetch_all(connection)
                    .await
                    .map_err(read_error)?
            }
            Self::Postgres(connection) => sqlx::query_scalar(
                "SELECT CAST(column_name AS TEXT) FROM information_schema.columns
                 WHERE table_schema = current_schema() AND table_name = $1",
            )
            .bind(table)
            .fetch_all(connection)
            .await
            .map_err(read_error)?,
        };
        Ok(names.into_iter().map(|name| name.to_lowercase()).collect())
    }
}

/// Notes the `required` columns `table` lacks and the ones it has beyond them.
fn check_table(
    table: &str,
    columns: &[String],
    required: &[&str],
    missing: &mut Vec<String>,
    ignored: &mut Vec<String>,
) {
    for column in required {
        if !columns.iter().any(|name| name == column) {
            missing.push(format!("column {table}.{column}"));
        }
    }
    for column in columns {
        if !required.contains(&column.as_str()) {
            ignored.push(format!("{table}.{column}"));
        }
    }
}

fn read_error(error: sqlx::Error) -> ImportError {
    ImportError::Read(driver_error(error))
}

/// The driver's own error, without sqlx's wrapper, whose message repeats its source's.
fn driver_error(error: sqlx::Error) -> BoxError {
    match error {
        sqlx::Error::Database(error) => error.into_error(),
        sqlx::Error::Io(error) => Box::new(error),
        sqlx::Error::Tls(error) => error,
        other => Box::new(other),
    }
}
