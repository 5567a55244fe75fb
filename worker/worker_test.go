package worker_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"image"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/longrun/longrun"
	"github.com/longrun/longrun/julia"
	"github.com/longrun/longrun/kinds/juliaset"
	"github.com/longrun/longrun/local/files"
	"github.com/longrun/longrun/local/sqlite"
	"github.com/longrun/longrun/worker"
)

type fixture struct {
	log     bytes.Buffer // the worker's log
	db      *sqlite.DB
	w       *worker.Worker
	renders atomic.Int64
	images  *files.Dir
	dir     string
	fail    error
	failRe  float64 // fail only renders of this c.re; 0: all
	jk      *juliaset.Kind
}

// params are c's Julia-set parameters.
func params(t *testing.T, c *longrun.Configuration) juliaset.Params {
	t.Helper()
	var p juliaset.Params
	if err := json.Unmarshal(c.Params, &p); err != nil {
		t.Fatal(err)
	}
	return p
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	dir := t.TempDir()
	db, err := sqlite.Open(context.Background(), dir+"/db")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	images, err := files.Open(dir + "/images")
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{db: db, images: images, dir: dir}
	f.jk = &juliaset.Kind{Compute: func(ctx context.Context, p julia.Params, r image.Rectangle, o julia.Options) (*julia.Counts, julia.Stats, error) {
		f.renders.Add(1)
		if f.fail != nil && (f.failRe == 0 || real(p.C) == f.failRe) {
			return nil, julia.Stats{}, f.fail
		}
		return julia.ComputeRect(ctx, p, r, o)
	}}
	svc := &longrun.Service{Store: db, Results: db, Tiles: db, Kinds: longrun.Kinds{juliaset.Name: f.jk}}
	f.w = &worker.Worker{Service: svc, Leases: db, Images: images, Requeue: db,
		Logger: slog.New(slog.NewJSONHandler(&f.log, nil)), MaxReceives: 3, Workers: 1}
	return f
}

// configuration stores a queued configuration and returns its job.
func (f *fixture) configuration(t *testing.T, re float64) (*longrun.Configuration, longrun.Job) {
	t.Helper()
	p := juliaset.Params{C: juliaset.Complex{Re: re, Im: 0.5}, Zoom: 1, Width: 24, Height: 16, Depth: 40, Colormap: "magma"}
	c := longrun.NewConfiguration(longrun.NewID(), longrun.Draft{Name: "t", Spec: p}, nil, time.Now())
	if err := f.db.CreateConfiguration(context.Background(), c, longrun.Admission{}); err != nil {
		t.Fatal(err)
	}
	return c, longrun.Job{ID: c.ID, Version: c.Version, Hash: c.ParamsHash}
}

// take receives every queued job, decoded, and deletes it from the queue.
func (f *fixture) take(t *testing.T) []longrun.Job {
	t.Helper()
	ctx := context.Background()
	msgs, err := f.db.Receive(ctx, 100, time.Minute, 5)
	if err != nil {
		t.Fatal(err)
	}
	jobs := make([]longrun.Job, len(msgs))
	for i, m := range msgs {
		json.Unmarshal([]byte(m.Body), &jobs[i])
		f.db.DeleteJob(ctx, m.ID)
	}
	return jobs
}

func (f *fixture) get(t *testing.T, id string) *longrun.Configuration {
	t.Helper()
	c, err := f.db.Configuration(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestDuplicateDeliveryRendersOnce(t *testing.T) {
	f := newFixture(t)
	c, job := f.configuration(t, -0.3)
	for i := 1; i <= 2; i++ {
		if err := f.w.Process(context.Background(), job, i); err != nil {
			t.Fatalf("delivery %d: %v", i, err)
		}
	}
	if n := f.renders.Load(); n != 1 {
		t.Errorf("rendered %d times, want 1", n)
	}
	if got := f.get(t, c.ID); got.Status != longrun.StatusDone || got.RenderedHash != c.ParamsHash {
		t.Errorf("status %s rendered %q, want done with %q", got.Status, got.RenderedHash, c.ParamsHash)
	}
}

func TestJobOfDeletedConfigurationIsDropped(t *testing.T) {
	f := newFixture(t)
	c, job := f.configuration(t, -0.31)
	if err := f.db.DeleteConfiguration(context.Background(), c.ID); err != nil {
		t.Fatal(err)
	}
	if err := f.w.Process(context.Background(), job, 1); err != nil {
		t.Fatalf("got %v, want the job finished with", err)
	}
	if n := f.renders.Load(); n != 0 {
		t.Errorf("rendered %d times, want 0", n)
	}
}

func TestSupersededJobIsDroppedWithoutRendering(t *testing.T) {
	f := newFixture(t)
	c, old := f.configuration(t, -0.32)
	p := params(t, c)
	p.Depth = 41
	_, err := f.db.UpdateConfiguration(context.Background(), c.ID, func(c *longrun.Configuration) error {
		c.Edit(longrun.Draft{Name: c.Name, Spec: p}, nil, time.Now())
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.w.Process(context.Background(), old, 1); err != nil {
		t.Fatal(err)
	}
	if n := f.renders.Load(); n != 0 {
		t.Errorf("the superseded job rendered %d times, want 0", n)
	}
	if got := f.get(t, c.ID); got.Status != longrun.StatusQueued || got.Version != 2 {
		t.Errorf("status %s version %d, want queued 2", got.Status, got.Version)
	}
}

func TestFailureIsRetriedThenMarkedOnTheLastReceive(t *testing.T) {
	f := newFixture(t)
	f.fail = errors.New("disk on fire")
	c, job := f.configuration(t, -0.33)
	for receives := 1; receives <= 3; receives++ {
		err := f.w.Process(context.Background(), job, receives)
		if err == nil {
			t.Fatalf("receive %d: no error; the queue would forget the job", receives)
		}
		got := f.get(t, c.ID)
		if final := receives == 3; (got.Status == longrun.StatusFailed) != final {
			t.Fatalf("receive %d: status %s", receives, got.Status)
		}
	}
	// The owner is told plainly; the cause, which may name server paths,
	// is for the logs.
	if got := f.get(t, c.ID); !strings.Contains(got.Error, "failed 3 times") || strings.Contains(got.Error, "disk on fire") {
		t.Errorf("error %q, want a plain reason without the cause", got.Error)
	}
	if !strings.Contains(f.log.String(), "disk on fire") {
		t.Errorf("the cause is not in the log")
	}
}

func TestTooSlowRenderFailsAtOnce(t *testing.T) {
	f := newFixture(t)
	f.w.Timeout = time.Nanosecond
	c, job := f.configuration(t, -0.34)
	if err := f.w.Process(context.Background(), job, 1); err != nil {
		t.Fatalf("got %v; a render that cannot finish in time must not be retried", err)
	}
	if got := f.get(t, c.ID); got.Status != longrun.StatusFailed || !strings.Contains(got.Error, "longer than") {
		t.Errorf("status %s error %q, want failed for taking too long", got.Status, got.Error)
	}
}

// Busy is not failure: a job whose parameters another job is rendering
// goes back to the queue until that lease ends, uncounted as a failed
// delivery, and then finishes from the result without rendering.
func TestABusyJobWaitsForTheLeaseAndIsNotAFailure(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	clock := time.Now()
	f.db.Now = func() time.Time { return clock }
	c, job := f.configuration(t, -0.35)
	leaseEnds := time.Now().Add(worker.BusyRecheck / 2)
	if ok, err := f.db.Claim(ctx, params(t, c).CountsHash(), "someone-else", leaseEnds); !ok || err != nil {
		t.Fatal(ok, err)
	}
	if err := f.w.Process(ctx, job, 1); err != nil {
		t.Fatalf("got %v, want the delivery finished with", err)
	}
	if n := f.renders.Load(); n != 0 {
		t.Errorf("rendered %d times while leased elsewhere", n)
	}
	if got := f.get(t, c.ID); got.Status != longrun.StatusQueued {
		t.Errorf("status %s, want still queued", got.Status)
	}
	if msgs, _ := f.db.Receive(ctx, 10, time.Minute, 5); len(msgs) != 0 {
		t.Fatalf("the job came back before the lease ended")
	}
	// The other job finishes; the lease ends; the job comes back, fresh.
	f.db.PutResult(ctx, &longrun.Result{Hash: job.Hash, Stats: longrun.Stats{Iterations: 1}})
	clock = leaseEnds.Add(time.Second)
	msgs, _ := f.db.Receive(ctx, 10, time.Minute, 5)
	if len(msgs) != 1 || msgs[0].Receives != 1 {
		t.Fatalf("after the lease: %+v, want the job, on its first receive", msgs)
	}
	if err := f.w.Process(ctx, job, msgs[0].Receives); err != nil {
		t.Fatal(err)
	}
	if got := f.get(t, c.ID); got.Status != longrun.StatusDone || f.renders.Load() != 0 {
		t.Errorf("status %s after %d renders, want done from the result", got.Status, f.renders.Load())
	}
}

func TestBatchReportsOnlyTheFailedMessage(t *testing.T) {
	f := newFixture(t)
	_, good := f.configuration(t, -0.36)
	body, _ := json.Marshal(good)
	_, bad := f.configuration(t, -0.37)
	f.fail, f.failRe = errors.New("broken"), -0.37
	badBody, _ := json.Marshal(bad)
	ev := events.SQSEvent{Records: []events.SQSMessage{
		{MessageId: "m1", Body: string(body), Attributes: map[string]string{"ApproximateReceiveCount": "1"}},
		{MessageId: "m2", Body: string(badBody), Attributes: map[string]string{"ApproximateReceiveCount": "1"}},
		{MessageId: "m3", Body: "not json", Attributes: map[string]string{"ApproximateReceiveCount": "1"}},
	}}
	resp, err := f.w.HandleSQS(context.Background(), ev)
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.BatchItemFailures) != 1 || resp.BatchItemFailures[0].ItemIdentifier != "m2" {
		t.Errorf("failures %+v, want only m2 (m3 can never succeed and is dropped)", resp.BatchItemFailures)
	}
}

// A tiled render: tiles render as jobs of their own, any order, each
// delivered perhaps twice; the one completing the set sends the assembly,
// which a second assembly under way elsewhere leaves alone.
func TestTilesAssembleOnce(t *testing.T) {
	f := newFixture(t)
	f.jk.TileAbove, f.jk.TileSize = 100, 8
	ctx := context.Background()
	c, job := f.configuration(t, -0.4) // 24×16: 3 × 2 tiles
	if err := f.w.Process(ctx, job, 1); err != nil {
		t.Fatal(err)
	}
	tiles := f.take(t)
	if len(tiles) != 6 {
		t.Fatalf("%d jobs after planning, want 6 tiles", len(tiles))
	}
	for i := len(tiles) - 1; i >= 0; i-- { // backwards, and the first twice
		if err := f.w.Process(ctx, tiles[i], 1); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.w.Process(ctx, tiles[0], 2); err != nil {
		t.Fatal(err)
	}
	if n := f.renders.Load(); n != 6 {
		t.Errorf("%d tile renders, want 6", n)
	}
	assemblies := f.take(t)
	if len(assemblies) != 2 {
		t.Fatalf("%d jobs after the tiles, want 2 assemblies (the set completed, then a tile again)", len(assemblies))
	}
	asm := assemblies[0]
	if asm.Step != longrun.JobAssemble {
		t.Fatalf("job %+v, want an assembly", asm)
	}
	if ok, _ := f.db.Claim(ctx, "assemble:"+job.Hash, "someone-else", time.Now().Add(time.Minute)); !ok {
		t.Fatal("could not hold the assembly lease")
	}
	if err := f.w.Process(ctx, asm, 1); err != nil || f.get(t, c.ID).Status != longrun.StatusRendering {
		t.Fatalf("an assembly while another is under way: %v, status %s; want it dropped", err, f.get(t, c.ID).Status)
	}
	f.db.Release(ctx, "assemble:"+job.Hash, "someone-else")
	if err := f.w.Process(ctx, asm, 1); err != nil {
		t.Fatal(err)
	}
	got := f.get(t, c.ID)
	if got.Status != longrun.StatusDone || got.RenderedHash != job.Hash || got.Stats == nil || got.Stats.Pixels != 24*16 {
		t.Errorf("after assembly: %s, %+v", got.Status, got.Stats)
	}
	if err := f.w.Process(ctx, asm, 1); err != nil || f.get(t, c.ID).Seq != got.Seq {
		t.Errorf("the second assembly: %v, or it wrote", err)
	}
}

// Kept tiles are never trusted: one damaged (a flipped byte), one of all
// 0xFF counts written whole (its checksum matches; which made the colouring
// build a 4 GiB table) and one gone are each rendered again by the
// assembly, whose image is the single pass's; a damaged tile whose job is
// delivered again is rendered again too.
func TestDamagedOrMissingTilesAreRenderedAgain(t *testing.T) {
	f := newFixture(t)
	f.jk.TileAbove, f.jk.TileSize = 100, 8
	ctx := context.Background()
	c, job := f.configuration(t, -0.4) // 24×16: 3 × 2 tiles
	if err := f.w.Process(ctx, job, 1); err != nil {
		t.Fatal(err)
	}
	for _, tj := range f.take(t) {
		if err := f.w.Process(ctx, tj, 1); err != nil {
			t.Fatal(err)
		}
	}
	counts := params(t, c).CountsHash()
	key := func(i int) string { return juliaset.TileKey(counts, 8, i) }
	read := func(i int) []byte {
		r, err := f.images.OpenImage(ctx, key(i))
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		b, _ := io.ReadAll(r)
		return b
	}
	damaged := read(1)
	damaged[len(damaged)-3] ^= 0x01
	f.images.PutImage(ctx, key(1), damaged)
	ff := &julia.Counts{Width: 8, Height: 8, Depth: 40, Pix: make([]uint32, 64)}
	for i := range ff.Pix {
		ff.Pix[i] = 0xFFFFFFFF
	}
	var buf bytes.Buffer
	julia.WriteCounts(&buf, ff, julia.Stats{})
	f.images.PutImage(ctx, key(2), buf.Bytes())
	os.Remove(filepath.Join(f.dir, "images", key(4)))

	before := f.renders.Load()
	var asm longrun.Job
	for _, j := range f.take(t) {
		if j.Step == longrun.JobAssemble {
			asm = j
		}
	}
	if err := f.w.Process(ctx, asm, 1); err != nil {
		t.Fatalf("assembly over damaged tiles: %v\n%s", err, f.log.String())
	}
	if n := f.renders.Load() - before; n != 3 {
		t.Errorf("the assembly rendered %d tiles again, want the 3 damaged or gone", n)
	}
	got := f.get(t, c.ID)
	if got.Status != longrun.StatusDone {
		t.Fatalf("after the assembly: %s %s", got.Status, got.Error)
	}
	whole, _, _ := julia.Compute(ctx, params(t, c).Julia(), julia.Options{})
	var want bytes.Buffer
	julia.Encode(&want, whole.Image(params(t, c).Colormap))
	r, _ := f.images.OpenImage(ctx, longrun.ImageKey(job.Hash))
	img, _ := io.ReadAll(r)
	r.Close()
	if !bytes.Equal(img, want.Bytes()) {
		t.Errorf("the image over tiles rendered again differs from the single pass's")
	}
	for _, i := range []int{1, 2, 4} {
		if _, _, err := julia.ReadCounts(bytes.NewReader(read(i))); err != nil {
			t.Errorf("tile %d was not kept again whole: %v", i, err)
		}
	}
	if !strings.Contains(f.log.String(), "computing them again") {
		t.Errorf("the damaged tiles were not logged")
	}
}

// Cancelled or edited, a tiled render's outstanding tiles render nothing.
func TestTilesStopWhenCancelledOrEdited(t *testing.T) {
	f := newFixture(t)
	f.jk.TileAbove, f.jk.TileSize = 100, 8
	ctx := context.Background()
	for _, stop := range []string{"cancel", "edit"} {
		c, job := f.configuration(t, -0.45)
		if err := f.w.Process(ctx, job, 1); err != nil {
			t.Fatal(err)
		}
		msgs, _ := f.db.Receive(ctx, 100, time.Minute, 5)
		for _, m := range msgs {
			f.db.DeleteJob(ctx, m.ID)
		}
		switch stop {
		case "cancel":
			if _, err := f.w.Service.Cancel(ctx, c.Owner, c.ID); err != nil {
				t.Fatal(err)
			}
		case "edit":
			p := params(t, c)
			p.Depth++
			if _, err := f.db.UpdateConfiguration(ctx, c.ID, func(c *longrun.Configuration) error {
				c.Edit(longrun.Draft{Name: c.Name, Spec: p}, nil, time.Now())
				return nil
			}); err != nil {
				t.Fatal(err)
			}
		}
		before := f.renders.Load()
		for _, m := range msgs {
			var j longrun.Job
			json.Unmarshal([]byte(m.Body), &j)
			if err := f.w.Process(ctx, j, 1); err != nil {
				t.Fatal(err)
			}
		}
		if n := f.renders.Load() - before; n != 0 || len(msgs) != 6 {
			t.Errorf("after %s: %d of %d tiles rendered, want none", stop, n, len(msgs))
		}
	}
}

// A job is split by its work, not only its pixels: the biggest view that
// is not big in pixels, 512² at the deepest depth (2.6·10¹⁰ iterations,
// minutes of one core), becomes parts of at most PartWork each, so no
// part holds a worker for long while other clients' jobs wait; a shallow
// one of the same size stays one job.
func TestADeepJobIsSplitIntoPartsByWork(t *testing.T) {
	for _, tc := range []struct {
		depth int
		parts bool
	}{{100_000, true}, {256, false}} {
		f := newFixture(t)
		p := juliaset.Params{C: juliaset.Complex{Re: -0.4, Im: 0.6}, Zoom: 1, Width: 512, Height: 512, Depth: tc.depth, Colormap: "magma"}
		c := longrun.NewConfiguration(longrun.NewID(), longrun.Draft{Name: "deep", Spec: p}, nil, time.Now())
		if err := f.db.CreateConfiguration(context.Background(), c, longrun.Admission{}); err != nil {
			t.Fatal(err)
		}
		planned := false
		f.jk.Compute = func(context.Context, julia.Params, image.Rectangle, julia.Options) (*julia.Counts, julia.Stats, error) {
			planned = true // rendered whole, not planned
			return nil, julia.Stats{}, errors.New("stop here")
		}
		f.w.Process(context.Background(), c.Job(), 1)
		parts := f.take(t)
		if !tc.parts {
			if !planned || len(parts) != 0 {
				t.Errorf("depth %d: %d parts, want one job rendered whole", tc.depth, len(parts))
			}
			continue
		}
		var work int64
		for _, j := range parts {
			if j.Step != longrun.JobPart || j.Work > worker.DefaultPartWork {
				t.Fatalf("depth %d: part %+v, want tiles of at most %d iterations", tc.depth, j, worker.DefaultPartWork)
			}
			work += j.Work
		}
		if work != p.Work() || len(parts) < 26 {
			t.Errorf("depth %d: %d parts of %d iterations in all, want the job's %d in 26 or more", tc.depth, len(parts), work, p.Work())
		}
	}
}

// The outbox's copy of a job (Recheck) renders a version still queued,
// whose own job was lost, and is dropped, rendering nothing, for a version
// its own job has in hand or has done.
func TestARecheckRendersOnlyAVersionStillQueued(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	lost, job := f.configuration(t, -0.4)
	job.Recheck = true
	if err := f.w.Process(ctx, job, 1); err != nil {
		t.Fatal(err)
	}
	if got := f.get(t, lost.ID); got.Status != longrun.StatusDone || f.renders.Load() != 1 {
		t.Fatalf("a recheck of a queued version: %s after %d renders, want done", got.Status, f.renders.Load())
	}
	if err := f.w.Process(ctx, job, 1); err != nil { // again, once done
		t.Fatal(err)
	}
	underWay, job := f.configuration(t, -0.41)
	if err := f.w.Service.StartRender(ctx, job); err != nil {
		t.Fatal(err)
	}
	job.Recheck = true
	if err := f.w.Process(ctx, job, 1); err != nil {
		t.Fatal(err)
	}
	if got := f.get(t, underWay.ID); got.Status != longrun.StatusRendering || f.renders.Load() != 1 {
		t.Errorf("rechecks of a done and a rendering version: %s after %d renders, want only the first render", got.Status, f.renders.Load())
	}
}
