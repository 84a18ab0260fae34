ALTER TABLE orders ADD COLUMN next_check_at TIMESTAMPTZ;
--bun:split
CREATE INDEX orders_due ON orders (next_check_at) WHERE status = 'pending_payment';
