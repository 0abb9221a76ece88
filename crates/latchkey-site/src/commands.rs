//! Runs the subcommand the command line names.

use crate::cli::Command;

/// Runs `command` to completion.
///
/// # Errors
///
/// Whatever stopped the command, for one line on standard error.
pub async fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Serve(args) => crate::serve::run(args).await,
        Command::Audit(args) => crate::audit::run(args).await,
        Command::ImportLucia(args) => crate::import::run(args).await,
        Command::User(args) => crate::admin::user::run(args).await,
        Command::Sessions(args) => crate::admin::sessions::run(args).await,
    }
}
