-- Durable fixed-window counters for abuse limits (password login per IP and per phone,
-- micro-deposit tries per credit code and initiator, uploads per user and per signing link).
-- One row per key; the window start is in Unix milliseconds.
CREATE TABLE attempt_counters (
  key TEXT PRIMARY KEY,
  window_start BIGINT NOT NULL,
  count INTEGER NOT NULL
);
