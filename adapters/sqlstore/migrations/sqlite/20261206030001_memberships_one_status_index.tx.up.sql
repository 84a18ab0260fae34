-- memberships_enterprise (enterprise_id, status, created_at) served only the oldest-first list of
-- an enterprise's memberships, which nothing uses any more: the members list pages by id
-- (memberships_enterprise_status_page), and the admins count reads that index too. A decision
-- changes a membership's status, and every index on the status costs a batch of 1,000 approvals
-- 1,000 deletes and inserts (SQLite) or 1,000 index entries (Postgres): one fewer.
DROP INDEX memberships_enterprise;
