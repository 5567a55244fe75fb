-- E-mail addresses their owners confirmed (or not yet), and addresses that
-- bounced or complained: notifications go only to confirmed addresses
-- that are not suppressed.
CREATE TABLE addresses (
	owner        TEXT NOT NULL,
	addr         TEXT NOT NULL,
	token        TEXT NOT NULL UNIQUE,
	requested_at INTEGER NOT NULL,
	confirmed    INTEGER NOT NULL DEFAULT 0,
	opted_out    INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (owner, addr)
);
CREATE TABLE suppressed (
	addr   TEXT PRIMARY KEY,
	reason TEXT NOT NULL,
	at     INTEGER NOT NULL
);
