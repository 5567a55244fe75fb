-- The tiles of tiled renders done, a row each, apart from the
-- configuration's record: a tile marked done is a row inserted once, and
-- the count of a version's rows says when all are; the record is written
-- only when progress moves a whole percent (longrun.TileLedger).
CREATE TABLE tiles (
  id TEXT NOT NULL,
  version INTEGER NOT NULL,
  tile INTEGER NOT NULL,
  lo INTEGER NOT NULL,
  hi INTEGER NOT NULL,
  iterations INTEGER NOT NULL,
  render_ms INTEGER NOT NULL,
  PRIMARY KEY (id, version, tile)
) WITHOUT ROWID;
