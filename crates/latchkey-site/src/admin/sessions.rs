//! `latchkey sessions`: list, revoke and purge sessions.
//!
//! Sessions are named by their public id, the SHA-256 of the token in hex, which is all the
//! database holds: nothing here can print or take a token.

use anyhow::Context;
use clap::{Args, Subcommand};
use latchkey::{AuditKind, SessionId, UserId};
use serde::Serialize;

use super::output::{plural, print, session_table, SessionView, UserRef};
use super::{Admin, CommonArgs, AUDIT_DETAIL};

/// Options of `latchkey sessions`.
#[derive(Debug, Clone, Args)]
pub struct SessionsArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: SessionsCommand,
}

/// The subcommands of `latchkey sessions`.
#[derive(Debug, Clone, Subcommand)]
pub enum SessionsCommand {
    /// List a user's live sessions, newest first; without --user, count every live session.
    ///
    /// --json prints {"live_sessions"}, and with --user also "user": {"id", "username"} and
    /// "sessions": [{"id", "user_id", "created_at", "last_seen_at", "expires_at",
    /// "absolute_expires_at", "address", "user_agent"}].
    List(ListArgs),
    /// End one session by its id, or every session of a user with --user and --all.
    ///
    /// --json prints {"user": {"id", "username"}, "revoked", "session_id"}; "session_id" is
    /// null with --all.
    Revoke(RevokeArgs),
    /// Delete every expired session now. The server also does it every hour.
    ///
    /// --json prints {"purged"}.
    Purge(PurgeArgs),
}

/// Options of `latchkey sessions list`.
#[derive(Debug, Clone, Args)]
pub struct ListArgs {
    /// The user whose sessions to list: a username, in any case, or a user id.
    #[arg(long, value_name = "USERNAME_OR_ID")]
    pub user: Option<String>,

    /// Output and database.
    #[command(flatten)]
    pub common: CommonArgs,
}

/// Options of `latchkey sessions revoke`.
#[derive(Debug, Clone, Args)]
pub struct RevokeArgs {
    /// The session's id: 64 hex digits, as `sessions list` and `user show` print it.
    #[arg(
        value_parser = parse_session_id,
        required_unless_present = "all",
        conflicts_with = "user"
    )]
    pub session_id: Option<SessionId>,

    /// The user whose sessions to end, with --all: a username, in any case, or a user id.
    #[arg(long, value_name = "USERNAME_OR_ID", requires = "all")]
    pub user: Option<String>,

    /// End every session of --user.
    #[arg(long, requires = "user")]
    pub all: bool,

    /// Output and database.
    #[command(flatten)]
    pub common: CommonArgs,
}

/// Options of `latchkey sessions purge`.
#[derive(Debug, Clone, Args)]
pub struct PurgeArgs {
    /// Output and database.
    #[command(flatten)]
    pub common: CommonArgs,
}

/// Runs `latchkey sessions …`.
///
/// # Errors
///
/// An unknown user or session, or a database failure, for one line on standard error.
pub async fn run(args: SessionsArgs) -> anyhow::Result<()> {
    match args.command {
        SessionsCommand::List(args) => list(args).await,
        SessionsCommand::Revoke(args) => revoke(args).await,
        SessionsCommand::Purge(args) => purge(args).await,
    }
}

/// What `sessions list` found.
#[derive(Serialize)]
struct Listing {
    #[serde(skip_serializing_if = "Option::is_none")]
    user: Option<UserRef>,
    live_sessions: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    sessions: Option<Vec<SessionView>>,
}

async fn list(args: ListArgs) -> anyhow::Result<()> {
    let listing = Admin::run(&args.common.database, async |admin| {
        let Some(who) = &args.user else {
            let live = admin
                .auth
                .count_live_sessions()
                .await
                .context("cannot count sessions")?;
            return Ok(Listing {
                user: None,
                live_sessions: live,
                sessions: None,
            });
        };

        let user = admin.find_user(who).await?;
        let sessions = admin.sessions(&user).await?;
        Ok(Listing {
            user: Some(UserRef::from(&user)),
            live_sessions: u64::try_from(sessions.len()).unwrap_or(u64::MAX),
            sessions: Some(sessions),
        })
    })
    .await?;

    let live = plural(listing.live_sessions, "live session");
    let text = match (&listing.user, &listing.sessions) {
        (Some(user), Some(sessions)) => {
            format!("{live} of {}\n\n{}", user.text(), session_table(sessions))
        }
        _ => format!("{live}\n"),
    };
    print(args.common.json, &listing, &text)
}

/// What `sessions revoke` did.
#[derive(Serialize)]
struct Revoked {
    user: UserRef,
    revoked: u64,
    session_id: Option<String>,
}

async fn revoke(args: RevokeArgs) -> anyhow::Result<()> {
    let revoked = Admin::run(&args.common.database, async |admin| {
        match &args.session_id {
            Some(id) => revoke_one(admin, id).await,
            None => {
                let who = args.user.as_deref().unwrap_or_default();
                revoke_all(admin, who).await
            }
        }
    })
    .await?;

    let text = match &revoked.session_id {
        Some(id) => format!("revoked session {id} of {}\n", revoked.user.text()),
        None => format!(
            "revoked {} of {}\n",
            plural(revoked.revoked, "session"),
            revoked.user.text()
        ),
    };
    print(args.common.json, &revoked, &text)
}

/// Ends the session `id`, live or expired, and records it.
async fn revoke_one(admin: &Admin, id: &SessionId) -> anyhow::Result<Revoked> {
    let found = admin
        .auth
        .adapter()
        .session_and_user(id.as_str())
        .await
        .context("cannot read the session")?;
    let Some((_, owner)) = found else {
        anyhow::bail!("no session has the id {id}");
    };
    let user = admin
        .auth
        .user(&UserId::new(owner.id))
        .await
        .context("cannot read the session's user")?;

    admin
        .auth
        .invalidate_session(id)
        .await
        .context("cannot end the session")?;
    let detail = format!("{AUDIT_DETAIL}, session {}", id.short());
    admin
        .record(AuditKind::SessionRevoked, &user, &detail)
        .await;
    Ok(Revoked {
        user: UserRef::from(&user),
        revoked: 1,
        session_id: Some(id.as_str().to_owned()),
    })
}

/// Ends every session of the user `who` names, recording it when there were any.
async fn revoke_all(admin: &Admin, who: &str) -> anyhow::Result<Revoked> {
    let user = admin.find_user(who).await?;

    let ended = admin
        .auth
        .invalidate_user_sessions(&user.id)
        .await
        .context("cannot end the sessions")?;
    if ended > 0 {
        let detail = format!("{AUDIT_DETAIL}, all sessions");
        admin
            .record(AuditKind::SessionRevoked, &user, &detail)
            .await;
    }
    Ok(Revoked {
        user: UserRef::from(&user),
        revoked: ended,
        session_id: None,
    })
}

/// What `sessions purge` did.
#[derive(Serialize)]
struct Purged {
    purged: u64,
}

async fn purge(args: PurgeArgs) -> anyhow::Result<()> {
    let purged = Admin::run(&args.common.database, async |admin| {
        admin
            .auth
            .delete_expired_sessions()
            .await
            .context("cannot delete expired sessions")
    })
    .await?;

    let text = format!("purged {}\n", plural(purged, "expired session"));
    print(args.common.json, &Purged { purged }, &text)
}

/// A session id as typed: 64 hex digits, in either case.
fn parse_session_id(value: &str) -> Result<SessionId, String> {
    SessionId::parse(&value.to_ascii_lowercase())
        .ok_or_else(|| "expected a session id: 64 hex digits, as `sessions list` prints".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_id_is_taken_in_either_case_and_nothing_else_is() {
        let id = "AB".repeat(32);

        assert_eq!(
            parse_session_id(&id).map(|id| id.as_str().to_owned()),
            Ok("ab".repeat(32))
        );
        assert!(parse_session_id(&"a".repeat(63)).is_err());
        assert!(parse_session_id(&"g".repeat(64)).is_err());
        assert!(parse_session_id("o0zhasfnxogeat5iuzqqstymr0lcxgq0j3kymifp").is_err());
    }
}
