package notify_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/longrun/longrun"
	"github.com/longrun/longrun/internal/testutil"
	"github.com/longrun/longrun/local/sqlite"
	"github.com/longrun/longrun/notify"
)

func deviceNotifier(t *testing.T) (*notify.Notifier, *retries, *testutil.PushService, longrun.Devices) {
	n, _, _ := newNotifier(t)
	vapid, err := notify.VAPIDFromSeed([]byte("a seed of the deployment, secret"), "ops@example.com")
	if err != nil {
		t.Fatal(err)
	}
	ps := testutil.NewPushService(t, vapid.PublicKey)
	db, err := sqlite.Open(context.Background(), t.TempDir()+"/devices")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	n.Devices, n.VAPID, n.DeviceClient = db, &vapid, ps.Client()
	return n, n.Retry.(*retries), ps, db
}

func stream(t *testing.T, n *notify.Notifier, recs ...events.DynamoDBEventRecord) {
	t.Helper()
	if resp, err := n.HandleStream(context.Background(), events.DynamoDBEvent{Records: recs}); err != nil || len(resp.BatchItemFailures) != 0 {
		t.Fatal(resp, err)
	}
}

// A finished version reaches each of the owner's devices once, through its
// push service: encrypted for the device, signed with the server's VAPID
// key, kept a day for a device that is off, and saying what to open.
func TestDevicesHearOfAFinishedVersionOnce(t *testing.T) {
	n, q, ps, devices := deviceNotifier(t)
	owner := config("", 0).Owner
	for _, name := range []string{"laptop", "phone"} {
		devices.AddDevice(context.Background(), owner, ps.Subscribe(name))
	}
	done := record(t, 2, config(longrun.StatusRendering, 1), config(longrun.StatusDone, 1))
	for range 3 { // the feed redelivers
		stream(t, n, record(t, 1, config(longrun.StatusQueued, 1), config(longrun.StatusRendering, 1)), done)
	}
	if len(ps.Messages()) != 0 {
		t.Fatal("the feed called the push service itself: it must only queue")
	}
	n.HandleRetries(context.Background(), q.take())
	msgs := ps.Messages()
	if len(msgs) != 2 || len(ps.Refused()) != 0 {
		t.Fatalf("%d notifications taken, refused %v; want one per device", len(msgs), ps.Refused())
	}
	for _, m := range msgs {
		var note notify.DeviceNote
		if err := json.Unmarshal(m.Payload, &note); err != nil {
			t.Fatalf("payload %q: %v", m.Payload, err)
		}
		id := config("", 0).ID
		if note.URL != "/#"+id || note.Tag != id+"/1" || !strings.Contains(note.Title, "ready") || m.TTL != 86400 || m.Subject != "mailto:ops@example.com" || m.Topic == "" {
			t.Errorf("%s got %+v (TTL %d, sub %s, topic %q)", m.Device, note, m.TTL, m.Subject, m.Topic)
		}
	}
	if len(q.queue) != 0 {
		t.Errorf("%d still queued", len(q.queue))
	}
	// Progress and a cancel notify no device.
	stream(t, n, record(t, 3, config(longrun.StatusDone, 1), config(longrun.StatusQueued, 2)),
		record(t, 4, config(longrun.StatusQueued, 2), config(longrun.StatusCancelled, 2)))
	if len(q.queue) != 0 {
		t.Errorf("a cancel queued %+v", q.queue)
	}
}

// A device whose subscription is gone (410) is forgotten; one whose push
// service fails is tried again alone, and the others are not sent twice.
func TestAGoneDeviceIsForgottenAndAFailingOneRetriedAlone(t *testing.T) {
	n, q, ps, devices := deviceNotifier(t)
	owner := config("", 0).Owner
	for _, name := range []string{"gone", "flaky", "fine"} {
		devices.AddDevice(context.Background(), owner, ps.Subscribe(name))
	}
	ps.Answer("gone", http.StatusGone)
	ps.Answer("flaky", http.StatusServiceUnavailable)
	stream(t, n, record(t, 1, config(longrun.StatusRendering, 1), config(longrun.StatusFailed, 1)))
	n.HandleRetries(context.Background(), q.take())
	left, _ := devices.Devices(context.Background(), owner)
	if len(left) != 2 || strings.HasSuffix(left[0].Endpoint, "/gone") || strings.HasSuffix(left[1].Endpoint, "/gone") {
		t.Errorf("devices after a 410: %+v, want the gone one forgotten", left)
	}
	if len(q.queue) != 1 || q.queue[0].Device == nil || !strings.HasSuffix(q.queue[0].Device.Endpoint, "/flaky") || q.delay[0] <= 0 {
		t.Fatalf("queued %+v, want the flaky device alone, later", q.queue)
	}
	ps.Answer("flaky", 0)
	n.HandleRetries(context.Background(), q.take())
	var got []string
	for _, m := range ps.Messages() {
		got = append(got, m.Device)
	}
	if strings.Join(got, ",") != "fine,flaky" {
		t.Errorf("delivered to %v, want fine once, then flaky once", got)
	}
}

// The key pair is the seed's: every process holding the seed signs alike.
func TestVAPIDKeysComeFromTheSeed(t *testing.T) {
	a, _ := notify.VAPIDFromSeed([]byte("one seed, sixteen bytes at least"), "x@example.com")
	b, _ := notify.VAPIDFromSeed([]byte("one seed, sixteen bytes at least"), "x@example.com")
	c, _ := notify.VAPIDFromSeed([]byte("another seed, sixteen bytes more"), "x@example.com")
	if a != b || a.PublicKey == c.PublicKey || len(a.PublicKey) != 87 || len(a.PrivateKey) != 43 {
		t.Errorf("keys %+v %+v %+v", a, b, c)
	}
}
