-- The state of sandbox providers between calls (APP_MODE=sandbox): the sandbox liveness
-- sessions, the simulated WeChat Pay transactions and its keys. Kept in the database so that
-- every instance and a separate consume process share one provider and a restart keeps it.
-- value is sealed (it may hold personal data); expires_at (NULL: never) lets old rows go.
CREATE TABLE IF NOT EXISTS sandbox_records (
  kind TEXT NOT NULL,
  key TEXT NOT NULL,
  value BLOB NOT NULL,
  expires_at TIMESTAMP,
  PRIMARY KEY (kind, key)
);
--bun:split
CREATE INDEX IF NOT EXISTS sandbox_records_expires ON sandbox_records (expires_at);
