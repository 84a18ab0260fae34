-- The sandbox bank (APP_MODE=sandbox, BANK_PROVIDER=sandbox): the micro-deposits it "remitted",
-- kept in the database so every instance and a separate consume process share them and a
-- restart keeps them; the reference makes a repeated remittance return the first result.
-- Only the masked account number is kept.
CREATE TABLE IF NOT EXISTS sandbox_bank_transfers (
  reference TEXT PRIMARY KEY,
  account_masked TEXT NOT NULL,
  bank_name TEXT NOT NULL,
  province TEXT NOT NULL,
  branch TEXT NOT NULL,
  amount BIGINT NOT NULL,
  remitted BOOLEAN NOT NULL,
  reason TEXT NOT NULL,
  bank_ref TEXT NOT NULL,
  at TIMESTAMPTZ NOT NULL
);
--bun:split
CREATE INDEX IF NOT EXISTS sandbox_bank_transfers_at ON sandbox_bank_transfers (at);
