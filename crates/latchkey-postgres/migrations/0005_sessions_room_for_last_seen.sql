-- A session's last-seen time changes about once a minute while it is in use. PostgreSQL writes
-- the new version of the row beside the old one (a HOT update) only when the page has room for
-- it; no index holds `last_seen_at`, so such an update writes no index entry. At the default
-- fill of 100% the pages had no room: each update moved the row to another page and added an
-- entry to each of the table's three indexes, random pages of indexes over every session.
-- Pages written from now on keep a fifth free. Existing pages gain the room as they are
-- rewritten; `VACUUM FULL sessions` rewrites them all at once, under an exclusive lock.
ALTER TABLE sessions SET (fillfactor = 80);
