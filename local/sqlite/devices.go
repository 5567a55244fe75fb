package sqlite

import (
	"context"
	"database/sql"
	"time"

	"github.com/longrun/longrun"
)

// DB keeps the owners' push devices.
var _ longrun.Devices = (*DB)(nil)

// AddDevice keeps d for owner, replacing the one of its endpoint, and
// forgets the oldest beyond longrun.MaxDevices.
func (db *DB) AddDevice(ctx context.Context, owner string, d longrun.Device) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.Exec(`INSERT INTO devices (owner, endpoint, p256dh, auth, added_at) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (owner, endpoint) DO UPDATE SET p256dh = excluded.p256dh, auth = excluded.auth, added_at = excluded.added_at`,
			owner, d.Endpoint, d.Keys.P256dh, d.Keys.Auth, d.AddedAt.UnixNano()); err != nil {
			return err
		}
		_, err := tx.Exec(`DELETE FROM devices WHERE owner = ? AND endpoint NOT IN
			(SELECT endpoint FROM devices WHERE owner = ? ORDER BY added_at DESC, endpoint LIMIT ?)`, owner, owner, longrun.MaxDevices)
		return err
	})
}

// Devices returns owner's devices, the oldest first.
func (db *DB) Devices(ctx context.Context, owner string) ([]longrun.Device, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT endpoint, p256dh, auth, added_at FROM devices WHERE owner = ? ORDER BY added_at, endpoint`, owner)
	if err != nil {
		return nil, unavailable(err)
	}
	defer rows.Close()
	var out []longrun.Device
	for rows.Next() {
		var d longrun.Device
		var at int64
		if err := rows.Scan(&d.Endpoint, &d.Keys.P256dh, &d.Keys.Auth, &at); err != nil {
			return nil, err
		}
		d.AddedAt = time.Unix(0, at).UTC()
		out = append(out, d)
	}
	return out, rows.Err()
}

// RemoveDevice forgets owner's device of endpoint.
func (db *DB) RemoveDevice(ctx context.Context, owner, endpoint string) error {
	if _, err := db.w.ExecContext(ctx, `DELETE FROM devices WHERE owner = ? AND endpoint = ?`, owner, endpoint); err != nil {
		return unavailable(err)
	}
	return nil
}
