package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"time"

	"github.com/longrun/longrun"
	"github.com/longrun/longrun/local/pump"
	"github.com/longrun/longrun/worker"
)

var (
	_ longrun.Queue      = (*DB)(nil)
	_ worker.Requeuer    = (*DB)(nil)
	_ worker.BatchSender = (*DB)(nil)
	_ pump.Queue         = (*DB)(nil)
)

// SendJob enqueues a render job.
func (db *DB) SendJob(ctx context.Context, job longrun.Job) error {
	return db.SendJobAfter(ctx, job, 0)
}

// SendJobAfter enqueues a render job, to be delivered after delay.
func (db *DB) SendJobAfter(ctx context.Context, job longrun.Job, delay time.Duration) error {
	if err := db.tx(ctx, func(tx *sql.Tx) error { return db.insertJob(tx, job, delay) }); err != nil {
		return err
	}
	signal(db.jobs)
	return nil
}

// insertJob queues job in tx, to be delivered after delay. Its client's
// and owner's shares, if they had no jobs, restart at the least served of
// their busy peers (migration 0008).
func (db *DB) insertJob(tx *sql.Tx, job longrun.Job, delay time.Duration) error {
	body, err := json.Marshal(job)
	if err != nil {
		return err
	}
	client, owner := job.Group(), job.Owner
	if _, err := tx.Exec(`INSERT INTO job_shares (key, served) VALUES ('c ' || ?1,
			coalesce((SELECT min(served) FROM job_shares WHERE key IN (SELECT DISTINCT 'c ' || client FROM jobs)), 0))
		ON CONFLICT (key) DO UPDATE SET served = excluded.served WHERE NOT EXISTS (SELECT 1 FROM jobs WHERE client = ?1)`, client); err != nil {
		return err
	}
	if _, err := tx.Exec(`INSERT INTO job_shares (key, served) VALUES ('o ' || ?1 || ' ' || ?2,
			coalesce((SELECT min(served) FROM job_shares WHERE key IN (SELECT DISTINCT 'o ' || client || ' ' || grp FROM jobs WHERE client = ?1)), 0))
		ON CONFLICT (key) DO UPDATE SET served = excluded.served WHERE NOT EXISTS (SELECT 1 FROM jobs WHERE client = ?1 AND grp = ?2)`, client, owner); err != nil {
		return err
	}
	now := db.now()
	_, err = tx.Exec(`INSERT INTO jobs (body, visible_at, sent_at, grp, client, work) VALUES (?, ?, ?, ?, ?, ?)`,
		body, now+int64(delay), now, owner, client, max(job.Work, 1))
	return err
}

// SendJobs enqueues jobs in one transaction.
func (db *DB) SendJobs(ctx context.Context, jobs []longrun.Job) error {
	err := db.tx(ctx, func(tx *sql.Tx) error {
		for _, job := range jobs {
			if err := db.insertJob(tx, job, 0); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return unavailable(err)
	}
	signal(db.jobs)
	return nil
}

// JobsReady is signalled when a job is sent.
func (db *DB) JobsReady() <-chan struct{} { return db.jobs }

// Receive delivers up to max visible jobs and hides them for visibility:
// each from the client served least work, then that client's owner served
// least, the oldest of that owner's jobs; the job's work is charged to
// both shares. A job already received maxReceives times is moved to the
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
		for len(out) < max {
			m, ok, err := receiveOne(tx, now, now+int64(visibility))
			if err != nil || !ok {
				return err
			}
			out = append(out, m)
		}
		return nil
	})
	return out, err
}

// receiveOne delivers the next job in fair order, if one is visible.
func receiveOne(tx *sql.Tx, now, hidden int64) (pump.Message, bool, error) {
	var m pump.Message
	var client, owner string
	// Ties go to the share with fewer jobs in flight, then to the oldest job.
	err := tx.QueryRow(`SELECT j.client FROM jobs j LEFT JOIN job_shares s ON s.key = 'c ' || j.client
		WHERE j.visible_at <= ?1 GROUP BY j.client ORDER BY coalesce(min(s.served), 0),
			(SELECT count(*) FROM jobs f WHERE f.client = j.client AND f.visible_at > ?1 AND f.receives > 0), min(j.id)
		LIMIT 1`, now).Scan(&client)
	if errors.Is(err, sql.ErrNoRows) {
		return m, false, nil
	}
	if err != nil {
		return m, false, err
	}
	if err := tx.QueryRow(`SELECT j.grp FROM jobs j LEFT JOIN job_shares s ON s.key = 'o ' || j.client || ' ' || j.grp
		WHERE j.visible_at <= ?1 AND j.client = ?2 GROUP BY j.grp ORDER BY coalesce(min(s.served), 0),
			(SELECT count(*) FROM jobs f WHERE f.client = ?2 AND f.grp = j.grp AND f.visible_at > ?1 AND f.receives > 0), min(j.id)
		LIMIT 1`,
		now, client).Scan(&owner); err != nil {
		return m, false, err
	}
	var sent, work int64
	if err := tx.QueryRow(`UPDATE jobs SET visible_at = ?, receives = receives + 1
		WHERE id = (SELECT min(id) FROM jobs WHERE visible_at <= ? AND client = ? AND grp = ?)
		RETURNING id, body, receives, sent_at, work`, hidden, now, client, owner).Scan(&m.ID, &m.Body, &m.Receives, &sent, &work); err != nil {
		return m, false, err
	}
	m.SentAt = time.Unix(0, sent).UTC()
	_, err = tx.Exec(`INSERT INTO job_shares (key, served) VALUES ('c ' || ?1, ?3), ('o ' || ?1 || ' ' || ?2, ?3)
		ON CONFLICT (key) DO UPDATE SET served = served + excluded.served`, client, owner, work)
	return m, true, err
}

// DeleteJob removes a processed job.
func (db *DB) DeleteJob(ctx context.Context, id int64) error {
	var work int64
	err := db.w.QueryRowContext(ctx, `DELETE FROM jobs WHERE id = ? RETURNING work`, id).Scan(&work)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err == nil {
		db.finished(db.now(), work)
	}
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
		var job longrun.Job
		if err := json.Unmarshal([]byte(body), &job); err != nil {
			return err
		}
		return db.insertJob(tx, job, 0)
	})
	var job longrun.Job
	if err == nil {
		signal(db.jobs)
		err = json.Unmarshal([]byte(body), &job)
	}
	return job, err
}
