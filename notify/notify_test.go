package notify_test

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/longrun/longrun"
	"github.com/longrun/longrun/aws/attr"
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

func newNotifier(t *testing.T) (*notify.Notifier, *mailer, *pusher) {
	db, err := sqlite.Open(context.Background(), t.TempDir()+"/db")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	m, p := &mailer{}, &pusher{msgs: map[string][]notify.Message{}}
	return &notify.Notifier{Mail: m, Push: p, Sent: db, BaseURL: "http://x"}, m, p
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

func TestFailedEmailFailsFromItsRecordAndIsRetried(t *testing.T) {
	n, m, _ := newNotifier(t)
	m.fail = errors.New("smtp down")
	ev := events.DynamoDBEvent{Records: []events.DynamoDBEventRecord{
		record(t, 7, config(longrun.StatusRendering, 2), config(longrun.StatusDone, 2)),
		record(t, 8, config(longrun.StatusDone, 2), config(longrun.StatusDone, 2)),
	}}
	resp, _ := n.HandleStream(context.Background(), ev)
	if len(resp.BatchItemFailures) != 1 || resp.BatchItemFailures[0].ItemIdentifier != "7" {
		t.Fatalf("failures %+v, want the batch to restart at sequence number 7", resp.BatchItemFailures)
	}
	m.fail = nil
	resp, _ = n.HandleStream(context.Background(), ev)
	if len(resp.BatchItemFailures) != 0 || len(m.sent) != 1 {
		t.Errorf("after recovery: failures %+v, sent %d; want none and 1", resp.BatchItemFailures, len(m.sent))
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
