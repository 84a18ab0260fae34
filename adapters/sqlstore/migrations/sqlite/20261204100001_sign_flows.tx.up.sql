CREATE TABLE sign_flows (
  id TEXT PRIMARY KEY,
  initiator_id TEXT NOT NULL REFERENCES users (id),
  enterprise_id TEXT NOT NULL DEFAULT '',
  title TEXT NOT NULL,
  ordered BOOLEAN NOT NULL,
  certify BOOLEAN NOT NULL DEFAULT FALSE,
  status TEXT NOT NULL,
  expires_at TIMESTAMP NOT NULL,
  created_at TIMESTAMP NOT NULL,
  started_at TIMESTAMP,
  ended_at TIMESTAMP,
  end_reason TEXT NOT NULL DEFAULT '',
  chain_seq INTEGER NOT NULL DEFAULT 0,
  chain_head TEXT NOT NULL DEFAULT '',
  version BIGINT NOT NULL DEFAULT 1
);
--bun:split
CREATE INDEX sign_flows_initiator ON sign_flows (initiator_id, id);
--bun:split
CREATE INDEX sign_flows_open ON sign_flows (expires_at) WHERE status IN ('draft', 'signing');
--bun:split
CREATE TABLE sign_flow_documents (
  flow_id TEXT NOT NULL REFERENCES sign_flows (id),
  idx INTEGER NOT NULL,
  name TEXT NOT NULL,
  pages INTEGER NOT NULL,
  page_sizes TEXT NOT NULL,
  original_file_id TEXT NOT NULL,
  original_sha256 TEXT NOT NULL,
  version INTEGER NOT NULL,
  current_file_id TEXT NOT NULL,
  current_sha256 TEXT NOT NULL,
  PRIMARY KEY (flow_id, idx)
);
--bun:split
CREATE TABLE sign_flow_versions (
  flow_id TEXT NOT NULL REFERENCES sign_flows (id),
  idx INTEGER NOT NULL,
  version INTEGER NOT NULL,
  file_id TEXT NOT NULL,
  sha256 TEXT NOT NULL,
  created_at TIMESTAMP NOT NULL,
  PRIMARY KEY (flow_id, idx, version)
);
--bun:split
CREATE TABLE sign_flow_signers (
  id TEXT PRIMARY KEY,
  flow_id TEXT NOT NULL REFERENCES sign_flows (id),
  seq INTEGER NOT NULL,
  kind TEXT NOT NULL,
  name_enc BLOB NOT NULL,
  phone_enc BLOB,
  phone_idx TEXT,
  enterprise_id TEXT NOT NULL DEFAULT '',
  state TEXT NOT NULL,
  signed_at TIMESTAMP,
  signed_by TEXT NOT NULL DEFAULT '',
  reject_reason TEXT NOT NULL DEFAULT ''
);
--bun:split
CREATE INDEX sign_flow_signers_flow ON sign_flow_signers (flow_id, seq);
--bun:split
CREATE INDEX sign_flow_signers_phone ON sign_flow_signers (phone_idx, flow_id) WHERE kind = 'person';
--bun:split
CREATE INDEX sign_flow_signers_enterprise ON sign_flow_signers (enterprise_id, flow_id) WHERE kind = 'organization';
--bun:split
CREATE TABLE sign_flow_fields (
  signer_id TEXT NOT NULL REFERENCES sign_flow_signers (id),
  seq INTEGER NOT NULL,
  flow_id TEXT NOT NULL REFERENCES sign_flows (id),
  document INTEGER NOT NULL,
  page INTEGER NOT NULL,
  x DOUBLE PRECISION NOT NULL,
  y DOUBLE PRECISION NOT NULL,
  w DOUBLE PRECISION NOT NULL,
  h DOUBLE PRECISION NOT NULL,
  keyword TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (signer_id, seq)
);
--bun:split
CREATE INDEX sign_flow_fields_flow ON sign_flow_fields (flow_id);
--bun:split
CREATE TABLE sign_flow_signings (
  flow_id TEXT NOT NULL REFERENCES sign_flows (id),
  signer_id TEXT NOT NULL REFERENCES sign_flow_signers (id),
  user_id TEXT NOT NULL,
  seal_id TEXT NOT NULL DEFAULT '',
  signature_id TEXT NOT NULL DEFAULT '',
  ip_enc BLOB,
  cert_serial TEXT NOT NULL DEFAULT '',
  hashes TEXT NOT NULL,
  at TIMESTAMP NOT NULL,
  PRIMARY KEY (flow_id, signer_id)
);
--bun:split
CREATE TABLE sign_flow_events (
  flow_id TEXT NOT NULL REFERENCES sign_flows (id),
  seq INTEGER NOT NULL,
  type TEXT NOT NULL,
  actor TEXT NOT NULL DEFAULT '',
  detail TEXT NOT NULL,
  at TIMESTAMP NOT NULL,
  prev_hash TEXT NOT NULL,
  hash TEXT NOT NULL,
  PRIMARY KEY (flow_id, seq)
);
--bun:split
CREATE TABLE sign_flow_turns (
  flow_id TEXT NOT NULL REFERENCES sign_flows (id),
  signer_id TEXT NOT NULL,
  user_id TEXT NOT NULL,
  enterprise_id TEXT NOT NULL DEFAULT '',
  until TIMESTAMP NOT NULL,
  PRIMARY KEY (flow_id, signer_id)
);
--bun:split
CREATE INDEX sign_flow_turns_enterprise ON sign_flow_turns (enterprise_id, until);
--bun:split
CREATE TABLE signature_usage (
  flow_id TEXT NOT NULL REFERENCES sign_flows (id),
  signer_id TEXT NOT NULL,
  enterprise_id TEXT NOT NULL,
  used BOOLEAN NOT NULL DEFAULT FALSE,
  at TIMESTAMP NOT NULL,
  PRIMARY KEY (flow_id, signer_id)
);
--bun:split
CREATE INDEX signature_usage_enterprise ON signature_usage (enterprise_id);
--bun:split
CREATE TABLE signature_quota_locks (
  enterprise_id TEXT PRIMARY KEY
);
