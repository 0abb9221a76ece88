-- Latchkey's tables, parallel to the SQLite adapter's. Times are milliseconds since the Unix
-- epoch, as the adapter trait passes them. Attributes are TEXT, not JSONB: JSONB normalises
-- what it stores (key order, whitespace, duplicate keys), and the library expects the JSON
-- text back byte for byte.

CREATE TABLE users (
    id TEXT PRIMARY KEY,
    attributes TEXT NOT NULL,
    -- Record keeping only: the library never reads it, so the database's clock is good enough.
    created_at BIGINT NOT NULL DEFAULT (EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::BIGINT
);

CREATE TABLE keys (
    provider_id TEXT NOT NULL,
    provider_user_id TEXT NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    hashed_password TEXT,
    PRIMARY KEY (provider_id, provider_user_id)
);

CREATE INDEX keys_user_id ON keys (user_id);

CREATE TABLE sessions (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    active_expires BIGINT NOT NULL,
    idle_expires BIGINT NOT NULL,
    absolute_expires BIGINT NOT NULL,
    attributes TEXT NOT NULL
);

CREATE INDEX sessions_user_id ON sessions (user_id);

-- For the sweep of expired sessions.
CREATE INDEX sessions_idle_expires ON sessions (idle_expires);
