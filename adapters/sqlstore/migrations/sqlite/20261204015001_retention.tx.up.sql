-- Indexes for the retention pruner (sqlstore.Prune): it deletes by these columns in batches.
CREATE INDEX sms_codes_expires ON sms_codes (expires_at);
--bun:split
CREATE INDEX inbox_processed ON inbox (processed_at);
--bun:split
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);
--bun:split
CREATE INDEX audit_log_at ON audit_log (at);
