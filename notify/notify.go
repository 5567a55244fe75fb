// Package notify tells users about their configurations: every change to a
// configuration (a DynamoDB Stream record, or the local change log in the same
// shape) is pushed to the owner's open pages, and a finished version is
// e-mailed once to the address the configuration names: once when it is
// done, and once when it fails.
package notify

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/longrun/longrun"
	"github.com/longrun/longrun/aws/attr"
	"github.com/longrun/longrun/tracing"
	"github.com/longrun/longrun/web"
)

// A Mail is one message to send. Its subject never carries a user's text.
type Mail struct {
	Owner           string `json:"owner"`
	ConfigurationID string `json:"configurationId,omitempty"`
	Version         int64  `json:"version,omitempty"`
	To              string `json:"to"`
	Subject         string `json:"subject"`
	Text            string `json:"text"`
	// HTML, if set, is the same message for mail clients that show HTML.
	HTML string `json:"html,omitempty"`
	// Unsubscribe is the link that stops this owner's mail to the
	// address, for the List-Unsubscribe header.
	Unsubscribe string `json:"unsubscribe,omitempty"`
}

// ErrRefused marks a send the mail service refused for good (a rejected
// message, an unverified recipient): retrying cannot help.
var ErrRefused = errors.New("refused by the mail service")

// A Retry is a notification sent from the retry queue: an e-mail whose
// send failed, or a webhook delivery (queued from the start, so the feed
// never waits on an endpoint).
type Retry struct {
	Key     string      `json:"key"` // its sent mark
	Mail    Mail        `json:"mail,omitzero"`
	Hook    *Delivery   `json:"hook,omitempty"`
	Device  *DevicePush `json:"device,omitempty"`
	Attempt int         `json:"attempt"` // sends tried so far
	// Trace is its version's trace (Configuration.Trace).
	Trace string `json:"trace,omitempty"`
}

// channel names what r sends.
func (r Retry) channel() string {
	switch {
	case r.Hook != nil:
		return "webhook"
	case r.Device != nil:
		return "device"
	}
	return "email"
}

// A RetryQueue holds notifications to send after a delay, apart from the
// change feed, so one failing e-mail or endpoint never holds back anyone's
// pushes or e-mails.
type RetryQueue interface {
	SendMailAfter(ctx context.Context, r Retry, delay time.Duration) error
}

// MaxAttempts is how often an e-mail is tried before it is recorded as
// failed on its configuration.
const MaxAttempts = 5

// RetryBase is the first wait before an e-mail is tried again; it doubles
// per try (longrun.Backoff).
var RetryBase = 15 * time.Second

// Failures records on a configuration why its e-mail could not be sent;
// *longrun.Service is one.
type Failures interface {
	RecordMailFailure(ctx context.Context, id string, version int64, reason string) error
}

// A Mailer sends mail.
type Mailer interface {
	Send(ctx context.Context, m Mail) error
}

// A Pusher delivers a message to every open page of an owner.
type Pusher interface {
	Push(ctx context.Context, owner string, msg []byte) error
}

// Sent records which notifications went out, so a redelivered change sends
// nothing twice.
type Sent interface {
	// MarkSent records key and reports whether it was new.
	MarkSent(ctx context.Context, key string) (bool, error)
	// UnmarkSent forgets key, after a send that failed.
	UnmarkSent(ctx context.Context, key string) error
}

// WantedChanges are the writes (Configuration.Change) the notifier is fed,
// besides deletions: status and progress for the owner's pages and e-mail,
// edits so that the owner's other pages see a rename.
var WantedChanges = []string{longrun.ChangeStatus, longrun.ChangeProgress, longrun.ChangeEdit}

// Wants is the one definition of the notifier's feed filter: deletions, and
// writes whose change is one of WantedChanges. The local feed applies it,
// as does the stream poller of longrun-aws-local; template.yaml's
// FilterCriteria say the same on AWS, and a test holds them equal.
func Wants(r events.DynamoDBEventRecord) bool {
	if r.EventName == "REMOVE" {
		return true
	}
	c, ok := r.Change.NewImage["change"]
	return ok && c.DataType() == events.DataTypeString && slices.Contains(WantedChanges, c.String())
}

// A Notifier turns configuration changes into pushes and e-mails.
type Notifier struct {
	Mail   Mailer
	Push   Pusher
	Sent   Sent
	Logger *slog.Logger
	// BaseURL is where the page is, for links in e-mails.
	BaseURL string
	// Link, if set, is the path of a configuration's read-only link
	// (web.Sessions.LinkPath), which the e-mail links to so that it opens
	// on any device; else the e-mail links to the page, which opens the
	// configuration only in the browser holding the owner's session.
	Link func(*longrun.Configuration) string
	// Kinds describe what configurations compute, for the e-mails' words;
	// a kind not in it is named by its name only.
	Kinds longrun.Kinds
	// Metrics counts notifications by channel and outcome; nil records nothing.
	Metrics longrun.Metrics
	// Addresses holds which addresses confirmed they want mail; mail goes
	// to no other. Nil sends no mail at all.
	Addresses longrun.Addresses
	// Limiter caps mail per address and per owner a day, as Quotas say
	// (MailPerAddress, MailPerOwner); nil caps nothing.
	Limiter longrun.Limiter
	Quotas  longrun.Quotas
	// Failures records mail refused for good; nil only logs it.
	Failures Failures
	// Retry takes e-mails whose send failed; nil fails the feed record
	// instead, which holds the feed until it is sent.
	Retry RetryQueue
	// Outbox, if set, is sent a copy of the job of every version the feed
	// shows newly queued, marked Recheck and delayed by OutboxDelay (0: a
	// minute): the change feed is the outbox of the write that queued it,
	// so a version whose job was never sent (the API stopped between its
	// write and its send) is rendered all the same. The copy of a version
	// already under way or done is dropped at once by the worker. Locally
	// the job is written in the configuration's transaction instead.
	Outbox      JobQueue
	OutboxDelay time.Duration
	// Hooks, if set, are POSTed every version that ends.
	Hooks *Webhooks
	// Devices are the owners' browsers to notify through their push
	// services (Web Push), signed with VAPID; both nil notify none.
	Devices longrun.Devices
	VAPID   *VAPID
	// DeviceClient sends to the push services; nil is http.DefaultClient.
	DeviceClient *http.Client
	// Preferences hold the owners' default channels, for configurations
	// that do not say (Configuration.Notify); nil: every channel.
	Preferences longrun.Preferences
	// Replay numbers and keeps each owner's pushes, for a page that was
	// away to ask for what it missed; nil numbers none.
	Replay longrun.Replay
}

// A JobQueue takes a render job to deliver after a delay.
type JobQueue interface {
	SendJobAfter(ctx context.Context, job longrun.Job, delay time.Duration) error
}

func (n *Notifier) count(channel, outcome string) {
	if n.Metrics != nil {
		n.Metrics.Add(longrun.MetricNotifications, 1, "channel", channel, "outcome", outcome)
	}
}

// A Message is what pages receive over their WebSocket.
type Message struct {
	// Seq numbers the owner's updates, 1, 2, 3… (longrun.Replay); absent
	// where they are not kept.
	Seq           int64     `json:"seq,omitempty"`
	Type          string    `json:"type"` // "configuration" or "deleted"
	ID            string    `json:"id"`
	Configuration *web.View `json:"configuration,omitempty"`
}

// HandleStream handles a batch of change records and reports the first that
// failed by its sequence number, so the feed retries from there.
func (n *Notifier) HandleStream(ctx context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
	var resp events.DynamoDBEventResponse
	// A batch of the feed is a span of its own (a Lambda invocation's): the
	// span telling of each record continues that version's trace and links
	// to it.
	ctx, span := tracer().Start(ctx, "notify feed", trace.WithSpanKind(trace.SpanKindConsumer),
		trace.WithAttributes(attribute.Int("longrun.records", len(ev.Records))))
	defer span.End()
	for _, r := range ev.Records {
		if err := n.handle(ctx, r); err != nil {
			n.logger().Warn("notify: record failed", "sequenceNumber", r.Change.SequenceNumber, "err", err)
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.DynamoDBBatchItemFailure{ItemIdentifier: r.Change.SequenceNumber})
			break // records of one shard are handled in order
		}
	}
	return resp, nil
}

// images decodes a record's old and new configurations (nil when absent).
func images(r events.DynamoDBEventRecord) (old, cur *longrun.Configuration, err error) {
	if len(r.Change.OldImage) > 0 {
		if old, err = attr.Configuration(r.Change.OldImage); err != nil {
			return nil, nil, err
		}
	}
	if len(r.Change.NewImage) > 0 {
		cur, err = attr.Configuration(r.Change.NewImage)
	}
	return old, cur, err
}

func (n *Notifier) handle(ctx context.Context, r events.DynamoDBEventRecord) error {
	old, cur, err := images(r)
	switch {
	case err != nil:
		return err
	case cur == nil && old != nil:
		n.push(ctx, old.Owner, Message{Type: "deleted", ID: old.ID})
		return nil
	case cur == nil:
		return nil
	}
	// Telling of a version is a part of its trace; the feed's own span, if
	// it has one (a Lambda invocation's), is linked.
	opts := []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindConsumer),
		trace.WithAttributes(attribute.String("longrun.configuration.id", cur.ID), attribute.Int64("longrun.version", cur.Version),
			attribute.String("longrun.status", string(cur.Status)))}
	if feed := trace.SpanContextFromContext(ctx); feed.IsValid() {
		opts = append(opts, trace.WithLinks(trace.Link{SpanContext: feed}))
	}
	if cur.Trace != "" {
		ctx = tracing.Parent(trace.ContextWithSpanContext(ctx, trace.SpanContext{}), cur.Trace)
	} else {
		opts = append(opts, trace.WithNewRoot())
	}
	ctx, span := tracer().Start(ctx, "notify "+cur.Change, opts...)
	err = n.changed(ctx, old, cur)
	tracing.End(span, err)
	return err
}

// tracer is asked for at each use: the global provider may be set after
// this package starts (and again, in tests).
func tracer() trace.Tracer { return otel.Tracer("github.com/longrun/longrun/notify") }

// spanned runs f in a child span named name.
func spanned(ctx context.Context, name string, f func(context.Context) error) error {
	ctx, span := tracer().Start(ctx, name)
	err := f(ctx)
	tracing.End(span, err)
	return err
}

// changed sends what a change calls for — the outbox's copy of a new
// job, the mail — then pushes the configuration.
func (n *Notifier) changed(ctx context.Context, old, cur *longrun.Configuration) error {
	if n.Outbox != nil && longrun.NewlyQueued(old, cur) {
		job := cur.Job()
		job.Recheck = true
		if err := n.Outbox.SendJobAfter(ctx, job, cmp.Or(n.OutboxDelay, time.Minute)); err != nil {
			return fmt.Errorf("send the outbox's copy of the job: %w", err)
		}
	}
	// The e-mail goes first, so a page told "done" finds it in the mailbox.
	if err := n.mailFor(ctx, old, cur); err != nil {
		return err
	}
	if err := n.hooksFor(ctx, old, cur); err != nil {
		return err
	}
	if err := n.devicesFor(ctx, old, cur); err != nil {
		return err
	}
	status, err := longrun.EmailStatus(ctx, n.Addresses, cur.Owner, cur.NotifyEmail)
	if err != nil {
		n.logger().WarnContext(ctx, "notify: address status unknown", "err", err)
	}
	v := web.ViewOf(cur, status)
	n.push(ctx, cur.Owner, Message{Type: "configuration", ID: cur.ID, Configuration: &v})
	return nil
}

// mailFor sends the mail a change calls for: the confirmation of a new
// address; the result of a version that finished (done or failed; not a
// cancel, which the owner did) or that the owner asked to be sent again.
func (n *Notifier) mailFor(ctx context.Context, old, cur *longrun.Configuration) error {
	if cur.NotifyEmail == "" {
		return nil
	}
	if old == nil || old.NotifyEmail != cur.NotifyEmail {
		if err := n.confirm(ctx, cur.Owner, cur.NotifyEmail); err != nil {
			return err
		}
	}
	transition := old == nil || old.Version != cur.Version || old.Status != cur.Status
	requested := old != nil && cur.MailRequests > old.MailRequests // "send me the result now"
	if (cur.Status == longrun.StatusDone || cur.Status == longrun.StatusFailed) && (transition || requested) {
		if !requested && !n.wants(ctx, cur, longrun.ChannelEmail) {
			n.logger().InfoContext(ctx, "notify: no e-mail: its owner chose none", "configurationId", cur.ID, "version", cur.Version,
				"channel", "email", "outcome", "unwanted")
			n.count("email", "unwanted")
			return nil
		}
		return n.mail(ctx, cur)
	}
	return nil
}

// wants reports whether c's owner wants to hear of it on the channel: as c
// says, else as the owner's default (yes when it cannot be read: a missed
// notification is worse than one too many).
func (n *Notifier) wants(ctx context.Context, c *longrun.Configuration, channel string) bool {
	var owner longrun.Channels
	if n.Preferences != nil && !c.Notify.Decides(channel) {
		var err error
		if owner, err = n.Preferences.Preferences(ctx, c.Owner); err != nil {
			n.logger().WarnContext(ctx, "notify: the owner's channels could not be read; notified on every one", "err", err)
		}
	}
	return c.Notify.Wants(channel, owner)
}

// confirm sends the one confirmation mail of owner's new address: nothing
// else goes to an address until it is confirmed.
func (n *Notifier) confirm(ctx context.Context, owner, addr string) error {
	if n.Addresses == nil {
		return nil
	}
	if s, err := n.Addresses.Suppressed(ctx, addr); err != nil || s {
		return err
	}
	a := longrun.Address{Owner: owner, Addr: addr, Token: longrun.NewID(), UnsubscribeToken: longrun.NewID(), RequestedAt: time.Now().UTC()}
	created, err := n.Addresses.PutAddress(ctx, a, true)
	if err != nil || !created {
		return err // an address is asked once
	}
	base := strings.TrimSuffix(n.BaseURL, "/")
	m := Mail{Owner: owner, To: addr, Subject: "Confirm e-mails from longrun",
		Unsubscribe: base + "/api/email/unsubscribe?token=" + a.UnsubscribeToken,
		Text: "Someone, you we hope, asked longrun to e-mail this address when their computations finish.\n\n" +
			"To get those e-mails, confirm here:\n" + base + "/api/email/confirm?token=" + a.Token + "\n\n" +
			"If it was not you, ignore this message: this address gets nothing more from longrun unless it is confirmed.\n"}
	return n.send(ctx, "confirm/"+owner+"/"+strings.ToLower(addr), m)
}

// mail sends the one e-mail of a finished version, if its address is
// confirmed and within its caps.
func (n *Notifier) mail(ctx context.Context, c *longrun.Configuration) error {
	log := n.logger().With("configurationId", c.ID, "version", c.Version, "channel", "email")
	status, err := longrun.EmailStatus(ctx, n.Addresses, c.Owner, c.NotifyEmail)
	if err != nil {
		return err
	}
	if status != longrun.EmailConfirmed {
		log.InfoContext(ctx, "notify: no e-mail: the address is "+status, "outcome", "skipped")
		n.count("email", "skipped")
		return nil
	}
	a, err := n.Addresses.Address(ctx, c.Owner, c.NotifyEmail)
	if err != nil {
		return err
	}
	m := message(c, n.BaseURL, n.link(c), n.Kinds)
	m.Unsubscribe = strings.TrimSuffix(n.BaseURL, "/") + "/api/email/unsubscribe?token=" + cmp.Or(a.UnsubscribeToken, a.Token)
	m.Text += "\nTo get no more of these e-mails: " + m.Unsubscribe + "\n"
	m.HTML = html(c, m, n.BaseURL, n.link(c), n.Kinds)
	key := "mail/" + c.ID + "/" + strconv.FormatInt(c.Version, 10) + "/" + string(c.Status)
	if c.MailRequests > 0 { // each request is sent once; a finish after requests still mails
		key += "/" + strconv.FormatInt(c.MailRequests, 10)
	}
	return n.send(ctx, key, m)
}

// send sends m once for key, within the address's and the owner's daily
// caps. The mark is written first: a crash between the mark and the send
// loses that e-mail rather than sending it twice.
func (n *Notifier) send(ctx context.Context, key string, m Mail) error {
	log := n.logger().With("configurationId", m.ConfigurationID, "version", m.Version, "channel", "email")
	first, err := n.Sent.MarkSent(ctx, key)
	if err != nil || !first {
		return err
	}
	if capped, err := n.capped(ctx, m); err != nil || capped != "" {
		if capped != "" {
			log.WarnContext(ctx, "notify: e-mail capped: "+capped, "outcome", "capped")
			n.count("email", "capped")
		}
		return err
	}
	return n.deliver(ctx, Retry{Key: key, Mail: m, Trace: tracing.Of(ctx)}, log)
}

// deliver makes one attempt at r. A send refused for good is recorded on
// its configuration; any other failure goes to the retry queue, until
// MaxAttempts, and is then recorded too.
func (n *Notifier) deliver(ctx context.Context, r Retry, log *slog.Logger) error {
	err := spanned(ctx, "email send", func(ctx context.Context) error { return n.Mail.Send(ctx, r.Mail) })
	r.Attempt++
	switch {
	case err == nil:
		log.InfoContext(ctx, "notify: e-mail sent", "outcome", "sent", "attempt", r.Attempt)
		n.count("email", "sent")
		return nil
	case errors.Is(err, ErrRefused):
		log.WarnContext(ctx, "notify: e-mail refused for good", "outcome", "refused", "err", err)
		n.count("email", "refused")
		return n.recordFailure(ctx, r, "the e-mail to "+r.Mail.To+" was refused by the mail service")
	case n.Retry == nil:
		if uerr := n.Sent.UnmarkSent(context.WithoutCancel(ctx), r.Key); uerr != nil {
			log.Error("notify: could not unmark a failed e-mail; it will not be retried", "err", uerr)
		}
		log.WarnContext(ctx, "notify: e-mail failed", "outcome", "failed", "err", err)
		n.count("email", "failed")
		return fmt.Errorf("send e-mail: %w", err)
	case r.Attempt >= MaxAttempts:
		log.WarnContext(ctx, "notify: e-mail failed for the last time", "outcome", "failed", "attempt", r.Attempt, "err", err)
		n.count("email", "failed")
		return n.recordFailure(ctx, r, fmt.Sprintf("the e-mail to %s could not be sent after %d tries", r.Mail.To, r.Attempt))
	}
	delay := longrun.Backoff(r.Attempt, RetryBase)
	log.WarnContext(ctx, "notify: e-mail failed; it will be tried again", "outcome", "retrying", "attempt", r.Attempt,
		"delay", delay.String(), "err", err)
	n.count("email", "retrying")
	return n.Retry.SendMailAfter(ctx, r, delay)
}

func (n *Notifier) recordFailure(ctx context.Context, r Retry, reason string) error {
	if r.Mail.ConfigurationID == "" || n.Failures == nil {
		return nil
	}
	return n.Failures.RecordMailFailure(ctx, r.Mail.ConfigurationID, r.Mail.Version, reason)
}

// HandleRetries sends the retry queue's notifications, as SQS events (the
// e-mails tried again, the webhook deliveries), each on its own: a failure is queued again with a longer delay (or
// recorded as failed), and reported only if it could not be queued.
func (n *Notifier) HandleRetries(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
	// Each on its own, and at once: an endpoint that waits its whole
	// timeout delays none of the batch's other messages.
	failed := make([]bool, len(ev.Records))
	var wg sync.WaitGroup
	for i, m := range ev.Records {
		var r Retry
		if err := json.Unmarshal([]byte(m.Body), &r); err != nil {
			n.logger().Error("notify: undecodable retry dropped", "messageId", m.MessageId, "err", err)
			continue
		}
		wg.Go(func() {
			var err error
			// Each send continues its version's trace.
			ctx, span := tracer().Start(tracing.Parent(ctx, r.Trace), "notify "+r.channel(), trace.WithSpanKind(trace.SpanKindConsumer),
				trace.WithAttributes(attribute.Int("longrun.attempt", r.Attempt+1)))
			switch {
			case r.Hook != nil:
				err = n.deliverHook(ctx, r)
			case r.Device != nil:
				err = n.deliverDevices(ctx, r)
			default:
				err = n.retry(ctx, r, n.retryLogger(r))
			}
			tracing.End(span, err)
			if err != nil {
				n.retryLogger(r).WarnContext(ctx, "notify: retry could not be handled", "err", err)
				failed[i] = true
			}
		})
	}
	wg.Wait()
	var resp events.SQSEventResponse
	for i, m := range ev.Records {
		if failed[i] {
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: m.MessageId})
		}
	}
	return resp, nil
}

// retry sends a retried e-mail, unless its address was suppressed or
// unsubscribed in the meantime.
func (n *Notifier) retry(ctx context.Context, r Retry, log *slog.Logger) error {
	if n.Addresses != nil {
		if s, err := n.Addresses.Suppressed(ctx, r.Mail.To); err != nil || s {
			return err
		}
		if a, err := n.Addresses.Address(ctx, r.Mail.Owner, r.Mail.To); err != nil || a.OptedOut {
			if longrun.ErrorCode(err) == longrun.ENOTFOUND {
				return nil
			}
			return err
		}
	}
	return n.deliver(ctx, r, log)
}

// capped names the daily cap m would break, or "".
func (n *Notifier) capped(ctx context.Context, m Mail) (string, error) {
	if n.Limiter == nil {
		return "", nil
	}
	for _, c := range []struct {
		key, what string
		limit     int
	}{{"mail/addr/" + strings.ToLower(m.To), "the address's", n.Quotas.Limits().MailPerAddress},
		{"mail/owner/" + m.Owner, "the owner's", n.Quotas.Limits().MailPerOwner}} {
		retry, err := n.Limiter.Allow(ctx, c.key, c.limit, 24*time.Hour)
		if err != nil || retry > 0 {
			return fmt.Sprintf("%s %d a day", c.what, c.limit), err
		}
	}
	return "", nil
}

// link is the path an e-mail about c links to.
func (n *Notifier) link(c *longrun.Configuration) string {
	if n.Link != nil {
		return n.Link(c)
	}
	return "/#" + c.ID
}

func message(c *longrun.Configuration, base, path string, kinds longrun.Kinds) Mail {
	link := strings.TrimSuffix(base, "/") + path
	m := Mail{Owner: c.Owner, ConfigurationID: c.ID, Version: c.Version, To: c.NotifyEmail}
	what, desc := c.KindName(), ""
	if k, ok := kinds[c.KindName()]; ok {
		what = k.Describe().Title
		if spec, err := k.Decode(c.Params); err == nil {
			desc = ": " + spec.Summary()
		}
	}
	if c.Status == longrun.StatusDone {
		m.Subject = fmt.Sprintf("Your %s is ready", what)
		m.Text = fmt.Sprintf("Your %s %s (version %d%s) has finished.\n\nSee it at %s\n", what, c.Name, c.Version, desc, link)
		if c.Stats != nil {
			m.Text += fmt.Sprintf("\n%s%d iterations in %d ms.\n", extra(c.Stats), c.Stats.Iterations, c.Stats.RenderMs)
		}
	} else {
		m.Subject = fmt.Sprintf("Your %s could not be computed", what)
		// A read-only link cannot retry: the page where it was made can.
		page := strings.TrimSuffix(base, "/") + "/#" + c.ID
		m.Text = fmt.Sprintf("Your %s %s (version %d%s) could not be computed:\n\n%s\n\nRetry it from the page where you made it: %s\n", what, c.Name, c.Version, desc, c.Error, page)
		if page != link {
			m.Text += fmt.Sprintf("What it shows, on any device: %s\n", link)
		}
	}
	return m
}

// extra lists a result's own figures, a line.
func extra(st *longrun.Stats) string {
	if len(st.Extra) == 0 {
		return ""
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(st.Extra)) {
		parts = append(parts, fmt.Sprintf("%s %g", k, st.Extra[k]))
	}
	return strings.Join(parts, ", ") + ".\n"
}

func (n *Notifier) push(ctx context.Context, owner string, m Message) {
	b, err := json.Marshal(m)
	if err == nil && n.Replay != nil {
		// Numbered first: a page that sees a gap asks for what is missing.
		u := longrun.Update{Message: b}
		if u.Seq, err = n.Replay.Record(ctx, owner, b); err == nil {
			b = u.Numbered()
		} else { // pushed all the same: the page loads afresh on its next gap
			n.logger().WarnContext(ctx, "notify: update not numbered", "configurationId", m.ID, "err", err)
			err = nil
		}
	}
	if err == nil {
		err = spanned(ctx, "push", func(ctx context.Context) error { return n.Push.Push(ctx, owner, b) })
	}
	if err != nil { // pages catch up on their next load; do not hold the feed
		n.logger().WarnContext(ctx, "notify: push failed", "channel", "push", "outcome", "failed", "configurationId", m.ID, "err", err)
		n.count("push", "failed")
		return
	}
	n.logger().DebugContext(ctx, "notify: pushed", "channel", "push", "outcome", "sent", "configurationId", m.ID)
	n.count("push", "sent")
}

func (n *Notifier) logger() *slog.Logger {
	if n.Logger == nil {
		return slog.Default()
	}
	return n.Logger
}

// A sesEvent is the part of an SES bounce or complaint event (event
// publishing's eventType, or a notification's notificationType) that
// names whom not to mail again.
type sesEvent struct {
	EventType        string `json:"eventType"`
	NotificationType string `json:"notificationType"`
	Bounce           struct {
		BounceType        string `json:"bounceType"`
		BouncedRecipients []struct {
			EmailAddress string `json:"emailAddress"`
		} `json:"bouncedRecipients"`
	} `json:"bounce"`
	Complaint struct {
		ComplainedRecipients []struct {
			EmailAddress string `json:"emailAddress"`
		} `json:"complainedRecipients"`
	} `json:"complaint"`
}

// HandleSES suppresses the addresses of SES's bounce and complaint events,
// delivered through SNS: a hard bounce or a complaint, and the address is
// never mailed again. Soft bounces are left to the next send.
func (n *Notifier) HandleSES(ctx context.Context, ev events.SNSEvent) error {
	for _, r := range ev.Records {
		var e sesEvent
		if err := json.Unmarshal([]byte(r.SNS.Message), &e); err != nil {
			n.logger().Error("notify: undecodable SES event dropped", "messageId", r.SNS.MessageID, "err", err)
			continue
		}
		var addrs []string
		switch cmp.Or(e.EventType, e.NotificationType) {
		case "Bounce":
			if e.Bounce.BounceType == "Permanent" {
				for _, b := range e.Bounce.BouncedRecipients {
					addrs = append(addrs, b.EmailAddress)
				}
			}
		case "Complaint":
			for _, c := range e.Complaint.ComplainedRecipients {
				addrs = append(addrs, c.EmailAddress)
			}
		}
		for _, a := range addrs {
			if err := n.Addresses.Suppress(ctx, a, strings.ToLower(cmp.Or(e.EventType, e.NotificationType))); err != nil {
				return err // SNS retries the delivery
			}
			n.logger().InfoContext(ctx, "notify: address suppressed", "reason", cmp.Or(e.EventType, e.NotificationType))
			n.count("email", "suppressed")
		}
	}
	return nil
}
