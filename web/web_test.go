package web_test

import (
	"compress/gzip"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/longrun/longrun"
	"github.com/longrun/longrun/internal/testutil"
	"github.com/longrun/longrun/kinds/juliaset"
	"github.com/longrun/longrun/local/files"
	"github.com/longrun/longrun/local/memlimit"
	"github.com/longrun/longrun/local/sqlite"
	"github.com/longrun/longrun/web"
)

// queue fails while down is set.
type queue struct {
	db   *sqlite.DB
	down atomic.Bool
}

func (q *queue) SendJob(ctx context.Context, j longrun.Job) error {
	if q.down.Load() {
		return errors.New("queue unreachable")
	}
	return q.db.SendJob(ctx, j)
}

func newServer(t *testing.T, edit ...func(*longrun.Service)) (*httptest.Server, *sqlite.DB, *queue, *web.Sessions) {
	t.Helper()
	dir := t.TempDir()
	db, err := sqlite.Open(context.Background(), dir+"/db")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	images, _ := files.Open(dir + "/images")
	q := &queue{db: db}
	sessions := &web.Sessions{Key: []byte("0123456789abcdef0123456789abcdef")}
	svc := &longrun.Service{Store: db, Results: db, Queue: q, Kinds: longrun.Kinds{juliaset.Name: juliaset.New(juliaset.Bounds{})}}
	for _, e := range edit {
		e(svc)
	}
	srv := httptest.NewServer(web.NewServer(web.Deps{Service: svc, Images: images, Sessions: sessions}))
	t.Cleanup(srv.Close)
	return srv, db, q, sessions
}

func TestEnqueueFailureLeavesARecoverableConfiguration(t *testing.T) {
	srv, db, q, _ := newServer(t)
	c := testutil.NewClient(t, srv.URL)
	q.down.Store(true)
	res := c.Do("POST", "/api/configurations", map[string]any{"name": "x", "params": testutil.Params(0.1, 0.2)})
	if res.Status != http.StatusServiceUnavailable {
		t.Fatalf("create with the queue down: %d %s, want 503", res.Status, res.Body)
	}
	e := res.Err(t)
	loc := res.Header.Get("Location")
	if !strings.Contains(e.Error.Message, "/render") || loc == "" {
		t.Fatalf("error %q, Location %q: want how to recover and where", e.Error.Message, loc)
	}
	id := strings.TrimPrefix(loc, "/api/configurations/")
	if v := c.Get(id); v.Status != longrun.StatusQueued {
		t.Fatalf("saved configuration is %s, want queued", v.Status)
	}
	q.down.Store(false)
	if res := c.Do("POST", loc+"/render", nil); res.Status != http.StatusAccepted {
		t.Fatalf("retry: %d %s", res.Status, res.Body)
	}
	stats, _ := db.QueueStats(context.Background())
	if stats.Visible != 1 {
		t.Errorf("queue holds %d jobs after the retry, want 1", stats.Visible)
	}
}

func TestForgedOrExpiredCookiesGetANewOwner(t *testing.T) {
	srv, _, _, sessions := newServer(t)
	alice := testutil.NewClient(t, srv.URL)
	v := alice.Create(map[string]any{"name": "mine", "params": testutil.Params(0.1, 0.2)})
	cookie := alice.HTTP.Jar.Cookies(mustURL(t, srv.URL))[0]
	owner := sessions.Owner(cookie.Value)
	if owner == "" {
		t.Fatal("the issued cookie does not verify")
	}
	if !cookieFlags(t, srv.URL) {
		t.Error("session cookie is not HttpOnly")
	}
	// Forge: another owner's id with the same signature.
	forged := strings.Replace(cookie.Value, owner, strings.Repeat("a", 32), 1)
	expired := (&web.Sessions{Key: sessions.Key, Now: func() time.Time { return time.Now().Add(-500 * 24 * time.Hour) }}).Token(owner, time.Hour)
	otherKey := (&web.Sessions{Key: []byte("another-key-another-key-another-key")}).Token(owner, time.Hour)
	push := sessions.PushToken(owner) // a push token is no session
	for name, value := range map[string]string{"forged": forged, "expired": expired, "other key": otherKey, "garbage": "x.y.z", "push token": push} {
		req, _ := http.NewRequest("GET", srv.URL+"/api/configurations/"+v.ID, nil)
		req.AddCookie(&http.Cookie{Name: web.CookieName, Value: value})
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusNotFound {
			t.Errorf("%s cookie: %d, want 404", name, res.StatusCode)
		}
		if fresh := res.Cookies(); len(fresh) != 1 || sessions.Owner(fresh[0].Value) == owner {
			t.Errorf("%s cookie: want a new owner's cookie", name)
		}
	}
}

// A cookie issued before tokens named their purpose still works as a
// session, and only as one.
func TestALegacyCookieIsStillASession(t *testing.T) {
	s := &web.Sessions{Key: []byte("0123456789abcdef0123456789abcdef")}
	owner := longrun.NewID()
	payload := owner + "." + strconv.FormatInt(time.Now().Add(time.Hour).Unix(), 10)
	m := hmac.New(sha256.New, s.Key)
	m.Write([]byte(payload))
	legacy := payload + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
	if got := s.Owner(legacy); got != owner {
		t.Errorf("legacy cookie: owner %q, want %q", got, owner)
	}
	if got := s.PushOwner(legacy); got != "" {
		t.Errorf("a legacy cookie worked as a push token for %q", got)
	}
	if got := s.PushOwner(s.PushToken(owner)); got != owner {
		t.Errorf("push token: owner %q, want %q", got, owner)
	}
}

// Owners cost something: every session minted counts against the
// client's address, by a read as by a write, so cookies fetched by GETs
// make no free owners; the page, its assets, health, meta and the e-mail
// links mint none.
func TestEveryNewOwnerCountsAgainstTheAddress(t *testing.T) {
	srv, _, _, _ := newServer(t, func(s *longrun.Service) {
		s.Limiter, s.Quotas = &memlimit.Limiter{}, longrun.Quotas{AddressSessions: 5}
	})
	get := func(path string) *http.Response {
		res, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res
	}
	for _, path := range []string{"/", "/app.js", "/api/health", "/api/meta", "/api/openapi.json"} {
		for range 10 {
			if res := get(path); len(res.Cookies()) != 0 || res.StatusCode != 200 {
				t.Fatalf("GET %s: %d with %d cookies, want 200 and no session", path, res.StatusCode, len(res.Cookies()))
			}
		}
	}
	for i := range 5 { // fresh cookies by reads, within the address's 5 an hour
		if res := get("/api/configurations"); res.StatusCode != 200 || len(res.Cookies()) != 1 {
			t.Fatalf("new owner %d by a GET: %d with %d cookies", i+1, res.StatusCode, len(res.Cookies()))
		}
	}
	res := get("/api/configurations")
	if res.StatusCode != http.StatusTooManyRequests || res.Header.Get("Retry-After") == "" || len(res.Cookies()) != 0 {
		t.Errorf("a sixth new owner by a GET: %d, Retry-After %q, %d cookies; want 429 and no session", res.StatusCode, res.Header.Get("Retry-After"), len(res.Cookies()))
	}
	if res := get("/api/health"); res.StatusCode != 200 {
		t.Errorf("health after the address's sessions ran out: %d", res.StatusCode)
	}
}

// A second session cookie (set by a sibling site or a script: cookie
// tossing, sent first) does not displace the signed one: the request is
// the signed cookie's owner's, and no new session is issued.
func TestATossedCookieDoesNotDisplaceTheSignedOne(t *testing.T) {
	srv, db, _, sessions := newServer(t)
	owner := longrun.NewID()
	mine := longrun.NewConfiguration(owner, longrun.Draft{Name: "mine", Spec: juliaset.Params{C: juliaset.Complex{Re: 0.1}, Zoom: 1,
		Width: 16, Height: 16, Depth: 5, Colormap: "magma"}}, nil, time.Now())
	if err := db.CreateConfiguration(context.Background(), mine, longrun.Admission{}); err != nil {
		t.Fatal(err)
	}
	for _, header := range []string{
		web.CookieName + "=forged.1.x; " + web.CookieName + "=" + sessions.Token(owner, time.Hour),
		web.CookieName + "=" + sessions.Token(owner, time.Hour) + "; " + web.CookieName + "=forged.1.x",
	} {
		req, _ := http.NewRequest("GET", srv.URL+"/api/configurations", nil)
		req.Header.Set("Cookie", header)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if !strings.Contains(string(body), mine.ID) || len(res.Cookies()) != 0 {
			t.Errorf("cookies %q: %d new cookies, listing %s; want the signed cookie's owner, and no new session", header, len(res.Cookies()), body)
		}
	}
}

func cookieFlags(t *testing.T, base string) bool {
	res, err := http.Get(base + "/api/configurations")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return len(res.Cookies()) == 1 && res.Cookies()[0].HttpOnly
}

func TestPathTraversalAndUnknownRoutes(t *testing.T) {
	srv, _, _, _ := newServer(t)
	c := testutil.NewClient(t, srv.URL)
	// A redirect to the cleaned path would be followed: refuse to, so a
	// 307 shows as itself.
	c.HTTP.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	for _, path := range []string{
		"/api/configurations/..%2F..%2Fsession.key", "/api/configurations/%2e%2e", "/api/configurations/ABC",
		"/api/configurations/0123456789abcdef0123456789abcdef", "/api/nope",
		"/api/configurations/..", "/api/configurations/x/../../health", "/api//meta", "/api/./meta",
	} {
		res := c.Do("GET", path, nil)
		if res.Status != http.StatusNotFound || !strings.Contains(string(res.Body), `"not_found"`) {
			t.Errorf("GET %s: %d %s, want a JSON 404", path, res.Status, res.Body)
		}
	}
	if res := c.Do("GET", "/../../etc/passwd", nil); res.Status == 200 && strings.Contains(string(res.Body), "root:") {
		t.Errorf("served a file outside the page")
	}
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// GET /api/meta is the one source of the limits, defaults, colormaps and
// presets: it serves the domain's, and the page repeats none of them.
func TestMetaIsThePagesOneSource(t *testing.T) {
	srv, _, _, _ := newServer(t)
	res, err := http.Get(srv.URL + "/api/meta")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var meta struct {
		DefaultKind string `json:"defaultKind"`
		Kinds       map[string]struct {
			Schema   map[string]any    `json:"schema"`
			Limits   juliaset.Limits   `json:"limits"`
			Defaults juliaset.Params   `json:"defaults"`
			Presets  []juliaset.Preset `json:"presets"`
			Choices  struct {
				Colormaps []string `json:"colormaps"`
			} `json:"choices"`
		} `json:"kinds"`
	}
	if err := json.NewDecoder(res.Body).Decode(&meta); err != nil || res.StatusCode != 200 {
		t.Fatalf("GET /api/meta: %d %v", res.StatusCode, err)
	}
	got := meta.Kinds[juliaset.Name]
	if meta.DefaultKind != juliaset.Name || got.Schema["properties"] == nil || got.Limits.MaxSize != juliaset.MaxSize ||
		len(got.Choices.Colormaps) == 0 || len(got.Presets) == 0 || got.Defaults != juliaset.DefaultParams() {
		t.Errorf("meta lacks the kind, its schema, limits, colormaps, presets or defaults: %+v", meta)
	}
	var page strings.Builder
	files := []string{"index.html"}
	scripts, _ := filepath.Glob("static/*.js")
	for _, f := range scripts {
		files = append(files, filepath.Base(f))
	}
	for _, f := range files {
		res, err := http.Get(srv.URL + "/" + f)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		page.Write(b)
	}
	repeated := []string{strconv.Itoa(juliaset.MaxSize), strconv.Itoa(juliaset.MaxDepth), `"` + got.Defaults.Colormap + `"`}
	for _, c := range got.Choices.Colormaps {
		repeated = append(repeated, ">"+c+"<")
	}
	for _, p := range got.Presets {
		repeated = append(repeated, strconv.FormatFloat(p.C.Re, 'g', -1, 64)+","+strconv.FormatFloat(p.C.Im, 'g', -1, 64))
	}
	for _, s := range repeated {
		if strings.Contains(page.String(), s) {
			t.Errorf("the page repeats %s instead of reading /api/meta", s)
		}
	}
}

// The page's modules load at once, not one import after another: the page
// preloads every module app.js reaches.
func TestThePagePreloadsItsModules(t *testing.T) {
	page, err := os.ReadFile("static/index.html")
	if err != nil {
		t.Fatal(err)
	}
	importRE := regexp.MustCompile(`(?m)^import .* from "\./([a-z]+\.js)";`)
	seen := map[string]bool{}
	var walk func(string)
	walk = func(name string) {
		if seen[name] {
			return
		}
		seen[name] = true
		src, err := os.ReadFile(filepath.Join("static", name))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for _, m := range importRE.FindAllStringSubmatch(string(src), -1) {
			walk(m[1])
		}
	}
	walk("app.js")
	if len(seen) < 5 {
		t.Fatalf("app.js reaches %d modules; the import pattern no longer matches", len(seen))
	}
	for name := range seen {
		if name != "app.js" && !strings.Contains(string(page), `<link rel="modulepreload" href="`+name+`">`) {
			t.Errorf("index.html does not preload %s", name)
		}
	}
}

// During a key rotation the previous key still verifies, and only the
// current one signs.
func TestThePreviousKeyStillVerifies(t *testing.T) {
	old := &web.Sessions{Key: []byte("the-old-key-the-old-key-the-old-key!")}
	cur := &web.Sessions{Key: []byte("the-new-key-the-new-key-the-new-key!"), Previous: [][]byte{old.Key}}
	owner := longrun.NewID()
	if got := cur.Owner(old.Token(owner, time.Hour)); got != owner {
		t.Errorf("a token of the previous key: owner %q, want %q", got, owner)
	}
	if got := old.Owner(cur.Token(owner, time.Hour)); got != "" {
		t.Errorf("a new token verified under the old key alone: it was signed with it")
	}
	if got := (&web.Sessions{Key: cur.Key}).Owner(old.Token(owner, time.Hour)); got != "" {
		t.Errorf("after the rotation ends the old key's token still works")
	}
}

// A rotation signs nobody out, whichever container sees it first: every
// container reads the keys again after RefreshEvery, and once on a
// signature no key it holds verifies, before it treats the token as
// forged. Forged tokens cannot make it read the keys more than once per
// RefreshEvery/30.
func TestARotationSignsNobodyOut(t *testing.T) {
	k1, k2, k3 := []byte("the-first-key-the-first-key-the-first"), []byte("the-second-key-the-second-key-the-sec"), []byte("the-third-key-the-third-key-the-third")
	var mu sync.Mutex
	current, previous := k1, [][]byte(nil)
	reads := 0
	secret := func(context.Context) ([]byte, [][]byte, error) {
		mu.Lock()
		defer mu.Unlock()
		reads++
		return current, previous, nil
	}
	rotate := func(k []byte) {
		mu.Lock()
		defer mu.Unlock()
		current, previous = k, [][]byte{current}
	}
	now := time.Unix(1_800_000_000, 0)
	clock := func() time.Time { return now }
	container := func() *web.Sessions {
		key, prev, _ := secret(context.Background())
		return &web.Sessions{Key: key, Previous: prev, Refresh: secret, RefreshEvery: 5 * time.Minute, Now: clock}
	}
	a := container()
	owner := longrun.NewID()
	before := a.Token(owner, time.Hour)

	rotate(k2) // put-secret-value: k2 current, k1 previous
	b := container()
	after := b.Token(owner, time.Hour) // signed with k2 by a container that started since
	if got := a.Owner(after); got != owner {
		t.Errorf("a container that has not read the new key: the new key's token gives owner %q, want %q (signed out)", got, owner)
	}
	if got := b.Owner(before); got != owner {
		t.Errorf("the old key's token after the rotation: owner %q, want %q", got, owner)
	}
	if got := a.Owner(a.Token(owner, time.Hour)); got != owner || a.Token(owner, time.Hour) != b.Token(owner, time.Hour) {
		t.Errorf("after reading the keys again, a signs with another key than b")
	}

	// Forged tokens: at most one read of the keys per RefreshEvery/30.
	n := reads
	for i := range 100 {
		if a.Owner(owner+".9999999999.forged"+strconv.Itoa(i)) != "" {
			t.Fatal("a forged token verified")
		}
	}
	if reads-n > 1 {
		t.Errorf("100 forged tokens read the keys %d times, want at most once", reads-n)
	}

	// After RefreshEvery the keys are read again unasked: a second
	// rotation retires k1, and its tokens stop working.
	rotate(k3)
	now = now.Add(6 * time.Minute)
	if got := a.Owner(before); got != "" {
		t.Errorf("two rotations later the first key's token still works")
	}
	if got := a.Owner(after); got != owner {
		t.Errorf("the previous key's token after the second rotation: owner %q, want %q", got, owner)
	}

	// A refresh that fails keeps the keys held.
	failing := &web.Sessions{Key: k3, Refresh: func(context.Context) ([]byte, [][]byte, error) { return nil, nil, errors.New("throttled") },
		OnRefreshError: func(error) {}, Now: clock}
	if got := failing.Owner(after); got != "" {
		t.Errorf("a token of k2 on a container holding k3 alone whose refresh fails: owner %q, want none", got)
	}
	if got := failing.Owner(failing.Token(owner, time.Hour)); got != owner {
		t.Errorf("a failed refresh lost the key held")
	}
}

// The page's files are served compressed, with a validator that turns a
// repeat visit into a 304.
func TestThePageIsCompressedAndRevalidated(t *testing.T) {
	srv, _, _, _ := newServer(t)
	get := func(path string, h ...string) *http.Response {
		req, _ := http.NewRequest("GET", srv.URL+path, nil)
		for i := 0; i+1 < len(h); i += 2 {
			req.Header.Set(h[i], h[i+1])
		}
		res, err := http.DefaultTransport.RoundTrip(req) // no transparent decompression
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res
	}
	for _, path := range []string{"/", "/app.js", "/style.css"} {
		res := get(path, "Accept-Encoding", "gzip")
		etag := res.Header.Get("ETag")
		if res.StatusCode != 200 || res.Header.Get("Content-Encoding") != "gzip" || etag == "" {
			t.Errorf("%s: %d, encoding %q, ETag %q; want gzip with a validator", path, res.StatusCode, res.Header.Get("Content-Encoding"), etag)
		}
		if again := get(path, "If-None-Match", etag); again.StatusCode != http.StatusNotModified {
			t.Errorf("%s again with its ETag: %d, want 304", path, again.StatusCode)
		}
	}
	if res := get("/nothing.js"); res.StatusCode != http.StatusNotFound {
		t.Errorf("a missing file: %d, want 404", res.StatusCode)
	}
}

// TestTextIsSentCompressed: the page, its scripts and a list of
// configurations go gzipped to a client that accepts it, whole when read
// back; a small answer and one without Accept-Encoding go plain.
func TestTextIsSentCompressed(t *testing.T) {
	srv, _, _, _ := newServer(t)
	c := testutil.NewClient(t, srv.URL)
	for i := range 12 {
		c.Create(map[string]any{"name": "a longish name for the list " + strconv.Itoa(i), "params": testutil.Params(0.1, 0.2+float64(i)/100)})
	}
	get := func(path string, gzip bool) *http.Response {
		req, _ := http.NewRequest("GET", srv.URL+path, nil)
		if gzip {
			req.Header.Set("Accept-Encoding", "gzip")
		}
		res, err := c.HTTP.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { res.Body.Close() })
		return res
	}
	for _, path := range []string{"/", "/app.js", "/api/configurations", "/api/meta"} {
		res := get(path, true)
		if res.StatusCode != 200 || res.Header.Get("Content-Encoding") != "gzip" {
			t.Errorf("GET %s with Accept-Encoding gzip: %d, Content-Encoding %q; want gzip", path, res.StatusCode, res.Header.Get("Content-Encoding"))
			continue
		}
		zr, err := gzip.NewReader(res.Body)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		body, err := io.ReadAll(zr)
		plain, _ := io.ReadAll(get(path, false).Body)
		if err != nil || len(body) == 0 || (path != "/api/configurations" && string(body) != string(plain)) {
			t.Errorf("GET %s: %d bytes unzipped (%v), %d plain", path, len(body), err, len(plain))
		}
	}
	if res := get("/api/health", true); res.Header.Get("Content-Encoding") != "" {
		t.Errorf("a small answer (health) went %q", res.Header.Get("Content-Encoding"))
	}
	if res := get("/api/meta", false); res.Header.Get("Content-Encoding") != "" {
		t.Errorf("a client that accepts no gzip got %q", res.Header.Get("Content-Encoding"))
	}
}

// TestReadOnlyLinkTokensAreTheirOwnKind: a link token names its
// configuration and generation under the sessions' key, the notifier's
// signer makes the same token, and neither a forged one, nor a session or
// push token, is taken for a link, nor a link token for a session.
func TestReadOnlyLinkTokensAreTheirOwnKind(t *testing.T) {
	s := &web.Sessions{Key: []byte("0123456789abcdef0123456789abcdef")}
	id := longrun.NewID()
	tok := s.LinkToken(id, 3)
	if got, gen, ok := s.Link(tok); !ok || got != id || gen != 3 {
		t.Fatalf("Link(%q) = %q %d %v", tok, got, gen, ok)
	}
	if path := (web.LinkSigner{Key: s.Key}).Path(&longrun.Configuration{ID: id, ShareGen: 3}); path != "/s/"+tok {
		t.Errorf("the notifier's link %s, the server's /s/%s: want the same", path, tok)
	}
	other := &web.Sessions{Key: []byte("another key, another deployment.")}
	for what, bad := range map[string]string{
		"forged":          tok[:len(tok)-1] + "A",
		"another key's":   other.LinkToken(id, 3),
		"a session token": s.Token(id, time.Hour),
		"a push token":    s.PushToken(id),
		"unsigned":        "r." + id + ".3",
	} {
		if _, _, ok := s.Link(bad); ok {
			t.Errorf("%s token taken for a link", what)
		}
	}
	if o := s.Owner(tok); o != "" {
		t.Errorf("a link token taken for a session of %q", o)
	}
}
