-- Each purpose has its own token: the confirmation link's confirms, the
-- unsubscribe link's unsubscribes, and neither does the other's work (a
-- record from before has none: its one token still unsubscribes).
ALTER TABLE addresses ADD COLUMN unsub_token TEXT;
CREATE UNIQUE INDEX addresses_by_unsub_token ON addresses (unsub_token);
