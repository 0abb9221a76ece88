-- A throttle row changes on every sign-in: the address's bucket is taken from and, after a
-- success, given back; an account's attempts are counted and cleared. PostgreSQL updates a
-- row in place (a HOT update) only when no index holds a changed column and the page has
-- room. The indexes on `tat` and `expires_at` served only the periodic purge, and they made
-- every change write new index entries and left dead versions that only VACUUM removed: a
-- bucket taken and returned 2,000 times spread over 14 pages, and each statement on it read
-- them all. The purge now scans these tables, which hold a row per recently seen client or
-- account, once an hour.
DROP INDEX IF EXISTS rate_buckets_tat;
DROP INDEX IF EXISTS sign_in_attempts_expires_at;

-- Half of each page left free, so that the next version of a row fits beside the last.
ALTER TABLE rate_buckets SET (fillfactor = 50);
ALTER TABLE sign_in_attempts SET (fillfactor = 50);
