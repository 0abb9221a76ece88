//! The adapter conformance suite, on a SQLite file and on an in-memory database.

use std::sync::Arc;

use latchkey::Adapter;
use latchkey_sqlite::SqliteAdapter;

mod file {
    use super::*;

    /// A fresh database file in a temporary directory that lives as long as the process: the
    /// adapter keeps no handle on the directory, so it must not be removed under it.
    async fn fresh_adapter() -> Arc<dyn Adapter> {
        let dir = tempfile::tempdir().expect("temp dir").keep();
        let path = dir.join("conformance.db");
        let adapter = SqliteAdapter::connect(path.to_str().expect("utf-8 path"))
            .await
            .expect("sqlite file opens");
        Arc::new(adapter)
    }

    latchkey::adapter_conformance_tests!(fresh_adapter);
}

mod memory {
    use super::*;

    async fn fresh_adapter() -> Arc<dyn Adapter> {
        let adapter = SqliteAdapter::connect("sqlite::memory:")
            .await
            .expect("memory opens");
        Arc::new(adapter)
    }

    latchkey::adapter_conformance_tests!(fresh_adapter);
}
