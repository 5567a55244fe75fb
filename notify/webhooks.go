package notify

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base32"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/longrun/longrun"
	"github.com/longrun/longrun/web"
	"github.com/longrun/longrun/webhook"
)

// Webhooks are the operator's endpoints that hear of every version that
// finished, failed or was cancelled: the embedding application's backend.
// Only the deployment names them (a flag, a template parameter); an owner
// can never make the server call a URL.
type Webhooks struct {
	// Endpoints are the URLs POSTed to, each on its own.
	Endpoints []string
	// Key is the secret the deliveries are signed with
	// (webhook.ParseSecret).
	Key []byte
	// Client sends the deliveries; nil is one that waits at most
	// HookTimeout and follows no redirect.
	Client *http.Client
}

// HookMaxAttempts is how often a delivery is tried before it is given up
// and recorded as failed; the waits between, from HookRetryBase doubling to
// at most 15 minutes, add up to about 50 minutes.
const HookMaxAttempts = 10

// HookRetryBase is the first wait before a delivery is tried again.
var HookRetryBase = 10 * time.Second

// HookTimeout is how long one delivery waits for its endpoint's answer.
const HookTimeout = 10 * time.Second

// A Delivery is one webhook message to one endpoint. Its body is made once,
// so that every attempt sends the same bytes under the same id; the
// timestamp and signature are each attempt's own.
type Delivery struct {
	URL  string          `json:"url"`
	ID   string          `json:"id"`
	Body json.RawMessage `json:"body"`
}

// A HookEvent is the body of a webhook delivery, in the shape Standard
// Webhooks suggests (type, timestamp, data).
type HookEvent struct {
	// Type is configuration.done, configuration.failed or
	// configuration.cancelled.
	Type      string    `json:"type"`
	Timestamp time.Time `json:"timestamp"`
	Data      HookData  `json:"data"`
}

// HookData is what a webhook says of a version.
type HookData struct {
	// Owner is the session the configuration belongs to.
	Owner string `json:"owner"`
	// Link, when the deployment signs read-only links, opens the result
	// on any device without the owner's session.
	Link          string   `json:"link,omitempty"`
	Configuration web.View `json:"configuration"`
}

// hookFor queues the webhooks of a version that just ended: done, failed or
// cancelled. Each endpoint is sent each version's end once, however often
// the feed redelivers the change. The feed only queues: the endpoints are
// called from the retry queue, so a slow or failing one never holds back
// anyone's pushes or e-mails.
func (n *Notifier) hooksFor(ctx context.Context, old, cur *longrun.Configuration) error {
	if n.Hooks == nil || len(n.Hooks.Endpoints) == 0 || !cur.Status.Finished() {
		return nil
	}
	if old != nil && old.Version == cur.Version && old.Status == cur.Status {
		return nil
	}
	ev := HookEvent{Type: "configuration." + string(cur.Status), Timestamp: time.Now().UTC(),
		Data: HookData{Owner: cur.Owner, Configuration: web.ViewOf(cur, "")}}
	if n.Link != nil {
		ev.Data.Link = strings.TrimSuffix(n.BaseURL, "/") + n.Link(cur)
	}
	body, err := json.Marshal(ev)
	if err != nil {
		return err
	}
	what := cur.ID + "/" + strconv.FormatInt(cur.Version, 10) + "/" + string(cur.Status)
	sum := sha256.Sum256([]byte(what))
	id := "msg_" + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(sum[:16]))
	for i, url := range n.Hooks.Endpoints {
		key := "hook/" + strconv.Itoa(i) + "/" + what
		first, err := n.Sent.MarkSent(ctx, key)
		if err != nil || !first {
			return err
		}
		if err := n.queue(ctx, Retry{Key: key, Hook: &Delivery{URL: url, ID: id, Body: body}, Trace: cur.Trace}, "a webhook", n.deliverHook); err != nil {
			return err
		}
	}
	return nil
}

// deliverHook makes one attempt at a webhook delivery; a failure is queued
// again with a longer wait, until HookMaxAttempts, and then recorded in
// the log and the notifications metric. Only a failure to queue it again
// is returned.
func (n *Notifier) deliverHook(ctx context.Context, r Retry) error {
	d := r.Hook
	log := n.logger().With("channel", "webhook", "webhookId", d.ID, "endpoint", d.URL)
	err := n.postHook(ctx, d)
	r.Attempt++
	switch {
	case err == nil:
		log.InfoContext(ctx, "notify: webhook delivered", "outcome", "sent", "attempt", r.Attempt)
		n.count("webhook", "sent")
		return nil
	case n.Retry == nil || r.Attempt >= HookMaxAttempts:
		log.ErrorContext(ctx, "notify: webhook failed for the last time", "outcome", "failed", "attempt", r.Attempt, "err", err)
		n.count("webhook", "failed")
		return nil
	}
	delay := min(HookRetryBase<<(r.Attempt-1), 15*time.Minute)
	log.WarnContext(ctx, "notify: webhook failed; it will be tried again", "outcome", "retrying", "attempt", r.Attempt,
		"delay", delay.String(), "err", err)
	n.count("webhook", "retrying")
	return n.Retry.SendMailAfter(ctx, r, delay)
}

// postHook POSTs d, signed for this attempt; any answer but a 2xx is a
// failure.
func (n *Notifier) postHook(ctx context.Context, d *Delivery) error {
	ctx, cancel := context.WithTimeout(ctx, HookTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.URL, bytes.NewReader(d.Body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "longrun-webhooks")
	webhook.SetHeaders(req.Header, n.Hooks.Key, d.ID, time.Now(), d.Body)
	res, err := n.Hooks.client().Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
	if res.StatusCode/100 != 2 {
		return fmt.Errorf("the endpoint answered %s", res.Status)
	}
	return nil
}

var errRedirect = errors.New("webhooks follow no redirect")

func (h *Webhooks) client() *http.Client {
	if h.Client != nil {
		return h.Client
	}
	return &http.Client{Timeout: HookTimeout, CheckRedirect: func(*http.Request, []*http.Request) error { return errRedirect }}
}

// retryLogger is the log of a queued retry, by what it sends.
func (n *Notifier) retryLogger(r Retry) *slog.Logger {
	if r.Hook != nil {
		return n.logger().With("channel", "webhook", "webhookId", r.Hook.ID)
	}
	if r.Device != nil {
		return n.logger().With("channel", "device", "owner", r.Device.Owner)
	}
	return n.logger().With("configurationId", r.Mail.ConfigurationID, "version", r.Mail.Version, "channel", "email")
}
