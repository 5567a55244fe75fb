package longrun

import (
	"context"
	"fmt"
	"net/netip"
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
	// MaxBytes is how many bytes of images an owner's configurations may
	// keep (KeptBytes) before a new render is refused; default 2 GiB.
	MaxBytes int64
	// TotalBytes is how many bytes of images all configurations together
	// may keep before any new render is refused, so the owners a crowd of
	// clients makes up cannot fill the disk between them; default 16 GiB.
	TotalBytes int64
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
	// ClientV4Bits and ClientV6Bits are the prefix lengths of the network
	// a client is known by, for the per-address limits and the queue's fair
	// shares; default 24 and 64 (one home or office, one IPv6 subnet: a
	// host picks any of its 2⁶⁴ addresses). 32 and 128 key every address
	// apart.
	ClientV4Bits, ClientV6Bits int
}

func (q Quotas) or(v, def int) int {
	if v > 0 {
		return v
	}
	return def
}

// Limits returns the quotas with their defaults filled in.
func (q Quotas) Limits() Quotas {
	maxBytes := q.MaxBytes
	if maxBytes <= 0 {
		maxBytes = 2 << 30
	}
	totalBytes := q.TotalBytes
	if totalBytes <= 0 {
		totalBytes = 16 << 30
	}
	return Quotas{MaxActive: q.or(q.MaxActive, 20), MaxStored: q.or(q.MaxStored, 1000), MaxBytes: maxBytes, TotalBytes: totalBytes,
		OwnerWrites: q.or(q.OwnerWrites, 60), AddressWrites: q.or(q.AddressWrites, 120),
		AddressSessions: q.or(q.AddressSessions, 60), MailPerAddress: q.or(q.MailPerAddress, 20),
		MailPerOwner: q.or(q.MailPerOwner, 100), ClientV4Bits: q.or(q.ClientV4Bits, 24), ClientV6Bits: q.or(q.ClientV6Bits, 64)}
}

// ClientKey is the client an address belongs to: its network, with the
// prefix lengths of q ("203.0.113.0/24", "2001:db8:1:2::/64"). What is not
// an IP address is its own client.
func (q Quotas) ClientKey(addr string) string {
	ip, err := netip.ParseAddr(addr)
	if err != nil {
		return addr
	}
	ip = ip.Unmap().WithZone("")
	l := q.Limits()
	bits := l.ClientV6Bits
	if ip.Is4() {
		bits = l.ClientV4Bits
	}
	p, err := ip.Prefix(min(bits, ip.BitLen()))
	if err != nil {
		return addr
	}
	return p.String()
}

// A Limiter counts events per key in fixed windows.
type Limiter interface {
	// Allow counts one event of key and returns 0 if it is within limit
	// events per window, else how long until the window ends (the event is
	// not counted).
	Allow(ctx context.Context, key string, limit int, window time.Duration) (time.Duration, error)
}

// A Caller is who asks: an owner, from a client: the network of its
// address (Quotas.ClientKey), which the per-address limits count and the
// queue shares by.
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

// An Admission is what a write that may queue a render must stay within:
// the owner's stored and active counts after the write, checked by the
// store atomically with it. A zero limit is none. Enqueue asks an Outbox
// store to queue the job of a configuration the write leaves newly queued,
// in the same transaction.
type Admission struct {
	MaxStored, MaxActive int
	// MaxBytes refuses a write that starts a render while the owner's
	// configurations keep that many bytes or more.
	MaxBytes int64
	// MaxTotalBytes refuses it while all configurations together keep that
	// many bytes or more (a store that keeps no total ignores it).
	MaxTotalBytes int64
	Enqueue       bool
}

// admission returns the quotas' admission for an owner's write.
func (s *Service) admission() Admission {
	q := s.Quotas.Limits()
	return Admission{MaxStored: q.MaxStored, MaxActive: q.MaxActive, MaxBytes: q.MaxBytes, MaxTotalBytes: q.TotalBytes, Enqueue: s.outbox()}
}

// outbox reports whether the store queues the jobs of admitted writes.
func (s *Service) outbox() bool {
	o, ok := s.Store.(Outbox)
	return ok && o.SendsJobsFor(s.Queue)
}

// Check returns the error of a write that would leave an owner with stored
// configurations, active of them queued or rendering, or that starts a
// render while they keep bytes of images (before the write); the store
// calls it inside the write's transaction (a zero count: not checked).
func (a Admission) Check(stored, active int, bytes int64) error {
	if a.MaxStored > 0 && stored > a.MaxStored {
		return overLimit(time.Minute, "you may keep at most %d configurations; delete some first", a.MaxStored)
	}
	if a.MaxBytes > 0 && bytes >= a.MaxBytes {
		return &Error{Code: ECONFLICT, Message: fmt.Sprintf("your configurations keep %s of images, your limit is %s: delete some before rendering more",
			humanBytes(bytes), humanBytes(a.MaxBytes))}
	}
	if a.MaxActive > 0 && active > a.MaxActive {
		return overLimit(30*time.Second, "at most %d of your configurations may be queued or rendering at once; wait for some to finish", a.MaxActive)
	}
	return nil
}

// CheckTotal returns the error of a write that starts a render while all
// configurations keep total bytes of images (before the write).
func (a Admission) CheckTotal(total int64) error {
	if a.MaxTotalBytes > 0 && total >= a.MaxTotalBytes {
		return &Error{Code: ECONFLICT, Message: fmt.Sprintf("this server keeps %s of images, its limit in all is %s: no new renders until some are deleted",
			humanBytes(total), humanBytes(a.MaxTotalBytes))}
	}
	return nil
}

// humanBytes writes n in KB, MB or GB (powers of 1,000), as a user reads it.
func humanBytes(n int64) string {
	switch {
	case n >= 1e9:
		return fmt.Sprintf("%.1f GB", float64(n)/1e9)
	case n >= 1e6:
		return fmt.Sprintf("%.1f MB", float64(n)/1e6)
	}
	return fmt.Sprintf("%d KB", (n+999)/1000)
}
