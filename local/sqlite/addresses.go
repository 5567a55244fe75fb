package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

	"github.com/longrun/longrun"
)

var _ longrun.Addresses = (*DB)(nil)

func (db *DB) address(row *sql.Row) (longrun.Address, error) {
	var a longrun.Address
	var at int64
	err := row.Scan(&a.Owner, &a.Addr, &a.Token, &at, &a.Confirmed, &a.OptedOut, &a.UnsubscribeToken)
	if errors.Is(err, sql.ErrNoRows) {
		return a, longrun.Errorf(longrun.ENOTFOUND, "no such address")
	}
	if err != nil {
		return a, unavailable(err)
	}
	a.RequestedAt = time.Unix(0, at).UTC()
	return a, nil
}

const addressColumns = `owner, addr, token, requested_at, confirmed, opted_out, coalesce(unsub_token, '')`

// Address returns owner's record of addr.
func (db *DB) Address(ctx context.Context, owner, addr string) (longrun.Address, error) {
	return db.address(db.r.QueryRowContext(ctx, `SELECT `+addressColumns+` FROM addresses WHERE owner = ? AND addr = ?`,
		owner, strings.ToLower(addr)))
}

// AddressByToken returns the record a link's token names.
func (db *DB) AddressByToken(ctx context.Context, token string) (longrun.Address, error) {
	return db.address(db.r.QueryRowContext(ctx, `SELECT `+addressColumns+` FROM addresses WHERE token = ?1 OR unsub_token = ?1`, token))
}

// PutAddress stores a record; with create, only if owner has none of addr.
func (db *DB) PutAddress(ctx context.Context, a longrun.Address, create bool) (bool, error) {
	q := `INSERT INTO addresses (owner, addr, token, requested_at, confirmed, opted_out, unsub_token) VALUES (?, ?, ?, ?, ?, ?, nullif(?, ''))`
	if create {
		q += ` ON CONFLICT DO NOTHING`
	} else {
		q += ` ON CONFLICT (owner, addr) DO UPDATE SET token = excluded.token, requested_at = excluded.requested_at,
			confirmed = excluded.confirmed, opted_out = excluded.opted_out, unsub_token = excluded.unsub_token`
	}
	res, err := db.w.ExecContext(ctx, q, a.Owner, strings.ToLower(a.Addr), a.Token, a.RequestedAt.UnixNano(), a.Confirmed, a.OptedOut, a.UnsubscribeToken)
	if err != nil {
		return false, unavailable(err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// Suppress puts addr on the suppression list.
func (db *DB) Suppress(ctx context.Context, addr, reason string) error {
	_, err := db.w.ExecContext(ctx, `INSERT INTO suppressed (addr, reason, at) VALUES (?, ?, ?)
		ON CONFLICT (addr) DO UPDATE SET reason = excluded.reason, at = excluded.at`, strings.ToLower(addr), reason, db.now())
	if err != nil {
		return unavailable(err)
	}
	return nil
}

// Suppressed reports whether addr is on the suppression list.
func (db *DB) Suppressed(ctx context.Context, addr string) (bool, error) {
	var n int
	if err := db.r.QueryRowContext(ctx, `SELECT count(*) FROM suppressed WHERE addr = ?`, strings.ToLower(addr)).Scan(&n); err != nil {
		return false, unavailable(err)
	}
	return n > 0, nil
}
