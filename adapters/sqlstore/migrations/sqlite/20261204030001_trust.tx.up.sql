-- Issue 12: no escrow. The platform kept a copy of every personal signing key sealed under its
-- master key; those copies are destroyed: overwritten, then the column is dropped.
UPDATE personal_certificates SET escrow_key = X'';
--bun:split
ALTER TABLE personal_certificates DROP COLUMN escrow_key;
--bun:split
-- Revoked certificates: the CRL and the OCSP answers are built from these rows.
CREATE TABLE certificate_revocations (
  serial TEXT PRIMARY KEY,
  reason INTEGER NOT NULL,
  revoked_at TIMESTAMP NOT NULL,
  kind TEXT NOT NULL,
  owner TEXT NOT NULL
);
--bun:split
CREATE INDEX certificate_revocations_revoked_at ON certificate_revocations (revoked_at);
