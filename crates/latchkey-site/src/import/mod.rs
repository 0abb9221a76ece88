//! `latchkey import-lucia`: moving a site off Lucia v2 without signing anyone out.
//!
//! Users keep their ids. Username keys keep their hashes: Lucia's scrypt hashes verify in
//! Latchkey and are replaced by Argon2id at each person's next sign-in. Live sessions are
//! stored as the SHA-256 of Lucia's session id, which is the token in the `auth_session`
//! cookie Lucia set, so that cookie keeps working. Dead sessions are left behind.
//!
//! Lucia recorded no creation time and no absolute end for a session and extended an active
//! session forever; an imported session starts its absolute lifetime at the import, and its
//! active and idle ends are cut to that lifetime.
//!
//! Every row already present is skipped, so running the import twice changes nothing, and
//! an import cut short is finished by running it again.
//!
//! TODO: the import keeps no record of what it imported, so a run after the site has gone
//! live on Latchkey brings back the accounts deleted and the sessions ended since the first
//! run. Recording the imported ids needs a table of its own in both adapters' migrations;
//! until then the README says to run it once, at the switch-over.

mod lucia;
mod report;

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use clap::Args;
use latchkey::adapter::{AdapterError, KeyRow, SessionRow, UserRow};
use latchkey::{Adapter, BoxError, PasswordHash, SessionConfig, SessionToken, Username};

pub use lucia::{LuciaData, LuciaDatabase, LuciaKey, LuciaSchema, LuciaSession, LuciaUser};
pub use report::{Issue, Report, SessionTally, Tally};

use crate::cli::DatabaseArgs;
use crate::database::Database;
use crate::site::USERNAME_PROVIDER;
use crate::{Device, Profile};

/// Options of `latchkey import-lucia`.
#[derive(Debug, Clone, Args)]
pub struct ImportLuciaArgs {
    /// The Lucia v2 database to import from: a SQLite file path or `sqlite:` URL, or a
    /// `postgres://` URL. It is only read.
    #[arg(
        long,
        value_name = "DATABASE_URL",
        env = "LATCHKEY_IMPORT_FROM",
        hide_env_values = true
    )]
    pub from: String,

    /// Print the report as JSON, for scripts.
    #[arg(long)]
    pub json: bool,

    /// The Latchkey database to import into.
    #[command(flatten)]
    pub database: DatabaseArgs,
}

/// Why an import stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ImportError {
    /// The Lucia database could not be opened.
    #[error("cannot open the Lucia database")]
    Open(#[source] BoxError),
    /// The database lacks tables or columns of Lucia v2's, each named as `table user_key`
    /// or `column user_session.idle_expires`.
    #[error("not a Lucia v2 database: missing {}", .missing.join(", "))]
    NotLucia {
        /// What is missing.
        missing: Vec<String>,
    },
    /// The Lucia database failed while being read.
    #[error("cannot read the Lucia database")]
    Read(#[source] BoxError),
    /// The Latchkey database refused a write; running the import again resumes it.
    #[error("cannot write to the latchkey database")]
    Target(#[from] AdapterError),
    /// The site's attributes could not be written as JSON.
    #[error("cannot encode attributes")]
    Encode(#[from] serde_json::Error),
}

/// Runs `latchkey import-lucia`: reads the Lucia database, imports it and prints the report.
///
/// The Lucia database is read and checked before the Latchkey database is opened, so a
/// refused import creates nothing.
///
/// # Errors
///
/// [`ImportError`], for one line on standard error.
pub async fn run(args: ImportLuciaArgs) -> anyhow::Result<()> {
    let now = millis_since_epoch(SystemTime::now());
    let mut source = LuciaDatabase::open(&args.from).await?;
    let read = source.read(now).await;
    source.close().await;
    let data = read?;
    tracing::info!(
        source = data.schema.source,
        users = data.users.len(),
        live_sessions = data.live_sessions.len(),
        "lucia database read"
    );

    let target = Database::open(&args.database).await?;
    let lifetime = SessionConfig::default().absolute_lifetime;
    let imported = import(&data, target.adapter().as_ref(), now, lifetime).await;
    target.close().await;
    let report = imported?;

    for issue in &report.issues {
        tracing::warn!(user.id = %issue.user_id, problem = %issue.problem, "lucia import issue");
    }
    tracing::info!(
        users = report.users.imported,
        keys = report.keys.imported,
        sessions = report.sessions.imported,
        "lucia import finished"
    );
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", report.to_text(lifetime));
    }
    Ok(())
}

/// Imports `data` into `adapter` at `now` (milliseconds since the Unix epoch), giving each
/// imported session `lifetime` from now as its absolute lifetime.
///
/// Users are imported with their username key in one transaction; a user whose username is
/// taken in the target by another user is refused with their keys and sessions. Rows
/// already present are skipped.
///
/// # Errors
///
/// [`ImportError::Target`] when the target database fails; what was imported before stays.
pub async fn import(
    data: &LuciaData,
    adapter: &dyn Adapter,
    now: i64,
    lifetime: Duration,
) -> Result<Report, ImportError> {
    let mut report = Report::new(&data.schema);
    report.sessions.expired = data.expired_sessions;

    let mut keys = group_by_user(&data.keys, |key| &key.user_id);
    let mut sessions = group_by_user(&data.live_sessions, |session| &session.user_id);
    let importer = Importer {
        adapter,
        now,
        absolute_expires: now.saturating_add(millis(lifetime)),
        session_attributes: serde_json::to_string(&Device::default())?,
    };

    for user in &data.users {
        let user_keys = keys.remove(user.id.as_str()).unwrap_or_default();
        let user_sessions = sessions.remove(user.id.as_str()).unwrap_or_default();
        let present = importer.user(user, &user_keys, &mut report).await?;
        if present {
            importer.sessions(&user_sessions, &mut report).await?;
        } else {
            report.sessions.refused += count(&user_sessions);
        }
    }

    refuse_orphans(keys, sessions, &mut report);
    Ok(report)
}

/// The import's fixed inputs.
struct Importer<'a> {
    adapter: &'a dyn Adapter,
    now: i64,
    absolute_expires: i64,
    session_attributes: String,
}

impl Importer<'_> {
    /// Imports one user and their keys; true when the user is in the target afterwards.
    async fn user(
        &self,
        user: &LuciaUser,
        keys: &[&LuciaKey],
        report: &mut Report,
    ) -> Result<bool, ImportError> {
        let Some(username) = user.username.as_deref().filter(|name| !name.is_empty()) else {
            report.refuse_user(&user.id, "has no username", keys.len());
            return Ok(false);
        };
        let plan = KeyPlan::new(&user.id, username, keys, report);

        let to_insert = if self.adapter.user(&user.id).await?.is_some() {
            report.users.skipped += 1;
            plan.own.iter().chain(&plan.others).collect::<Vec<_>>()
        } else {
            let row = UserRow {
                id: user.id.clone(),
                attributes: serde_json::to_string(&Profile {
                    username: latchkey::normalize_username(username),
                })?,
            };
            match self.adapter.insert_user(&row, plan.own.as_ref()).await {
                Ok(()) => {
                    report.users.imported += 1;
                    report.keys.imported += u64::from(plan.own.is_some());
                    plan.others.iter().collect()
                }
                Err(AdapterError::DuplicateKey) => {
                    let problem = format!("username {username:?} is taken by another user");
                    report.refuse_user(&user.id, &problem, plan.len());
                    return Ok(false);
                }
                Err(error) => return Err(error.into()),
            }
        };

        for key in to_insert {
            self.key(key, report).await?;
        }
        Ok(true)
    }

    /// Imports a key of a user who is in the target.
    async fn key(&self, key: &KeyRow, report: &mut Report) -> Result<(), ImportError> {
        match self.adapter.insert_key(key).await {
            Ok(()) => report.keys.imported += 1,
            Err(AdapterError::DuplicateKey) => {
                let holder = self
                    .adapter
                    .key(&key.provider_id, &key.provider_user_id)
                    .await?;
                if holder.is_some_and(|holder| holder.user_id == key.user_id) {
                    report.keys.skipped += 1;
                } else {
                    let problem = format!(
                        "key {}:{} is taken by another user",
                        key.provider_id, key.provider_user_id
                    );
                    report.refuse_key(&key.user_id, problem);
                }
            }
            Err(error) => return Err(error.into()),
        }
        Ok(())
    }

    /// Imports the live sessions of a user who is in the target.
    async fn sessions(
        &self,
        sessions: &[&LuciaSession],
        report: &mut Report,
    ) -> Result<(), ImportError> {
        for session in sessions {
            // A custom session id Lucia accepted but a Latchkey cookie cannot carry.
            let Some(token) = SessionToken::parse(&session.id) else {
                let problem = "a session id that is not 40 characters of [a-z0-9]";
                report.refuse_session(&session.user_id, problem.to_owned());
                continue;
            };
            let attributes = self.session_attributes.clone();
            let row = session_row(session, &token, self.now, self.absolute_expires, attributes);

            if self.adapter.session_and_user(&row.id).await?.is_some() {
                report.sessions.skipped += 1;
                continue;
            }
            self.adapter.insert_session(&row).await?;
            report.sessions.imported += 1;
            if row.idle_expires < session.idle_expires {
                report.sessions.shortened += 1;
            }
        }
        Ok(())
    }
}

/// A Lucia user's keys as Latchkey stores them.
struct KeyPlan {
    /// The username key stored with the user, under the lookup form of their username.
    own: Option<KeyRow>,
    /// Every other key.
    others: Vec<KeyRow>,
}

impl KeyPlan {
    /// Sorts `keys` of the user `user_id` named `username`, noting in `report` the keys that
    /// cannot be imported and a username key that does not agree with the username.
    fn new(user_id: &str, username: &str, keys: &[&LuciaKey], report: &mut Report) -> Self {
        // The site looks a person up by the lookup form of what they type; Lucia's guides
        // looked them up by `username.toLowerCase()`. For a username key to keep working,
        // the two must name the same account.
        let display = latchkey::normalize_username(username);
        let lookup = latchkey::lookup_form(&display);
        if let Err(error) = Username::parse(&display, 1..=31) {
            let problem =
                format!("username {username:?} cannot be typed into the sign-in form: {error}");
            report.note(user_id, problem);
        }

        let mut own = None;
        let mut others = Vec::new();
        for key in keys {
            let Some((provider_id, provider_user_id)) = split_key_id(&key.id) else {
                report.refuse_key(user_id, format!("key id {:?} has no provider", key.id));
                continue;
            };
            let mut row = KeyRow {
                provider_id: provider_id.to_owned(),
                provider_user_id: provider_user_id.to_owned(),
                user_id: user_id.to_owned(),
                hashed_password: key.hashed_password.clone().map(PasswordHash::new),
            };
            if provider_id != USERNAME_PROVIDER {
                others.push(row);
                continue;
            }
            row.provider_user_id = latchkey::lookup_form(provider_user_id);
            if own.is_none() && row.provider_user_id == lookup {
                own = Some(row);
            } else {
                others.push(row);
            }
        }

        // A username key that names someone else, such as the old name of a renamed user:
        // the first one becomes the key of the username shown on the profile.
        if own.is_none() {
            if let Some(index) = others
                .iter()
                .position(|row| row.provider_id == USERNAME_PROVIDER)
            {
                let mut row = others.remove(index);
                let problem = format!(
                    "key username:{} does not match username {username:?}; imported as username:{lookup}",
                    row.provider_user_id
                );
                report.note(user_id, problem);
                row.provider_user_id = lookup;
                own = Some(row);
            }
        }
        Self { own, others }
    }

    /// How many keys there are to import.
    fn len(&self) -> usize {
        usize::from(self.own.is_some()) + self.others.len()
    }
}

/// Lucia's session as Latchkey stores it: under the token's hash, created `now`, with its
/// ends cut to `absolute_expires`.
fn session_row(
    session: &LuciaSession,
    token: &SessionToken,
    now: i64,
    absolute_expires: i64,
    attributes: String,
) -> SessionRow {
    SessionRow {
        id: token.session_id().as_str().to_owned(),
        user_id: session.user_id.clone(),
        created_at: now,
        active_expires: session.active_expires.min(absolute_expires),
        idle_expires: session.idle_expires.min(absolute_expires),
        absolute_expires,
        last_seen_at: 0,
        attributes,
    }
}

/// Splits a Lucia key id at its first `:`: Lucia forbids the colon in provider ids but not in
/// provider user ids.
fn split_key_id(id: &str) -> Option<(&str, &str)> {
    id.split_once(':')
        .filter(|(provider_id, _)| !provider_id.is_empty())
}

/// `rows` by user id, keeping their order.
fn group_by_user<'a, T>(
    rows: &'a [T],
    user_id: impl Fn(&'a T) -> &'a String,
) -> BTreeMap<&'a str, Vec<&'a T>> {
    let mut grouped: BTreeMap<&str, Vec<&T>> = BTreeMap::new();
    for row in rows {
        grouped.entry(user_id(row).as_str()).or_default().push(row);
    }
    grouped
}

/// Refuses the keys and sessions whose user is not in the Lucia database: without foreign
/// keys enforced, Lucia's SQLite could store them.
fn refuse_orphans(
    keys: BTreeMap<&str, Vec<&LuciaKey>>,
    sessions: BTreeMap<&str, Vec<&LuciaSession>>,
    report: &mut Report,
) {
    for (user_id, keys) in keys {
        report.keys.refused += count(&keys);
        report.note(
            user_id,
            format!("{} key(s) of a user that does not exist", keys.len()),
        );
    }
    for (user_id, sessions) in sessions {
        report.sessions.refused += count(&sessions);
        let problem = format!(
            "{} session(s) of a user that does not exist",
            sessions.len()
        );
        report.note(user_id, problem);
    }
}

fn count<T>(rows: &[T]) -> u64 {
    u64::try_from(rows.len()).unwrap_or(u64::MAX)
}

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

fn millis_since_epoch(time: SystemTime) -> i64 {
    time.duration_since(UNIX_EPOCH).map(millis).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_id_splits_at_its_first_colon() {
        assert_eq!(split_key_id("username:alice"), Some(("username", "alice")));
        assert_eq!(
            split_key_id("oidc:https://id.example:443/u"),
            Some(("oidc", "https://id.example:443/u"))
        );
        assert_eq!(split_key_id("no-colon"), None);
        assert_eq!(split_key_id(":alice"), None);
    }

    fn key(id: &str) -> LuciaKey {
        LuciaKey {
            id: id.to_owned(),
            user_id: "u1".to_owned(),
            hashed_password: Some("s2:salt:hash".to_owned()),
        }
    }

    fn schema() -> LuciaSchema {
        LuciaSchema {
            source: "sqlite",
            user_table: "user",
            ignored_columns: Vec::new(),
        }
    }

    #[test]
    fn the_username_key_is_stored_under_the_lookup_form_of_the_username() {
        let (lucia, github) = (key("username:ｂｏｂ"), key("github:Bob:1"));
        let mut report = Report::new(&schema());

        let plan = KeyPlan::new("u1", "ＢＯＢ", &[&github, &lucia], &mut report);

        let own = plan.own.expect("a username key");
        assert_eq!(
            (own.provider_id.as_str(), own.provider_user_id.as_str()),
            ("username", "bob")
        );
        assert_eq!(own.hashed_password, Some(PasswordHash::new("s2:salt:hash")));
        assert_eq!(plan.others.len(), 1);
        assert_eq!(plan.others[0].provider_user_id, "Bob:1");
        assert!(report.issues.is_empty(), "{:?}", report.issues);
    }

    #[test]
    fn a_username_key_naming_someone_else_is_reported_and_follows_the_username() {
        let old = key("username:oldname");
        let mut report = Report::new(&schema());

        let plan = KeyPlan::new("u1", "NewName", &[&old], &mut report);

        assert_eq!(
            plan.own.expect("a username key").provider_user_id,
            "newname"
        );
        assert_eq!(report.issues.len(), 1);
        assert!(report.issues[0].problem.contains("does not match"));
    }

    #[test]
    fn an_imported_session_ends_within_the_absolute_lifetime() {
        let session = LuciaSession {
            id: "o0zhasfnxogeat5iuzqqstymr0lcxgq0j3kymifp".to_owned(),
            user_id: "u1".to_owned(),
            active_expires: 5_000,
            idle_expires: 90_000,
        };
        let token = SessionToken::parse(&session.id).expect("a token");
        let row = session_row(&session, &token, 1_000, 61_000, "{}".to_owned());

        assert_eq!(row.id, token.session_id().as_str());
        assert_eq!(
            (
                row.created_at,
                row.active_expires,
                row.idle_expires,
                row.absolute_expires
            ),
            (1_000, 5_000, 61_000, 61_000)
        );
    }
}
