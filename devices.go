package longrun

import (
	"context"
	"encoding/base64"
	"net/url"
	"strings"
	"time"
)

// A Device is a browser that asked to be told of finished renders with the
// page closed or the phone locked: its Web Push subscription (RFC 8030), in
// the shape the browser's PushSubscription.toJSON gives it.
type Device struct {
	Endpoint string     `json:"endpoint"`
	Keys     DeviceKeys `json:"keys"`
	AddedAt  time.Time  `json:"addedAt,omitzero"`
}

// DeviceKeys are a subscription's keys (RFC 8291), base64url: the browser's
// P-256 public key and its 16-byte authentication secret.
type DeviceKeys struct {
	P256dh string `json:"p256dh"`
	Auth   string `json:"auth"`
}

// MaxDevices is how many devices an owner keeps; one more forgets the one
// added longest ago.
const MaxDevices = 10

// Devices keeps each owner's devices.
type Devices interface {
	// AddDevice keeps d for owner, in place of one with its endpoint, and
	// forgets the oldest beyond MaxDevices.
	AddDevice(ctx context.Context, owner string, d Device) error
	// Devices returns owner's devices, the oldest first.
	Devices(ctx context.Context, owner string) ([]Device, error)
	// RemoveDevice forgets owner's device of endpoint; one not kept is no
	// error.
	RemoveDevice(ctx context.Context, owner, endpoint string) error
}

// PushServices are the hosts of the browsers' push services (Chrome's,
// Firefox's, Apple's, Edge's): a device's endpoint must be on one, so that
// an owner cannot make the server POST to any URL it likes.
var PushServices = []string{"fcm.googleapis.com", "*.push.services.mozilla.com", "*.push.apple.com", "*.notify.windows.com"}

// CheckDevice reports what is wrong with a device an owner sends, field by
// field: an https endpoint on one of hosts (an entry "*.example.com" takes
// its subdomains), a P-256 key and a 16-byte secret.
func CheckDevice(d Device, hosts []string) error {
	var fields []FieldError
	u, err := url.Parse(d.Endpoint)
	switch {
	case d.Endpoint == "" || err != nil || u.Host == "":
		fields = append(fields, FieldError{"endpoint", "required: the push subscription's endpoint URL"})
	case len(d.Endpoint) > 1024:
		fields = append(fields, FieldError{"endpoint", "at most 1024 characters"})
	case u.Scheme != "https" || u.User != nil || !onHost(u.Hostname(), hosts):
		fields = append(fields, FieldError{"endpoint", "an https URL of a browser's push service (" + strings.Join(hosts, ", ") + ")"})
	}
	if k, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(d.Keys.P256dh, "=")); err != nil || len(k) != 65 || k[0] != 4 {
		fields = append(fields, FieldError{"keys.p256dh", "the browser's P-256 public key, uncompressed (65 bytes), base64url"})
	}
	if k, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(d.Keys.Auth, "=")); err != nil || len(k) != 16 {
		fields = append(fields, FieldError{"keys.auth", "the subscription's authentication secret (16 bytes), base64url"})
	}
	if len(fields) > 0 {
		return &Error{Code: EINVALID, Message: "not a push subscription this server sends to", Fields: fields}
	}
	return nil
}

func onHost(host string, hosts []string) bool {
	host = strings.ToLower(host)
	for _, h := range hosts {
		if sub, ok := strings.CutPrefix(h, "*."); ok && strings.HasSuffix(host, "."+sub) || host == h {
			return true
		}
	}
	return false
}
