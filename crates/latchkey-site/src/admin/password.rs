//! New passwords for `user create` and `user reset-password`: read from standard input or
//! generated, and held to the site's rules.

use std::io::{BufRead, IsTerminal};
use std::ops::RangeInclusive;

use anyhow::Context;
use clap::Args;
use latchkey::password::check_new_password;
use latchkey::Password;

/// Characters a new password may have, as on the sign-up form.
const LENGTH: RangeInclusive<usize> = 6..=255;

/// Characters of a generated password, from `[a-z0-9]`: about 103 bits.
const GENERATED_LENGTH: usize = 20;

/// Bytes read from standard input at most: more than the longest allowed password in any
/// encoding, so a longer one is refused by its length rather than cut.
const MAX_INPUT: u64 = 4 * 1024;

/// How a command gets a new password.
#[derive(Debug, Clone, Args)]
pub struct PasswordArgs {
    /// Generate a random password and print it once, instead of reading one line from
    /// standard input. The default when standard input is a terminal, where a typed
    /// password would be echoed.
    #[arg(long)]
    pub generate_password: bool,
}

/// A password that passed the policy.
pub struct NewPassword {
    /// The password.
    pub password: Password,
    /// Whether it was generated, and so must be shown.
    pub generated: bool,
}

impl NewPassword {
    /// The password to print: only a generated one, which nobody knows yet.
    pub fn to_show(&self) -> Option<&str> {
        self.generated.then(|| self.password.expose_secret())
    }
}

/// The password `args` asks for: generated, or the first line of standard input.
///
/// # Errors
///
/// When standard input has no line or cannot be read, or the password breaks the policy.
pub fn new_password(args: &PasswordArgs) -> anyhow::Result<NewPassword> {
    let stdin = std::io::stdin();
    let generated = args.generate_password || stdin.is_terminal();
    let password = if generated {
        Password::new(latchkey::token::random_string(GENERATED_LENGTH))
    } else {
        read_line(stdin.lock())?
    };

    check(&password)?;
    Ok(NewPassword {
        password,
        generated,
    })
}

/// The first line of `input`, without its line ending.
fn read_line(input: impl BufRead) -> anyhow::Result<Password> {
    let mut line = String::new();
    let read = input
        .take(MAX_INPUT)
        .read_line(&mut line)
        .context("cannot read the password from standard input")?;
    if read == 0 {
        anyhow::bail!("no password on standard input: give one line, or use --generate-password");
    }

    if line.ends_with('\n') {
        line.pop();
        if line.ends_with('\r') {
            line.pop();
        }
    }
    Ok(Password::new(line))
}

/// The site's rules for a new password: 6 to 255 characters, and not a common one.
fn check(password: &Password) -> anyhow::Result<()> {
    let length = password.expose_secret().chars().count();
    if !LENGTH.contains(&length) {
        anyhow::bail!(
            "password must be {} to {} characters",
            LENGTH.start(),
            LENGTH.end()
        );
    }
    check_new_password(password).map_err(anyhow::Error::new)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_line_ending_is_taken_off_the_first_line() {
        let read = |input: &str| read_line(input.as_bytes()).map(|p| p.expose_secret().to_owned());

        assert_eq!(
            read(" two words \r\nnext\n").ok().as_deref(),
            Some(" two words ")
        );
        assert_eq!(read("no ending").ok().as_deref(), Some("no ending"));
        assert_eq!(read("\n").ok().as_deref(), Some(""));
        assert!(read("").is_err());
    }

    #[test]
    fn the_policy_counts_characters_and_refuses_common_passwords() {
        assert!(check(&Password::new("ééééé")).is_err());
        assert!(check(&Password::new("éééééé")).is_ok());
        assert!(check(&Password::new("x".repeat(256))).is_err());
        let common = check(&Password::new("Password1")).expect_err("common");
        assert_eq!(common.to_string(), "password is too common");
    }

    #[test]
    fn a_generated_password_passes_the_policy() {
        let args = PasswordArgs {
            generate_password: true,
        };

        let new = new_password(&args).expect("a password");

        assert_eq!(new.to_show().map(str::len), Some(GENERATED_LENGTH));
    }
}
