-- Per-consumer delivery queue: the outbox forwarder copies each event once per consumer handler
-- (consumer = the handler's topic); the consumer deletes its row only after the handler committed.
-- available_at (unix ms) is the lease: a claimed row is invisible until it expires.
CREATE TABLE IF NOT EXISTS event_deliveries (
  id BIGSERIAL PRIMARY KEY,
  consumer TEXT NOT NULL,
  uuid TEXT NOT NULL,
  payload BYTEA,
  metadata TEXT,
  attempts INTEGER NOT NULL DEFAULT 0,
  available_at BIGINT NOT NULL,
  created_at BIGINT NOT NULL
);
--bun:split
CREATE INDEX IF NOT EXISTS event_deliveries_claim ON event_deliveries (consumer, available_at, id);
