-- Latchkey's tables. STRICT makes SQLite reject a value of the wrong type instead of storing it,
-- so a bug that writes text into a time column fails loudly. Times are milliseconds since the
-- Unix epoch, as the adapter trait passes them.

CREATE TABLE users (
    id TEXT PRIMARY KEY NOT NULL,
    attributes TEXT NOT NULL,
    -- Record keeping only: the library never reads it, so the database's clock is good enough.
    created_at INTEGER NOT NULL DEFAULT (CAST(unixepoch('subsec') * 1000 AS INTEGER))
) STRICT;

CREATE TABLE keys (
    provider_id TEXT NOT NULL,
    provider_user_id TEXT NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    hashed_password TEXT,
    PRIMARY KEY (provider_id, provider_user_id)
) STRICT;

CREATE INDEX keys_user_id ON keys (user_id);

CREATE TABLE sessions (
    id TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    active_expires INTEGER NOT NULL,
    idle_expires INTEGER NOT NULL,
    absolute_expires INTEGER NOT NULL,
    attributes TEXT NOT NULL
) STRICT;

CREATE INDEX sessions_user_id ON sessions (user_id);

-- For the sweep of expired sessions.
CREATE INDEX sessions_idle_expires ON sessions (idle_expires);
