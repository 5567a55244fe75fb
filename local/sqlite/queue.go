package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"time"

	"github.com/longrun/longrun"
	"github.com/longrun/longrun/local/pump"
)

var (
	_ longrun.Queue = (*DB)(nil)
	_ pump.Queue    = (*DB)(nil)
)

// SendJob enqueues a render job.
func (db *DB) SendJob(ctx context.Context, job longrun.Job) error {
	body, err := json.Marshal(job)
	if err != nil {
		return err
	}
	now := db.now()
	if _, err := db.w.ExecContext(ctx, `INSERT INTO jobs (body, visible_at, sent_at) VALUES (?, ?, ?)`, body, now, now); err != nil {
		return unavailable(err)
	}
	signal(db.jobs)
	return nil
}

// JobsReady is signalled when a job is sent.
func (db *DB) JobsReady() <-chan struct{} { return db.jobs }

// Receive delivers up to max visible jobs, oldest first, and hides them for
// visibility. A job already received maxReceives times is moved to the
// dead-letter table instead, as SQS's redrive policy does.
func (db *DB) Receive(ctx context.Context, max int, visibility time.Duration, maxReceives int) ([]pump.Message, error) {
	var out []pump.Message
	err := db.tx(ctx, func(tx *sql.Tx) error {
		now := db.now()
		if _, err := tx.Exec(`INSERT INTO dead_letters (id, body, receives, sent_at, dead_at)
			SELECT id, body, receives, sent_at, ? FROM jobs WHERE visible_at <= ? AND receives >= ?`, now, now, maxReceives); err != nil {
			return err
		}
		if _, err := tx.Exec(`DELETE FROM jobs WHERE visible_at <= ? AND receives >= ?`, now, maxReceives); err != nil {
			return err
		}
		rows, err := tx.Query(`UPDATE jobs SET visible_at = ?, receives = receives + 1
			WHERE id IN (SELECT id FROM jobs WHERE visible_at <= ? ORDER BY id LIMIT ?)
			RETURNING id, body, receives, sent_at`, now+int64(visibility), now, max)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var m pump.Message
			var sent int64
			if err := rows.Scan(&m.ID, &m.Body, &m.Receives, &sent); err != nil {
				return err
			}
			m.SentAt = time.Unix(0, sent).UTC()
			out = append(out, m)
		}
		return rows.Err()
	})
	return out, err
}

// DeleteJob removes a processed job.
func (db *DB) DeleteJob(ctx context.Context, id int64) error {
	_, err := db.w.ExecContext(ctx, `DELETE FROM jobs WHERE id = ?`, id)
	return err
}

// ChangeVisibility makes a received job visible again after d.
func (db *DB) ChangeVisibility(ctx context.Context, id int64, d time.Duration) error {
	_, err := db.w.ExecContext(ctx, `UPDATE jobs SET visible_at = ? WHERE id = ?`, db.now()+int64(d), id)
	if err == nil && d <= 0 {
		signal(db.jobs)
	}
	return err
}

// ReleaseInFlight makes every received job visible again: at start-up the
// jobs a previous process had received are orphans.
func (db *DB) ReleaseInFlight(ctx context.Context) (int64, error) {
	now := db.now()
	res, err := db.w.ExecContext(ctx, `UPDATE jobs SET visible_at = ? WHERE visible_at > ?`, now, now)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// QueueStats counts the queue's jobs.
func (db *DB) QueueStats(ctx context.Context) (pump.Stats, error) {
	var s pump.Stats
	var oldest sql.NullInt64
	now := db.now()
	err := db.r.QueryRowContext(ctx, `SELECT
		(SELECT count(*) FROM jobs WHERE visible_at <= ?),
		(SELECT count(*) FROM jobs WHERE visible_at > ?),
		(SELECT count(*) FROM dead_letters),
		(SELECT min(sent_at) FROM jobs)`, now, now).Scan(&s.Visible, &s.InFlight, &s.Dead, &oldest)
	if oldest.Valid {
		s.OldestSent = time.Unix(0, oldest.Int64).UTC()
	}
	return s, err
}

// DeadLetters lists the dead-lettered jobs, newest first.
func (db *DB) DeadLetters(ctx context.Context) ([]pump.Message, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT id, body, receives, sent_at FROM dead_letters ORDER BY dead_at DESC LIMIT 100`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []pump.Message
	for rows.Next() {
		var m pump.Message
		var sent int64
		if err := rows.Scan(&m.ID, &m.Body, &m.Receives, &sent); err != nil {
			return nil, err
		}
		m.SentAt = time.Unix(0, sent).UTC()
		out = append(out, m)
	}
	return out, rows.Err()
}

// Redrive moves a dead-lettered job back to the queue with no receives and
// returns it.
func (db *DB) Redrive(ctx context.Context, id int64) (longrun.Job, error) {
	var body string
	err := db.tx(ctx, func(tx *sql.Tx) error {
		if err := tx.QueryRow(`DELETE FROM dead_letters WHERE id = ? RETURNING body`, id).Scan(&body); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return longrun.Errorf(longrun.ENOTFOUND, "dead letter not found")
			}
			return err
		}
		now := db.now()
		_, err := tx.Exec(`INSERT INTO jobs (body, visible_at, sent_at) VALUES (?, ?, ?)`, body, now, now)
		return err
	})
	var job longrun.Job
	if err == nil {
		signal(db.jobs)
		err = json.Unmarshal([]byte(body), &job)
	}
	return job, err
}
