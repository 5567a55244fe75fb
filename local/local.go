// Package local runs the whole of longrun in one process: the API and page,
// a pool of render workers fed from the SQLite job queue, and the change-log
// tailer that drives notifications. It hands the worker and the notifier the
// same event shapes Lambda does (events.SQSEvent, events.DynamoDBEvent), so
// one code path serves both modes.
package local

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"image"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/longrun/longrun"
	"github.com/longrun/longrun/julia"
	"github.com/longrun/longrun/local/files"
	"github.com/longrun/longrun/local/hub"
	"github.com/longrun/longrun/local/mailbox"
	"github.com/longrun/longrun/local/prom"
	"github.com/longrun/longrun/local/sqlite"
	"github.com/longrun/longrun/notify"
	"github.com/longrun/longrun/web"
	"github.com/longrun/longrun/worker"
)

// Config says how to run. The zero value of each field is its default.
type Config struct {
	Addr    string // default 127.0.0.1:8080
	DataDir string // default ./data
	// SessionKey signs session cookies; default: LONGRUN_SESSION_KEY's
	// value is given here by the command, else DataDir/session.key.
	SessionKey []byte
	// Jobs is how many jobs render at once; default 1. Together they use
	// at most Goroutines goroutines.
	Jobs int
	// Goroutines is the render budget; default cores − 1, at least 1, so
	// the HTTP server keeps a core.
	Goroutines int
	// MaxReceives is the receive count after which a job is dead-lettered;
	// default 5.
	MaxReceives int
	// Visibility is how long a received job stays hidden; default 3 min.
	Visibility time.Duration
	// RetryBase is the first backoff of a failed job, doubled per receive
	// up to a minute; default 1s.
	RetryBase time.Duration
	// RenderTimeout bounds one render; default 2 min.
	RenderTimeout time.Duration
	// Render replaces the renderer, for fault tests.
	Render func(context.Context, julia.Params, julia.Options) (*image.Paletted, julia.Stats, error)
	Logger *slog.Logger
}

// A System is the running local system.
type System struct {
	URL      string
	DB       *sqlite.DB
	Worker   *worker.Worker
	Notifier *notify.Notifier
	Hub      *hub.Hub
	Mailbox  *mailbox.Box

	// Metrics is the Prometheus registry served at /metrics.
	Metrics *prom.Registry

	cfg     Config
	metrics longrun.Metrics
	recent  *recent
	srv     *http.Server
	ln      net.Listener
	logger  *slog.Logger
}

// Start opens the data folder, recovers jobs a previous process left in
// flight, and starts listening. Run serves until the context ends.
func Start(ctx context.Context, cfg Config) (*System, error) {
	cfg.defaults()
	log := cfg.Logger
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return nil, err
	}
	db, err := sqlite.Open(ctx, filepath.Join(cfg.DataDir, "longrun.db"))
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*System, error) {
		db.Close()
		return nil, err
	}
	// This process is the only consumer of the queue: whatever a previous
	// run had received or leased is orphaned.
	if n, err := db.ReleaseInFlight(ctx); err != nil {
		return fail(err)
	} else if n > 0 {
		log.Info("jobs a previous run left in flight are queued again", "jobs", n)
	}
	if err := db.ReleaseClaims(ctx); err != nil {
		return fail(err)
	}
	images, err := files.Open(filepath.Join(cfg.DataDir, "images"))
	if err != nil {
		return fail(err)
	}
	box, err := mailbox.Open(filepath.Join(cfg.DataDir, "mail"))
	if err != nil {
		return fail(err)
	}
	key := cfg.SessionKey
	if len(key) == 0 {
		if key, err = sessionKey(filepath.Join(cfg.DataDir, "session.key")); err != nil {
			return fail(err)
		}
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fail(err)
	}
	url := "http://" + ln.Addr().String() + "/"
	h := hub.New(log)
	reg, rec := prom.New(), newRecent()
	metrics := tee{reg, rec}
	s := &System{
		URL: url, DB: db, Hub: h, Mailbox: box, Metrics: reg, cfg: cfg, ln: ln, logger: log, metrics: metrics, recent: rec,
		Worker: &worker.Worker{Configs: db, Results: db, Images: images, Logger: log, Metrics: metrics,
			Workers: max(1, cfg.Goroutines/cfg.Jobs), MaxReceives: cfg.MaxReceives,
			Timeout: cfg.RenderTimeout, Render: cfg.Render},
		Notifier: &notify.Notifier{Mail: box, Push: h, Sent: db, Logger: log, BaseURL: url, Metrics: metrics},
	}
	s.queueGauges(reg)
	api := web.NewServer(web.Deps{
		Store: db, Results: db, Queue: db, Images: images, Logger: log, Mailbox: box, Metrics: metrics,
		Sessions: &web.Sessions{Key: key},
		Live:     h.Serve,
		Health:   s.health,
	})
	// Operator endpoints, local only: metrics and the operations panel.
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", reg.Handler())
	mux.HandleFunc("GET /api/ops", s.ops)
	mux.HandleFunc("POST /api/ops/dead-letters/{id}/retry", s.retryDeadLetter)
	mux.Handle("/", api)
	s.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	return s, nil
}

func (cfg *Config) defaults() {
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:8080"
	}
	if cfg.DataDir == "" {
		cfg.DataDir = "data"
	}
	if cfg.Jobs == 0 {
		cfg.Jobs = 1
	}
	if cfg.Goroutines == 0 {
		cfg.Goroutines = max(1, runtime.NumCPU()-1)
	}
	if cfg.MaxReceives == 0 {
		cfg.MaxReceives = 5
	}
	if cfg.Visibility == 0 {
		cfg.Visibility = 3 * time.Minute
	}
	if cfg.RetryBase == 0 {
		cfg.RetryBase = time.Second
	}
	if cfg.RenderTimeout == 0 {
		cfg.RenderTimeout = 2 * time.Minute
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewJSONHandler(io.Discard, nil))
	}
}

// sessionKey reads the key file, making it on first start.
func sessionKey(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err == nil && len(b) >= 64 {
		return hex.DecodeString(string(b[:64]))
	}
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	key := make([]byte, 32)
	rand.Read(key)
	if err := os.WriteFile(path, []byte(hex.EncodeToString(key)+"\n"), 0o600); err != nil {
		return nil, err
	}
	return key, nil
}

func (s *System) health(ctx context.Context) map[string]any {
	q, err := s.DB.QueueStats(ctx)
	if err != nil {
		return map[string]any{"status": "degraded", "error": err.Error()}
	}
	out := map[string]any{"queue": map[string]any{"visible": q.Visible, "inFlight": q.InFlight, "deadLettered": q.Dead}, "pushConnections": s.Hub.Connections()}
	return out
}

// Run serves HTTP, renders and notifies until ctx ends, then shuts down:
// in-flight renders stop and their jobs are picked up on the next start.
func (s *System) Run(ctx context.Context) error {
	defer s.DB.Close()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	for range s.cfg.Jobs {
		wg.Go(func() { s.work(ctx) })
	}
	wg.Go(func() { s.tail(ctx) })
	wg.Go(func() { s.sample(ctx, 10*time.Second) })
	errc := make(chan error, 1)
	go func() { errc <- s.srv.Serve(s.ln) }()
	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	cancel()
	sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer scancel()
	s.srv.Shutdown(sctx)
	wg.Wait()
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// wait blocks until signalled, a second passes, or ctx ends.
func wait(ctx context.Context, ready <-chan struct{}, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-ready:
	case <-t.C:
	}
}

// work receives jobs one at a time and hands them to the worker as an SQS
// event; a failed job comes back after a backoff, and is dead-lettered
// after MaxReceives.
func (s *System) work(ctx context.Context) {
	for ctx.Err() == nil {
		msgs, err := s.DB.Receive(ctx, 1, s.cfg.Visibility, s.cfg.MaxReceives)
		if err != nil {
			if ctx.Err() == nil {
				s.logger.Error("queue: receive failed", "err", err)
				wait(ctx, nil, time.Second)
			}
			continue
		}
		if len(msgs) == 0 {
			wait(ctx, s.DB.JobsReady(), time.Second)
			continue
		}
		ev := events.SQSEvent{}
		for _, m := range msgs {
			ev.Records = append(ev.Records, events.SQSMessage{
				MessageId: strconv.FormatInt(m.ID, 10), ReceiptHandle: strconv.FormatInt(m.ID, 10), Body: m.Body,
				EventSource: "longrun:local-queue",
				Attributes: map[string]string{
					"ApproximateReceiveCount": strconv.Itoa(m.Receives),
					"SentTimestamp":           strconv.FormatInt(m.SentAt.UnixMilli(), 10),
				},
			})
		}
		resp, err := s.Worker.HandleSQS(ctx, ev)
		failed := map[string]bool{}
		for _, f := range resp.BatchItemFailures {
			failed[f.ItemIdentifier] = true
		}
		for _, m := range msgs {
			id := strconv.FormatInt(m.ID, 10)
			dctx := context.WithoutCancel(ctx)
			switch {
			case ctx.Err() != nil:
				// Shutting down: leave it in flight for the next start.
			case err != nil || failed[id]:
				backoff := min(s.cfg.RetryBase<<min(m.Receives-1, 6), time.Minute)
				if err := s.DB.ChangeVisibility(dctx, m.ID, backoff); err != nil {
					s.logger.Error("queue: could not delay a failed job", "err", err)
				}
			default:
				if err := s.DB.DeleteJob(dctx, m.ID); err != nil {
					s.logger.Error("queue: could not delete a finished job", "err", err)
				}
			}
		}
	}
}

// tail hands the change log to the notifier in order, as DynamoDB Stream
// batches, and advances its cursor past what succeeded.
func (s *System) tail(ctx context.Context) {
	const name = "notify"
	cursor, err := s.DB.Cursor(ctx, name)
	if err != nil {
		s.logger.Error("feed: cannot read the cursor", "err", err)
		return
	}
	backoff := time.Duration(0)
	for ctx.Err() == nil {
		changes, err := s.DB.Changes(ctx, cursor, 100)
		if err != nil || len(changes) == 0 {
			wait(ctx, s.DB.ChangesReady(), time.Second)
			continue
		}
		ev, err := streamEvent(changes)
		if err != nil { // an undecodable record can never succeed: skip it
			s.logger.Error("feed: undecodable change skipped", "err", err)
		}
		resp, herr := s.Notifier.HandleStream(ctx, ev)
		next := changes[len(changes)-1].Seq
		if herr != nil || len(resp.BatchItemFailures) > 0 {
			if herr == nil {
				first, _ := strconv.ParseInt(resp.BatchItemFailures[0].ItemIdentifier, 10, 64)
				next = first - 1
			} else {
				next = cursor
			}
			backoff = min(max(backoff*2, time.Second), 30*time.Second)
		} else {
			backoff = 0
		}
		if next > cursor {
			if err := s.DB.SetCursor(context.WithoutCancel(ctx), name, next); err != nil {
				s.logger.Error("feed: cannot save the cursor", "err", err)
			} else {
				cursor = next
			}
		}
		if backoff > 0 {
			wait(ctx, nil, backoff)
		}
	}
}

// streamEvent turns changes into the event the DynamoDB Stream would send.
func streamEvent(changes []sqlite.Change) (events.DynamoDBEvent, error) {
	var ev events.DynamoDBEvent
	var errs []error
	for _, c := range changes {
		rec := events.DynamoDBEventRecord{
			EventID: strconv.FormatInt(c.Seq, 10), EventSource: "longrun:local-changes", EventVersion: "1.1",
			Change: events.DynamoDBStreamRecord{
				ApproximateCreationDateTime: events.SecondsEpochTime{Time: c.At},
				Keys:                        map[string]events.DynamoDBAttributeValue{"id": events.NewStringAttribute(c.ID)},
				SequenceNumber:              strconv.FormatInt(c.Seq, 10),
				StreamViewType:              "NEW_AND_OLD_IMAGES",
			},
		}
		var err error
		switch {
		case c.Old == nil:
			rec.EventName = "INSERT"
		case c.New == nil:
			rec.EventName = "REMOVE"
		default:
			rec.EventName = "MODIFY"
		}
		if c.Old != nil {
			rec.Change.OldImage, err = longrun.RecordStreamImage(c.Old)
		}
		if c.New != nil && err == nil {
			rec.Change.NewImage, err = longrun.RecordStreamImage(c.New)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("change %d: %w", c.Seq, err))
			continue
		}
		ev.Records = append(ev.Records, rec)
	}
	return ev, errors.Join(errs...)
}
