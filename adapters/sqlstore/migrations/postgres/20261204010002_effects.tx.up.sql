-- External effects (SMS, remittances, certificate issuance): claimed before the provider is
-- called outside any transaction, marked done after; a stale claim without done is retried.
CREATE TABLE IF NOT EXISTS effects (
  effect_key TEXT PRIMARY KEY,
  claimed_at TIMESTAMPTZ NOT NULL,
  done_at TIMESTAMPTZ
);
