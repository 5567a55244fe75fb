-- Which configurations keep which images (their own, done, and their
-- earlier versions' rendered ones), written with every configuration
-- write: a result no configuration keeps is freed, its image deleted,
-- once past a grace period (so a render just finished, not yet pointed
-- at, is not). Results record when they were made.
CREATE TABLE image_refs (
	hash TEXT NOT NULL,
	id   TEXT NOT NULL,
	PRIMARY KEY (hash, id)
);
CREATE INDEX image_refs_by_id ON image_refs (id);
INSERT OR IGNORE INTO image_refs (hash, id)
	SELECT json_extract(body, '$.renderedHash'), id FROM configurations
	WHERE status = 'done' AND coalesce(json_extract(body, '$.renderedHash'), '') != '';
INSERT OR IGNORE INTO image_refs (hash, id)
	SELECT json_extract(h.value, '$.hash'), c.id FROM configurations c, json_each(c.body, '$.history') h
	WHERE json_extract(h.value, '$.rendered');
ALTER TABLE results ADD COLUMN created_at INTEGER NOT NULL DEFAULT 0;
