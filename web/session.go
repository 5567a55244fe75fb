package web

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/longrun/longrun"
)

// CookieName is the session cookie's name.
const CookieName = "longrun_session"

// Sessions issue and check signed session cookies that name an anonymous
// owner. A missing, forged or expired cookie gets a new owner.
type Sessions struct {
	Key []byte // HMAC-SHA256 key, at least 32 bytes
	// Previous keys still verify tokens (never sign them): while a key is
	// rotated, the cookies it signed keep working.
	Previous [][]byte
	TTL      time.Duration // 0 means 400 days
	Now      func() time.Time
	// Refresh, if set, reads the keys again (on AWS, the secret's current
	// and previous versions): after RefreshEvery (0 means 5 minutes), and
	// once, at most every RefreshEvery/30, when a token's signature
	// verifies under no key known, before that token is treated as forged.
	// So a rotation signs nobody out: a process that has not seen it yet
	// still accepts what a process that has signs with the new key, and
	// the old key keeps verifying as the previous one.
	Refresh      func(context.Context) (key []byte, previous [][]byte, err error)
	RefreshEvery time.Duration
	// OnRefreshError, if set, hears a refresh that failed (the keys held
	// are kept).
	OnRefreshError func(error)

	mu        sync.Mutex
	refreshed time.Time // the last refresh, successful or not
	tried     time.Time // the last refresh for an unknown signature
}

func (s *Sessions) ttl() time.Duration {
	if s.TTL == 0 {
		return 400 * 24 * time.Hour
	}
	return s.TTL
}

func (s *Sessions) now() time.Time {
	if s.Now == nil {
		return time.Now()
	}
	return s.Now()
}

func (s *Sessions) sign(payload string) string {
	key, _ := s.keys(false)
	return signWith(key, payload)
}

func (s *Sessions) refreshEvery() time.Duration {
	if s.RefreshEvery == 0 {
		return 5 * time.Minute
	}
	return s.RefreshEvery
}

// keys returns the signing key and every key that verifies, refreshed
// when they are older than RefreshEvery, or, with unknown, when a token
// verified under none of them and no such refresh happened lately. One
// caller refreshes; the others go on with the keys held meanwhile, and
// nobody waits on Secrets Manager under the lock.
func (s *Sessions) keys(unknown bool) ([]byte, [][]byte) {
	s.mu.Lock()
	now := s.now()
	stale := s.Refresh != nil && (s.refreshed.IsZero() || now.Sub(s.refreshed) >= s.refreshEvery())
	if s.Refresh != nil && unknown && now.Sub(s.tried) >= s.refreshEvery()/30 {
		stale, s.tried = true, now
	}
	if stale {
		s.refreshed = now
	}
	s.mu.Unlock()
	if stale {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		key, previous, err := s.Refresh(ctx)
		cancel()
		if err == nil && len(key) < 32 {
			err = errors.New("the refreshed session key is shorter than 32 characters")
		}
		s.mu.Lock()
		if err == nil {
			s.Key, s.Previous = key, previous
		}
		s.mu.Unlock()
		if err != nil && s.OnRefreshError != nil {
			s.OnRefreshError(err)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.Key, append([][]byte{s.Key}, s.Previous...)
}

func signWith(key []byte, payload string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(payload))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// verify reports whether sig signs payload under the key or a previous
// one, reading the keys again once if it signs under none known.
func (s *Sessions) verify(payload, sig string) bool {
	for _, unknown := range []bool{false, true} {
		if unknown && s.Refresh == nil {
			return false
		}
		_, all := s.keys(unknown)
		for _, k := range all {
			if hmac.Equal([]byte(sig), []byte(signWith(k, payload))) {
				return true
			}
		}
	}
	return false
}

// A token's purpose is inside its signed payload, so a push token never
// works as a session cookie, nor a cookie as a push token.
const (
	purposeSession = "s"
	purposePush    = "p"
	purposeShare   = "r" // a read-only link
)

// Token returns a signed session token naming owner, valid for ttl: the
// session cookie's value.
func (s *Sessions) Token(owner string, ttl time.Duration) string {
	return s.token(purposeSession, owner, ttl)
}

// PushToken returns a signed token that lets owner connect to the push
// WebSocket for PushTokenTTL.
func (s *Sessions) PushToken(owner string) string { return s.token(purposePush, owner, PushTokenTTL) }

func (s *Sessions) token(purpose, owner string, ttl time.Duration) string {
	payload := purpose + "." + owner + "." + strconv.FormatInt(s.now().Add(ttl).Unix(), 10)
	return payload + "." + s.sign(payload)
}

// LinkToken returns the signed token of a read-only link to configuration
// id at link generation gen (longrun.Configuration.ShareGen): it does not
// expire; revoking the generation ends it.
func (s *Sessions) LinkToken(id string, gen int64) string {
	key, _ := s.keys(false)
	return linkToken(key, id, gen)
}

func linkToken(key []byte, id string, gen int64) string {
	payload := purposeShare + "." + id + "." + strconv.FormatInt(gen, 10)
	return payload + "." + signWith(key, payload)
}

// A LinkSigner signs read-only links with a key of the sessions' (as
// Sessions.LinkToken does), for a process that makes links and verifies
// nothing: the notifier, for its e-mails.
type LinkSigner struct{ Key []byte }

// Path is the path of configuration c's read-only link.
func (l LinkSigner) Path(c *longrun.Configuration) string {
	return "/s/" + linkToken(l.Key, c.ID, c.ShareGen)
}

// Link returns the configuration and generation a read-only link's token
// names, or false if it is forged, malformed or another kind of token.
func (s *Sessions) Link(token string) (id string, gen int64, ok bool) {
	i := strings.LastIndexByte(token, '.')
	if i < 0 || !s.verify(token[:i], token[i+1:]) {
		return "", 0, false
	}
	parts := strings.Split(token[:i], ".")
	if len(parts) != 3 || parts[0] != purposeShare || !longrun.ValidID(parts[1]) {
		return "", 0, false
	}
	gen, err := strconv.ParseInt(parts[2], 10, 64)
	if err != nil || gen < 0 {
		return "", 0, false
	}
	return parts[1], gen, true
}

// Owner returns the owner a session token names, or "" if it is forged,
// malformed, expired or not a session token.
func (s *Sessions) Owner(token string) string { return s.owner(purposeSession, token) }

// PushOwner returns the owner a push token names, or "" if it is forged,
// malformed, expired or not a push token.
func (s *Sessions) PushOwner(token string) string { return s.owner(purposePush, token) }

func (s *Sessions) owner(purpose, token string) string {
	i := strings.LastIndexByte(token, '.')
	if i < 0 {
		return ""
	}
	payload, sig := token[:i], token[i+1:]
	if !s.verify(payload, sig) {
		return ""
	}
	parts := strings.Split(payload, ".")
	if len(parts) == 2 && purpose == purposeSession { // a cookie from before tokens had purposes
		parts = append([]string{purposeSession}, parts...)
	}
	if len(parts) != 3 || parts[0] != purpose {
		return ""
	}
	t, err := strconv.ParseInt(parts[2], 10, 64)
	if err != nil || !longrun.ValidID(parts[1]) || s.now().Unix() >= t {
		return ""
	}
	return parts[1]
}

// existing returns the owner of the request's session, or "".
func (s *Sessions) existing(r *http.Request) string {
	for _, c := range r.CookiesNamed(CookieName) {
		if o := s.Owner(c.Value); o != "" {
			return o
		}
	}
	return ""
}

// session returns the request's owner, issuing a new one (and its cookie)
// when the request has no valid session, and says whether it did.
func (s *Sessions) session(w http.ResponseWriter, r *http.Request) (string, bool) {
	// Every cookie of the name, not only the first: a second one set by a
	// sibling site or a script (cookie tossing) comes first in the header,
	// and must not displace the signed one.
	if o := s.existing(r); o != "" {
		return o, false
	}
	o := longrun.NewID()
	http.SetCookie(w, &http.Cookie{
		Name: CookieName, Value: s.Token(o, s.ttl()), Path: "/", MaxAge: int(s.ttl().Seconds()),
		HttpOnly: true, SameSite: http.SameSiteLaxMode,
		Secure: r.TLS != nil || r.Header.Get("X-Forwarded-Proto") == "https",
	})
	return o, true
}

type ownerKey struct{}

// Owner returns the owner the request was authenticated as.
func Owner(ctx context.Context) string {
	o, _ := ctx.Value(ownerKey{}).(string)
	return o
}
