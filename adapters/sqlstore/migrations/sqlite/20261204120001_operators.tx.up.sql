CREATE TABLE operators (
  id TEXT PRIMARY KEY,
  username TEXT NOT NULL UNIQUE,
  password_hash TEXT NOT NULL,
  totp_secret BLOB NOT NULL,
  role TEXT NOT NULL,
  active BOOLEAN NOT NULL,
  failed_count INTEGER NOT NULL DEFAULT 0,
  locked_until TIMESTAMP,
  last_totp_step BIGINT NOT NULL DEFAULT 0,
  created_at TIMESTAMP NOT NULL
);
--bun:split
CREATE TABLE operator_sessions (
  id TEXT PRIMARY KEY,
  operator_id TEXT NOT NULL REFERENCES operators (id),
  token_hash TEXT NOT NULL UNIQUE,
  created_at TIMESTAMP NOT NULL,
  last_seen_at TIMESTAMP NOT NULL,
  revoked_at TIMESTAMP
);
--bun:split
CREATE TABLE operator_audit (
  id TEXT PRIMARY KEY,
  operator_id TEXT NOT NULL REFERENCES operators (id),
  username TEXT NOT NULL,
  action TEXT NOT NULL,
  target_type TEXT NOT NULL,
  target_id TEXT NOT NULL,
  before_json TEXT NOT NULL DEFAULT 'null',
  after_json TEXT NOT NULL DEFAULT 'null',
  ip TEXT NOT NULL DEFAULT '',
  at TIMESTAMP NOT NULL
);
--bun:split
CREATE INDEX operator_audit_target ON operator_audit (target_type, target_id, id);
--bun:split
CREATE INDEX operator_audit_operator ON operator_audit (operator_id, id);
--bun:split
CREATE TABLE banners (
  id TEXT PRIMARY KEY,
  title TEXT NOT NULL,
  image_file_id TEXT NOT NULL,
  target_type TEXT NOT NULL,
  target_value TEXT NOT NULL,
  sort_order INTEGER NOT NULL,
  active BOOLEAN NOT NULL,
  starts_at TIMESTAMP,
  ends_at TIMESTAMP,
  created_at TIMESTAMP NOT NULL,
  updated_at TIMESTAMP NOT NULL
);
--bun:split
CREATE INDEX banners_order ON banners (sort_order, id);
--bun:split
ALTER TABLE channels ADD COLUMN charging_enabled BOOLEAN NOT NULL DEFAULT TRUE;
--bun:split
ALTER TABLE payment_anomalies ADD COLUMN resolved_at TIMESTAMP;
--bun:split
ALTER TABLE payment_anomalies ADD COLUMN resolved_by TEXT NOT NULL DEFAULT '';
--bun:split
ALTER TABLE payment_anomalies ADD COLUMN resolution_note TEXT NOT NULL DEFAULT '';
--bun:split
ALTER TABLE enterprises ADD COLUMN deactivated_at TIMESTAMP;
--bun:split
CREATE TRIGGER operator_audit_no_update BEFORE UPDATE ON operator_audit
BEGIN SELECT RAISE(ABORT, 'operator_audit is append-only'); END;
--bun:split
CREATE TRIGGER operator_audit_no_delete BEFORE DELETE ON operator_audit
BEGIN SELECT RAISE(ABORT, 'operator_audit is append-only'); END;
