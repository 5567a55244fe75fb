package webhook

import (
	"encoding/base64"
	"errors"
	"net/http"
	"testing"
	"time"
)

// The example of the Standard Webhooks specification, signed and verified.
func TestSignsAsTheSpecificationsExample(t *testing.T) {
	key, err := ParseSecret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	if err != nil {
		t.Fatal(err)
	}
	ts := time.Unix(1614265330, 0)
	body := []byte(`{"test": 2432232314}`)
	if got, want := Sign(key, "msg_p5jXN8AQM9LWM0D4loKWxJek", ts, body), "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="; got != want {
		t.Fatalf("signature %s, want %s", got, want)
	}
	h := http.Header{}
	SetHeaders(h, key, "msg_p5jXN8AQM9LWM0D4loKWxJek", ts, body)
	if id, err := Verify(key, h, body, ts.Add(time.Minute)); err != nil || id != "msg_p5jXN8AQM9LWM0D4loKWxJek" {
		t.Fatalf("verify = %q, %v", id, err)
	}
}

func TestRefusesWhatWasNotSignedSoOrNow(t *testing.T) {
	key := []byte("0123456789abcdef0123456789abcdef")
	ts := time.Now()
	body := []byte(`{"type":"configuration.done"}`)
	h := http.Header{}
	SetHeaders(h, key, "msg_1", ts, body)
	for _, c := range []struct {
		name string
		key  []byte
		body []byte
		now  time.Time
		want error
	}{
		{"changed body", key, []byte(`{"type":"configuration.failed"}`), ts, ErrSignature},
		{"other secret", []byte("fedcba9876543210fedcba9876543210"), body, ts, ErrSignature},
		{"replayed later", key, body, ts.Add(6 * time.Minute), ErrTimestamp},
	} {
		if _, err := Verify(c.key, h, c.body, c.now); !errors.Is(err, c.want) {
			t.Errorf("%s: err %v, want %v", c.name, err, c.want)
		}
	}
	if _, err := Verify(key, http.Header{}, body, ts); !errors.Is(err, ErrMissingHeaders) {
		t.Errorf("no headers: err %v", err)
	}
	// A rotation lists two signatures: either verifies.
	h.Set(HeaderSignature, Sign([]byte("fedcba9876543210fedcba9876543210"), "msg_1", ts, body)+" "+h.Get(HeaderSignature))
	if _, err := Verify(key, h, body, ts); err != nil {
		t.Errorf("two signatures: %v", err)
	}
}

func TestParseSecretNamesTheRule(t *testing.T) {
	for _, s := range []string{"whsec_not base64!", "whsec_" + base64.StdEncoding.EncodeToString([]byte("short"))} {
		if _, err := ParseSecret(s); err == nil {
			t.Errorf("%q accepted", s)
		}
	}
	if k, err := ParseSecret("abcdefghijklmnopqrstuvwxyz012345"); err != nil || len(k) != 24 {
		t.Errorf("32 base64 characters without the prefix: %d bytes, %v", len(k), err)
	}
}
