package sqlite

import (
	"context"
	"database/sql"

	"github.com/longrun/longrun"
)

var _ longrun.TileLedger = (*DB)(nil)

// MarkTile records tile index of the version done, once, and counts the
// version's tiles done, in one transaction. The tiles of the
// configuration's older versions are forgotten.
func (db *DB) MarkTile(ctx context.Context, id string, version int64, index int, r longrun.TileResult) (done int, marked bool, err error) {
	err = db.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.Exec(`DELETE FROM tiles WHERE id = ? AND version < ?`, id, version); err != nil {
			return unavailable(err)
		}
		res, err := tx.Exec(`INSERT INTO tiles (id, version, tile, lo, hi, iterations, render_ms) VALUES (?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT DO NOTHING`, id, version, index, r.Lo, r.Hi, r.Iterations, r.RenderMs)
		if err != nil {
			return unavailable(err)
		}
		n, _ := res.RowsAffected()
		marked = n == 1
		if err := tx.QueryRow(`SELECT count(*) FROM tiles WHERE id = ? AND version = ?`, id, version).Scan(&done); err != nil {
			return unavailable(err)
		}
		return nil
	})
	return done, marked, err
}

// TileTally sums the version's tiles done.
func (db *DB) TileTally(ctx context.Context, id string, version int64) (*longrun.TileTally, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT tile, lo, hi, iterations, render_ms FROM tiles WHERE id = ? AND version = ? ORDER BY tile`, id, version)
	if err != nil {
		return nil, unavailable(err)
	}
	defer rows.Close()
	t := &longrun.TileTally{}
	for rows.Next() {
		var tile, lo, hi int
		var it int64
		var ms float64 // a REAL, or an INTEGER kept before fractions were
		if err := rows.Scan(&tile, &lo, &hi, &it, &ms); err != nil {
			return nil, unavailable(err)
		}
		if len(t.Tiles) == 0 {
			t.Lo, t.Hi = lo, hi
		}
		t.Tiles = append(t.Tiles, tile)
		t.Lo, t.Hi = min(t.Lo, lo), max(t.Hi, hi)
		t.Iterations += it
		t.RenderMs += ms
	}
	if err := rows.Err(); err != nil {
		return nil, unavailable(err)
	}
	return t, nil
}
