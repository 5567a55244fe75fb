// Package memlimit counts events per key in fixed windows, in memory: the
// local runner's rate limiter. Counts do not survive a restart, which only
// ever forgives.
package memlimit

import (
	"context"
	"sync"
	"time"

	"github.com/longrun/longrun"
)

// A Limiter counts events per key and window.
type Limiter struct {
	// Now is the clock; nil means time.Now.
	Now func() time.Time

	mu     sync.Mutex
	counts map[string]*count // by key and window start
	swept  time.Time
}

type count struct {
	n   int
	end time.Time // of its window
}

// Limiter implements this port.
var _ longrun.Limiter = (*Limiter)(nil)

func (l *Limiter) now() time.Time {
	if l.Now == nil {
		return time.Now()
	}
	return l.Now()
}

// Allow counts one event of key and returns 0 if it is within limit events
// per window, else how long until the window ends.
func (l *Limiter) Allow(_ context.Context, key string, limit int, window time.Duration) (time.Duration, error) {
	now := l.now()
	start := now.Truncate(window)
	slot := key + "@" + start.Format(time.RFC3339Nano)
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.counts == nil {
		l.counts = map[string]*count{}
	}
	if now.Sub(l.swept) > time.Minute { // forget ended windows
		for k, c := range l.counts {
			if !now.Before(c.end) {
				delete(l.counts, k)
			}
		}
		l.swept = now
	}
	c := l.counts[slot]
	if c == nil {
		c = &count{end: start.Add(window)}
		l.counts[slot] = c
	}
	if c.n >= limit {
		return c.end.Sub(now), nil
	}
	c.n++
	return 0, nil
}
