package longrun_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/longrun/longrun"
	"github.com/longrun/longrun/kinds/juliaset"
	"github.com/longrun/longrun/local/sqlite"
)

func ptr[T any](v T) *T { return &v }

// depthOf reads the depth of a Julia set's kept spec.
func depthOf(t *testing.T, raw json.RawMessage) int {
	t.Helper()
	var p juliaset.Params
	if err := json.Unmarshal(raw, &p); err != nil {
		t.Fatal(err)
	}
	return p.Depth
}

func TestNameAndEmailRules(t *testing.T) {
	for _, name := range []string{"", "  ", strings.Repeat("é", 201), "a\xffb"} {
		if longrun.CheckName(name) == nil {
			t.Errorf("name %q accepted", name)
		}
	}
	if err := longrun.CheckName(strings.Repeat("é", 200)); err != nil {
		t.Errorf("200 characters rejected: %v", err)
	}
	for _, addr := range []string{"ada", "ada@", "@example.com", "Ada <ada@example.com>", "ada@localhost", "a b@example.com"} {
		if longrun.CheckEmail(addr) == nil {
			t.Errorf("address %q accepted", addr)
		}
	}
	for _, addr := range []string{"", "ada@example.com", "a.b+c@mail.example.org"} {
		if err := longrun.CheckEmail(addr); err != nil {
			t.Errorf("address %q rejected: %v", addr, err)
		}
	}
}

func TestEditBumpsTheVersionOnlyWhenParametersChange(t *testing.T) {
	now := time.Now()
	p := juliaset.Params{C: juliaset.Complex{Re: 0.1}, Zoom: 1, Width: 32, Height: 32, Depth: 10, Colormap: "magma"}
	c := longrun.NewConfiguration("owner", longrun.Draft{Name: "a", Spec: p}, nil, now)
	if c.Version != 1 || c.Rev != 1 || c.Status != longrun.StatusQueued || c.Change != longrun.ChangeStatus {
		t.Fatalf("new: version %d rev %d status %s change %s, want 1 1 queued status", c.Version, c.Rev, c.Status, c.Change)
	}
	if c.Edit(longrun.Draft{Name: "b", Spec: p}, nil, now) || c.Version != 1 || c.Rev != 2 || c.Change != longrun.ChangeEdit {
		t.Errorf("rename: version %d rev %d change %s, want version 1, rev 2, an edit", c.Version, c.Rev, c.Change)
	}
	if err := c.Finish(1, &longrun.Result{Hash: c.ParamsHash}, now); err != nil || c.Status != longrun.StatusDone || c.Outdated() {
		t.Fatalf("after finish: %v %s outdated=%v", err, c.Status, c.Outdated())
	}
	q := p
	q.Depth = 11
	if !c.Edit(longrun.Draft{Name: "b", Spec: q}, nil, now) || c.Change != longrun.ChangeStatus {
		t.Errorf("new parameters: not reported changed, or change %s, want status", c.Change)
	}
	if c.Version != 2 || c.Status != longrun.StatusQueued || !c.Outdated() || c.RenderedHash != p.Hash() {
		t.Errorf("after an edit: version %d status %s outdated %v; want 2, queued, the old image outdated", c.Version, c.Status, c.Outdated())
	}
	r := q
	r.Depth = 12
	c.Edit(longrun.Draft{Name: "b", Spec: r}, &longrun.Result{Hash: r.Hash()}, now)
	if c.Version != 3 || c.Status != longrun.StatusDone || c.Outdated() {
		t.Errorf("edit to rendered params: version %d status %s outdated %v; want 3 done fresh", c.Version, c.Status, c.Outdated())
	}
}

// TestTransitions pins which transitions each status allows: every
// allowed one sets status, progress, error and Change together; every
// refused one changes nothing.
func TestTransitions(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	result := func(c *longrun.Configuration) *longrun.Result { return &longrun.Result{Hash: c.ParamsHash} }
	type outcome struct {
		status   longrun.Status
		progress float64
		change   string
		error    bool // Error set
	}
	transitions := map[string]struct {
		do   func(c *longrun.Configuration) error
		to   outcome
		from []longrun.Status
	}{
		"requeue": {func(c *longrun.Configuration) error { return c.Requeue(nil, now) },
			outcome{longrun.StatusQueued, 0, longrun.ChangeStatus, false},
			[]longrun.Status{longrun.StatusQueued, longrun.StatusFailed, longrun.StatusCancelled}},
		"start": {func(c *longrun.Configuration) error { return c.StartRender(c.Version, now) },
			outcome{longrun.StatusRendering, 0, longrun.ChangeStatus, false},
			[]longrun.Status{longrun.StatusQueued, longrun.StatusRendering}},
		"progress": {func(c *longrun.Configuration) error { return c.ReportProgress(c.Version, 0.5, nil) },
			outcome{longrun.StatusRendering, 0.5, longrun.ChangeProgress, false},
			[]longrun.Status{longrun.StatusRendering}},
		"finish": {func(c *longrun.Configuration) error { return c.Finish(c.Version, result(c), now) },
			outcome{longrun.StatusDone, 1, longrun.ChangeStatus, false},
			[]longrun.Status{longrun.StatusQueued, longrun.StatusRendering, longrun.StatusDone}},
		"fail": {func(c *longrun.Configuration) error { return c.Fail(c.Version, "broken", now) },
			outcome{longrun.StatusFailed, 0, longrun.ChangeStatus, true},
			[]longrun.Status{longrun.StatusQueued, longrun.StatusRendering, longrun.StatusFailed}},
		"cancel": {func(c *longrun.Configuration) error { return c.Cancel(now) },
			outcome{longrun.StatusCancelled, 0, longrun.ChangeStatus, true},
			[]longrun.Status{longrun.StatusQueued, longrun.StatusRendering}},
	}
	// in returns a configuration in status s, reached through transitions.
	in := func(t *testing.T, s longrun.Status) *longrun.Configuration {
		p := juliaset.Params{C: juliaset.Complex{Re: 0.2}, Zoom: 1, Width: 16, Height: 16, Depth: 5, Colormap: "magma"}
		c := longrun.NewConfiguration("o", longrun.Draft{Name: "x", Spec: p}, nil, now.Add(-time.Hour))
		var err error
		switch s {
		case longrun.StatusRendering:
			err = c.StartRender(c.Version, now)
			c.ReportProgress(c.Version, 0.25, nil)
		case longrun.StatusDone:
			err = c.Finish(c.Version, result(c), now)
		case longrun.StatusFailed:
			err = c.Fail(c.Version, "earlier", now)
		case longrun.StatusCancelled:
			err = c.Cancel(now)
		}
		if err != nil || c.Status != s {
			t.Fatalf("could not reach %s: %v", s, err)
		}
		return c
	}
	for name, tr := range transitions {
		for _, from := range longrun.Statuses {
			allowed := slices.Contains(tr.from, from)
			t.Run(fmt.Sprintf("%s from %s allowed=%v", name, from, allowed), func(t *testing.T) {
				c := in(t, from)
				before := *c
				err := tr.do(c)
				if got := longrun.Allowed(name, from); got != allowed {
					t.Errorf("Allowed(%s, %s) = %v, want %v", name, from, got, allowed)
				}
				if !allowed {
					if longrun.ErrorCode(err) != longrun.ECONFLICT || !reflect.DeepEqual(*c, before) {
						t.Errorf("got %v and %+v, want a conflict and nothing changed", err, c)
					}
					if name != "start" && name != "progress" && !strings.Contains(err.Error(), "only a") {
						t.Errorf("the refusal %q does not say what the transition needs", err)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				if c.Status != tr.to.status || c.Progress != tr.to.progress || c.Change != tr.to.change || (c.Error != "") != tr.to.error {
					t.Errorf("got status %s progress %g change %s error %q, want %+v", c.Status, c.Progress, c.Change, c.Error, tr.to)
				}
				if name != "progress" && !c.UpdatedAt.Equal(now) {
					t.Errorf("updatedAt %v, want %v", c.UpdatedAt, now)
				}
				// The render's times: each transition stamps its own.
				stamped := map[string]time.Time{"requeue": c.QueuedAt, "start": c.StartedAt, "finish": c.FinishedAt,
					"fail": c.FinishedAt, "cancel": c.FinishedAt}
				if at, ok := stamped[name]; ok && !at.Equal(now) {
					t.Errorf("%s stamped %v, want %v (queued %v started %v finished %v)", name, at, now, c.QueuedAt, c.StartedAt, c.FinishedAt)
				}
				if name == "requeue" && (!c.StartedAt.IsZero() || !c.FinishedAt.IsZero()) {
					t.Errorf("a requeued version keeps the old render's times: started %v finished %v", c.StartedAt, c.FinishedAt)
				}
			})
		}
	}
	t.Run("a job's transitions refuse another version", func(t *testing.T) {
		c := in(t, longrun.StatusQueued)
		for _, err := range []error{c.StartRender(c.Version+1, now), c.ReportProgress(c.Version+1, 0.1, nil),
			c.Finish(c.Version+1, result(c), now), c.Fail(c.Version+1, "x", now)} {
			if !errors.Is(err, longrun.ErrSuperseded) {
				t.Errorf("got %v, want ErrSuperseded", err)
			}
		}
	})
	t.Run("a render told to stop hears ErrStopped", func(t *testing.T) {
		c := in(t, longrun.StatusCancelled)
		if err := c.ReportProgress(c.Version, 0.5, nil); !errors.Is(err, longrun.ErrStopped) {
			t.Errorf("progress after cancel: got %v, want ErrStopped", err)
		}
		if err := c.StartRender(c.Version, now); !errors.Is(err, longrun.ErrStopped) {
			t.Errorf("start after cancel: got %v, want ErrStopped", err)
		}
	})
	t.Run("requeue with a result is done at once", func(t *testing.T) {
		c := in(t, longrun.StatusFailed)
		if err := c.Requeue(result(c), now); err != nil || c.Status != longrun.StatusDone || c.Error != "" {
			t.Errorf("got %v, status %s error %q; want done", err, c.Status, c.Error)
		}
	})
}

func TestRequestMail(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	p := juliaset.Params{C: juliaset.Complex{Re: 0.2}, Zoom: 1, Width: 16, Height: 16, Depth: 5, Colormap: "magma"}
	for _, from := range longrun.Statuses {
		t.Run(string(from), func(t *testing.T) {
			c := longrun.NewConfiguration("o", longrun.Draft{Name: "x", Spec: p, NotifyEmail: "a@example.com"}, nil, now.Add(-time.Hour))
			switch from {
			case longrun.StatusRendering:
				c.StartRender(c.Version, now)
			case longrun.StatusDone:
				c.Finish(c.Version, &longrun.Result{Hash: c.ParamsHash}, now)
			case longrun.StatusFailed:
				c.Fail(c.Version, "earlier", now)
			case longrun.StatusCancelled:
				c.Cancel(now)
			}
			c.NotifyError = "refused earlier"
			before := *c
			err := c.RequestMail(now)
			if finished := from == longrun.StatusDone || from == longrun.StatusFailed; !finished {
				if longrun.ErrorCode(err) != longrun.ECONFLICT || !reflect.DeepEqual(*c, before) || !strings.Contains(err.Error(), "only a finished") {
					t.Errorf("got %v and %+v, want a conflict saying what it needs and nothing changed", err, c)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.MailRequests != 1 || c.Status != from || c.Change != longrun.ChangeEdit || c.Rev != before.Rev || c.NotifyError != "" || !c.UpdatedAt.Equal(now) {
				t.Errorf("got %+v; want one more request, status and ETag kept, the old mail error cleared", c)
			}
			if err := c.RequestMail(now); err != nil || c.MailRequests != 2 {
				t.Errorf("a second request: %v, %d requests", err, c.MailRequests)
			}
		})
	}
	t.Run("without an address", func(t *testing.T) {
		c := longrun.NewConfiguration("o", longrun.Draft{Name: "x", Spec: p}, nil, now)
		c.Finish(c.Version, &longrun.Result{Hash: c.ParamsHash}, now)
		if err := c.RequestMail(now); longrun.ErrorCode(err) != longrun.ECONFLICT || !strings.Contains(err.Error(), "no e-mail address") || c.MailRequests != 0 {
			t.Errorf("got %v, %d requests; want a conflict naming the missing address", err, c.MailRequests)
		}
	})
}

// TestHistoryKeepsEarlierVersions: each parameter change puts the version
// left at the head of History, rendered or not, one entry per parameter
// set, the current parameters never among them, at most HistoryLength.
func TestHistoryKeepsEarlierVersions(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	at := func(depth int) juliaset.Params {
		return juliaset.Params{C: juliaset.Complex{Re: 0.1}, Zoom: 1, Width: 32, Height: 32, Depth: depth, Colormap: "magma"}
	}
	c := longrun.NewConfiguration("owner", longrun.Draft{Name: "a", Spec: at(10)}, nil, now)
	if len(c.History) != 0 {
		t.Fatalf("a new configuration has history %v", c.History)
	}
	if err := c.Finish(1, &longrun.Result{Hash: c.ParamsHash}, now); err != nil {
		t.Fatal(err)
	}
	c.Edit(longrun.Draft{Name: "renamed", Spec: at(10)}, nil, now)
	if len(c.History) != 0 {
		t.Errorf("a rename made history %v", c.History)
	}
	c.Edit(longrun.Draft{Name: "a", Spec: at(11)}, nil, now) // v2, left queued
	c.Edit(longrun.Draft{Name: "a", Spec: at(12)}, nil, now) // v3
	depths := func() (d []int) {
		for _, e := range c.History {
			d = append(d, depthOf(t, e.Params))
		}
		return d
	}
	if got := depths(); !slices.Equal(got, []int{11, 10}) || !c.History[1].Rendered || c.History[0].Rendered || c.History[0].Version != 2 {
		t.Fatalf("history %+v, want depth 11 (v2, not rendered) then 10 (v1, rendered)", c.History)
	}
	if e, ok := c.EarlierImage(at(10).Hash()[:16]); !ok || e.Version != 1 {
		t.Errorf("EarlierImage of v1's hash: %v %v", e, ok)
	}
	if _, ok := c.EarlierImage(at(11).Hash()[:16]); ok {
		t.Errorf("EarlierImage of a version never rendered answered")
	}
	if _, ok := c.EarlierImage(at(10).Hash()[:4]); ok {
		t.Errorf("EarlierImage answered a 4-character prefix")
	}
	// Back to v1's parameters: they leave the history, v3's join it.
	c.Edit(longrun.Draft{Name: "a", Spec: at(10)}, &longrun.Result{Hash: at(10).Hash()}, now)
	if got := depths(); !slices.Equal(got, []int{12, 11}) || c.Status != longrun.StatusDone {
		t.Errorf("after going back to depth 10: history %v status %s, want [12 11], done at once", got, c.Status)
	}
	for d := 20; d < 40; d++ {
		c.Edit(longrun.Draft{Name: "a", Spec: at(d)}, nil, now)
	}
	if len(c.History) != longrun.HistoryLength || depthOf(t, c.History[0].Params) != 38 {
		t.Errorf("after 20 more versions: %d entries, latest depth %d; want %d, 38", len(c.History), depthOf(t, c.History[0].Params), longrun.HistoryLength)
	}
	b, err := c.MarshalRecord()
	if err != nil {
		t.Fatal(err)
	}
	back, err := longrun.UnmarshalRecord(b)
	if err != nil || !reflect.DeepEqual(back.History, c.History) {
		t.Errorf("history does not survive the record: %v", err)
	}
}

// A tiled render's planner delivered again keeps the tiles done; a tally
// of the ledger's tiles sets them, and an older tally (concurrent tiles'
// writes arrive out of order) changes nothing; a new version forgets the
// tiling.
func TestTilingSurvivesARedeliveredPlanner(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	p := juliaset.Params{C: juliaset.Complex{Re: 0.1}, Zoom: 1, Width: 64, Height: 64, Depth: 10, Colormap: "magma"}
	c := longrun.NewConfiguration("owner", longrun.Draft{Name: "a", Spec: p}, nil, now)
	if err := c.StartTiles(1, 4, 32, now); err != nil || c.Status != longrun.StatusRendering {
		t.Fatalf("start tiles: %v, %s", err, c.Status)
	}
	if err := c.TallyTiles(1, &longrun.TileTally{Tiles: []int{0, 2}, Lo: 1, Hi: 9, Iterations: 10}); err != nil {
		t.Fatal(err)
	}
	if err := c.TallyTiles(1, &longrun.TileTally{Tiles: []int{0}, Lo: 1, Hi: 5, Iterations: 5}); err == nil {
		t.Errorf("an older tally was applied")
	}
	c.StartTiles(1, 4, 32, now) // the planner again
	if c.Tiling.Count != 2 || c.Tiling.Iterations != 10 || c.Progress != 0.5 || c.Tiling.Hi != 9 || c.Tiling.Done[0] != 0b101 {
		t.Errorf("after the planner again: %+v, progress %v; want tiles 0 and 2, 10 iterations, range 1–9, progress 0.5", c.Tiling, c.Progress)
	}
	if c.Change != longrun.ChangeProgress {
		t.Errorf("a tally's change: %q, want %q (pushed)", c.Change, longrun.ChangeProgress)
	}
	if err := c.TallyTiles(2, &longrun.TileTally{Tiles: []int{0, 1, 2}}); !errors.Is(err, longrun.ErrSuperseded) {
		t.Errorf("a tally of another version: %v, want ErrSuperseded", err)
	}
	q := p
	q.Depth = 11
	c.Edit(longrun.Draft{Name: "a", Spec: q}, nil, now)
	if c.Tiling != nil {
		t.Errorf("a new version kept the old one's tiling %+v", c.Tiling)
	}
}

// A client is known by its network: every address of one IPv6 /64 (a host
// picks among 2⁶⁴) or one IPv4 /24 is one client, to the per-address
// limits and the queue's shares; the lengths are settings.
func TestAClientIsKnownByItsNetwork(t *testing.T) {
	var q longrun.Quotas
	for _, c := range []struct{ addr, want string }{
		{"203.0.113.7", "203.0.113.0/24"},
		{"203.0.113.250", "203.0.113.0/24"},
		{"::ffff:203.0.113.7", "203.0.113.0/24"},
		{"2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"},
		{"2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::/64"},
		{"fe80::1%eth0", "fe80::/64"},
		{"not an address", "not an address"},
	} {
		if got := q.ClientKey(c.addr); got != c.want {
			t.Errorf("ClientKey(%q) = %q, want %q", c.addr, got, c.want)
		}
	}
	every := longrun.Quotas{ClientV4Bits: 32, ClientV6Bits: 128}
	if a, b := every.ClientKey("203.0.113.7"), every.ClientKey("203.0.113.8"); a == b {
		t.Errorf("with /32, two addresses are one client %q", a)
	}
}

// A configuration kept before works were recorded is retried with its
// spec's work, so its job is charged in the queue's fair shares.
func TestARetryOfAnOldRecordCarriesItsWork(t *testing.T) {
	old := `{"id":"0123456789abcdef0123456789abcdef","owner":"fedcba9876543210fedcba9876543210","name":"x","params":{"c":{"re":-0.7,"im":0.27015},` +
		`"center":{"re":0,"im":0},"zoom":1,"width":512,"height":512,"depth":256,"colormap":"nipy_spectral"},` +
		`"paramsHash":"723924d993d52bcbef4f443f571801681dc16f7334534e923ecbfb180cbc2086","version":1,"rev":1,"seq":1,` +
		`"status":"failed","createdAt":"2026-01-01T00:00:00Z","updatedAt":"2026-01-01T00:00:00Z"}`
	c, err := longrun.UnmarshalRecord([]byte(old))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	db, err := sqlite.Open(ctx, t.TempDir()+"/db")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.CreateConfiguration(ctx, c, longrun.Admission{}); err != nil {
		t.Fatal(err)
	}
	svc := &longrun.Service{Store: db, Results: db, Queue: db, Kinds: longrun.Kinds{juliaset.Name: juliaset.New(juliaset.Bounds{})}}
	if _, err := svc.Rerender(ctx, longrun.Caller{Owner: c.Owner}, c.ID); err != nil {
		t.Fatal(err)
	}
	msgs, err := db.Receive(ctx, 10, time.Minute, 5)
	if err != nil || len(msgs) != 1 {
		t.Fatalf("queued %v %v, want one job", msgs, err)
	}
	var job longrun.Job
	json.Unmarshal([]byte(msgs[0].Body), &job)
	if job.Work != 512*512*256 {
		t.Errorf("job %+v, want the work 512·512·256", job)
	}
}
