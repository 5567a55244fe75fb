package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/longrun/longrun/local/pump"
)

var _ pump.Log = (*DB)(nil)

// ChangesReady is signalled when a change is logged.
func (db *DB) ChangesReady() <-chan struct{} { return db.changes }

// Changes returns up to limit changes after seq, in order.
func (db *DB) Changes(ctx context.Context, after int64, limit int) ([]pump.Change, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT seq, id, old, new, at FROM changes WHERE seq > ? ORDER BY seq LIMIT ?`, after, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []pump.Change
	for rows.Next() {
		var c pump.Change
		var at int64
		if err := rows.Scan(&c.Seq, &c.ID, &c.Old, &c.New, &at); err != nil {
			return nil, err
		}
		c.At = time.Unix(0, at).UTC()
		out = append(out, c)
	}
	return out, rows.Err()
}

// Cursor returns the last change seq the named consumer finished, 0 if none.
func (db *DB) Cursor(ctx context.Context, name string) (int64, error) {
	var seq int64
	err := db.w.QueryRowContext(ctx, `SELECT seq FROM cursors WHERE name = ?`, name).Scan(&seq)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return seq, err
}

// SetCursor records that the named consumer finished every change up to
// seq, and forgets changes that every consumer has finished.
func (db *DB) SetCursor(ctx context.Context, name string, seq int64) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.Exec(`INSERT INTO cursors (name, seq) VALUES (?, ?)
			ON CONFLICT (name) DO UPDATE SET seq = excluded.seq`, name, seq); err != nil {
			return err
		}
		_, err := tx.Exec(`DELETE FROM changes WHERE seq <= (SELECT min(seq) FROM cursors)`)
		return err
	})
}
