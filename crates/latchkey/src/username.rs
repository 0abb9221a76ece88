//! Usernames: one person's name written many ways must be one account.
//!
//! A username has two forms. The *display* form is what the person typed, NFKC-normalised so
//! that visually identical compositions are stored one way. The *lookup* form, used as the
//! key's provider user id, also folds case by Unicode's full case folding, so that `ALICE`,
//! `alice` and fullwidth `ＡＬＩＣＥ` name one account. The lookup form follows Unicode's
//! compatibility caseless matching (UAX #15 and The Unicode Standard §3.13, D146), whose
//! repeated folding and normalisation make it stable under a second application.
//!
//! Control characters and bidirectional formatting characters are refused: they are
//! invisible, and let one name pass for another. Leading and trailing white space is refused
//! rather than trimmed, so that what a person typed is never silently changed.

use std::ops::RangeInclusive;

use caseless::default_case_fold_str;
use unicode_normalization::UnicodeNormalization;

/// Why a username was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UsernameError {
    /// Fewer or more Unicode scalar values than allowed, counted after normalisation.
    #[error("username must be {min} to {max} characters")]
    Length {
        /// The least allowed.
        min: usize,
        /// The most allowed.
        max: usize,
    },
    /// A control or bidirectional formatting character.
    #[error("username contains a control character")]
    ControlCharacter,
    /// White space at the start or end.
    #[error("username starts or ends with white space")]
    SurroundingWhitespace,
}

/// A checked username in its display and lookup forms.
///
/// ```
/// use latchkey::Username;
///
/// let typed = Username::parse("ＡＬＩＣＥ", 1..=31).unwrap();
/// assert_eq!(typed.display(), "ALICE");
/// assert_eq!(typed.lookup(), "alice");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Username {
    display: String,
    lookup: String,
}

impl Username {
    /// Normalises `input` and checks it, with `length` counted in Unicode scalar values of
    /// the display form.
    ///
    /// # Errors
    ///
    /// [`UsernameError`] says which rule the input breaks.
    pub fn parse(input: &str, length: RangeInclusive<usize>) -> Result<Self, UsernameError> {
        let display = normalize(input);

        let count = display.chars().count();
        if !length.contains(&count) {
            return Err(UsernameError::Length {
                min: *length.start(),
                max: *length.end(),
            });
        }

        if display.chars().any(is_forbidden) {
            return Err(UsernameError::ControlCharacter);
        }
        if display.starts_with(char::is_whitespace) || display.ends_with(char::is_whitespace) {
            return Err(UsernameError::SurroundingWhitespace);
        }

        let lookup = lookup_form(&display);
        Ok(Self { display, lookup })
    }

    /// The name as the person typed it, normalised: for showing.
    pub fn display(&self) -> &str {
        &self.display
    }

    /// The case-folded form: for finding the account.
    pub fn lookup(&self) -> &str {
        &self.lookup
    }
}

/// The NFKC normal form of `input`.
pub fn normalize(input: &str) -> String {
    input.nfkc().collect()
}

/// The form under which a username is looked up: compatibility caseless matching, then NFC
/// to keep the stored string compact.
pub fn lookup_form(input: &str) -> String {
    let once: String = input.nfd().collect::<String>();
    let folded = default_case_fold_str(&once);
    let decomposed: String = folded.nfkd().collect();
    let refolded = default_case_fold_str(&decomposed);
    refolded.nfkd().nfc().collect()
}

fn is_forbidden(c: char) -> bool {
    // Bidirectional embeddings, overrides and isolates: invisible, and they reorder what is
    // shown (CVE-2021-42574 "Trojan Source" is the same trick in code).
    const BIDI: [RangeInclusive<char>; 2] = ['\u{202A}'..='\u{202E}', '\u{2066}'..='\u{2069}'];
    c.is_control() || BIDI.iter().any(|range| range.contains(&c))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn case_and_width_variants_share_one_lookup_form() {
        let forms = ["alice", "ALICE", "Alice", "ＡＬＩＣＥ", "ａｌｉｃｅ"];
        for form in forms {
            assert_eq!(Username::parse(form, 1..=31).unwrap().lookup(), "alice");
        }
    }

    #[test]
    fn full_case_folding_maps_sharp_s_to_ss() {
        assert_eq!(lookup_form("STRASSE"), lookup_form("straße"));
    }

    #[test]
    fn the_display_form_keeps_case_but_is_normalised() {
        let name = Username::parse("Ｂｏｂ", 1..=31).unwrap();
        assert_eq!(name.display(), "Bob");
        let composed = Username::parse("A\u{30A}ngstrom", 1..=31).unwrap();
        assert_eq!(composed.display(), "\u{C5}ngstrom");
    }

    #[test]
    fn length_is_counted_in_scalar_values_after_normalisation() {
        assert!(Username::parse("ünï", 4..=31).is_err());
        assert!(Username::parse("ünïc", 4..=31).is_ok());
        // Four decomposed letters are eight code points but four characters once composed.
        assert!(Username::parse("u\u{308}u\u{308}u\u{308}u\u{308}", 4..=4).is_ok());
        assert_eq!(
            Username::parse(&"a".repeat(32), 4..=31),
            Err(UsernameError::Length { min: 4, max: 31 })
        );
    }

    #[test]
    fn control_and_bidi_characters_are_refused() {
        for bad in [
            "al\u{0}ice",
            "al\nice",
            "bob\u{7F}x",
            "ev\u{202E}il",
            "a\u{2066}bcd",
        ] {
            assert_eq!(
                Username::parse(bad, 1..=31),
                Err(UsernameError::ControlCharacter)
            );
        }
    }

    #[test]
    fn surrounding_white_space_is_refused_but_inner_space_is_kept() {
        for bad in [" alice", "alice ", "\u{3000}alice"] {
            assert_eq!(
                Username::parse(bad, 1..=31),
                Err(UsernameError::SurroundingWhitespace)
            );
        }
        assert_eq!(
            Username::parse("al ice", 1..=31).unwrap().display(),
            "al ice"
        );
    }

    proptest! {
        #[test]
        fn normalisation_is_idempotent(input in "\\PC{0,40}") {
            let once = normalize(&input);
            prop_assert_eq!(normalize(&once), once);
        }

        #[test]
        fn the_lookup_form_is_stable(input in "\\PC{0,40}") {
            let lookup = lookup_form(&input);
            prop_assert_eq!(lookup_form(&normalize(&input)), lookup.clone());
            prop_assert_eq!(lookup_form(&lookup), lookup);
        }

        #[test]
        fn the_lookup_form_of_the_display_form_is_the_lookup_form(input in "\\PC{1,31}") {
            if let Ok(name) = Username::parse(&input, 1..=64) {
                prop_assert_eq!(lookup_form(name.display()), name.lookup());
            }
        }
    }
}
