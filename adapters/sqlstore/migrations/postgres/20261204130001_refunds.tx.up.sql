ALTER TABLE orders ADD COLUMN refunded_fen BIGINT NOT NULL DEFAULT 0;
--bun:split
ALTER TABLE orders ADD COLUMN refunding_fen BIGINT NOT NULL DEFAULT 0;
--bun:split
CREATE TABLE refunds (
  id TEXT PRIMARY KEY,
  out_refund_no TEXT NOT NULL UNIQUE,
  order_id TEXT NOT NULL REFERENCES orders (id),
  enterprise_id TEXT NOT NULL REFERENCES enterprises (id),
  amount_fen BIGINT NOT NULL,
  reason TEXT NOT NULL,
  requested_by TEXT NOT NULL,
  status TEXT NOT NULL,
  refund_id TEXT NOT NULL DEFAULT '',
  reductions TEXT NOT NULL,
  failure TEXT NOT NULL DEFAULT '',
  created_at TIMESTAMPTZ NOT NULL,
  settled_at TIMESTAMPTZ,
  updated_at TIMESTAMPTZ NOT NULL,
  next_check_at TIMESTAMPTZ,
  version BIGINT NOT NULL DEFAULT 1
);
--bun:split
CREATE INDEX refunds_order ON refunds (order_id, created_at);
--bun:split
CREATE INDEX refunds_due ON refunds (next_check_at, created_at) WHERE status IN ('submitting', 'processing');
--bun:split
CREATE TABLE quota_reductions (
  out_refund_no TEXT NOT NULL REFERENCES refunds (out_refund_no),
  sku TEXT NOT NULL,
  order_id TEXT NOT NULL REFERENCES orders (id),
  enterprise_id TEXT NOT NULL REFERENCES enterprises (id),
  signatures INTEGER NOT NULL,
  certificate_years INTEGER NOT NULL,
  PRIMARY KEY (out_refund_no, sku)
);
--bun:split
CREATE INDEX quota_reductions_enterprise ON quota_reductions (enterprise_id);
--bun:split
CREATE INDEX quota_reductions_order ON quota_reductions (order_id);
--bun:split
CREATE TABLE quota_usage (
  id TEXT PRIMARY KEY,
  enterprise_id TEXT NOT NULL REFERENCES enterprises (id),
  signatures INTEGER NOT NULL,
  certificate_years INTEGER NOT NULL,
  reason TEXT NOT NULL DEFAULT '',
  at TIMESTAMPTZ NOT NULL
);
--bun:split
CREATE INDEX quota_usage_enterprise ON quota_usage (enterprise_id);
--bun:split
ALTER TABLE invoices ADD COLUMN red_letter_required BOOLEAN NOT NULL DEFAULT FALSE;
