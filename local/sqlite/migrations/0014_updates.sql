-- Each owner's pushed updates, numbered in order (longrun.Replay): the
-- last number in updates_seq, the updates themselves kept an hour, the
-- last MaxReplay of them at most, for a page to catch up on.
CREATE TABLE updates_seq (owner TEXT PRIMARY KEY, seq INTEGER NOT NULL);
CREATE TABLE updates (
	owner TEXT NOT NULL,
	seq   INTEGER NOT NULL,
	at    INTEGER NOT NULL,
	msg   BLOB NOT NULL,
	PRIMARY KEY (owner, seq)
);
