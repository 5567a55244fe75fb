-- The browsers each owner asked to be notified on with the page closed
-- (Web Push subscriptions), at most longrun.MaxDevices an owner.
CREATE TABLE devices (
	owner    TEXT NOT NULL,
	endpoint TEXT NOT NULL,
	p256dh   TEXT NOT NULL,
	auth     TEXT NOT NULL,
	added_at INTEGER NOT NULL,
	PRIMARY KEY (owner, endpoint)
);
