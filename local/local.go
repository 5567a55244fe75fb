// Package local runs the whole of longrun in one process: the API and page,
// a pool of render workers fed from the embedded job queue, and the change
// feed that drives notifications (package pump, in the event shapes Lambda
// uses, so one code path serves both modes), plus an operations API. Start
// is the wiring: the only place that knows the embedded backends are
// SQLite, a folder, a dev mailbox and a WebSocket hub.
package local

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/longrun/longrun"
	"github.com/longrun/longrun/internal/atomicfile"
	"github.com/longrun/longrun/local/files"
	"github.com/longrun/longrun/local/hub"
	"github.com/longrun/longrun/local/mailbox"
	"github.com/longrun/longrun/local/memlimit"
	"github.com/longrun/longrun/local/prom"
	"github.com/longrun/longrun/local/pump"
	"github.com/longrun/longrun/local/sqlite"
	"github.com/longrun/longrun/notify"
	"github.com/longrun/longrun/tracing"
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
	// MaxConns and MaxConnsPerClient bound the open connections, in all
	// and of one client network (not applied behind a proxy, with
	// TrustForwardedFor: every peer is the proxy there); past them a
	// connection is closed at accept. Default: the open-file limit less
	// 256 for the database, images and mail (at most 16,384; 4,096 where
	// it is unknown), and 128.
	MaxConns, MaxConnsPerClient int
	// ImageGrace is how long a result no configuration keeps (all that kept
	// it deleted, or moved on) stays before its image is deleted; default
	// 10 min, so a render just finished is pointed at before.
	ImageGrace time.Duration
	// CacheBytes bounds the counts and tiles kept, a cache evicted least
	// recently used first; 0 means files.DefaultCacheBytes.
	CacheBytes int64
	// MinFreeBytes is the free space on the data folder's disk under which
	// health says degraded; default 256 MiB.
	MinFreeBytes int64
	// ReadTimeout bounds reading a request, headers and body; default 30s.
	ReadTimeout time.Duration
	// Quotas bound each owner and client address (their zero values are
	// the defaults).
	Quotas longrun.Quotas
	// Kinds are the computations configurations may ask for, each with
	// its bounds (the main's table); at least one.
	Kinds longrun.Kinds
	// TrustForwardedFor takes the client's address from X-Forwarded-For,
	// for a server behind a proxy.
	TrustForwardedFor bool
	// OpsToken is the operator token that /metrics, /api/ops and the
	// dead-letter retry need as a bearer token; empty means those routes
	// answer 404.
	OpsToken string
	// Webhooks, if any endpoints, hear of every version that ends,
	// signed with their Key.
	Webhooks notify.Webhooks
	// PushHosts are the push services devices may subscribe at, in place
	// of the browsers' (longrun.PushServices): a private one, or a test's.
	PushHosts []string
	// Timeline, if set, keeps recent traces (a span processor of the tracer
	// provider) for the runs the owner's page and the ops page show.
	Timeline *Timeline
	// DeviceClient sends device notifications; nil is http.DefaultClient.
	DeviceClient *http.Client
	Logger       *slog.Logger
}

// A System is the running local system.
type System struct {
	URL      string
	DB       *sqlite.DB
	Service  *longrun.Service
	Worker   *worker.Worker
	Notifier *notify.Notifier
	Hub      *hub.Hub
	Mailbox  *mailbox.Box

	// Prometheus is the registry served at /metrics.
	Prometheus *prom.Registry

	cfg     Config
	metrics longrun.Metrics // the registry and the operations panel's counts
	recent  *recent
	queue   deadLetters
	jobs    *pump.Jobs
	// mailRetries hands failed e-mails back to the notifier, apart from
	// the change feed.
	mailRetries *pump.Jobs
	feed        *pump.Feed
	srv         *http.Server
	ln          net.Listener
	logger      *slog.Logger
	images      *files.Dir
}

// Start opens the data folder, recovers jobs a previous process left in
// flight, and starts listening. Run serves until the context ends.
func Start(ctx context.Context, cfg Config) (*System, error) {
	cfg.defaults()
	log := cfg.Logger
	cfg.warnings()
	if len(cfg.Kinds) == 0 {
		return nil, errors.New("local: no kinds of computation (Config.Kinds)")
	}
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
	if err := releaseOrphans(ctx, db, log); err != nil {
		return fail(err)
	}
	images, err := files.Open(filepath.Join(cfg.DataDir, "images"))
	if err != nil {
		return fail(err)
	}
	images.CacheBytes = cfg.CacheBytes
	box, err := mailbox.Open(filepath.Join(cfg.DataDir, "mail"))
	if err != nil {
		return fail(err)
	}
	key := cfg.SessionKey
	if len(key) == 0 {
		if key, err = keyFile(filepath.Join(cfg.DataDir, "session.key"), "session key", "signs every owner out of their configurations"); err != nil {
			return fail(err)
		}
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fail(err)
	}
	limited := &limitListener{Listener: ln, MaxPerClient: cfg.MaxConnsPerClient, MaxTotal: cfg.MaxConns, Logger: log}
	if !cfg.TrustForwardedFor {
		limited.ClientKey = cfg.Quotas.ClientKey
	}
	ln = limited
	url := "http://" + ln.Addr().String() + "/"
	h := hub.New(log)
	reg, rec := prom.New(), newRecent()
	metrics := tee{reg, rec}
	limiter := &memlimit.Limiter{}
	sessions := &web.Sessions{Key: key}
	svc := &longrun.Service{TraceOf: tracing.Of, Store: db, Results: db, Queue: db, Images: images, Tiles: db, Addresses: db, Metrics: metrics,
		Quotas: cfg.Quotas, Limiter: limiter, Kinds: cfg.Kinds}
	s := &System{
		URL: url, DB: db, Hub: h, Mailbox: box, Prometheus: reg, Service: svc,
		cfg: cfg, ln: ln, logger: log, metrics: metrics, recent: rec, queue: db, images: images,
		Worker: &worker.Worker{Service: svc, Leases: db, Images: images, Requeue: db, Logger: log, Metrics: metrics,
			Workers: max(1, cfg.Goroutines/cfg.Jobs), MaxReceives: cfg.MaxReceives,
			Timeout: cfg.RenderTimeout},
		Notifier: &notify.Notifier{Mail: box, Push: h, Sent: db, Logger: log, BaseURL: url, Link: web.LinkSigner{Key: key}.Path, Metrics: metrics, Kinds: cfg.Kinds,
			Addresses: db, Limiter: limiter, Quotas: cfg.Quotas, Failures: svc, Retry: db.MailQueue()},
	}
	if len(cfg.Webhooks.Endpoints) > 0 {
		s.Notifier.Hooks = &cfg.Webhooks
	}
	vapid, err := vapidKeys(cfg.DataDir)
	if err != nil {
		return fail(err)
	}
	s.Notifier.Devices, s.Notifier.VAPID, s.Notifier.DeviceClient = db, &vapid, cfg.DeviceClient
	s.Notifier.Replay, s.Notifier.Preferences = db, db
	s.jobs = &pump.Jobs{Queue: db, Handler: s.Worker.HandleSQS, Visibility: cfg.Visibility,
		MaxReceives: cfg.MaxReceives, RetryBase: cfg.RetryBase, Logger: log}
	s.mailRetries = &pump.Jobs{Queue: db.MailQueue(), Handler: s.Notifier.HandleRetries, Visibility: time.Minute,
		MaxReceives: math.MaxInt32, RetryBase: cfg.RetryBase, Logger: log}
	s.feed = &pump.Feed{Log: db, Name: "notify", Handler: s.Notifier.HandleStream, Filter: notify.Wants, Logger: log}
	s.queueGauges(reg)
	for kind := range cfg.Kinds { // each kind's series, at 0 before its first job
		reg.Add(longrun.MetricJobsRendered, 0, "kind", kind)
	}
	var timelines web.Timelines
	if cfg.Timeline != nil {
		timelines = cfg.Timeline
	}
	api := web.NewServer(web.Deps{
		Service: svc, Images: images, Logger: log, Mailbox: box, Metrics: metrics,
		Sessions: sessions,
		Live:     h.Serve,
		Health:   s.health,
		Devices:  db, PushKey: vapid.PublicKey, PushHosts: cfg.PushHosts, Replay: db, Preferences: db, Timelines: timelines,

		TrustForwardedFor: cfg.TrustForwardedFor,
	})
	// A request has ReadTimeout to send its body (64 KiB at most), and
	// WriteTimeout for its answer; the push WebSocket and the image route
	// set deadlines of their own.
	// Every request is a span; one that makes a version begins its trace.
	s.srv = &http.Server{Handler: web.Traced(s.routes(api)), ReadHeaderTimeout: 10 * time.Second, ReadTimeout: cfg.ReadTimeout,
		WriteTimeout: time.Minute, IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 16 << 10}
	return s, nil
}

// warnings logs what in cfg weakens the system.
func (cfg *Config) warnings() {
	if cfg.TrustForwardedFor {
		cfg.Logger.Warn("--trust-forwarded-for: every per-address limit takes the client's address from X-Forwarded-For; " +
			"without a proxy in front that sets it, each client names its own address and escapes those limits")
	}
}

func (cfg *Config) defaults() {
	cfg.Addr = cmp.Or(cfg.Addr, "127.0.0.1:8080")
	cfg.DataDir = cmp.Or(cfg.DataDir, "data")
	cfg.Jobs = cmp.Or(cfg.Jobs, 1)
	cfg.Goroutines = cmp.Or(cfg.Goroutines, max(1, runtime.NumCPU()-1))
	cfg.MaxReceives = cmp.Or(cfg.MaxReceives, 5)
	cfg.MinFreeBytes = cmp.Or(cfg.MinFreeBytes, 256<<20)
	cfg.ImageGrace = cmp.Or(cfg.ImageGrace, 10*time.Minute)
	if cfg.MaxConns == 0 {
		cfg.MaxConns = 4096
		if n := openFileLimit(); n > 0 {
			cfg.MaxConns = min(max(n-256, 64), 16384)
		}
	}
	cfg.MaxConnsPerClient = cmp.Or(cfg.MaxConnsPerClient, 128)
	cfg.Visibility = cmp.Or(cfg.Visibility, 3*time.Minute)
	cfg.RetryBase = cmp.Or(cfg.RetryBase, time.Second)
	cfg.ReadTimeout = cmp.Or(cfg.ReadTimeout, 30*time.Second)
	cfg.RenderTimeout = cmp.Or(cfg.RenderTimeout, 2*time.Minute)
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewJSONHandler(io.Discard, nil))
	}
}

// releaseOrphans queues again what a previous run had received or leased:
// this process is the only consumer of the queue.
func releaseOrphans(ctx context.Context, db *sqlite.DB, log *slog.Logger) error {
	n, err := db.ReleaseInFlight(ctx)
	if err != nil {
		return err
	}
	if n > 0 {
		log.Info("jobs a previous run left in flight are queued again", "jobs", n)
	}
	return db.ReleaseClaims(ctx)
}

// vapidKeys are the key pair devices are notified with: the data folder's
// own, from a seed made on first start.
func vapidKeys(dir string) (notify.VAPID, error) {
	seed, err := keyFile(filepath.Join(dir, "vapid.key"), "VAPID key",
		"makes every browser subscribe again before it is notified on its device")
	if err != nil {
		return notify.VAPID{}, err
	}
	host, _ := os.Hostname()
	return notify.VAPIDFromSeed(seed, "longrun@"+cmp.Or(host, "localhost"))
}

// keyFile reads a key file, making it on first start. A present but broken
// key file stops the start: replacing it would lose what it keys (lost
// says what).
func keyFile(path, what, lost string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		key, derr := hex.DecodeString(strings.TrimSpace(string(b)))
		if derr != nil || len(key) != 32 {
			return nil, fmt.Errorf("%s is not a %s (64 hex digits): restore it from a backup, "+
				"or delete it to make a new one, which %s", path, what, lost)
		}
		return key, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	key := make([]byte, 32)
	rand.Read(key)
	if err := atomicfile.WriteBytes(path, 0o600, []byte(hex.EncodeToString(key)+"\n")); err != nil {
		return nil, err
	}
	return key, nil
}

// DataDir is the folder the system keeps its data in.
func (s *System) DataDir() string { return s.cfg.DataDir }

func (s *System) health(ctx context.Context) map[string]any {
	var reasons []string
	out := map[string]any{"pushConnections": s.Hub.Connections()}
	if q, err := s.queue.QueueStats(ctx); err != nil {
		reasons = append(reasons, "the job queue cannot be counted: "+err.Error())
	} else {
		out["queue"] = map[string]any{"visible": q.Visible, "inFlight": q.InFlight, "deadLettered": q.Dead}
	}
	failing, since, oldest := s.jobs.Health()
	if failing != nil {
		reasons = append(reasons, fmt.Sprintf("the job queue cannot be read, for %.0f s: %v", time.Since(since).Seconds(), failing))
	}
	// A render honours its timeout at its next progress report; one that
	// runs well past it (a quarter more, a second at least) is stuck, and
	// renders nothing for anyone.
	if bound := s.cfg.RenderTimeout + max(s.cfg.RenderTimeout/4, time.Second); !oldest.IsZero() && time.Since(oldest) > bound {
		reasons = append(reasons, fmt.Sprintf("a render has run for %.0f s, past its bound of %.0f s", time.Since(oldest).Seconds(), bound.Seconds()))
	}
	if free, err := freeBytes(s.cfg.DataDir); err == nil {
		out["diskFreeBytes"] = free
		if free < s.cfg.MinFreeBytes {
			reasons = append(reasons, fmt.Sprintf("the data folder's disk has %d MiB free, under %d MiB", free>>20, s.cfg.MinFreeBytes>>20))
		}
	}
	if len(reasons) > 0 {
		out["status"], out["reasons"] = "degraded", reasons
	}
	return out
}

// freeImages deletes, every period, the images of results no
// configuration has kept for ImageGrace, and forgets those results: what
// only a deleted configuration held is freed, and images are kept exactly
// while something points at them.
func (s *System) freeImages(ctx context.Context, period time.Duration) {
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		hashes, err := s.DB.UnkeptResults(ctx, time.Now().Add(-s.cfg.ImageGrace), 500)
		if err != nil {
			s.logger.Warn("images: could not list those no configuration keeps", "err", err)
			continue
		}
		for _, h := range hashes {
			// The result first: a create that finds it meanwhile renders again
			// instead of pointing at an image about to go.
			// The image last: while it is there, so is what goes with it.
			keys := []string{longrun.ThumbnailKey(h), longrun.PreviewKey(h)}
			if r, err := s.DB.Result(ctx, h); err == nil && r != nil {
				for _, name := range r.Stats.Artifacts {
					keys = append(keys, longrun.ArtifactKey(h, name))
				}
			}
			keys = append(keys, longrun.ImageKey(h))
			if err := s.DB.DeleteResult(ctx, h); err != nil {
				s.logger.Warn("images: could not forget a result", "hash", h, "err", err)
				continue
			}
			for _, key := range keys {
				if err := s.images.DeleteImage(ctx, key); err != nil {
					s.logger.Warn("images: could not delete an image or artifact", "key", key, "err", err)
				}
			}
		}
		if len(hashes) > 0 {
			s.logger.Info("images: freed those no configuration keeps", "count", len(hashes))
		}
	}
}

// Run serves HTTP, renders and notifies until ctx ends, then shuts down:
// in-flight renders stop and their jobs are picked up on the next start.
func (s *System) Run(ctx context.Context) error {
	defer s.DB.Close()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	for range s.cfg.Jobs {
		wg.Go(func() { s.jobs.Run(ctx) })
	}
	wg.Go(func() { s.feed.Run(ctx) })
	for range 4 { // a slow webhook endpoint holds one of them up, never all
		wg.Go(func() { s.mailRetries.Run(ctx) })
	}
	wg.Go(func() { s.sample(ctx, 10*time.Second) })
	wg.Go(func() { s.freeImages(ctx, min(time.Minute, s.cfg.ImageGrace/2)) })
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
