//! Username normalisation: any text either parses into a display and a lookup form that agree
//! with each other, or is refused with a reason; and normalising twice changes nothing.

#![no_main]

use latchkey::{lookup_form, normalize_username, Username};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(input) = std::str::from_utf8(data) else {
        return;
    };

    let normalized = normalize_username(input);
    assert_eq!(normalize_username(&normalized), normalized, "NFKC twice");

    let lookup = lookup_form(input);
    assert_eq!(lookup_form(&lookup), lookup, "lookup form twice");
    assert_eq!(lookup_form(&normalized), lookup, "lookup form after NFKC");

    // The site's bounds for sign-up, and a wider one: what the narrower accepts, the wider
    // accepts the same way.
    let wide = Username::parse(input, 1..=64);
    if let Ok(name) = Username::parse(input, 4..=31) {
        assert_eq!(wide.as_ref(), Ok(&name), "{input:?}");
    }
    let Ok(name) = wide else {
        return;
    };

    assert_eq!(name.display(), normalized);
    assert_eq!(name.lookup(), lookup);
    assert_eq!(lookup_form(name.display()), name.lookup());
    assert!(!name.display().chars().any(char::is_control), "{input:?}");
    assert_eq!(name.display().trim(), name.display(), "{input:?}");

    // Typing the display form again, or the lookup form, finds the same account.
    let again = Username::parse(name.display(), 1..=64).expect("the display form parses");
    assert_eq!(again, name);
    let folded = Username::parse(name.lookup(), 0..=usize::MAX).expect("the lookup form parses");
    assert_eq!(folded.lookup(), name.lookup(), "{input:?}");
});
