//! A user's sessions carried in one text value, for [`Adapter::session_listing`].
//!
//! sqlx hands each row of a result from the connection's thread to the caller with every
//! value copied: a row for each session cost a profile view 10% more instructions than one
//! row with the sessions folded into a column. JSON was the first fold, but SQLite built an
//! array for each session, parsed it again to aggregate it and escaped the stored attributes
//! into strings, and serde undid all of it. The format here is one `printf` a session on one
//! side and a split on the other: 8% fewer instructions for the whole view (callgrind,
//! docs/benchmarks.md).
//!
//! Each session is its fields in the order of [`SessionRow`], less the user id, separated by
//! U+001F (unit separator); sessions are separated by U+001E (record separator). Neither can
//! appear in a field: session ids are hex digests, times are integers, and attributes are
//! JSON text, in which control characters must be escaped.
//!
//! [`Adapter::session_listing`]: latchkey::Adapter::session_listing

use latchkey::adapter::SessionRow;
use latchkey::BoxError;

/// The SQL expression that folds the sessions of the table aliased `l` into the listing's
/// text, for a subquery that selects them; NULL when there are none. One `printf` a session
/// rather than a chain of `||`, each of which copies the text so far. A macro, so that the
/// query that uses it stays one literal.
macro_rules! fold_sessions {
    () => {
        "group_concat(printf('%s\u{1f}%d\u{1f}%d\u{1f}%d\u{1f}%d\u{1f}%d\u{1f}%s', \
         l.id, l.created_at, l.active_expires, l.idle_expires, l.absolute_expires, \
         l.last_seen_at, l.attributes), '\u{1e}')"
    };
}
pub(crate) use fold_sessions;

const FIELD: u8 = 0x1f;
const SESSION: u8 = 0x1e;

/// The sessions in `text`, each given `user_id`.
///
/// # Errors
///
/// Text that [`fold_sessions`] did not make: a session without seven fields or a time that
/// is not an integer.
pub(crate) fn decode(text: &str, user_id: &str) -> Result<Vec<SessionRow>, BoxError> {
    let mut sessions = Vec::new();
    let mut start = 0;
    for end in memchr::memchr_iter(SESSION, text.as_bytes()).chain([text.len()]) {
        sessions.push(decode_session(&text[start..end], user_id)?);
        start = end + 1;
    }
    Ok(sessions)
}

fn decode_session(text: &str, user_id: &str) -> Result<SessionRow, BoxError> {
    // The separators are ASCII, so every cut falls between characters.
    let mut cuts = memchr::memchr_iter(FIELD, text.as_bytes());
    let mut start = 0;
    let mut next = || -> Result<&str, BoxError> {
        let end = cuts.next().ok_or("a listed session has too few fields")?;
        let field = &text[start..end];
        start = end + 1;
        Ok(field)
    };
    let id = next()?;
    let mut time = || -> Result<i64, BoxError> { Ok(next()?.parse()?) };
    let (created_at, active_expires, idle_expires, absolute_expires, last_seen_at) =
        (time()?, time()?, time()?, time()?, time()?);
    let attributes = &text[start..];

    Ok(SessionRow {
        id: id.to_owned(),
        user_id: user_id.to_owned(),
        created_at,
        active_expires,
        idle_expires,
        absolute_expires,
        last_seen_at,
        attributes: attributes.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_come_back_with_every_field_in_place() {
        let text = "aa\u{1f}1\u{1f}2\u{1f}3\u{1f}4\u{1f}5\u{1f}{\"a\":\"x\"}\u{1e}\
                    bb\u{1f}-6\u{1f}7\u{1f}8\u{1f}9\u{1f}10\u{1f}{}";

        let sessions = decode(text, "u1").expect("decoded");

        assert_eq!(sessions.len(), 2);
        assert_eq!(
            sessions[0],
            SessionRow {
                id: "aa".into(),
                user_id: "u1".into(),
                created_at: 1,
                active_expires: 2,
                idle_expires: 3,
                absolute_expires: 4,
                last_seen_at: 5,
                attributes: "{\"a\":\"x\"}".into(),
            }
        );
        assert_eq!(sessions[1].created_at, -6);
        assert_eq!(sessions[1].attributes, "{}");
    }

    #[test]
    fn a_short_or_malformed_session_is_an_error() {
        assert!(decode("aa\u{1f}1\u{1f}2", "u1").is_err());
        assert!(decode("aa\u{1f}1\u{1f}2\u{1f}x\u{1f}4\u{1f}5\u{1f}{}", "u1").is_err());
    }
}
