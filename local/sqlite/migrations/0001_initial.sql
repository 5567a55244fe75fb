-- The schema as longrun first shipped it, before migrations were
-- recorded: every statement is IF NOT EXISTS, so a database made by it
-- migrates as if from empty.
CREATE TABLE IF NOT EXISTS configurations (
	id         TEXT PRIMARY KEY,
	owner      TEXT NOT NULL,
	created_at INTEGER NOT NULL, -- unix nanoseconds
	seq        INTEGER NOT NULL,
	body       TEXT NOT NULL     -- longrun record JSON
);
CREATE INDEX IF NOT EXISTS configurations_by_owner ON configurations (owner, created_at DESC, id DESC);

CREATE TABLE IF NOT EXISTS results (
	hash       TEXT PRIMARY KEY,
	body       TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS claims (
	hash  TEXT PRIMARY KEY,
	token TEXT NOT NULL,
	until INTEGER NOT NULL
);

-- The job queue, with SQS's semantics: a received message is invisible
-- until visible_at; each receive counts; too many and it is dead-lettered.
CREATE TABLE IF NOT EXISTS jobs (
	id         INTEGER PRIMARY KEY AUTOINCREMENT,
	body       TEXT NOT NULL,
	visible_at INTEGER NOT NULL,
	receives   INTEGER NOT NULL DEFAULT 0,
	sent_at    INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS jobs_by_visibility ON jobs (visible_at, id);

CREATE TABLE IF NOT EXISTS dead_letters (
	id         INTEGER PRIMARY KEY,
	body       TEXT NOT NULL,
	receives   INTEGER NOT NULL,
	sent_at    INTEGER NOT NULL,
	dead_at    INTEGER NOT NULL
);

-- The change feed: every write to a configuration, with old and new images.
CREATE TABLE IF NOT EXISTS changes (
	seq     INTEGER PRIMARY KEY AUTOINCREMENT,
	id      TEXT NOT NULL,
	old     TEXT,
	new     TEXT,
	at      INTEGER NOT NULL
);

CREATE TABLE IF NOT EXISTS cursors (
	name TEXT PRIMARY KEY,
	seq  INTEGER NOT NULL
);

CREATE TABLE IF NOT EXISTS sent (
	key TEXT PRIMARY KEY,
	at  INTEGER NOT NULL
);
