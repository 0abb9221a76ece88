//! The adapter conformance suite, each check on a fresh database of the test server.

use std::sync::Arc;

use latchkey::Adapter;
use latchkey_postgres::PostgresAdapter;

async fn fresh_adapter() -> Arc<dyn Adapter> {
    let url = latchkey_testdb::fresh_database().await;
    let adapter = PostgresAdapter::connect(&url)
        .await
        .expect("postgres opens");
    Arc::new(adapter)
}

latchkey::adapter_conformance_tests!(fresh_adapter);
