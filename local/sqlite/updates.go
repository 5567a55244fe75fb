package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/longrun/longrun"
)

// DB numbers and keeps the owners' updates.
var _ longrun.Replay = (*DB)(nil)

// Record keeps msg as owner's next update, and forgets the owner's
// updates past longrun.MaxReplay or longrun.UpdateRetention.
func (db *DB) Record(ctx context.Context, owner string, msg []byte) (int64, error) {
	var seq int64
	err := db.tx(ctx, func(tx *sql.Tx) error {
		if err := tx.QueryRow(`INSERT INTO updates_seq (owner, seq) VALUES (?, 1)
			ON CONFLICT (owner) DO UPDATE SET seq = seq + 1 RETURNING seq`, owner).Scan(&seq); err != nil {
			return err
		}
		now := db.now()
		if _, err := tx.Exec(`INSERT INTO updates (owner, seq, at, msg) VALUES (?, ?, ?, ?)`, owner, seq, now, msg); err != nil {
			return err
		}
		_, err := tx.Exec(`DELETE FROM updates WHERE owner = ? AND (seq <= ? OR at < ?)`,
			owner, seq-longrun.MaxReplay, now-int64(longrun.UpdateRetention))
		return err
	})
	if err != nil {
		return 0, unavailable(err)
	}
	return seq, nil
}

// Seq returns owner's last update's number.
func (db *DB) Seq(ctx context.Context, owner string) (int64, error) {
	var seq int64
	err := db.r.QueryRowContext(ctx, `SELECT seq FROM updates_seq WHERE owner = ?`, owner).Scan(&seq)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, unavailable(err)
	}
	return seq, nil
}

// Since returns owner's updates after seq, and whether they are all.
func (db *DB) Since(ctx context.Context, owner string, seq int64) ([]longrun.Update, bool, error) {
	last, err := db.Seq(ctx, owner)
	if err != nil {
		return nil, false, err
	}
	rows, err := db.r.QueryContext(ctx, `SELECT seq, at, msg FROM updates WHERE owner = ? AND seq > ? AND seq <= ? AND at >= ?
		ORDER BY seq LIMIT ?`, owner, seq, last, db.now()-int64(longrun.UpdateRetention), longrun.MaxReplay+1)
	if err != nil {
		return nil, false, unavailable(err)
	}
	defer rows.Close()
	var out []longrun.Update
	for rows.Next() {
		var u longrun.Update
		var at int64
		if err := rows.Scan(&u.Seq, &at, &u.Message); err != nil {
			return nil, false, err
		}
		u.At = time.Unix(0, at).UTC()
		out = append(out, u)
	}
	if err := rows.Err(); err != nil {
		return nil, false, err
	}
	return out, longrun.Complete(out, seq, last), nil
}
