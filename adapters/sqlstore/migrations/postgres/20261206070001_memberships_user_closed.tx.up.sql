-- A join request's approval (pending -> active) wrote four index entries on Postgres, where an
-- UPDATE that is not HOT adds the new row version to every index whose predicate it meets: the
-- primary key, memberships_enterprise_page, memberships_open_key and memberships_user. Each cost
-- 3-4 ms a 1,000-request batch (measured by dropping it inside the batch's transaction).
--
-- The open memberships of a person are found through open_key, which is the person of every open
-- membership (pending, invited once registered, active): the unique index leads with it, so it
-- serves "my enterprises" and a person's membership of one enterprise as well as the one-open-
-- membership rule (the same pair of columns, so the same uniqueness). memberships_user keeps only
-- the closed ones (rejected, removed, left), whose open_key is NULL: an approval, which keeps
-- open_key, adds no entry to it. A decision that closes a membership (rejection, removal) adds
-- one to it and none to memberships_open_key, as many as before.
DROP INDEX memberships_open_key;
CREATE UNIQUE INDEX memberships_open_key ON memberships (open_key, enterprise_id) WHERE open_key IS NOT NULL;
DROP INDEX memberships_user;
CREATE INDEX memberships_user_closed ON memberships (user_id, created_at) WHERE open_key IS NULL AND user_id IS NOT NULL;
