-- The members list pages newest first by id (keyset on id): one index for every state and one
-- per state (a plain member's list is the active ones).
CREATE INDEX memberships_enterprise_page ON memberships (enterprise_id, id);
CREATE INDEX memberships_enterprise_status_page ON memberships (enterprise_id, status, id);
