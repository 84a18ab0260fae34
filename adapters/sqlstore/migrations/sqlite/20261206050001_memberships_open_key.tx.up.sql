-- Approving a join request (pending → active) rewrote two index entries per request on SQLite:
-- both indexes named the status, the unique one only in its predicate. Now:
--
-- * one open membership per person and enterprise is the unique (enterprise_id, open_key), where
--   open_key is the user of an open membership (pending, invited once registered, active) and NULL
--   otherwise: approval leaves it as it is;
-- * the members list's per-status pages have a partial index for the active members (the list a
--   plain member sees) and one for every other status, so that approval moves an entry from one
--   to the other instead of rewriting both of a full index.
ALTER TABLE memberships ADD COLUMN open_key TEXT;
UPDATE memberships SET open_key = user_id WHERE user_id IS NOT NULL AND status IN ('pending', 'invited', 'active');
DROP INDEX memberships_open_user;
CREATE UNIQUE INDEX memberships_open_key ON memberships (enterprise_id, open_key) WHERE open_key IS NOT NULL;
DROP INDEX memberships_enterprise_status_page;
CREATE INDEX memberships_enterprise_active ON memberships (enterprise_id, id) WHERE status = 'active';
CREATE INDEX memberships_enterprise_status_page ON memberships (enterprise_id, status, id) WHERE status <> 'active';
