package notify_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/longrun/longrun"
	"github.com/longrun/longrun/notify"
	"github.com/longrun/longrun/webhook"
)

var hookKey = []byte("0123456789abcdef0123456789abcdef")

// receiver is an application's backend: it verifies every delivery and
// keeps the events whose signature holds, and answers with status.
type receiver struct {
	mu       sync.Mutex
	got      []notify.HookEvent
	ids      []string
	bad      int
	status   int
	received chan struct{}
}

func newReceiver(t *testing.T) (*receiver, *httptest.Server) {
	r := &receiver{status: http.StatusNoContent, received: make(chan struct{}, 100)}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		defer r.mu.Unlock()
		id, err := webhook.Verify(hookKey, req.Header, body, time.Now())
		if err != nil {
			r.bad++
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		var ev notify.HookEvent
		json.Unmarshal(body, &ev)
		r.got, r.ids = append(r.got, ev), append(r.ids, id)
		w.WriteHeader(r.status)
		r.received <- struct{}{}
	}))
	t.Cleanup(srv.Close)
	return r, srv
}

func (r *receiver) events() ([]notify.HookEvent, []string, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]notify.HookEvent(nil), r.got...), append([]string(nil), r.ids...), r.bad
}

func hookNotifier(t *testing.T, urls ...string) (*notify.Notifier, *retries) {
	n, _, _ := newNotifier(t)
	n.Hooks = &notify.Webhooks{Endpoints: urls, Key: hookKey}
	return n, n.Retry.(*retries)
}

// Every version that ends is POSTed once to each endpoint, signed, from
// the retry queue; a redelivered batch queues nothing more, and progress
// is not an end.
func TestWebhooksAreSignedAndSentOncePerVersion(t *testing.T) {
	recv, srv := newReceiver(t)
	n, q := hookNotifier(t, srv.URL+"/hooks")
	ev := events.DynamoDBEvent{Records: []events.DynamoDBEventRecord{
		record(t, 1, config(longrun.StatusQueued, 1), config(longrun.StatusRendering, 1)),
		record(t, 2, config(longrun.StatusRendering, 1), config(longrun.StatusDone, 1)),
		record(t, 3, config(longrun.StatusDone, 1), config(longrun.StatusQueued, 2)),
		record(t, 4, config(longrun.StatusQueued, 2), config(longrun.StatusCancelled, 2)),
		record(t, 5, config(longrun.StatusQueued, 3), config(longrun.StatusFailed, 3)),
	}}
	for range 3 { // the feed redelivers
		if resp, err := n.HandleStream(context.Background(), ev); err != nil || len(resp.BatchItemFailures) != 0 {
			t.Fatal(resp, err)
		}
	}
	if got, _, _ := recv.events(); len(got) != 0 {
		t.Fatalf("the feed called the endpoint itself (%d deliveries): it must only queue", len(got))
	}
	if resp, _ := n.HandleRetries(context.Background(), q.take()); len(resp.BatchItemFailures) != 0 {
		t.Fatal(resp)
	}
	got, ids, bad := recv.events()
	if bad != 0 || len(got) != 3 {
		t.Fatalf("%d verified deliveries, %d bad; want 3 verified (done, cancelled, failed)", len(got), bad)
	}
	want := map[string]int64{"configuration.done": 1, "configuration.cancelled": 2, "configuration.failed": 3}
	seen := map[string]bool{}
	for i, e := range got {
		if v, ok := want[e.Type]; !ok || e.Data.Configuration.Version != v || e.Data.Configuration.ID != config("", 0).ID || e.Data.Owner != config("", 0).Owner {
			t.Errorf("delivery %+v", e)
		}
		if seen[ids[i]] {
			t.Errorf("two deliveries share the id %s", ids[i])
		}
		seen[ids[i]] = true
	}
	if len(q.queue) != 0 {
		t.Errorf("%d still queued after every endpoint answered 2xx", len(q.queue))
	}
}

// An endpoint that fails is tried again with growing waits, under the same
// id, until it answers; the other endpoint hears at once, and a hanging
// endpoint delays none of its batch.
func TestAFailingEndpointIsRetriedAndDelaysNothingElse(t *testing.T) {
	good, goodSrv := newReceiver(t)
	failing, failSrv := newReceiver(t)
	failing.status = http.StatusServiceUnavailable
	release := make(chan struct{})
	hanging := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select { // answers only once the good endpoint has had its delivery
		case <-good.received:
		case <-time.After(10 * time.Second):
			t.Error("the good endpoint's delivery waited for the hanging one")
		}
		<-release
	}))
	defer hanging.Close()
	defer close(release)
	n, q := hookNotifier(t, hanging.URL, failSrv.URL, goodSrv.URL)
	n.Hooks.Client = &http.Client{Timeout: 30 * time.Second}
	go func() { // the hanging endpoint answers at last
		<-failing.received
		release <- struct{}{}
	}()
	done := events.DynamoDBEvent{Records: []events.DynamoDBEventRecord{record(t, 1, config(longrun.StatusRendering, 1), config(longrun.StatusDone, 1))}}
	n.HandleStream(context.Background(), done)
	n.HandleRetries(context.Background(), q.take())
	if got, _, _ := good.events(); len(got) != 1 {
		t.Fatalf("the good endpoint got %d deliveries, want 1", len(got))
	}
	_, firstIDs, _ := failing.events()
	var delays []time.Duration
	for attempt := 1; len(q.queue) > 0 && attempt < 5; attempt++ {
		if q.queue[0].Hook == nil || q.queue[0].Hook.URL != failSrv.URL || q.queue[0].Attempt != attempt {
			t.Fatalf("queued %+v, want the failing endpoint's delivery after %d attempts", q.queue, attempt)
		}
		delays = append(delays, q.delay[0])
		if attempt == 3 {
			failing.mu.Lock()
			failing.status = http.StatusOK
			failing.mu.Unlock()
		}
		n.HandleRetries(context.Background(), q.take())
	}
	if len(delays) != 3 || !(delays[0] > 0 && delays[1] > delays[0] && delays[2] > delays[1]) {
		t.Errorf("waits %v, want three, growing", delays)
	}
	_, ids, _ := failing.events()
	if len(ids) != 4 || len(q.queue) != 0 {
		t.Fatalf("the failing endpoint was tried %d times, %d still queued; want 4 tries, then done", len(ids), len(q.queue))
	}
	for _, id := range ids {
		if id != firstIDs[0] {
			t.Errorf("a retry's id %s is not the first's %s: the receiver could not drop a duplicate", id, firstIDs[0])
		}
	}
}

// A delivery that fails every time is given up after HookMaxAttempts.
func TestAWebhookThatNeverSucceedsIsGivenUp(t *testing.T) {
	failing, srv := newReceiver(t)
	failing.status = http.StatusInternalServerError
	n, q := hookNotifier(t, srv.URL)
	defer func(b time.Duration) { notify.HookRetryBase = b }(notify.HookRetryBase)
	notify.HookRetryBase = time.Millisecond
	n.HandleStream(context.Background(), events.DynamoDBEvent{Records: []events.DynamoDBEventRecord{
		record(t, 1, config(longrun.StatusRendering, 1), config(longrun.StatusFailed, 1))}})
	for range notify.HookMaxAttempts + 2 {
		n.HandleRetries(context.Background(), q.take())
	}
	if _, ids, _ := failing.events(); len(ids) != notify.HookMaxAttempts || len(q.queue) != 0 {
		t.Errorf("%d tries, %d queued; want %d tries, then nothing", len(ids), len(q.queue), notify.HookMaxAttempts)
	}
}
