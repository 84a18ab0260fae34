-- Approving a join request (pending → active) rewrote two index entries per request on SQLite:
-- both indexes named the status, the unique one only in its predicate. Now:
--
-- * one open membership per person and enterprise is the unique (enterprise_id, open_key), where
--   open_key is the user of an open membership (pending, invited once registered, active) and NULL
--   otherwise: approval leaves it as it is;
-- * the members list's pages of one status other than active (join requests, invitations, the
--   rejected and removed tabs: few rows among many members) have a partial index that holds only
--   those statuses, so approval removes the request's entry (SQLite) or adds none (Postgres)
--   instead of rewriting it. The active members (most of an enterprise) page through
--   memberships_enterprise_page, passing over the other rows between them: an index of their own
--   cost every approval an entry (measured: 1,000 approvals 2-3 ms, a fifth, slower).
ALTER TABLE memberships ADD COLUMN open_key TEXT;
UPDATE memberships SET open_key = user_id WHERE user_id IS NOT NULL AND status IN ('pending', 'invited', 'active');
DROP INDEX memberships_open_user;
CREATE UNIQUE INDEX memberships_open_key ON memberships (enterprise_id, open_key) WHERE open_key IS NOT NULL;
DROP INDEX memberships_enterprise_status_page;
CREATE INDEX memberships_enterprise_status_page ON memberships (enterprise_id, status, id) WHERE status <> 'active';
