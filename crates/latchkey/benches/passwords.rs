//! The common-password check: a hit, a miss, and a miss that needs Unicode folding. Each is
//! a binary search of the embedded list after NFKC and case folding.

// `criterion_group!` defines a public function without documentation.
#![allow(missing_docs)]

use criterion::{criterion_group, criterion_main, Criterion};
use latchkey::password::is_common;
use latchkey::Password;

fn common_passwords(c: &mut Criterion) {
    let hit = Password::new("Sunshine1");
    let miss = Password::new("mauve wombat ladder 7");
    let wide = Password::new("ｍａｕｖｅ ｗｏｍｂａｔ");

    c.bench_function("common password: hit", |b| b.iter(|| is_common(&hit)));
    c.bench_function("common password: miss", |b| b.iter(|| is_common(&miss)));
    c.bench_function("common password: miss, fullwidth", |b| {
        b.iter(|| is_common(&wide))
    });
}

criterion_group!(benches, common_passwords);
criterion_main!(benches);
