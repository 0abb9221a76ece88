-- Throttling, the audit log and server secrets, parallel to the SQLite adapter's. Times are
-- milliseconds since the Unix epoch.

-- Sign-in attempts counted against an account or a device since its last success. A row whose
-- expires_at has passed counts as absent and is deleted by the periodic purge.
CREATE TABLE sign_in_attempts (
    key TEXT PRIMARY KEY,
    failures INTEGER NOT NULL,
    last_failure_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);

CREATE INDEX sign_in_attempts_expires_at ON sign_in_attempts (expires_at);

-- Token buckets per client, as the generic cell rate algorithm's theoretical arrival time:
-- the bucket is full again at tat, and the row is then dead.
CREATE TABLE rate_buckets (
    key TEXT PRIMARY KEY,
    tat BIGINT NOT NULL
);

CREATE INDEX rate_buckets_tat ON rate_buckets (tat);

CREATE TABLE audit_events (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at BIGINT NOT NULL,
    kind TEXT NOT NULL,
    user_id TEXT,
    username TEXT,
    address TEXT,
    user_agent TEXT,
    detail TEXT
);

CREATE INDEX audit_events_at ON audit_events (at);
CREATE INDEX audit_events_user_id ON audit_events (user_id, at);
CREATE INDEX audit_events_username ON audit_events (username, at);

-- Secrets every server on this database shares, such as the device cookie key.
CREATE TABLE server_secrets (
    name TEXT PRIMARY KEY,
    value BYTEA NOT NULL,
    created_at BIGINT NOT NULL DEFAULT (EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::BIGINT
);
