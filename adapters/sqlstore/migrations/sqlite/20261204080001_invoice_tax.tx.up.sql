-- The invoice's amount split into the amount before tax and the tax (数电普票), in fen, by
-- kernel.SplitTax: tax = round-half-up(amount × rate / (1 + rate)), net = amount − tax. Invoices
-- requested before were all information technology services at 6 % (600 basis points):
-- round-half-up(a × 600 / 10600) = (a × 1200 + 10600) / 21200 in integer division.
-- tax_rate_bp is -1 when the lines have different rates. Catalog items and order lines keep
-- their tax classification in their JSON; those stored before read as the default (6 %).
ALTER TABLE invoices ADD COLUMN net_fen BIGINT NOT NULL DEFAULT 0;
--bun:split
ALTER TABLE invoices ADD COLUMN tax_fen BIGINT NOT NULL DEFAULT 0;
--bun:split
ALTER TABLE invoices ADD COLUMN tax_rate_bp INTEGER NOT NULL DEFAULT 600;
--bun:split
UPDATE invoices SET tax_fen = (amount_fen * 1200 + 10600) / 21200;
--bun:split
UPDATE invoices SET net_fen = amount_fen - tax_fen;
