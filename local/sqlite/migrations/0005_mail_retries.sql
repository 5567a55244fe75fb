-- E-mails whose send failed, waiting to be tried again apart from the
-- change feed (a queue with SQS's visibility semantics, like jobs).
CREATE TABLE mail_retries (
	id         INTEGER PRIMARY KEY AUTOINCREMENT,
	body       TEXT NOT NULL,
	visible_at INTEGER NOT NULL,
	receives   INTEGER NOT NULL DEFAULT 0,
	sent_at    INTEGER NOT NULL
);
CREATE INDEX mail_retries_by_visibility ON mail_retries (visible_at, id);
