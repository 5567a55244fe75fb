package longrun

import (
	"context"
	"strconv"
	"time"
)

// An owner's updates — every change to their configurations the notifier
// pushes to their pages — are numbered in order and kept a while, so that a
// page that was away (a closed lid, a network change, a deploy) asks for
// what it missed instead of losing it: a page keeps the last number it
// applied and, on reconnecting or on seeing a gap, asks for those after it.

// An Update is one pushed message of an owner, with its number.
type Update struct {
	Seq     int64
	Message []byte // the push, as JSON, without its number
	At      time.Time
}

// Numbered is u's push with its number in it, as pages receive it: the
// message is a JSON object, which gains "seq" first.
func (u Update) Numbered() []byte {
	if len(u.Message) < 2 || u.Message[0] != '{' {
		return u.Message
	}
	out := []byte(`{"seq":` + strconv.FormatInt(u.Seq, 10))
	if string(u.Message) != "{}" {
		out = append(out, ',')
	}
	return append(out, u.Message[1:]...)
}

// UpdateRetention is how long updates are kept for a page to catch up;
// a page away longer loads its list afresh.
const UpdateRetention = time.Hour

// MaxReplay is the most updates a catch-up returns; a page that missed
// more loads its list afresh, which costs less.
const MaxReplay = 100

// Replay numbers and keeps each owner's updates.
type Replay interface {
	// Record keeps msg as owner's next update and returns its number:
	// 1, 2, 3… for each owner.
	Record(ctx context.Context, owner string, msg []byte) (int64, error)
	// Seq returns owner's last update's number (0 before the first).
	Seq(ctx context.Context, owner string) (int64, error)
	// Since returns owner's updates after seq, in order, and whether they
	// are all of them: false when some are no longer kept, more than
	// MaxReplay followed, or seq is none of this owner's.
	Since(ctx context.Context, owner string, seq int64) ([]Update, bool, error)
}

// Complete reports whether updates, read after seq when the owner's last
// number was last, are every update from seq+1 to last, in order.
func Complete(updates []Update, seq, last int64) bool {
	if seq > last || int64(len(updates)) != last-seq || len(updates) > MaxReplay {
		return false
	}
	for i, u := range updates {
		if u.Seq != seq+1+int64(i) {
			return false
		}
	}
	return true
}
