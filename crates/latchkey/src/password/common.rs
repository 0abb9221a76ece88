//! The password policy: no password from a list of the most common ones.
//!
//! NIST SP 800-63B §5.1.1.2 asks verifiers to refuse passwords found in lists of values
//! known to be commonly used or compromised, rather than to impose composition rules. The
//! list here is the 100,000 most common passwords of SecLists' "10 million passwords"
//! (`data/README.md` has its source and licence), embedded in the binary.
//!
//! The list is stored folded (NFKC, then full case folding, as [`lookup_form`] does for
//! usernames) and sorted, one password a line, and is searched in place by bisecting the
//! text: nothing is parsed or allocated at startup, and a lookup touches about seventeen
//! lines. `Password1`, `ＰＡＳＳＷＯＲＤ1` and `password1` are therefore one entry.

use zeroize::Zeroizing;

use super::Password;
use crate::username::lookup_form;

/// The folded, sorted list, one password a line, each line ending in `\n`.
static COMMON: &str = include_str!("../../data/common-passwords.txt");

/// The longest entry is well under this many bytes; longer input skips the folding.
const LONGEST: usize = 256;

/// Why a new password was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PasswordPolicyError {
    /// The password, ignoring case and compatibility variants, is in the common list.
    #[error("password is too common")]
    TooCommon,
}

/// Checks a password someone wants to set, at sign-up or on a change: refused when it is
/// one of the common passwords.
///
/// ```
/// use latchkey::{password::check_new_password, Password};
///
/// assert!(check_new_password(&Password::new("Password1")).is_err());
/// assert!(check_new_password(&Password::new("mauve wombat ladder")).is_ok());
/// ```
///
/// # Errors
///
/// [`PasswordPolicyError::TooCommon`].
pub fn check_new_password(password: &Password) -> Result<(), PasswordPolicyError> {
    if is_common(password) {
        Err(PasswordPolicyError::TooCommon)
    } else {
        Ok(())
    }
}

/// Whether the password is in the common list, compared after NFKC and case folding.
pub fn is_common(password: &Password) -> bool {
    let typed = password.expose_secret();
    if typed.is_empty() || typed.len() > LONGEST {
        return false;
    }
    let folded = Zeroizing::new(lookup_form(typed));
    contains(COMMON, &folded)
}

/// How many passwords the list holds.
pub fn common_password_count() -> usize {
    COMMON.bytes().filter(|&byte| byte == b'\n').count()
}

/// Whether `needle` is a line of `list`, a sorted list of lines each ending in `\n`.
///
/// A binary search over byte offsets: `low` and `high` always sit at the start of a line (or
/// the end), and each step looks at the line around the midpoint.
fn contains(list: &str, needle: &str) -> bool {
    let bytes = list.as_bytes();
    let (mut low, mut high) = (0, bytes.len());

    while low < high {
        let middle = low + (high - low) / 2;
        let start = bytes[low..middle]
            .iter()
            .rposition(|&byte| byte == b'\n')
            .map_or(low, |newline| low + newline + 1);
        let end = bytes[start..high]
            .iter()
            .position(|&byte| byte == b'\n')
            .map_or(high, |newline| start + newline);

        match list[start..end].cmp(needle) {
            std::cmp::Ordering::Equal => return true,
            std::cmp::Ordering::Less => low = end + 1,
            std::cmp::Ordering::Greater => high = start,
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_holds_at_least_a_hundred_thousand_passwords() {
        assert!(
            common_password_count() >= 100_000,
            "{}",
            common_password_count()
        );
    }

    #[test]
    fn the_list_is_folded_sorted_and_without_duplicates() {
        assert!(COMMON.ends_with('\n'));
        let lines: Vec<&str> = COMMON.lines().collect();

        for pair in lines.windows(2) {
            assert!(
                pair[0] < pair[1],
                "{:?} is not before {:?}",
                pair[0],
                pair[1]
            );
        }
        for line in &lines {
            assert!(!line.is_empty() && line.len() < LONGEST);
            assert_eq!(&lookup_form(line), line, "an entry is not in folded form");
        }
    }

    #[test]
    fn every_entry_is_found_and_near_misses_are_not() {
        for line in COMMON.lines() {
            assert!(contains(COMMON, line), "{line:?} not found");
            assert!(!contains(COMMON, &format!("{line}\u{1}")));
        }
        for absent in ["", "\u{0}", "~~~~~~~~~~~~~~~~", "mauve wombat ladder"] {
            assert!(!contains(COMMON, absent), "{absent:?}");
        }
    }

    #[test]
    fn the_search_works_on_small_lists_at_their_edges() {
        let list = "b\nd\nf\n";
        for present in ["b", "d", "f"] {
            assert!(contains(list, present));
        }
        for absent in ["a", "c", "e", "g", "bb", ""] {
            assert!(!contains(list, absent), "{absent:?}");
        }
        assert!(!contains("", "a"));
    }

    #[test]
    fn common_passwords_are_found_whatever_their_case_and_width() {
        for typed in [
            "password",
            "PASSWORD",
            "Password1",
            "ｐａｓｓｗｏｒｄ",
            "qwerty123",
        ] {
            assert!(is_common(&Password::new(typed)), "{typed}");
        }
    }

    #[test]
    fn uncommon_empty_and_overlong_passwords_pass() {
        for typed in ["mauve wombat ladder", "", &"password".repeat(40)] {
            assert!(!is_common(&Password::new(typed)), "{typed}");
        }
        assert_eq!(
            check_new_password(&Password::new("letmein")),
            Err(PasswordPolicyError::TooCommon)
        );
    }
}
