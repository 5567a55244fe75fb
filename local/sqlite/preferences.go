package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"

	"github.com/longrun/longrun"
)

// DB keeps the owners' default channels.
var _ longrun.Preferences = (*DB)(nil)

// Preferences returns owner's default channels.
func (db *DB) Preferences(ctx context.Context, owner string) (longrun.Channels, error) {
	var c longrun.Channels
	var body []byte
	err := db.r.QueryRowContext(ctx, `SELECT body FROM preferences WHERE owner = ?`, owner).Scan(&body)
	if errors.Is(err, sql.ErrNoRows) {
		return c, nil
	}
	if err != nil {
		return c, unavailable(err)
	}
	return c, json.Unmarshal(body, &c)
}

// SetPreferences keeps owner's default channels.
func (db *DB) SetPreferences(ctx context.Context, owner string, c longrun.Channels) error {
	body, err := json.Marshal(c)
	if err != nil {
		return err
	}
	if _, err := db.w.ExecContext(ctx, `INSERT INTO preferences (owner, body) VALUES (?, ?)
		ON CONFLICT (owner) DO UPDATE SET body = excluded.body`, owner, body); err != nil {
		return unavailable(err)
	}
	return nil
}
