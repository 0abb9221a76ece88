//! Builds `data/common-passwords.txt` from a list of passwords ordered from most to least
//! common, one a line, such as SecLists' `10-million-password-list-top-1000000.txt`:
//!
//! ```text
//! cargo run -p latchkey --example common_passwords -- 100000 < top-1000000.txt \
//!     > crates/latchkey/data/common-passwords.txt
//! ```
//!
//! It keeps the first N distinct passwords after folding each to the form the library
//! compares in (NFKC, then full case folding: [`latchkey::lookup_form`]), and writes them in
//! byte order, one a line, which is what the library's binary search expects.

use std::collections::BTreeSet;
use std::io::{self, BufRead, Write};

fn main() -> io::Result<()> {
    let wanted: usize = std::env::args()
        .nth(1)
        .and_then(|count| count.parse().ok())
        .unwrap_or(100_000);

    let mut kept = BTreeSet::new();
    for line in io::stdin().lock().lines() {
        let folded = latchkey::lookup_form(line?.trim_end_matches('\r'));
        if !folded.is_empty() && !folded.contains('\n') {
            kept.insert(folded);
        }
        if kept.len() == wanted {
            break;
        }
    }

    let mut out = io::BufWriter::new(io::stdout().lock());
    for password in &kept {
        writeln!(out, "{password}")?;
    }
    out.flush()
}
