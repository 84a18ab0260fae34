-- Webhooks to integrators: endpoints per enterprise (the signing secret encrypted), deliveries of
-- events to them (unique by event id and endpoint; leased to one dispatcher at a time) and the
-- delivery log (one row per attempt).
CREATE TABLE webhook_endpoints (
  id TEXT PRIMARY KEY,
  enterprise_id TEXT NOT NULL REFERENCES enterprises (id),
  url TEXT NOT NULL,
  events TEXT NOT NULL,
  secret_enc BYTEA NOT NULL,
  created_by TEXT NOT NULL,
  created_at TIMESTAMPTZ NOT NULL,
  deleted_at TIMESTAMPTZ
);
--bun:split
CREATE INDEX webhook_endpoints_enterprise ON webhook_endpoints (enterprise_id, id) WHERE deleted_at IS NULL;
--bun:split
CREATE TABLE webhook_deliveries (
  id TEXT PRIMARY KEY,
  endpoint_id TEXT NOT NULL REFERENCES webhook_endpoints (id),
  enterprise_id TEXT NOT NULL,
  event_id TEXT NOT NULL,
  type TEXT NOT NULL,
  body BYTEA NOT NULL,
  status TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at TIMESTAMPTZ,
  last_status INTEGER NOT NULL DEFAULT 0,
  last_error TEXT NOT NULL DEFAULT '',
  created_at TIMESTAMPTZ NOT NULL,
  updated_at TIMESTAMPTZ NOT NULL,
  delivered_at TIMESTAMPTZ,
  lease_token TEXT NOT NULL DEFAULT '',
  lease_until TIMESTAMPTZ
);
--bun:split
CREATE UNIQUE INDEX webhook_deliveries_event ON webhook_deliveries (event_id, endpoint_id);
--bun:split
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id, id);
--bun:split
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
--bun:split
CREATE TABLE webhook_attempts (
  delivery_id TEXT NOT NULL REFERENCES webhook_deliveries (id),
  n INTEGER NOT NULL,
  at TIMESTAMPTZ NOT NULL,
  status_code INTEGER NOT NULL,
  duration_ms BIGINT NOT NULL,
  error TEXT NOT NULL DEFAULT '',
  response TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (delivery_id, n)
);
--bun:split
CREATE TABLE webhook_sign_flows (
  flow_id TEXT PRIMARY KEY,
  enterprise_id TEXT NOT NULL DEFAULT ''
);
