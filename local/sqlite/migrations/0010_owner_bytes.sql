-- The bytes of the images a configuration keeps (its own and its earlier
-- versions'), beside its record like its status: an owner's bytes are
-- summed from the index, for the per-owner byte quota.
ALTER TABLE configurations ADD COLUMN bytes INTEGER NOT NULL DEFAULT 0;
DROP INDEX configurations_by_owner_status;
CREATE INDEX configurations_by_owner_status ON configurations (owner, status, bytes);
