-- Each owner's default notification channels (longrun.Preferences).
CREATE TABLE preferences (owner TEXT PRIMARY KEY, body BLOB NOT NULL);
