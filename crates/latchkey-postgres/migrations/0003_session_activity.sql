-- When each session was last used, so a person can tell their sessions apart. Written at most
-- once a minute per session; rows from before this migration start at 0, "never".
ALTER TABLE sessions ADD COLUMN last_seen_at BIGINT NOT NULL DEFAULT 0;
