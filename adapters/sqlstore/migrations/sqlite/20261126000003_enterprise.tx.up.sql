CREATE TABLE verifications (
  id TEXT PRIMARY KEY,
  initiator_id TEXT NOT NULL REFERENCES users (id),
  role TEXT NOT NULL,
  enterprise_name TEXT NOT NULL,
  credit_code TEXT NOT NULL,
  legal_rep_name TEXT NOT NULL,
  legal_rep_id_enc BLOB NOT NULL,
  legal_rep_phone_enc BLOB NOT NULL,
  licence_file_id TEXT NOT NULL,
  agreement_at TIMESTAMP NOT NULL,
  method TEXT NOT NULL,
  status TEXT NOT NULL,
  link_sends_day TEXT NOT NULL DEFAULT '',
  link_sends_today INTEGER NOT NULL DEFAULT 0,
  transfers_day TEXT NOT NULL DEFAULT '',
  transfers_today INTEGER NOT NULL DEFAULT 0,
  signing_enc BLOB,
  transfer_enc BLOB,
  enterprise_id TEXT NOT NULL DEFAULT '',
  created_at TIMESTAMP NOT NULL,
  updated_at TIMESTAMP NOT NULL,
  version BIGINT NOT NULL DEFAULT 1
);
--bun:split
CREATE INDEX verifications_initiator ON verifications (initiator_id, created_at);
--bun:split
CREATE INDEX verifications_credit_code ON verifications (credit_code);
--bun:split
CREATE TABLE authorization_links (
  token_hash TEXT PRIMARY KEY,
  verification_id TEXT NOT NULL REFERENCES verifications (id),
  seq INTEGER NOT NULL,
  token_enc BLOB NOT NULL,
  phone_enc BLOB NOT NULL,
  issued_at TIMESTAMP NOT NULL,
  expires_at TIMESTAMP NOT NULL,
  used_at TIMESTAMP,
  revoked_at TIMESTAMP,
  phone_verified_at TIMESTAMP,
  liveness_session TEXT NOT NULL DEFAULT '',
  liveness_url TEXT NOT NULL DEFAULT '',
  liveness_passed_at TIMESTAMP
);
--bun:split
CREATE INDEX authorization_links_verification ON authorization_links (verification_id, seq);
--bun:split
CREATE TABLE enterprises (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  credit_code TEXT NOT NULL UNIQUE,
  legal_rep_name TEXT NOT NULL,
  legal_rep_id_enc BLOB NOT NULL,
  method TEXT NOT NULL,
  verification_id TEXT NOT NULL,
  verified_at TIMESTAMP NOT NULL,
  cert_serial TEXT NOT NULL DEFAULT '',
  cert_subject TEXT NOT NULL DEFAULT '',
  cert_not_before TIMESTAMP,
  cert_not_after TIMESTAMP,
  cert_der BLOB,
  cert_key_enc BLOB,
  cert_issued_at TIMESTAMP
);
--bun:split
CREATE INDEX enterprises_name ON enterprises (name);
--bun:split
CREATE TABLE memberships (
  id TEXT PRIMARY KEY,
  enterprise_id TEXT NOT NULL REFERENCES enterprises (id),
  user_id TEXT REFERENCES users (id),
  invitee_name_enc BLOB,
  invitee_phone_enc BLOB,
  invitee_phone_idx TEXT,
  role TEXT NOT NULL,
  status TEXT NOT NULL,
  cert_authorized BOOLEAN NOT NULL,
  cert_revoked_at TIMESTAMP,
  decided_by TEXT NOT NULL DEFAULT '',
  joined_at TIMESTAMP,
  created_at TIMESTAMP NOT NULL,
  updated_at TIMESTAMP NOT NULL,
  version BIGINT NOT NULL DEFAULT 1
);
--bun:split
CREATE UNIQUE INDEX memberships_open_user ON memberships (enterprise_id, user_id) WHERE status IN ('pending', 'invited', 'active');
--bun:split
CREATE UNIQUE INDEX memberships_open_invite ON memberships (enterprise_id, invitee_phone_idx) WHERE status = 'invited';
--bun:split
CREATE INDEX memberships_user ON memberships (user_id, created_at);
--bun:split
CREATE INDEX memberships_enterprise ON memberships (enterprise_id, status, created_at);
--bun:split
CREATE INDEX memberships_invite_phone ON memberships (invitee_phone_idx) WHERE status = 'invited';
