-- Throttling, the audit log and server secrets. Times are milliseconds since the Unix epoch.

-- Sign-in attempts counted against an account or a device since its last success. A row whose
-- expires_at has passed counts as absent and is deleted by the periodic purge.
CREATE TABLE sign_in_attempts (
    key TEXT PRIMARY KEY NOT NULL,
    failures INTEGER NOT NULL,
    last_failure_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
) STRICT;

CREATE INDEX sign_in_attempts_expires_at ON sign_in_attempts (expires_at);

-- Token buckets per client, as the generic cell rate algorithm's theoretical arrival time:
-- the bucket is full again at tat, and the row is then dead.
CREATE TABLE rate_buckets (
    key TEXT PRIMARY KEY NOT NULL,
    tat INTEGER NOT NULL
) STRICT;

CREATE INDEX rate_buckets_tat ON rate_buckets (tat);

-- Security events. AUTOINCREMENT keeps ids increasing even after the newest rows are pruned.
CREATE TABLE audit_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at INTEGER NOT NULL,
    kind TEXT NOT NULL,
    user_id TEXT,
    username TEXT,
    address TEXT,
    user_agent TEXT,
    detail TEXT
) STRICT;

CREATE INDEX audit_events_at ON audit_events (at);
CREATE INDEX audit_events_user_id ON audit_events (user_id, at);
CREATE INDEX audit_events_username ON audit_events (username, at);

-- Secrets every server on this database shares, such as the device cookie key.
CREATE TABLE server_secrets (
    name TEXT PRIMARY KEY NOT NULL,
    value BLOB NOT NULL,
    created_at INTEGER NOT NULL DEFAULT (CAST(unixepoch('subsec') * 1000 AS INTEGER))
) STRICT;
