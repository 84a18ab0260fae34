CREATE TABLE seals (
  id TEXT PRIMARY KEY,
  enterprise_id TEXT NOT NULL REFERENCES enterprises (id),
  type TEXT NOT NULL,
  name TEXT NOT NULL,
  template TEXT NOT NULL DEFAULT '',
  image_file_id TEXT NOT NULL,
  automatic BOOLEAN NOT NULL DEFAULT FALSE,
  status TEXT NOT NULL,
  created_by TEXT NOT NULL,
  created_at TIMESTAMPTZ NOT NULL,
  updated_at TIMESTAMPTZ NOT NULL,
  used_count BIGINT NOT NULL DEFAULT 0,
  last_used_at TIMESTAMPTZ,
  deleted_at TIMESTAMPTZ,
  version BIGINT NOT NULL DEFAULT 1
);
--bun:split
CREATE INDEX seals_enterprise ON seals (enterprise_id, id) WHERE status <> 'deleted';
--bun:split
CREATE UNIQUE INDEX seals_automatic ON seals (enterprise_id) WHERE automatic;
--bun:split
CREATE TABLE seal_grants (
  id TEXT PRIMARY KEY,
  seal_id TEXT NOT NULL REFERENCES seals (id),
  enterprise_id TEXT NOT NULL REFERENCES enterprises (id),
  membership_id TEXT NOT NULL REFERENCES memberships (id),
  user_id TEXT NOT NULL REFERENCES users (id),
  expires_at TIMESTAMPTZ,
  granted_by TEXT NOT NULL,
  granted_at TIMESTAMPTZ NOT NULL,
  revoked_at TIMESTAMPTZ,
  revoked_by TEXT NOT NULL DEFAULT '',
  revoke_reason TEXT NOT NULL DEFAULT ''
);
--bun:split
CREATE INDEX seal_grants_seal ON seal_grants (seal_id, granted_at);
--bun:split
CREATE INDEX seal_grants_member ON seal_grants (enterprise_id, membership_id) WHERE revoked_at IS NULL;
--bun:split
CREATE UNIQUE INDEX seal_grants_open ON seal_grants (seal_id, membership_id) WHERE revoked_at IS NULL;
