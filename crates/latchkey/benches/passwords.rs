//! The common-password check: a hit, a miss, and a miss that needs Unicode folding. Each is
//! a binary search of the embedded list after NFKC and case folding.
//!
//! And Argon2id on the hashing threads at the default cost: one hash at a time, and a burst of
//! eight on two threads, the sign-in flood in small. Both are wall-clock times, so on a shared
//! machine compare runs made side by side.

// `criterion_group!` defines a public function without documentation.
#![allow(missing_docs)]

use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use latchkey::password::is_common;
use latchkey::{HasherConfig, Password, PasswordHasher};

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

fn argon2id(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let hasher = PasswordHasher::new(HasherConfig {
        threads: 2,
        ..HasherConfig::default()
    })
    .expect("hasher");
    let password = Password::new("correct horse battery staple");

    let mut group = c.benchmark_group("argon2id, default cost");
    group.sample_size(20);
    group.measurement_time(Duration::from_secs(15));
    group.bench_function("one hash", |b| {
        b.to_async(&runtime)
            .iter(|| async { hasher.hash(&password).await.expect("hash") })
    });
    group.bench_function("8 hashes at once on 2 threads", |b| {
        b.to_async(&runtime).iter(|| async {
            let burst: Vec<_> = (0..8)
                .map(|_| {
                    let (hasher, password) = (hasher.clone(), password.clone());
                    tokio::spawn(async move { hasher.hash(&password).await })
                })
                .collect();
            for hash in burst {
                hash.await.expect("task").expect("hash");
            }
        })
    });
    group.finish();
}

criterion_group!(benches, common_passwords, argon2id);
criterion_main!(benches);
