package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"time"

	"github.com/longrun/longrun/local/pump"
	"github.com/longrun/longrun/notify"
)

// A MailQueue holds e-mails to try again: notify's retry queue, which the
// local runner pumps to the notifier as SQS events.
type MailQueue struct {
	db    *DB
	ready chan struct{}
}

// MailQueue implements these ports.
var (
	_ notify.RetryQueue = (*MailQueue)(nil)
	_ pump.Queue        = (*MailQueue)(nil)
)

// MailQueue returns the database's e-mail retry queue.
func (db *DB) MailQueue() *MailQueue { return db.mail }

// SendMailAfter queues r, to be delivered after delay.
func (q *MailQueue) SendMailAfter(ctx context.Context, r notify.Retry, delay time.Duration) error {
	body, err := json.Marshal(r)
	if err != nil {
		return err
	}
	now := q.db.now()
	if _, err := q.db.w.ExecContext(ctx, `INSERT INTO mail_retries (body, visible_at, sent_at) VALUES (?, ?, ?)`,
		body, now+int64(delay), now); err != nil {
		return unavailable(err)
	}
	signal(q.ready)
	return nil
}

// JobsReady is signalled when an e-mail is queued.
func (q *MailQueue) JobsReady() <-chan struct{} { return q.ready }

// Receive delivers up to max visible e-mails, oldest first, and hides them
// for visibility. The notifier queues a failed e-mail again itself, so
// nothing is dead-lettered.
func (q *MailQueue) Receive(ctx context.Context, max int, visibility time.Duration, _ int) ([]pump.Message, error) {
	var out []pump.Message
	err := q.db.tx(ctx, func(tx *sql.Tx) error {
		now := q.db.now()
		rows, err := tx.Query(`UPDATE mail_retries SET visible_at = ?, receives = receives + 1
			WHERE id IN (SELECT id FROM mail_retries WHERE visible_at <= ? ORDER BY visible_at, id LIMIT ?)
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

// DeleteJob removes a handled e-mail.
func (q *MailQueue) DeleteJob(ctx context.Context, id int64) error {
	_, err := q.db.w.ExecContext(ctx, `DELETE FROM mail_retries WHERE id = ?`, id)
	return err
}

// ChangeVisibility makes a received e-mail visible again after d.
func (q *MailQueue) ChangeVisibility(ctx context.Context, id int64, d time.Duration) error {
	_, err := q.db.w.ExecContext(ctx, `UPDATE mail_retries SET visible_at = ? WHERE id = ?`, q.db.now()+int64(d), id)
	return err
}
