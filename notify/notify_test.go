package notify_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/longrun/longrun"
	"github.com/longrun/longrun/aws/attr"
	"github.com/longrun/longrun/kinds/classifier"
	"github.com/longrun/longrun/kinds/juliaset"
	"github.com/longrun/longrun/local/memlimit"
	"github.com/longrun/longrun/local/sqlite"
	"github.com/longrun/longrun/notify"
)

type mailer struct {
	mu   sync.Mutex
	sent []notify.Mail
	fail error
}

func (m *mailer) Send(ctx context.Context, mail notify.Mail) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return m.fail
	}
	m.sent = append(m.sent, mail)
	return nil
}

type pusher struct{ msgs map[string][]notify.Message }

func (p *pusher) Push(ctx context.Context, owner string, msg []byte) error {
	var m notify.Message
	json.Unmarshal(msg, &m)
	p.msgs[owner] = append(p.msgs[owner], m)
	return nil
}

// retries is a retry queue that keeps what it is given.
type retries struct {
	mu    sync.Mutex
	queue []notify.Retry
	delay []time.Duration
}

func (r *retries) SendMailAfter(_ context.Context, m notify.Retry, d time.Duration) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.queue, r.delay = append(r.queue, m), append(r.delay, d)
	return nil
}

// take hands the queued retries over as the SQS event the queue delivers.
func (r *retries) take() events.SQSEvent {
	r.mu.Lock()
	defer r.mu.Unlock()
	var ev events.SQSEvent
	for i, m := range r.queue {
		b, _ := json.Marshal(m)
		ev.Records = append(ev.Records, events.SQSMessage{MessageId: strconv.Itoa(i), Body: string(b)})
	}
	r.queue, r.delay = nil, nil
	return ev
}

// failures keeps what is recorded as failed.
type failures struct{ reasons map[string]string }

func (f *failures) RecordMailFailure(_ context.Context, id string, version int64, reason string) error {
	f.reasons[id+"/"+strconv.FormatInt(version, 10)] = reason
	return nil
}

// newNotifier returns a notifier whose owner has confirmed ada@example.com.
func newNotifier(t *testing.T) (*notify.Notifier, *mailer, *pusher) {
	db, err := sqlite.Open(context.Background(), t.TempDir()+"/db")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	c := config("", 0)
	db.PutAddress(context.Background(), longrun.Address{Owner: c.Owner, Addr: c.NotifyEmail, Token: longrun.NewID(), Confirmed: true}, true)
	m, p := &mailer{}, &pusher{msgs: map[string][]notify.Message{}}
	return &notify.Notifier{Mail: m, Push: p, Sent: db, Addresses: db, Limiter: &memlimit.Limiter{}, BaseURL: "http://x", Kinds: longrun.Kinds{juliaset.Name: juliaset.New(juliaset.Bounds{})},
		Failures: &failures{reasons: map[string]string{}}, Retry: &retries{}}, m, p
}

func config(status longrun.Status, version int64) *longrun.Configuration {
	return &longrun.Configuration{ID: "0123456789abcdef0123456789abcdef", Owner: "fedcba9876543210fedcba9876543210",
		Name: "n", NotifyEmail: "ada@example.com", Version: version, Status: status, Rev: 1,
		ParamsHash: "h", CreatedAt: time.Now(), UpdatedAt: time.Now()}
}

func record(t *testing.T, seq int, old, cur *longrun.Configuration) events.DynamoDBEventRecord {
	t.Helper()
	r := events.DynamoDBEventRecord{EventName: "MODIFY", Change: events.DynamoDBStreamRecord{SequenceNumber: strconv.Itoa(seq)}}
	var err error
	if old != nil {
		if r.Change.OldImage, err = attr.StreamImage(old); err != nil {
			t.Fatal(err)
		}
	}
	if cur != nil {
		if r.Change.NewImage, err = attr.StreamImage(cur); err != nil {
			t.Fatal(err)
		}
	}
	return r
}

func TestRedeliveredChangeSendsOneEmail(t *testing.T) {
	n, m, p := newNotifier(t)
	ev := events.DynamoDBEvent{Records: []events.DynamoDBEventRecord{
		record(t, 1, config(longrun.StatusQueued, 1), config(longrun.StatusRendering, 1)),
		record(t, 2, config(longrun.StatusRendering, 1), config(longrun.StatusDone, 1)),
	}}
	for range 3 { // the feed redelivers
		if resp, err := n.HandleStream(context.Background(), ev); err != nil || len(resp.BatchItemFailures) != 0 {
			t.Fatal(resp, err)
		}
	}
	if len(m.sent) != 1 || m.sent[0].To != "ada@example.com" {
		t.Errorf("sent %+v, want one e-mail", m.sent)
	}
	if got := len(p.msgs[config("", 0).Owner]); got != 6 {
		t.Errorf("%d pushes to the owner, want one per record delivered (6)", got)
	}
}

// An e-mail that fails waits in the retry queue: the feed goes on, other
// records' pushes and e-mails go out at once, and the retry sends it once.
func TestAFailingEmailWaitsApartAndTheFeedGoesOn(t *testing.T) {
	n, m, p := newNotifier(t)
	m.fail = errors.New("smtp down")
	ev := events.DynamoDBEvent{Records: []events.DynamoDBEventRecord{
		record(t, 7, config(longrun.StatusRendering, 2), config(longrun.StatusDone, 2)),
		record(t, 8, config(longrun.StatusDone, 2), config(longrun.StatusDone, 2)),
	}}
	if resp, _ := n.HandleStream(context.Background(), ev); len(resp.BatchItemFailures) != 0 {
		t.Fatalf("failures %+v: a failing e-mail held the feed", resp.BatchItemFailures)
	}
	if got := len(p.msgs[config("", 0).Owner]); got != 2 {
		t.Errorf("%d pushes, want both records pushed at once", got)
	}
	q := n.Retry.(*retries)
	if len(q.queue) != 1 || q.queue[0].Attempt != 1 || q.delay[0] <= 0 {
		t.Fatalf("retry queue %+v %v, want the e-mail after its first try, delayed", q.queue, q.delay)
	}
	m.fail = nil
	if resp, _ := n.HandleRetries(context.Background(), q.take()); len(resp.BatchItemFailures) != 0 {
		t.Fatalf("retry failures %+v", resp.BatchItemFailures)
	}
	n.HandleStream(context.Background(), ev) // a redelivery sends nothing more
	if len(m.sent) != 1 || len(q.queue) != 0 {
		t.Errorf("sent %d, %d queued; want the one e-mail sent once", len(m.sent), len(q.queue))
	}
}

// An e-mail that keeps failing is tried MaxAttempts times, then recorded
// on its configuration; one the mail service refuses for good at once.
func TestAnEmailThatKeepsFailingIsRecordedAsFailed(t *testing.T) {
	n, m, _ := newNotifier(t)
	m.fail = errors.New("smtp down")
	c := config(longrun.StatusDone, 4)
	n.HandleStream(context.Background(), events.DynamoDBEvent{Records: []events.DynamoDBEventRecord{
		record(t, 1, config(longrun.StatusRendering, 4), c)}})
	q := n.Retry.(*retries)
	for range notify.MaxAttempts - 1 {
		n.HandleRetries(context.Background(), q.take())
	}
	f := n.Failures.(*failures)
	if len(q.queue) != 0 || !strings.Contains(f.reasons[c.ID+"/4"], "after 5 tries") {
		t.Errorf("after %d tries: %d queued, failure %q; want none queued and the failure recorded", notify.MaxAttempts, len(q.queue), f.reasons)
	}
	m.fail = fmt.Errorf("%w: rejected", notify.ErrRefused)
	n.HandleStream(context.Background(), events.DynamoDBEvent{Records: []events.DynamoDBEventRecord{
		record(t, 2, config(longrun.StatusRendering, 5), config(longrun.StatusDone, 5))}})
	if len(q.queue) != 0 || !strings.Contains(f.reasons[c.ID+"/5"], "refused") {
		t.Errorf("a refused e-mail: %d queued, failure %q; want it recorded at once", len(q.queue), f.reasons[c.ID+"/5"])
	}
}

// Nobody is mailed who did not ask: a new address gets one confirmation
// e-mail and nothing else until it is confirmed; an unsubscribed or
// suppressed address gets nothing; subjects carry no user text.
func TestOnlyConfirmedAddressesAreMailed(t *testing.T) {
	n, m, p := newNotifier(t)
	ctx := context.Background()
	stranger := config(longrun.StatusQueued, 1)
	stranger.NotifyEmail, stranger.Name = "victim@example.com", "BUY CHEAP PILLS at spam.example"
	done := *stranger
	done.Status = longrun.StatusDone
	for range 2 { // a redelivery asks nothing twice
		n.HandleStream(ctx, events.DynamoDBEvent{Records: []events.DynamoDBEventRecord{
			record(t, 1, nil, stranger), record(t, 2, stranger, &done)}})
	}
	if len(m.sent) != 1 || !strings.HasPrefix(m.sent[0].Subject, "Confirm") || m.sent[0].Unsubscribe == "" ||
		strings.Contains(m.sent[0].Subject+m.sent[0].Text, "PILLS") {
		t.Fatalf("sent %+v, want only the confirmation, without the configuration's text", m.sent)
	}
	if last := p.msgs[done.Owner][len(p.msgs[done.Owner])-1]; last.Configuration.NotifyEmailStatus != longrun.EmailPending {
		t.Errorf("the push says the address is %q, want pending", last.Configuration.NotifyEmailStatus)
	}
	as := n.Addresses
	a, _ := as.Address(ctx, done.Owner, done.NotifyEmail)
	a.OptedOut = true
	as.PutAddress(ctx, a, false)
	again := done
	again.Version, again.Status = 2, longrun.StatusDone
	n.HandleStream(ctx, events.DynamoDBEvent{Records: []events.DynamoDBEventRecord{record(t, 3, stranger, &again)}})
	as.Suppress(ctx, "ada@example.com", "bounce")
	n.HandleStream(ctx, events.DynamoDBEvent{Records: []events.DynamoDBEventRecord{
		record(t, 4, config(longrun.StatusRendering, 9), config(longrun.StatusDone, 9))}})
	if len(m.sent) != 1 {
		t.Errorf("sent %d e-mails, want none to an unsubscribed or suppressed address", len(m.sent)-1)
	}
}

func TestEmailsAreCappedPerAddressADay(t *testing.T) {
	n, m, _ := newNotifier(t)
	n.Quotas.MailPerAddress = 3
	for v := int64(1); v <= 5; v++ {
		n.HandleStream(context.Background(), events.DynamoDBEvent{Records: []events.DynamoDBEventRecord{
			record(t, int(v), config(longrun.StatusRendering, v), config(longrun.StatusDone, v))}})
	}
	if len(m.sent) != 3 {
		t.Errorf("sent %d, want the cap of 3", len(m.sent))
	}
	if m.sent[0].Subject != "Your Julia set is ready" || !strings.Contains(m.sent[0].Text, "To get no more of these e-mails: http://x/api/email/unsubscribe?token=") {
		t.Errorf("mail %+v: want a plain subject and an unsubscribe link", m.sent[0])
	}
}

// SES's bounce and complaint events put their addresses on the
// suppression list; a soft bounce does not.
func TestBouncesAndComplaintsSuppress(t *testing.T) {
	n, _, _ := newNotifier(t)
	ctx := context.Background()
	sns := func(msg string) events.SNSEvent {
		return events.SNSEvent{Records: []events.SNSEventRecord{{SNS: events.SNSEntity{Message: msg}}}}
	}
	for _, msg := range []string{
		`{"eventType":"Bounce","bounce":{"bounceType":"Permanent","bouncedRecipients":[{"emailAddress":"hard@example.com"}]}}`,
		`{"eventType":"Bounce","bounce":{"bounceType":"Transient","bouncedRecipients":[{"emailAddress":"soft@example.com"}]}}`,
		`{"notificationType":"Complaint","complaint":{"complainedRecipients":[{"emailAddress":"angry@example.com"}]}}`,
	} {
		if err := n.HandleSES(ctx, sns(msg)); err != nil {
			t.Fatal(err)
		}
	}
	for addr, want := range map[string]bool{"hard@example.com": true, "soft@example.com": false, "angry@example.com": true} {
		if got, _ := n.Addresses.Suppressed(ctx, addr); got != want {
			t.Errorf("%s suppressed: %v, want %v", addr, got, want)
		}
	}
}

func TestOnlyFinishedTransitionsAreMailed(t *testing.T) {
	n, m, _ := newNotifier(t)
	noMail := config(longrun.StatusDone, 3)
	noMail.NotifyEmail = ""
	ev := events.DynamoDBEvent{Records: []events.DynamoDBEventRecord{
		record(t, 1, nil, config(longrun.StatusQueued, 1)),
		record(t, 2, config(longrun.StatusRendering, 1), config(longrun.StatusRendering, 1)), // progress
		record(t, 3, config(longrun.StatusDone, 1), config(longrun.StatusDone, 1)),           // a rename
		record(t, 4, config(longrun.StatusRendering, 3), noMail),
	}}
	n.HandleStream(context.Background(), ev)
	if len(m.sent) != 0 {
		t.Errorf("sent %+v, want nothing", m.sent)
	}
}

func TestDeletePushesDeleted(t *testing.T) {
	n, _, p := newNotifier(t)
	c := config(longrun.StatusDone, 1)
	n.HandleStream(context.Background(), events.DynamoDBEvent{Records: []events.DynamoDBEventRecord{record(t, 1, c, nil)}})
	if msgs := p.msgs[c.Owner]; len(msgs) != 1 || msgs[0].Type != "deleted" || msgs[0].ID != c.ID {
		t.Errorf("pushes %+v, want one deleted", msgs)
	}
}

// "Send me the result now": each request of a finished configuration is
// mailed once, however often the feed delivers it; a rename is not one.
func TestARequestedResultIsMailedOncePerRequest(t *testing.T) {
	n, m, _ := newNotifier(t)
	done := config(longrun.StatusDone, 1)
	asked := func(k int64) *longrun.Configuration { c := config(longrun.StatusDone, 1); c.MailRequests = k; return c }
	ev := events.DynamoDBEvent{Records: []events.DynamoDBEventRecord{
		record(t, 1, config(longrun.StatusRendering, 1), done), // finished: mailed
		record(t, 2, done, asked(1)),                           // asked: mailed again
		record(t, 3, asked(1), asked(1)),                       // a rename: nothing
		record(t, 4, asked(1), asked(2)),                       // asked again: mailed
	}}
	for range 2 { // the feed redelivers
		if resp, err := n.HandleStream(context.Background(), ev); err != nil || len(resp.BatchItemFailures) != 0 {
			t.Fatal(resp, err)
		}
	}
	if len(m.sent) != 3 {
		t.Fatalf("sent %d e-mails, want 3 (the finish and two requests)", len(m.sent))
	}
	for _, mail := range m.sent {
		if mail.To != "ada@example.com" || !strings.Contains(mail.Text, "http://x") {
			t.Errorf("sent %+v, want the result's e-mail with its link", mail)
		}
	}
}

type outbox struct {
	jobs   []longrun.Job
	delays []time.Duration
}

func (o *outbox) SendJobAfter(_ context.Context, job longrun.Job, d time.Duration) error {
	o.jobs, o.delays = append(o.jobs, job), append(o.delays, d)
	return nil
}

// The change feed is the outbox of the writes that queue a render: each
// version it shows newly queued (a create, an edit, a retry) is sent a
// delayed copy of its job marked Recheck, so a version whose own job was
// never sent is rendered all the same; progress, a finish and a rename
// send nothing.
func TestTheFeedIsTheOutboxOfQueuedVersions(t *testing.T) {
	n, _, _ := newNotifier(t)
	o := &outbox{}
	n.Outbox = o
	renamed := config(longrun.StatusQueued, 2)
	renamed.Name = "renamed"
	failed := config(longrun.StatusFailed, 2)
	retried := config(longrun.StatusQueued, 2)
	retried.QueuedAt = time.Now().Add(time.Minute)
	ev := events.DynamoDBEvent{Records: []events.DynamoDBEventRecord{
		record(t, 1, nil, config(longrun.StatusQueued, 1)),                                // a create
		record(t, 2, config(longrun.StatusQueued, 1), config(longrun.StatusRendering, 1)), // started
		record(t, 3, config(longrun.StatusRendering, 1), config(longrun.StatusDone, 1)),   // done
		record(t, 4, config(longrun.StatusDone, 1), config(longrun.StatusQueued, 2)),      // an edit
		record(t, 5, config(longrun.StatusQueued, 2), renamed),                            // a rename
		record(t, 6, failed, retried),                                                     // a retry
	}}
	if resp, err := n.HandleStream(context.Background(), ev); err != nil || len(resp.BatchItemFailures) != 0 {
		t.Fatal(resp, err)
	}
	var got []string
	for i, j := range o.jobs {
		got = append(got, fmt.Sprintf("v%d recheck=%v after %v", j.Version, j.Recheck, o.delays[i]))
	}
	want := []string{"v1 recheck=true after 1m0s", "v2 recheck=true after 1m0s", "v2 recheck=true after 1m0s"}
	if !slices.Equal(got, want) {
		t.Errorf("outbox sent %v, want %v", got, want)
	}
}

// Each kind's e-mail names it, its spec's summary and its own figures; a
// push carries the kind.
func TestEmailsAndPushesNameTheKind(t *testing.T) {
	n, m, p := newNotifier(t)
	n.Kinds[classifier.Name] = classifier.New()
	spec := classifier.DefaultParams()
	old, cur := config(longrun.StatusRendering, 1), config(longrun.StatusDone, 1)
	for _, c := range []*longrun.Configuration{old, cur} {
		c.Kind, c.Params, c.ParamsHash = classifier.Name, spec.JSON(), spec.Hash()
	}
	cur.Stats = &longrun.Stats{Iterations: 120000, RenderMs: 980, Extra: map[string]float64{"accuracy": 0.985, "epochsTrained": 300}}
	if _, err := n.HandleStream(context.Background(), events.DynamoDBEvent{Records: []events.DynamoDBEventRecord{record(t, 1, old, cur)}}); err != nil {
		t.Fatal(err)
	}
	if len(m.sent) != 1 || m.sent[0].Subject != "Your classifier is ready" || !strings.Contains(m.sent[0].Text, spec.Summary()) ||
		!strings.Contains(m.sent[0].Text, "accuracy 0.985") {
		t.Errorf("sent %+v, want the classifier's e-mail with its summary and accuracy", m.sent)
	}
	pushed := p.msgs[cur.Owner]
	if len(pushed) != 1 || pushed[0].Configuration == nil || pushed[0].Configuration.Kind != classifier.Name {
		t.Errorf("pushed %+v, want the configuration with its kind", pushed)
	}
}

// TestEmailsLinkWhereTheyHelp: a finished version's e-mail links to its
// read-only link, which opens on any device; a failed one's to the page
// where it can be retried, and to the read-only link beside it.
func TestEmailsLinkWhereTheyHelp(t *testing.T) {
	n, m, _ := newNotifier(t)
	n.Link = func(c *longrun.Configuration) string { return "/s/token-of-" + c.ID[:4] }
	done := config(longrun.StatusDone, 1)
	if _, err := n.HandleStream(context.Background(), events.DynamoDBEvent{Records: []events.DynamoDBEventRecord{
		record(t, 1, config(longrun.StatusRendering, 1), done)}}); err != nil {
		t.Fatal(err)
	}
	failed := config(longrun.StatusFailed, 2)
	failed.Error = "the renderer refused it"
	if _, err := n.HandleStream(context.Background(), events.DynamoDBEvent{Records: []events.DynamoDBEventRecord{
		record(t, 2, config(longrun.StatusRendering, 2), failed)}}); err != nil {
		t.Fatal(err)
	}
	if len(m.sent) != 2 {
		t.Fatalf("%d e-mails, want 2", len(m.sent))
	}
	if text := m.sent[0].Text; !strings.Contains(text, "See it at http://x/s/token-of-0123") {
		t.Errorf("the finished version's e-mail:\n%s\nwant its read-only link", text)
	}
	if text := m.sent[1].Text; !strings.Contains(text, "Retry it from the page where you made it: http://x/#"+failed.ID) ||
		!strings.Contains(text, "http://x/s/token-of-0123") {
		t.Errorf("the failed version's e-mail:\n%s\nwant the page to retry from and the read-only link", text)
	}
}

// A result's e-mail has an HTML part: its thumbnail, its read-only link,
// the way out; a name is escaped, never markup.
func TestEmailsHaveAnHTMLPartWithTheThumbnail(t *testing.T) {
	n, m, _ := newNotifier(t)
	n.Link = func(c *longrun.Configuration) string { return "/s/tok" }
	done := config(longrun.StatusDone, 1)
	done.Name, done.RenderedHash = `<script>alert("x")</script>`, "0123456789abcdef0123"
	stream(t, n, record(t, 1, config(longrun.StatusRendering, 1), done))
	failed := config(longrun.StatusFailed, 2)
	failed.Error = "the renderer refused it"
	stream(t, n, record(t, 2, config(longrun.StatusRendering, 2), failed))
	if len(m.sent) != 2 {
		t.Fatalf("%d e-mails", len(m.sent))
	}
	h := m.sent[0].HTML
	for _, want := range []string{`<img src="http://x/api/shared/tok/image?thumb=1"`, `href="http://x/s/tok"`, `href="http://x/api/email/unsubscribe?token=`, "&lt;script&gt;"} {
		if !strings.Contains(h, want) {
			t.Errorf("the HTML part lacks %s:\n%s", want, h)
		}
	}
	if strings.Contains(h, "<script>") {
		t.Errorf("the name was not escaped:\n%s", h)
	}
	if f := m.sent[1].HTML; strings.Contains(f, "<img") || !strings.Contains(f, "the renderer refused it") || !strings.Contains(f, `href="http://x/#`+failed.ID) {
		t.Errorf("the failed version's HTML part:\n%s", f)
	}
}
