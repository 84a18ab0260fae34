CREATE TABLE invoices (
  id TEXT PRIMARY KEY,
  order_id TEXT NOT NULL UNIQUE REFERENCES orders (id),
  enterprise_id TEXT NOT NULL REFERENCES enterprises (id),
  requested_by TEXT NOT NULL REFERENCES users (id),
  type TEXT NOT NULL,
  title_type TEXT NOT NULL,
  title TEXT NOT NULL,
  tax_id TEXT NOT NULL DEFAULT '',
  email_enc BYTEA,
  amount_fen BIGINT NOT NULL,
  status TEXT NOT NULL,
  number TEXT NOT NULL DEFAULT '',
  issued_at TIMESTAMPTZ,
  pdf_key TEXT NOT NULL DEFAULT '',
  attempts INTEGER NOT NULL DEFAULT 0,
  failure_reason TEXT NOT NULL DEFAULT '',
  created_at TIMESTAMPTZ NOT NULL,
  updated_at TIMESTAMPTZ NOT NULL,
  version BIGINT NOT NULL DEFAULT 1
);
--bun:split
CREATE INDEX invoices_enterprise ON invoices (enterprise_id, created_at);
