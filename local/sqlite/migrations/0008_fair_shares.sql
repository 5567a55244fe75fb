-- Jobs are shared out by client (the network a write came from) first,
-- then by owner within a client, each by the work it has been handed
-- (an estimate in iterations: a virtual time), FIFO within an owner. A
-- share that has no jobs left restarts, when a job arrives, at the least
-- served of the busy shares beside it: no credit is banked while away and
-- no debt carried, so a newcomer goes next, not after one job of every
-- other newcomer as with round-robin over owners never served.
ALTER TABLE jobs ADD COLUMN client TEXT NOT NULL DEFAULT '';
ALTER TABLE jobs ADD COLUMN work INTEGER NOT NULL DEFAULT 1;
UPDATE jobs SET client = grp;
CREATE INDEX jobs_by_client ON jobs (client, grp, visible_at);
CREATE TABLE job_shares (
	key    TEXT PRIMARY KEY, -- 'c ' || client, or 'o ' || client || ' ' || owner
	served INTEGER NOT NULL  -- work handed out
);
DROP TABLE job_groups;
