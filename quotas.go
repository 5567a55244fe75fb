package longrun

import (
	"context"
	"fmt"
	"time"
)

// Quotas bound what one owner, and one client address, can do to the
// others: how much they keep, how much they render at once, how fast they
// write. The zero value of each field is its default.
type Quotas struct {
	// MaxActive is how many of an owner's configurations may be queued or
	// rendering at once; default 20.
	MaxActive int
	// MaxStored is how many configurations an owner may keep; default 1,000.
	MaxStored int
	// OwnerWrites is how many creates, edits and re-renders an owner may
	// make a minute; default 60.
	OwnerWrites int
	// AddressWrites is the same for a client address, whoever its owners;
	// default 120.
	AddressWrites int
	// AddressSessions is how many new owners (sessions) an address may
	// start an hour; default 60.
	AddressSessions int
	// MailPerAddress and MailPerOwner are how many e-mails an address may
	// receive, and an owner's configurations may send, a day; default 20
	// and 100.
	MailPerAddress, MailPerOwner int
}

func (q Quotas) or(v, def int) int {
	if v > 0 {
		return v
	}
	return def
}

// Limits returns the quotas with their defaults filled in.
func (q Quotas) Limits() Quotas {
	return Quotas{MaxActive: q.or(q.MaxActive, 20), MaxStored: q.or(q.MaxStored, 1000),
		OwnerWrites: q.or(q.OwnerWrites, 60), AddressWrites: q.or(q.AddressWrites, 120),
		AddressSessions: q.or(q.AddressSessions, 60), MailPerAddress: q.or(q.MailPerAddress, 20),
		MailPerOwner: q.or(q.MailPerOwner, 100)}
}

// A Limiter counts events per key in fixed windows.
type Limiter interface {
	// Allow counts one event of key and returns 0 if it is within limit
	// events per window, else how long until the window ends (the event is
	// not counted).
	Allow(ctx context.Context, key string, limit int, window time.Duration) (time.Duration, error)
}

// A Caller is who asks: an owner, from a client address.
type Caller struct {
	Owner, Addr string
}

// overLimit is the 429 of a quota or rate limit, named in its message.
func overLimit(retry time.Duration, format string, args ...any) error {
	return &Error{Code: ETOOMANY, Message: fmt.Sprintf(format, args...), RetryAfter: retry}
}

// allowWrite counts a write of the caller against the owner's and the
// address's rates.
func (s *Service) allowWrite(ctx context.Context, c Caller) error {
	if s.Limiter == nil {
		return nil
	}
	q := s.Quotas.Limits()
	limits := []struct {
		key, who string
		limit    int
	}{{"writes/owner/" + c.Owner, "you", q.OwnerWrites}}
	if c.Addr != "" {
		limits = append(limits, struct {
			key, who string
			limit    int
		}{"writes/addr/" + c.Addr, "your address", q.AddressWrites})
	}
	for _, l := range limits {
		retry, err := s.Limiter.Allow(ctx, l.key, l.limit, time.Minute)
		if err != nil {
			return err
		}
		if retry > 0 {
			return overLimit(retry, "%s may save at most %d times a minute; try again in %d s", l.who, l.limit, int(retry.Seconds()+0.999))
		}
	}
	return nil
}

// AllowSession counts a new owner started from addr against the address's
// hourly rate: a client that drops its cookie gets a new owner each time,
// so per-owner limits alone would not hold it.
func (s *Service) AllowSession(ctx context.Context, addr string) error {
	if s.Limiter == nil || addr == "" {
		return nil
	}
	limit := s.Quotas.Limits().AddressSessions
	retry, err := s.Limiter.Allow(ctx, "sessions/addr/"+addr, limit, time.Hour)
	if err != nil {
		return err
	}
	if retry > 0 {
		return overLimit(retry, "your address may start at most %d sessions an hour; keep your cookie, or try again in %d min",
			limit, int(retry.Minutes()+0.999))
	}
	return nil
}

// allowActive refuses a render that would put more than MaxActive of the
// owner's configurations in the queue at once, and a create beyond
// MaxStored.
func (s *Service) allowActive(ctx context.Context, owner string, creating bool) error {
	q := s.Quotas.Limits()
	stored, active, err := s.Store.CountConfigurations(ctx, owner)
	if err != nil {
		return err
	}
	if creating && stored >= q.MaxStored {
		return overLimit(time.Minute, "you may keep at most %d configurations; delete some first", q.MaxStored)
	}
	if active >= q.MaxActive {
		return overLimit(30*time.Second, "at most %d of your configurations may be queued or rendering at once; wait for some to finish", q.MaxActive)
	}
	return nil
}
