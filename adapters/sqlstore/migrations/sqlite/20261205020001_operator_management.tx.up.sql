ALTER TABLE operators ADD COLUMN last_login_at TIMESTAMP;
--bun:split
CREATE INDEX operator_sessions_operator ON operator_sessions (operator_id) WHERE revoked_at IS NULL;
--bun:split
CREATE INDEX operators_active_admins ON operators (id) WHERE role = 'admin' AND active;
