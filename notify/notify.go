// Package notify tells users about their configurations: every change to a
// configuration (a DynamoDB Stream record, or the local change log in the same
// shape) is pushed to the owner's open pages, and a finished version is
// e-mailed once to the address the configuration names: once when it is
// done, and once when it fails.
package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"

	"github.com/aws/aws-lambda-go/events"

	"github.com/longrun/longrun"
	"github.com/longrun/longrun/aws/attr"
	"github.com/longrun/longrun/web"
)

// A Mail is one message to send.
type Mail struct {
	Owner           string `json:"owner"`
	ConfigurationID string `json:"configurationId"`
	Version         int64  `json:"version"`
	To              string `json:"to"`
	Subject         string `json:"subject"`
	Text            string `json:"text"`
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
	// Metrics counts notifications by channel and outcome; nil records nothing.
	Metrics longrun.Metrics
}

func (n *Notifier) count(channel, outcome string) {
	if n.Metrics != nil {
		n.Metrics.Add(longrun.MetricNotifications, 1, "channel", channel, "outcome", outcome)
	}
}

// A Message is what pages receive over their WebSocket.
type Message struct {
	Type          string    `json:"type"` // "configuration" or "deleted"
	ID            string    `json:"id"`
	Configuration *web.View `json:"configuration,omitempty"`
}

// HandleStream handles a batch of change records and reports the first that
// failed by its sequence number, so the feed retries from there.
func (n *Notifier) HandleStream(ctx context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
	var resp events.DynamoDBEventResponse
	for _, r := range ev.Records {
		if err := n.handle(ctx, r); err != nil {
			n.logger().Warn("notify: record failed", "sequenceNumber", r.Change.SequenceNumber, "err", err)
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.DynamoDBBatchItemFailure{ItemIdentifier: r.Change.SequenceNumber})
			break // records of one shard are handled in order
		}
	}
	return resp, nil
}

func (n *Notifier) handle(ctx context.Context, r events.DynamoDBEventRecord) error {
	var old, cur *longrun.Configuration
	var err error
	if len(r.Change.OldImage) > 0 {
		if old, err = attr.Configuration(r.Change.OldImage); err != nil {
			return err
		}
	}
	if len(r.Change.NewImage) > 0 {
		if cur, err = attr.Configuration(r.Change.NewImage); err != nil {
			return err
		}
	}
	switch {
	case cur == nil && old != nil:
		n.push(ctx, old.Owner, Message{Type: "deleted", ID: old.ID})
		return nil
	case cur == nil:
		return nil
	}
	// The e-mail goes first, so a page told "done" finds it in the mailbox.
	err = nil
	transition := old == nil || old.Version != cur.Version || old.Status != cur.Status
	mailed := cur.Status == longrun.StatusDone || cur.Status == longrun.StatusFailed // not a cancel: the owner did it
	if cur.NotifyEmail != "" && mailed && transition {
		err = n.mail(ctx, cur)
	}
	v := web.ViewOf(cur)
	n.push(ctx, cur.Owner, Message{Type: "configuration", ID: cur.ID, Configuration: &v})
	return err
}

// mail sends the one e-mail of a finished version. The record is written
// first: a crash between the record and the send loses that e-mail rather
// than sending it twice.
func (n *Notifier) mail(ctx context.Context, c *longrun.Configuration) error {
	key := "mail/" + c.ID + "/" + strconv.FormatInt(c.Version, 10) + "/" + string(c.Status)
	first, err := n.Sent.MarkSent(ctx, key)
	if err != nil || !first {
		return err
	}
	m := message(c, n.BaseURL)
	log := n.logger().With("configurationId", c.ID, "version", c.Version, "channel", "email")
	if err := n.Mail.Send(ctx, m); err != nil {
		if uerr := n.Sent.UnmarkSent(context.WithoutCancel(ctx), key); uerr != nil {
			log.Error("notify: could not unmark a failed e-mail; it will not be retried", "err", uerr)
		}
		log.WarnContext(ctx, "notify: e-mail failed", "outcome", "failed", "err", err)
		n.count("email", "failed")
		return fmt.Errorf("send e-mail: %w", err)
	}
	log.InfoContext(ctx, "notify: e-mail sent", "outcome", "sent")
	n.count("email", "sent")
	return nil
}

func message(c *longrun.Configuration, base string) Mail {
	link := strings.TrimSuffix(base, "/") + "/#" + c.ID
	m := Mail{Owner: c.Owner, ConfigurationID: c.ID, Version: c.Version, To: c.NotifyEmail}
	p := c.Params
	desc := fmt.Sprintf("c = %g%+gi, %d×%d, depth %d, zoom %g, %s", p.C.Re, p.C.Im, p.Width, p.Height, p.Depth, p.Zoom, p.Colormap)
	if c.Status == longrun.StatusDone {
		m.Subject = fmt.Sprintf("Your Julia set %q is ready", c.Name)
		m.Text = fmt.Sprintf("%q (version %d: %s) has finished rendering.\n\nSee it at %s\n", c.Name, c.Version, desc, link)
		if c.Stats != nil {
			m.Text += fmt.Sprintf("\n%d iterations in %d ms.\n", c.Stats.Iterations, c.Stats.RenderMs)
		}
	} else {
		m.Subject = fmt.Sprintf("Your Julia set %q failed to render", c.Name)
		m.Text = fmt.Sprintf("%q (version %d: %s) could not be rendered:\n\n%s\n\nRetry it at %s\n", c.Name, c.Version, desc, c.Error, link)
	}
	return m
}

func (n *Notifier) push(ctx context.Context, owner string, m Message) {
	b, err := json.Marshal(m)
	if err == nil {
		err = n.Push.Push(ctx, owner, b)
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
