-- The sandbox SMS box (APP_MODE=sandbox, SMS_PROVIDER=sandbox): what the simulated provider
-- "sent", kept in the database so every instance and a separate consume process share it and a
-- restart keeps it; idem_key makes a send with the same idempotency key a no-op across restarts.
-- Phones and texts (they carry codes) are encrypted; phone_idx is the blind index.
CREATE TABLE IF NOT EXISTS sandbox_sms (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  idem_key TEXT UNIQUE,
  phone_idx TEXT NOT NULL,
  phone_enc BLOB NOT NULL,
  template TEXT NOT NULL,
  text_enc BLOB NOT NULL,
  sent_at TIMESTAMP NOT NULL
);
--bun:split
CREATE INDEX IF NOT EXISTS sandbox_sms_phone ON sandbox_sms (phone_idx, id);
