//! The library's hot calls: drawing a token, validating a session over SQLite in memory, and
//! normalising a username. Results are recorded in docs/benchmarks.md.

// `criterion_group!` defines a public function without documentation.
#![allow(missing_docs)]

use std::sync::Arc;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use latchkey::{Auth, SessionToken, Username};
use latchkey_sqlite::SqliteAdapter;

fn tokens(c: &mut Criterion) {
    c.bench_function("token: generate", |b| b.iter(SessionToken::generate));

    let token = SessionToken::generate();
    c.bench_function("token: session id (sha-256)", |b| {
        b.iter(|| token.session_id())
    });
}

fn validation(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let (auth, tokens) = runtime.block_on(async {
        let adapter = SqliteAdapter::connect("sqlite::memory:")
            .await
            .expect("sqlite");
        let auth: Auth<serde_json::Value> = Auth::builder(adapter)
            .hasher(latchkey::testing::cheap_hashing())
            .build()
            .expect("auth");
        let mut tokens = Vec::new();
        for n in 0..1_000 {
            let user = auth
                .create_user(None, serde_json::json!({ "username": format!("user{n}") }))
                .await
                .expect("user");
            for _ in 0..10 {
                tokens.push(
                    auth.create_session(&user.id, ())
                        .await
                        .expect("session")
                        .token,
                );
            }
        }
        (auth, Arc::new(tokens))
    });

    let mut next = 0usize;
    c.bench_function("session: validate (sqlite in memory, 10k sessions)", |b| {
        b.to_async(&runtime).iter_batched(
            || {
                next = (next + 7_919) % tokens.len();
                tokens[next].clone()
            },
            |token| {
                let auth = auth.clone();
                async move { auth.validate_session(&token).await.expect("valid") }
            },
            BatchSize::SmallInput,
        )
    });
    c.bench_function("session: reject a malformed token", |b| {
        b.to_async(&runtime).iter(|| {
            let auth = auth.clone();
            async move { auth.validate_token("not a token").await.is_err() }
        })
    });
}

fn usernames(c: &mut Criterion) {
    c.bench_function("username: parse ascii", |b| {
        b.iter(|| Username::parse("Alice_Liddell", 4..=31))
    });
    c.bench_function("username: parse fullwidth", |b| {
        b.iter(|| Username::parse("ＡＬＩＣＥ ｌｉｄｄｅｌｌ", 4..=31))
    });
}

criterion_group!(benches, tokens, validation, usernames);
criterion_main!(benches);
