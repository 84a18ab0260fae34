-- The console lists every user's orders by state, newest first (GET /api/v1/admin/orders?status=).
CREATE INDEX orders_status ON orders (status, id);
