CREATE TABLE users (
  id TEXT PRIMARY KEY,
  phone_idx TEXT NOT NULL UNIQUE,
  phone_enc BLOB NOT NULL,
  password_hash TEXT NOT NULL DEFAULT '',
  failed_logins INTEGER NOT NULL DEFAULT 0,
  locked_until TIMESTAMP,
  real_name_status TEXT NOT NULL DEFAULT 'unverified',
  created_at TIMESTAMP NOT NULL,
  updated_at TIMESTAMP NOT NULL,
  version BIGINT NOT NULL DEFAULT 1
);
--bun:split
CREATE TABLE sms_codes (
  id TEXT PRIMARY KEY,
  phone_idx TEXT NOT NULL,
  purpose TEXT NOT NULL,
  code_hash TEXT NOT NULL,
  ip_idx TEXT NOT NULL,
  created_at TIMESTAMP NOT NULL,
  expires_at TIMESTAMP NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  used_at TIMESTAMP
);
--bun:split
CREATE INDEX sms_codes_phone ON sms_codes (phone_idx, created_at);
--bun:split
CREATE INDEX sms_codes_ip ON sms_codes (ip_idx, created_at);
--bun:split
CREATE TABLE sessions (
  id TEXT PRIMARY KEY,
  user_id TEXT NOT NULL REFERENCES users (id),
  token_hash TEXT NOT NULL UNIQUE,
  created_at TIMESTAMP NOT NULL,
  last_seen_at TIMESTAMP NOT NULL,
  expires_at TIMESTAMP NOT NULL,
  revoked_at TIMESTAMP,
  revoke_reason TEXT NOT NULL DEFAULT ''
);
--bun:split
CREATE INDEX sessions_user ON sessions (user_id);
--bun:split
CREATE TABLE audit_log (
  id TEXT PRIMARY KEY,
  message_id TEXT NOT NULL UNIQUE,
  user_id TEXT NOT NULL,
  action TEXT NOT NULL,
  detail TEXT NOT NULL DEFAULT '',
  at TIMESTAMP NOT NULL
);
--bun:split
CREATE INDEX audit_log_user ON audit_log (user_id, at);
--bun:split
CREATE TABLE inbox (
  consumer TEXT NOT NULL,
  message_id TEXT NOT NULL,
  processed_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
  PRIMARY KEY (consumer, message_id)
);
--bun:split
CREATE TABLE IF NOT EXISTS watermill_outbox (
  "offset" INTEGER PRIMARY KEY AUTOINCREMENT,
  uuid TEXT NOT NULL,
  payload BLOB,
  metadata TEXT,
  acked INTEGER NOT NULL DEFAULT 0,
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
);
--bun:split
CREATE TABLE IF NOT EXISTS watermill_poison (
  "offset" INTEGER PRIMARY KEY AUTOINCREMENT,
  uuid TEXT NOT NULL,
  payload BLOB,
  metadata TEXT,
  acked INTEGER NOT NULL DEFAULT 0,
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
);
