-- An owner's configurations counted by status without reading their
-- records. Every create checks the owner's stored and active counts (the
-- quotas), which parsed each of the owner's records as JSON: a cost that
-- grew with what the owner keeps, about 7 ms a write at 1,000. The status
-- is written beside the record (a generated column would still be computed
-- from each record when counted).
ALTER TABLE configurations ADD COLUMN status TEXT NOT NULL DEFAULT '';
UPDATE configurations SET status = json_extract(body, '$.status');
CREATE INDEX configurations_by_owner_status ON configurations (owner, status);
