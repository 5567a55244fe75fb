// Package sqlite keeps longrun's state in one SQLite file: configurations,
// results by params hash, the job queue (with SQS's visibility timeout,
// receive count and dead-letter table), the change feed and the record of
// sent notifications. Every write to a configuration appends its old and new
// images to the change log in the same transaction.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"

	_ "modernc.org/sqlite"

	"github.com/longrun/longrun"
	"github.com/longrun/longrun/notify"
	"github.com/longrun/longrun/tracing"
	"github.com/longrun/longrun/worker"
)

// migrations are the schema's steps, applied in the order of their names
// and recorded in the migrations table, each once.
//
//go:embed migrations/*.sql
var migrations embed.FS

// A DB is an open longrun database.
type DB struct {
	w, r *sql.DB // one writer connection; a pool of readers
	// Now is the clock; tests may replace it before use.
	Now func() time.Time

	jobs    chan struct{} // a job was sent
	mail    *MailQueue
	changes chan struct{} // a change was logged

	paceMu sync.Mutex
	recent []finish // the jobs finished over the last minute, for the pace
}

// DB implements these ports.
var (
	_ longrun.Store   = (*DB)(nil)
	_ longrun.Results = (*DB)(nil)
	_ worker.Leases   = (*DB)(nil)
	_ notify.Sent     = (*DB)(nil)
)

// Open opens (creating if needed) the database file at path.
func Open(ctx context.Context, path string) (*DB, error) {
	dsn := "file:" + path + "?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)&_pragma=synchronous(NORMAL)&_pragma=foreign_keys(on)"
	w, err := sql.Open("sqlite", dsn+"&_txlock=immediate")
	if err != nil {
		return nil, err
	}
	w.SetMaxOpenConns(1)
	if err := migrate(ctx, w); err != nil {
		w.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	r, err := sql.Open("sqlite", dsn+"&mode=ro")
	if err != nil {
		w.Close()
		return nil, err
	}
	r.SetMaxOpenConns(8)
	db := &DB{w: w, r: r, Now: func() time.Time { return time.Now().UTC() },
		jobs: make(chan struct{}, 1), changes: make(chan struct{}, 1)}
	db.mail = &MailQueue{db: db, ready: make(chan struct{}, 1)}
	return db, nil
}

// migrate applies the migrations the database has not had yet, each in a
// transaction with its record.
func migrate(ctx context.Context, db *sql.DB) error {
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS migrations (name TEXT PRIMARY KEY, at INTEGER NOT NULL)`); err != nil {
		return err
	}
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return err
	}
	slices.Sort(names)
	for _, name := range names {
		if err := migrateOne(ctx, db, name); err != nil {
			return fmt.Errorf("migration %s: %w", name, err)
		}
	}
	return nil
}

func migrateOne(ctx context.Context, db *sql.DB, name string) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var n int
	if err := tx.QueryRow(`SELECT count(*) FROM migrations WHERE name = ?`, name).Scan(&n); err != nil || n > 0 {
		return err
	}
	body, err := fs.ReadFile(migrations, name)
	if err != nil {
		return err
	}
	if _, err := tx.Exec(string(body)); err != nil {
		return err
	}
	if _, err := tx.Exec(`INSERT INTO migrations (name, at) VALUES (?, ?)`, name, time.Now().UnixNano()); err != nil {
		return err
	}
	return tx.Commit()
}

// Close closes the database.
func (db *DB) Close() error { return errors.Join(db.r.Close(), db.w.Close()) }

func (db *DB) now() int64 { return db.Now().UnixNano() }

func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// tx runs fn in a write transaction: in a trace, a span named for the
// store's method that asked for it.
func (db *DB) tx(ctx context.Context, fn func(*sql.Tx) error) (err error) {
	if tracing.InTrace(ctx) {
		done := tracing.Call(ctx, "sqlite "+caller())
		defer func() { done(err) }()
	}
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return unavailable(err)
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return unavailable(err)
	}
	return nil
}

// caller names the exported method of the store that began a write (the
// nearest on the stack), "write" if none.
func caller() string {
	pcs := make([]uintptr, 6)
	frames := runtime.CallersFrames(pcs[:runtime.Callers(3, pcs)])
	for {
		f, more := frames.Next()
		name := f.Function[strings.LastIndex(f.Function, ".")+1:]
		if strings.Contains(f.Function, "/local/sqlite.") && name != "" && unicode.IsUpper(rune(name[0])) {
			return name
		}
		if !more {
			return "write"
		}
	}
}

func unavailable(err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return longrun.Unavailable("the database", err)
}

// Configurations.

func (db *DB) logChange(tx *sql.Tx, id string, old, cur []byte) error {
	var o, n any
	if old != nil {
		o = string(old)
	}
	if cur != nil {
		n = string(cur)
	}
	_, err := tx.Exec(`INSERT INTO changes (id, old, new, at) VALUES (?, ?, ?, ?)`, id, o, n, db.now())
	return err
}

// CreateConfiguration stores a new configuration, if its owner's counts
// with it stay within a, counted in the same transaction (the writer is
// one connection, so concurrent creates are serialised), and queues its
// job in that transaction too when it is queued and a asks (Enqueue).
func (db *DB) CreateConfiguration(ctx context.Context, c *longrun.Configuration, a longrun.Admission) error {
	c.Seq = 1
	body, err := c.MarshalRecord()
	if err != nil {
		return err
	}
	queued := false
	err = db.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.Exec(`INSERT INTO configurations (id, owner, created_at, seq, body, status, bytes) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			c.ID, c.Owner, c.CreatedAt.UnixNano(), c.Seq, body, string(c.Status), c.KeptBytes()); err != nil {
			if strings.Contains(err.Error(), "UNIQUE") {
				return longrun.Errorf(longrun.ECONFLICT, "configuration %s exists", c.ID)
			}
			return err
		}
		if queued, err = db.admit(tx, nil, c, a); err != nil {
			return err
		}
		if err := setRefs(tx, c); err != nil {
			return err
		}
		return db.logChange(tx, c.ID, nil, body)
	})
	if err == nil {
		signal(db.changes)
		if queued {
			signal(db.jobs)
		}
	}
	return err
}

// admit checks, in tx, the owner's counts after a write that took a
// configuration from was (nil: a create) to c against a: the stored count
// on a create, the active count when the write makes it active. It queues
// c's job when a asks and the write leaves it newly queued, and reports
// whether it did.
func (db *DB) admit(tx *sql.Tx, was, c *longrun.Configuration, a longrun.Admission) (bool, error) {
	if was != nil {
		a.MaxStored = 0 // an update keeps the stored count
		if !c.Status.Active() || was.Status.Active() {
			a.MaxActive, a.MaxBytes, a.MaxTotalBytes = 0, 0, 0 // and starts no render
		}
	}
	if err := checkTotal(tx, was, c, a); err != nil {
		return false, err
	}
	if a.MaxStored > 0 || a.MaxActive > 0 || a.MaxBytes > 0 {
		var stored, active int
		var bytes int64
		if err := tx.QueryRow(countConfigurations, c.Owner).Scan(&stored, &active, &bytes); err != nil {
			return false, err
		}
		bytes -= c.KeptBytes() // the quota is on what the owner kept before the write
		if was != nil {
			bytes += was.KeptBytes()
		}
		if err := a.Check(stored, active, bytes); err != nil {
			return false, err
		}
	}
	if !a.Enqueue || !longrun.NewlyQueued(was, c) {
		return false, nil
	}
	return true, db.insertJob(tx, c.Job(), 0)
}

// checkTotal checks, in tx, the bytes all configurations kept before a
// write that took was (nil: a create) to c against a's quota in all.
func checkTotal(tx *sql.Tx, was, c *longrun.Configuration, a longrun.Admission) error {
	if a.MaxTotalBytes <= 0 {
		return nil
	}
	var total int64
	if err := tx.QueryRow(`SELECT bytes FROM kept_total`).Scan(&total); err != nil {
		return err
	}
	total -= c.KeptBytes()
	if was != nil {
		total += was.KeptBytes()
	}
	return a.CheckTotal(total)
}

// setRefs records, in tx, the images c keeps (migration 0011).
func setRefs(tx *sql.Tx, c *longrun.Configuration) error {
	if _, err := tx.Exec(`DELETE FROM image_refs WHERE id = ?`, c.ID); err != nil {
		return err
	}
	for _, h := range c.KeptHashes() {
		if _, err := tx.Exec(`INSERT OR IGNORE INTO image_refs (hash, id) VALUES (?, ?)`, h, c.ID); err != nil {
			return err
		}
	}
	return nil
}

// UnkeptResults returns up to limit results that no configuration keeps,
// made before before: their images can go.
func (db *DB) UnkeptResults(ctx context.Context, before time.Time, limit int) ([]string, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT hash FROM results r WHERE created_at < ?
		AND NOT EXISTS (SELECT 1 FROM image_refs f WHERE f.hash = r.hash) LIMIT ?`, before.UnixNano(), limit)
	if err != nil {
		return nil, unavailable(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var h string
		if err := rows.Scan(&h); err != nil {
			return nil, err
		}
		out = append(out, h)
	}
	return out, rows.Err()
}

// SendsJobsFor reports that the database queues the jobs of its admitted
// writes itself when it is the service's queue: the configuration and its
// job are written in one transaction.
func (db *DB) SendsJobsFor(q longrun.Queue) bool { return q == longrun.Queue(db) }

func scanConfiguration(row interface{ Scan(...any) error }) (*longrun.Configuration, error) {
	var body []byte
	if err := row.Scan(&body); err != nil {
		return nil, err
	}
	return longrun.UnmarshalRecord(body)
}

// Configuration returns the configuration with the id, whoever owns it.
func (db *DB) Configuration(ctx context.Context, id string) (*longrun.Configuration, error) {
	c, err := scanConfiguration(db.r.QueryRowContext(ctx, `SELECT body FROM configurations WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, longrun.Errorf(longrun.ENOTFOUND, "configuration not found")
	}
	return c, err
}

// Configurations lists an owner's configurations, newest first, limit at a
// time; cursor is "" for the first page and the returned next for the
// following ones ("" after the last).
func (db *DB) Configurations(ctx context.Context, owner, cursor string, limit int) ([]*longrun.Configuration, string, error) {
	after, afterID := int64(1<<63-1), ""
	if cursor != "" {
		b, err := base64.RawURLEncoding.DecodeString(cursor)
		t, id, ok := strings.Cut(string(b), "/")
		n, perr := strconv.ParseInt(t, 10, 64)
		if err != nil || !ok || perr != nil {
			return nil, "", &longrun.Error{Code: longrun.EINVALID, Message: "invalid cursor",
				Fields: []longrun.FieldError{{Field: "cursor", Rule: "must be a nextCursor from a previous page"}}}
		}
		after, afterID = n, id
	}
	rows, err := db.r.QueryContext(ctx, `SELECT body FROM configurations
		WHERE owner = ? AND (created_at < ? OR (created_at = ? AND id < ?))
		ORDER BY created_at DESC, id DESC LIMIT ?`, owner, after, after, afterID, limit+1)
	if err != nil {
		return nil, "", unavailable(err)
	}
	defer rows.Close()
	var list []*longrun.Configuration
	for rows.Next() {
		c, err := scanConfiguration(rows)
		if err != nil {
			return nil, "", err
		}
		list = append(list, c)
	}
	if err := rows.Err(); err != nil {
		return nil, "", unavailable(err)
	}
	next := ""
	if len(list) > limit {
		list = list[:limit]
		last := list[limit-1]
		next = base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(last.CreatedAt.UnixNano(), 10) + "/" + last.ID))
	}
	return list, next, nil
}

// UpdateConfiguration applies fn to the configuration and stores it, in one
// transaction, unless fn returns an error (returned as is).
func (db *DB) UpdateConfiguration(ctx context.Context, id string, fn func(*longrun.Configuration) error) (*longrun.Configuration, error) {
	return db.update(ctx, id, nil, fn)
}

// AdmitUpdate is UpdateConfiguration for a write that may queue a render
// again: one that makes the configuration active counts its owner's active
// configurations in the same transaction and is refused past a.MaxActive;
// one that leaves it newly queued queues its job in the transaction too,
// if a asks (Enqueue).
func (db *DB) AdmitUpdate(ctx context.Context, id string, a longrun.Admission, fn func(*longrun.Configuration) error) (*longrun.Configuration, error) {
	return db.update(ctx, id, &a, fn)
}

func (db *DB) update(ctx context.Context, id string, a *longrun.Admission, fn func(*longrun.Configuration) error) (*longrun.Configuration, error) {
	var c *longrun.Configuration
	queued := false
	err := db.tx(ctx, func(tx *sql.Tx) error {
		var old []byte
		err := tx.QueryRow(`SELECT body FROM configurations WHERE id = ?`, id).Scan(&old)
		if errors.Is(err, sql.ErrNoRows) {
			return longrun.Errorf(longrun.ENOTFOUND, "configuration not found")
		}
		if err != nil {
			return err
		}
		if c, err = longrun.UnmarshalRecord(old); err != nil {
			return err
		}
		was := *c
		if err := fn(c); err != nil {
			return err
		}
		c.Seq++
		cur, err := c.MarshalRecord()
		if err != nil {
			return err
		}
		if _, err := tx.Exec(`UPDATE configurations SET seq = ?, body = ?, status = ?, bytes = ? WHERE id = ?`,
			c.Seq, cur, string(c.Status), c.KeptBytes(), id); err != nil {
			return err
		}
		if a != nil {
			if queued, err = db.admit(tx, &was, c, *a); err != nil {
				return err
			}
		}
		if !slices.Equal(was.KeptHashes(), c.KeptHashes()) {
			if err := setRefs(tx, c); err != nil {
				return err
			}
		}
		return db.logChange(tx, id, old, cur)
	})
	if err != nil {
		return nil, err
	}
	signal(db.changes)
	if queued {
		signal(db.jobs)
	}
	return c, nil
}

// CountConfigurations counts an owner's configurations: all, and those
// queued or rendering. It reads the (owner, status) index alone, not the
// records (migration 0006; every write of a record writes its status).
func (db *DB) CountConfigurations(ctx context.Context, owner string) (stored, active int, err error) {
	err = db.r.QueryRowContext(ctx, countConfigurations, owner).Scan(&stored, &active, new(int64))
	if err != nil {
		return 0, 0, unavailable(err)
	}
	return stored, active, nil
}

const countConfigurations = `SELECT count(*), count(*) FILTER (WHERE status IN ('queued', 'rendering')), coalesce(sum(bytes), 0)
	FROM configurations WHERE owner = ?`

// DeleteConfiguration deletes the configuration.
func (db *DB) DeleteConfiguration(ctx context.Context, id string) error {
	err := db.tx(ctx, func(tx *sql.Tx) error {
		var old []byte
		err := tx.QueryRow(`DELETE FROM configurations WHERE id = ? RETURNING body`, id).Scan(&old)
		if errors.Is(err, sql.ErrNoRows) {
			return longrun.Errorf(longrun.ENOTFOUND, "configuration not found")
		}
		if err != nil {
			return err
		}
		if _, err := tx.Exec(`DELETE FROM tiles WHERE id = ?`, id); err != nil {
			return err
		}
		if _, err := tx.Exec(`DELETE FROM image_refs WHERE id = ?`, id); err != nil {
			return err
		}
		return db.logChange(tx, id, old, nil)
	})
	if err == nil {
		signal(db.changes)
	}
	return err
}

// Results.

// Result returns the result for hash, or nil if there is none.
func (db *DB) Result(ctx context.Context, hash string) (*longrun.Result, error) {
	var body []byte
	err := db.r.QueryRowContext(ctx, `SELECT body FROM results WHERE hash = ?`, hash).Scan(&body)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, unavailable(err)
	}
	var r longrun.Result
	return &r, json.Unmarshal(body, &r)
}

// PutResult stores r unless a result for its hash exists.
func (db *DB) PutResult(ctx context.Context, r *longrun.Result) error {
	body, err := json.Marshal(r)
	if err != nil {
		return err
	}
	_, err = db.w.ExecContext(ctx, `INSERT INTO results (hash, body, created_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`,
		r.Hash, body, db.now())
	return err
}

// DeleteResult forgets the result for hash.
func (db *DB) DeleteResult(ctx context.Context, hash string) error {
	if _, err := db.w.ExecContext(ctx, `DELETE FROM results WHERE hash = ?`, hash); err != nil {
		return unavailable(err)
	}
	return nil
}

// Claim takes a lease on rendering hash until the given time, unless another
// token holds an unexpired one.
func (db *DB) Claim(ctx context.Context, hash, token string, until time.Time) (bool, error) {
	res, err := db.w.ExecContext(ctx, `INSERT INTO claims (hash, token, until) VALUES (?, ?, ?)
		ON CONFLICT (hash) DO UPDATE SET token = excluded.token, until = excluded.until
		WHERE claims.until < ? OR claims.token = excluded.token`, hash, token, until.UnixNano(), db.now())
	if err != nil {
		return false, unavailable(err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// LeaseEnds returns when the lease on hash ends; zero if none is held.
func (db *DB) LeaseEnds(ctx context.Context, hash string) (time.Time, error) {
	var until int64
	err := db.r.QueryRowContext(ctx, `SELECT until FROM claims WHERE hash = ? AND until >= ?`, hash, db.now()).Scan(&until)
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, unavailable(err)
	}
	return time.Unix(0, until).UTC(), nil
}

// ReleaseClaims ends every render lease: at start-up the leases a previous
// process held are orphans.
func (db *DB) ReleaseClaims(ctx context.Context) error {
	_, err := db.w.ExecContext(ctx, `DELETE FROM claims`)
	return err
}

// Release ends token's lease on hash.
func (db *DB) Release(ctx context.Context, hash, token string) error {
	_, err := db.w.ExecContext(ctx, `DELETE FROM claims WHERE hash = ? AND token = ?`, hash, token)
	return err
}

// Sent notifications.

// MarkSent records key and reports whether it was new.
func (db *DB) MarkSent(ctx context.Context, key string) (bool, error) {
	res, err := db.w.ExecContext(ctx, `INSERT INTO sent (key, at) VALUES (?, ?) ON CONFLICT DO NOTHING`, key, db.now())
	if err != nil {
		return false, unavailable(err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// UnmarkSent forgets key.
func (db *DB) UnmarkSent(ctx context.Context, key string) error {
	_, err := db.w.ExecContext(ctx, `DELETE FROM sent WHERE key = ?`, key)
	return err
}
