package notify

import (
	"context"
	"crypto/ecdh"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	webpush "github.com/SherClockHolmes/webpush-go"

	"github.com/longrun/longrun"
)

// VAPID identifies this server to the browsers' push services (RFC 8292):
// a P-256 key pair, base64url, and a contact for their operators.
type VAPID struct {
	PublicKey  string // 65 bytes, uncompressed: what a page subscribes with
	PrivateKey string // the 32-byte scalar
	// Subject is an e-mail address (no "mailto:") or an https URL.
	Subject string
}

// VAPIDFromSeed derives the key pair from a secret seed (32 random bytes
// locally, the stack's secret on AWS), so that every process holding the
// seed signs with the same key and nothing is made at run time.
func VAPIDFromSeed(seed []byte, subject string) (VAPID, error) {
	if len(seed) < 16 {
		return VAPID{}, fmt.Errorf("a VAPID seed is at least 16 bytes")
	}
	for i := 0; i < 256; i++ {
		sum := sha256.Sum256(append([]byte("longrun vapid "+strconv.Itoa(i)+" "), seed...))
		key, err := ecdh.P256().NewPrivateKey(sum[:]) // refuses the rare scalar out of range
		if err != nil {
			continue
		}
		enc := base64.RawURLEncoding.EncodeToString
		return VAPID{PublicKey: enc(key.PublicKey().Bytes()), PrivateKey: enc(key.Bytes()), Subject: subject}, nil
	}
	return VAPID{}, fmt.Errorf("no P-256 key from this seed")
}

// DeviceTTL is how long a push service keeps a notification for a device
// that is off (the TTL header): a day.
const DeviceTTL = 24 * time.Hour

// DeviceMaxAttempts is how often a notification is offered to a push
// service that fails before it is given up.
const DeviceMaxAttempts = 5

// DeviceRetryBase is the first wait before a push service is tried again.
var DeviceRetryBase = 10 * time.Second

// A DevicePush is a notification for an owner's devices: all of them, or
// the one of Endpoint (a retry).
type DevicePush struct {
	Owner    string          `json:"owner"`
	Endpoint string          `json:"endpoint,omitempty"`
	Topic    string          `json:"topic"`
	Payload  json.RawMessage `json:"payload"`
}

// A DeviceNote is what the service worker shows.
type DeviceNote struct {
	Title string `json:"title"`
	Body  string `json:"body"`
	// URL is the page to open when the notification is clicked.
	URL string `json:"url"`
	// Tag makes one notification per version: a second for the same
	// version replaces the first.
	Tag string `json:"tag"`
}

// devicesFor queues the device notification of a version that finished
// (done or failed: a cancel is the owner's own doing), once per version.
func (n *Notifier) devicesFor(ctx context.Context, old, cur *longrun.Configuration) error {
	if n.Devices == nil || n.VAPID == nil || (cur.Status != longrun.StatusDone && cur.Status != longrun.StatusFailed) {
		return nil
	}
	if old != nil && old.Version == cur.Version && old.Status == cur.Status {
		return nil
	}
	if !n.wants(ctx, cur, longrun.ChannelDevice) {
		n.count("device", "unwanted")
		return nil
	}
	ds, err := n.Devices.Devices(ctx, cur.Owner)
	if err != nil || len(ds) == 0 {
		return err
	}
	payload, err := json.Marshal(n.deviceNote(cur))
	if err != nil {
		return err
	}
	key := "device/" + cur.ID + "/" + strconv.FormatInt(cur.Version, 10) + "/" + string(cur.Status)
	first, err := n.Sent.MarkSent(ctx, key)
	if err != nil || !first {
		return err
	}
	sum := sha256.Sum256([]byte(cur.ID))
	r := Retry{Key: key, Device: &DevicePush{Owner: cur.Owner, Topic: base64.RawURLEncoding.EncodeToString(sum[:24]), Payload: payload}, Trace: cur.Trace}
	return n.queue(ctx, r, "a device notification", n.deliverDevices)
}

// deviceNote is what a device shows of c's end.
func (n *Notifier) deviceNote(c *longrun.Configuration) DeviceNote {
	version := strconv.FormatInt(c.Version, 10)
	body := c.Name + " · version " + version
	if c.Status == longrun.StatusFailed {
		body += ": " + c.Error
	}
	return DeviceNote{Title: message(c, n.BaseURL, "/#"+c.ID, n.Kinds).Subject, Body: body, URL: "/#" + c.ID, Tag: c.ID + "/" + version}
}

// queue hands r to the retry queue, to be sent at once from there (where
// there is none, it is sent here); one not queued is unmarked, so that the
// feed's redelivery queues it again.
func (n *Notifier) queue(ctx context.Context, r Retry, what string, send func(context.Context, Retry) error) error {
	if n.Retry == nil {
		return send(ctx, r)
	}
	if err := n.Retry.SendMailAfter(ctx, r, 0); err != nil {
		if uerr := n.Sent.UnmarkSent(context.WithoutCancel(ctx), r.Key); uerr != nil {
			n.logger().Error("notify: could not unmark "+what+" that was not queued; it will not be sent", "err", uerr)
		}
		return fmt.Errorf("queue %s: %w", what, err)
	}
	return nil
}

// deliverDevices offers r to its push services: each device's on its own;
// one that fails is queued again for that device alone; one whose push
// service says the subscription is gone (404, 410) is forgotten.
func (n *Notifier) deliverDevices(ctx context.Context, r Retry) error {
	p := r.Device
	ds, err := n.Devices.Devices(ctx, p.Owner)
	if err != nil {
		return err
	}
	r.Attempt++
	// Each device at once: a slow push service delays no other device.
	errs := make([]error, len(ds))
	var wg sync.WaitGroup
	for i, d := range ds {
		if p.Endpoint != "" && d.Endpoint != p.Endpoint {
			continue
		}
		wg.Go(func() { errs[i] = n.offer(ctx, r, d) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// offer sends r to one device, and deals with its push service's answer.
func (n *Notifier) offer(ctx context.Context, r Retry, d longrun.Device) error {
	p := r.Device
	log := n.logger().With("channel", "device", "owner", p.Owner, "pushService", host(d.Endpoint))
	status, err := n.sendDevice(ctx, d, p)
	switch {
	case err == nil:
		log.InfoContext(ctx, "notify: device notified", "outcome", "sent", "attempt", r.Attempt)
		n.count("device", "sent")
		return nil
	case status == http.StatusNotFound || status == http.StatusGone:
		log.InfoContext(ctx, "notify: device unsubscribed; forgotten", "outcome", "gone")
		n.count("device", "gone")
		return n.Devices.RemoveDevice(ctx, p.Owner, d.Endpoint)
	case n.Retry == nil || r.Attempt >= DeviceMaxAttempts || refused(status):
		log.WarnContext(ctx, "notify: device notification failed for good", "outcome", "failed", "attempt", r.Attempt, "err", err)
		n.count("device", "failed")
		return nil
	}
	one := *p
	one.Endpoint = d.Endpoint
	delay := min(DeviceRetryBase<<(r.Attempt-1), 15*time.Minute)
	log.WarnContext(ctx, "notify: device notification failed; it will be tried again", "outcome", "retrying",
		"attempt", r.Attempt, "delay", delay.String(), "err", err)
	n.count("device", "retrying")
	return n.Retry.SendMailAfter(ctx, Retry{Key: r.Key, Device: &one, Attempt: r.Attempt, Trace: r.Trace}, delay)
}

// refused reports whether a push service's status refuses the message for
// good: a 4xx other than a timeout or too many requests.
func refused(status int) bool {
	return status >= 400 && status < 500 && status != http.StatusTooManyRequests && status != http.StatusRequestTimeout
}

// sendDevice encrypts p for d (RFC 8291) and POSTs it to d's push service
// with this server's VAPID signature, returning the service's status.
func (n *Notifier) sendDevice(ctx context.Context, d longrun.Device, p *DevicePush) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, HookTimeout)
	defer cancel()
	var client webpush.HTTPClient = http.DefaultClient
	if n.DeviceClient != nil {
		client = n.DeviceClient
	}
	res, err := webpush.SendNotificationWithContext(ctx, p.Payload, &webpush.Subscription{Endpoint: d.Endpoint,
		Keys: webpush.Keys{P256dh: d.Keys.P256dh, Auth: d.Keys.Auth}}, &webpush.Options{
		HTTPClient: client, Subscriber: n.VAPID.Subject, TTL: int(DeviceTTL / time.Second), Urgency: webpush.UrgencyNormal,
		Topic: p.Topic, VAPIDPublicKey: n.VAPID.PublicKey, VAPIDPrivateKey: n.VAPID.PrivateKey})
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	if res.StatusCode/100 != 2 {
		return res.StatusCode, fmt.Errorf("the push service answered %s", res.Status)
	}
	return res.StatusCode, nil
}

// host is an endpoint's host, for logs: the rest names the device.
func host(endpoint string) string {
	h, _, _ := strings.Cut(strings.TrimPrefix(endpoint, "https://"), "/")
	return h
}
