//! `latchkey user` and `latchkey sessions`: the operator's tools, over the same database as
//! the site.
//!
//! They act as the site would: a user is created with the same username and password rules
//! and the same key as a sign-up, a password reset ends every session as a password change
//! must, and the audit log records what an operator did (`detail` is `operator`). Each
//! command prints plain text for people, or one JSON document with `--json`.
//!
//! Passwords come from standard input, one line, or are generated with `--generate-password`
//! and printed once; when standard input is a terminal a password is generated, so that none
//! is typed where it would be echoed. No password, hash or session token is ever logged.

mod output;
mod password;
pub mod sessions;
pub mod user;

use anyhow::Context;
use clap::Args;
use latchkey::throttle::Subject;
use latchkey::{AuditEvent, AuditKind, AuditLog, Auth, Error, HasherConfig, Throttle};
use latchkey::{SystemClock, ThrottleConfig, User, UserId};

pub use sessions::SessionsArgs;
pub use user::UserArgs;

use self::output::SessionView;
use crate::cli::DatabaseArgs;
use crate::database::Database;
use crate::site::USERNAME_PROVIDER;
use crate::{Profile, SiteAuth};

/// The `detail` of the audit events these commands write.
const AUDIT_DETAIL: &str = "operator";

/// Options every administration command takes.
#[derive(Debug, Clone, Args)]
pub struct CommonArgs {
    /// Print one JSON document instead of text.
    #[arg(long)]
    pub json: bool,

    /// The database.
    #[command(flatten)]
    pub database: DatabaseArgs,
}

/// The site's database, seen through the same parts the site uses.
struct Admin {
    database: Database,
    auth: SiteAuth,
    audit: AuditLog,
    throttle: Throttle,
}

impl Admin {
    /// Opens the database. One hashing thread: a command hashes one password at most.
    async fn open(args: &DatabaseArgs) -> anyhow::Result<Self> {
        let database = Database::open(args).await?;
        let clock = std::sync::Arc::new(SystemClock);
        let hasher = HasherConfig {
            threads: 1,
            ..HasherConfig::default()
        };
        let auth = Auth::builder_shared(database.adapter())
            .clock(clock.clone())
            .hasher(hasher)
            .build()
            .context("cannot start password hashing")?;
        Ok(Self {
            audit: AuditLog::new(database.adapter(), clock.clone()),
            throttle: Throttle::new(database.adapter(), clock, ThrottleConfig::default()),
            database,
            auth,
        })
    }

    /// Runs `work` on the open database, then closes it whatever the outcome, so that SQLite
    /// checkpoints its log.
    async fn run<T>(
        args: &DatabaseArgs,
        work: impl AsyncFnOnce(&Self) -> anyhow::Result<T>,
    ) -> anyhow::Result<T> {
        let admin = Self::open(args).await?;
        let result = work(&admin).await;
        admin.database.close().await;
        result
    }

    /// The user `who` names: first as a username, in any case, then as a user id.
    async fn find_user(&self, who: &str) -> anyhow::Result<User<Profile>> {
        let lookup = latchkey::lookup_form(&latchkey::normalize_username(who));
        let id = match self.auth.key(USERNAME_PROVIDER, &lookup).await {
            Ok(key) => key.user_id,
            Err(Error::UnknownKey) => UserId::new(who),
            Err(error) => return Err(error).context("cannot read the database"),
        };

        match self.auth.user(&id).await {
            Ok(user) => Ok(user),
            Err(Error::UnknownUser) => anyhow::bail!("no user has the username or id {who:?}"),
            Err(error) => Err(error).context("cannot read the database"),
        }
    }

    /// The provider user ids of the user's username keys: the accounts the site throttles.
    async fn username_keys(&self, user: &User<Profile>) -> anyhow::Result<Vec<String>> {
        let keys = self
            .auth
            .user_keys(&user.id)
            .await
            .context("cannot read the user's keys")?;
        Ok(keys
            .into_iter()
            .filter(|key| key.provider_id == USERNAME_PROVIDER)
            .map(|key| key.provider_user_id)
            .collect())
    }

    /// The user's live sessions, newest first.
    async fn sessions(&self, user: &User<Profile>) -> anyhow::Result<Vec<SessionView>> {
        let sessions = self
            .auth
            .user_sessions(&user.id)
            .await
            .context("cannot read the user's sessions")?;
        Ok(sessions.iter().map(SessionView::from).collect())
    }

    /// Writes an operator's action to the audit log. A failure is a warning: the action is
    /// done, and saying it failed would mislead.
    async fn record(&self, kind: AuditKind, user: &User<Profile>, detail: &str) {
        let event = AuditEvent::new(kind)
            .with_user_id(&user.id)
            .with_username(&user.attributes.username)
            .with_detail(detail);
        if let Err(error) = self.audit.record(event).await {
            tracing::warn!(%error, kind = kind.as_str(), "audit event not recorded");
        }
    }
}

/// The throttling subject of the account a username key signs in to, exactly as the site
/// counts sign-in attempts against it.
fn account(provider_user_id: &str) -> Subject<'_> {
    Subject::Account {
        provider_id: USERNAME_PROVIDER,
        provider_user_id,
    }
}
