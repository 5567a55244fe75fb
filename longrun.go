// Package longrun holds the domain of a system that runs long computations
// configured in a browser: configurations, their versions and transitions,
// the jobs that compute them, results shared by content hash, quotas.
//
// What a configuration computes is a Kind (kind.go): a Julia set's image
// (package kinds/juliaset), a classifier's training (kinds/classifier), or
// a developer's own. The API handler (web), the worker (worker) and the
// notifier (notify) build on this package and reach storage, queues, mail
// and push only through small interfaces they declare; local/… and aws/…
// hold the adapters.
package longrun

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/mail"
	"strings"
	"unicode/utf8"
)

// Limits of every configuration, whatever its kind.
const (
	MaxNameLen  = 200
	MaxEmailLen = 254
)

// CheckName validates a configuration's name.
func CheckName(name string) error {
	var fe FieldErrors
	switch {
	case !utf8.ValidString(name):
		fe.Add("name", "must be valid UTF-8")
	case strings.TrimSpace(name) == "":
		fe.Add("name", "required")
	case utf8.RuneCountInString(name) > MaxNameLen:
		fe.Add("name", fmt.Sprintf("must be at most %d characters", MaxNameLen))
	}
	return fe.Err()
}

// CheckEmail validates an address to notify; empty means none.
func CheckEmail(addr string) error {
	if addr == "" {
		return nil
	}
	a, err := mail.ParseAddress(addr)
	if err != nil || a.Address != addr || len(addr) > MaxEmailLen || !strings.Contains(addr[strings.LastIndex(addr, "@"):], ".") {
		var fe FieldErrors
		fe.Add("notifyEmail", "must be a plain e-mail address such as ada@example.com")
		return fe.Err()
	}
	return nil
}

// NewID returns a random identifier: 32 lowercase hex digits.
func NewID() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// ValidID reports whether s could be an identifier NewID made.
func ValidID(s string) bool {
	if len(s) != 32 {
		return false
	}
	for _, r := range s {
		if !('0' <= r && r <= '9' || 'a' <= r && r <= 'f') {
			return false
		}
	}
	return true
}
