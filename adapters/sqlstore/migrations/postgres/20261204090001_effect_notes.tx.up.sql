-- What an external effect must reuse when it is retried after a crash (e.g. the key and the
-- request time of an organisation certificate, so the CA answers the retry with the same
-- certificate). Sealed by the store's cipher; the first note of a key wins.
CREATE TABLE IF NOT EXISTS effect_notes (
  effect_key TEXT PRIMARY KEY,
  data_enc BYTEA NOT NULL,
  created_at TIMESTAMPTZ NOT NULL
);
