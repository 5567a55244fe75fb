// Package webhook signs and verifies webhook deliveries as Standard
// Webhooks (standardwebhooks.com) writes them: three headers,
// webhook-id (the message's id, the same on every retry), webhook-timestamp
// (the attempt's Unix seconds) and webhook-signature ("v1," and the base64
// of an HMAC-SHA256 over "id.timestamp.body"), with a secret written
// "whsec_" and base64. It imports nothing of longrun: a receiver written in
// Go can use it as it is.
package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The headers of a delivery.
const (
	HeaderID        = "webhook-id"
	HeaderTimestamp = "webhook-timestamp"
	HeaderSignature = "webhook-signature"
)

// Tolerance is how far a delivery's timestamp may be from the receiver's
// clock, either way, before Verify refuses it as a replay.
const Tolerance = 5 * time.Minute

// ParseSecret decodes a secret written as Standard Webhooks writes it,
// "whsec_" and the base64 of 24 to 64 random bytes (the prefix may be left
// out).
func ParseSecret(s string) ([]byte, error) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(strings.TrimSpace(s), "whsec_"))
	if err != nil {
		return nil, fmt.Errorf("a webhook secret is whsec_ followed by base64: %w", err)
	}
	if len(key) < 24 || len(key) > 64 {
		return nil, fmt.Errorf("a webhook secret is 24 to 64 bytes; this one is %d", len(key))
	}
	return key, nil
}

// Sign returns the webhook-signature header's value for a message.
func Sign(key []byte, id string, ts time.Time, body []byte) string {
	m := hmac.New(sha256.New, key)
	fmt.Fprintf(m, "%s.%d.", id, ts.Unix())
	m.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// SetHeaders sets a delivery's three headers on h.
func SetHeaders(h http.Header, key []byte, id string, ts time.Time, body []byte) {
	h.Set(HeaderID, id)
	h.Set(HeaderTimestamp, strconv.FormatInt(ts.Unix(), 10))
	h.Set(HeaderSignature, Sign(key, id, ts, body))
}

// Errors of Verify.
var (
	ErrMissingHeaders = errors.New("webhook: a webhook-id, webhook-timestamp or webhook-signature header is missing")
	ErrTimestamp      = errors.New("webhook: the timestamp is too far from now")
	ErrSignature      = errors.New("webhook: no signature matches")
)

// Verify checks a delivery's headers against its body as received: the
// timestamp within Tolerance of now, and one of the signatures (the header
// may list several, space-separated, while a secret is rotated) made with
// key. It returns the message's id, for the receiver to drop a redelivery
// it has already handled.
func Verify(key []byte, h http.Header, body []byte, now time.Time) (string, error) {
	id, tsText, sigs := h.Get(HeaderID), h.Get(HeaderTimestamp), h.Get(HeaderSignature)
	if id == "" || tsText == "" || sigs == "" {
		return "", ErrMissingHeaders
	}
	secs, err := strconv.ParseInt(tsText, 10, 64)
	if err != nil {
		return "", ErrTimestamp
	}
	if d := now.Sub(time.Unix(secs, 0)); d > Tolerance || d < -Tolerance {
		return "", ErrTimestamp
	}
	want := Sign(key, id, time.Unix(secs, 0), body)
	for _, s := range strings.Fields(sigs) {
		if hmac.Equal([]byte(s), []byte(want)) {
			return id, nil
		}
	}
	return "", ErrSignature
}
