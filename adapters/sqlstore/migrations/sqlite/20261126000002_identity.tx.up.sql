ALTER TABLE users ADD COLUMN real_name_enc BLOB;
--bun:split
ALTER TABLE users ADD COLUMN id_number_enc BLOB;
--bun:split
ALTER TABLE users ADD COLUMN id_number_idx TEXT;
--bun:split
CREATE UNIQUE INDEX users_id_number_idx ON users (id_number_idx);
--bun:split
ALTER TABLE users ADD COLUMN real_name_method TEXT NOT NULL DEFAULT '';
--bun:split
ALTER TABLE users ADD COLUMN real_name_verified_at TIMESTAMP;
--bun:split
ALTER TABLE users ADD COLUMN liveness_session_id TEXT NOT NULL DEFAULT '';
--bun:split
ALTER TABLE users ADD COLUMN liveness_url TEXT NOT NULL DEFAULT '';
--bun:split
ALTER TABLE users ADD COLUMN real_name_failure TEXT NOT NULL DEFAULT '';
--bun:split
ALTER TABLE users ADD COLUMN real_name_failures_day TEXT NOT NULL DEFAULT '';
--bun:split
ALTER TABLE users ADD COLUMN real_name_failures INTEGER NOT NULL DEFAULT 0;
--bun:split
ALTER TABLE users ADD COLUMN channel_code TEXT NOT NULL DEFAULT '';
--bun:split
ALTER TABLE users ADD COLUMN signing_failures INTEGER NOT NULL DEFAULT 0;
--bun:split
ALTER TABLE users ADD COLUMN signing_locked_until TIMESTAMP;
--bun:split
CREATE TABLE personal_certificates (
  user_id TEXT PRIMARY KEY REFERENCES users (id),
  serial TEXT NOT NULL UNIQUE,
  subject TEXT NOT NULL,
  not_before TIMESTAMP NOT NULL,
  not_after TIMESTAMP NOT NULL,
  status TEXT NOT NULL,
  der BLOB NOT NULL,
  public_key BLOB NOT NULL,
  wrapped_key BLOB NOT NULL,
  escrow_key BLOB NOT NULL,
  issued_at TIMESTAMP NOT NULL
);
--bun:split
CREATE TABLE channels (
  id TEXT PRIMARY KEY,
  code TEXT NOT NULL UNIQUE,
  name TEXT NOT NULL,
  qr_token TEXT NOT NULL,
  active BOOLEAN NOT NULL,
  personal_cert_service BOOLEAN NOT NULL,
  real_name_method TEXT NOT NULL,
  catalog TEXT NOT NULL,
  created_at TIMESTAMP NOT NULL
);
--bun:split
CREATE TABLE platform_settings (
  id INTEGER PRIMARY KEY,
  charging_enabled BOOLEAN NOT NULL,
  default_real_name_method TEXT NOT NULL
);
--bun:split
CREATE TABLE files (
  id TEXT PRIMARY KEY,
  owner_id TEXT NOT NULL,
  purpose TEXT NOT NULL,
  content_type TEXT NOT NULL,
  size BIGINT NOT NULL,
  sha256 TEXT NOT NULL,
  width INTEGER NOT NULL,
  height INTEGER NOT NULL,
  storage_key TEXT NOT NULL,
  created_at TIMESTAMP NOT NULL
);
--bun:split
CREATE INDEX files_owner ON files (owner_id, created_at);
--bun:split
CREATE TABLE signatures (
  id TEXT PRIMARY KEY,
  user_id TEXT NOT NULL REFERENCES users (id),
  file_id TEXT NOT NULL REFERENCES files (id),
  kind TEXT NOT NULL,
  is_default BOOLEAN NOT NULL,
  created_at TIMESTAMP NOT NULL
);
--bun:split
CREATE INDEX signatures_user ON signatures (user_id, created_at);
--bun:split
CREATE TABLE consents (
  id TEXT PRIMARY KEY,
  user_id TEXT NOT NULL REFERENCES users (id),
  scope TEXT NOT NULL,
  version TEXT NOT NULL,
  client_ip_enc BLOB NOT NULL,
  at TIMESTAMP NOT NULL
);
--bun:split
CREATE INDEX consents_user ON consents (user_id, at);
