CREATE TABLE orders (
  id TEXT PRIMARY KEY,
  enterprise_id TEXT NOT NULL REFERENCES enterprises (id),
  user_id TEXT NOT NULL REFERENCES users (id),
  channel_code TEXT NOT NULL,
  items TEXT NOT NULL,
  total_fen BIGINT NOT NULL,
  status TEXT NOT NULL,
  out_trade_no TEXT NOT NULL UNIQUE,
  trade_type TEXT NOT NULL DEFAULT '',
  paid_at TIMESTAMP,
  transaction_id TEXT NOT NULL DEFAULT '',
  closed_at TIMESTAMP,
  close_reason TEXT NOT NULL DEFAULT '',
  created_at TIMESTAMP NOT NULL,
  expires_at TIMESTAMP NOT NULL,
  updated_at TIMESTAMP NOT NULL,
  version BIGINT NOT NULL DEFAULT 1
);
--bun:split
CREATE INDEX orders_user ON orders (user_id, id);
--bun:split
CREATE INDEX orders_enterprise ON orders (enterprise_id, id);
--bun:split
CREATE INDEX orders_pending ON orders (status, created_at);
--bun:split
CREATE TABLE quota_grants (
  order_id TEXT NOT NULL REFERENCES orders (id),
  sku TEXT NOT NULL,
  enterprise_id TEXT NOT NULL REFERENCES enterprises (id),
  signatures INTEGER NOT NULL,
  certificate_years INTEGER NOT NULL,
  granted_at TIMESTAMP NOT NULL,
  PRIMARY KEY (order_id, sku)
);
--bun:split
CREATE INDEX quota_grants_enterprise ON quota_grants (enterprise_id);
--bun:split
CREATE TABLE payment_anomalies (
  id TEXT PRIMARY KEY,
  kind TEXT NOT NULL,
  out_trade_no TEXT NOT NULL,
  order_id TEXT NOT NULL DEFAULT '',
  transaction_id TEXT NOT NULL,
  amount_fen BIGINT NOT NULL,
  notification_id TEXT NOT NULL DEFAULT '',
  at TIMESTAMP NOT NULL,
  UNIQUE (transaction_id, kind)
);
--bun:split
CREATE TABLE idempotency_keys (
  scope TEXT NOT NULL,
  key TEXT NOT NULL,
  request_hash TEXT NOT NULL,
  status INTEGER NOT NULL DEFAULT 0,
  body BLOB,
  done BOOLEAN NOT NULL DEFAULT FALSE,
  created_at TIMESTAMP NOT NULL,
  PRIMARY KEY (scope, key)
);
