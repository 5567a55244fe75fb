-- Jobs are handed out fairly between owners: from the owner with the
-- fewest jobs in flight, then the one served longest ago, FIFO within one.
ALTER TABLE jobs ADD COLUMN grp TEXT NOT NULL DEFAULT '';
CREATE INDEX jobs_by_group ON jobs (grp, visible_at);
CREATE TABLE job_groups (
	grp    TEXT PRIMARY KEY,
	served INTEGER NOT NULL -- increases with every receive: round-robin order
);
