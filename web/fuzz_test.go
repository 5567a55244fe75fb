package web_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/longrun/longrun"
	"github.com/longrun/longrun/kinds/juliaset"
	"github.com/longrun/longrun/web"
)

// memStore is an in-memory store for fuzzing: fast, and it counts writes.
type memStore struct {
	mu      sync.Mutex
	configs map[string]*longrun.Configuration
	writes  int
}

func (m *memStore) CreateConfiguration(_ context.Context, c *longrun.Configuration, _ longrun.Admission) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	cp := *c
	m.configs[c.ID] = &cp
	m.writes++
	return nil
}

func (m *memStore) Configuration(_ context.Context, id string) (*longrun.Configuration, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.configs[id]
	if !ok {
		return nil, longrun.Errorf(longrun.ENOTFOUND, "not found")
	}
	cp := *c
	return &cp, nil
}

func (m *memStore) Configurations(_ context.Context, owner, _ string, _ int) ([]*longrun.Configuration, string, error) {
	return nil, "", nil
}

func (m *memStore) UpdateConfiguration(_ context.Context, id string, fn func(*longrun.Configuration) error) (*longrun.Configuration, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.configs[id]
	if !ok {
		return nil, longrun.Errorf(longrun.ENOTFOUND, "not found")
	}
	cp := *c
	if err := fn(&cp); err != nil {
		return nil, err
	}
	m.configs[id] = &cp
	m.writes++
	return &cp, nil
}

func (m *memStore) AdmitUpdate(ctx context.Context, id string, _ longrun.Admission, fn func(*longrun.Configuration) error) (*longrun.Configuration, error) {
	return m.UpdateConfiguration(ctx, id, fn)
}

func (m *memStore) DeleteConfiguration(_ context.Context, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.configs, id)
	m.writes++
	return nil
}

func (m *memStore) Result(context.Context, string) (*longrun.Result, error) { return nil, nil }
func (m *memStore) SendJob(context.Context, longrun.Job) error              { return nil }
func (m *memStore) DeleteResult(context.Context, string) error              { return nil }
func (m *memStore) CountConfigurations(context.Context, string) (int, int, error) {
	return 0, 0, nil
}
func (m *memStore) OpenImage(context.Context, string) (io.ReadCloser, error) {
	return nil, longrun.Errorf(longrun.ENOTFOUND, "no images")
}

var fuzzSessions = &web.Sessions{Key: []byte("fuzz-key-fuzz-key-fuzz-key-fuzz-key!")}

func fuzzServer() (http.Handler, *memStore) {
	m := &memStore{configs: map[string]*longrun.Configuration{}}
	return web.NewServer(web.Deps{Service: &longrun.Service{Store: m, Results: m, Queue: m, Kinds: longrun.Kinds{juliaset.Name: juliaset.New(juliaset.Bounds{})}}, Images: m, Sessions: fuzzSessions,
		Logger: discardLogger}), m
}

const owner = "0123456789abcdef0123456789abcdef"

func request(method, path, body string, header ...string) *http.Request {
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	r.AddCookie(&http.Cookie{Name: web.CookieName, Value: fuzzSessions.Token(owner, time.Hour)})
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Set(header[i], header[i+1])
	}
	return r
}

// FuzzCreateBody: any body either creates a configuration whose parameters
// are within every limit, or is refused with a 4xx and stores nothing.
func FuzzCreateBody(f *testing.F) {
	for _, seed := range []string{
		`{"name":"x","params":{"c":{"re":-0.7,"im":0.27015}}}`,
		`{"params":{"c":{"re":0,"im":0},"width":4096,"height":4096,"depth":119,"zoom":1e12,"center":{"re":4,"im":0}}}`,
		`{"params":{"c":{"re":1e308,"im":-1e308},"depth":-1}}`,
		`{"params":{"c":{"re":0,"im":0}},"notifyEmail":"a@b.co","name":"` + strings.Repeat("é", 200) + `"}`,
		`[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]`, `{"params":null}`, `{"params":{"c":"x"}}`, ``,
	} {
		f.Add(seed)
	}
	h, m := fuzzServer()
	f.Fuzz(func(t *testing.T, body string) {
		before := m.writes
		w := httptest.NewRecorder()
		h.ServeHTTP(w, request("POST", "/api/configurations", body))
		switch {
		case w.Code == http.StatusCreated:
			id := strings.TrimPrefix(w.Header().Get("Location"), "/api/configurations/")
			c, err := m.Configuration(context.Background(), id)
			if err != nil {
				t.Fatalf("201 but nothing stored: %s", body)
			}
			var p juliaset.Params
			if err := json.Unmarshal(c.Params, &p); err != nil {
				t.Fatalf("stored unreadable parameters %s from %q: %v", c.Params, body, err)
			}
			if err := p.Validate("params."); err != nil {
				t.Fatalf("stored out-of-range parameters %+v from %q: %v", c.Params, body, err)
			}
			if longrun.CheckName(c.Name) != nil || longrun.CheckEmail(c.NotifyEmail) != nil {
				t.Fatalf("stored a bad name or e-mail from %q", body)
			}
		case w.Code >= 400 && w.Code < 500:
			if m.writes != before {
				t.Fatalf("%d but stored something, from %q", w.Code, body)
			}
			if !strings.Contains(w.Body.String(), `"error"`) {
				t.Fatalf("%d without a JSON error body: %s", w.Code, w.Body)
			}
		default:
			t.Fatalf("status %d for %q", w.Code, body)
		}
	})
}

// FuzzIfMatch: an edit succeeds only with the current ETag (or *); any other
// If-Match is refused and changes nothing.
func FuzzIfMatch(f *testing.F) {
	for _, seed := range []string{`"x"`, `*`, `W/"abc"`, `"abcdef01.1", "abcdef01.2"`, ``, `""`, "\x00", `"abcdef01.99999999999999999999"`} {
		f.Add(seed)
	}
	h, m := fuzzServer()
	w := httptest.NewRecorder()
	h.ServeHTTP(w, request("POST", "/api/configurations", `{"name":"a","params":{"c":{"re":0.1,"im":0.2}}}`))
	id := strings.TrimPrefix(w.Header().Get("Location"), "/api/configurations/")
	f.Fuzz(func(t *testing.T, match string) {
		if strings.ContainsAny(match, "\r\n") {
			return // not a header value an HTTP client can send
		}
		c, _ := m.Configuration(context.Background(), id)
		before := m.writes
		w := httptest.NewRecorder()
		h.ServeHTTP(w, request("PUT", "/api/configurations/"+id, `{"name":"b","params":{"c":{"re":0.1,"im":0.2}}}`, "If-Match", match))
		valid := false
		for _, part := range strings.Split(match, ",") {
			part = strings.TrimSpace(part)
			valid = valid || part == "*" || part == c.ETag()
		}
		switch {
		case valid && w.Code == http.StatusOK:
		case !valid && strings.TrimSpace(match) == "" && w.Code == http.StatusPreconditionRequired && m.writes == before:
		case !valid && w.Code == http.StatusPreconditionFailed && m.writes == before:
		default:
			t.Fatalf("If-Match %q against %s: status %d, writes %d→%d", match, c.ETag(), w.Code, before, m.writes)
		}
	})
}

// FuzzSessionToken: only the token the key signed names an owner.
func FuzzSessionToken(f *testing.F) {
	// Issued at a fixed time, so every fuzzing process (each computes the
	// seeds anew) holds the same token, whichever second it starts in.
	issuer := &web.Sessions{Key: fuzzSessions.Key, Now: func() time.Time { return time.Unix(4_000_000_000, 0) }}
	valid := issuer.Token(owner, time.Hour)
	for _, seed := range []string{valid, valid + "x", strings.Replace(valid, "0", "1", 1), "a.b.c", "", "...", owner + ".9999999999."} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, token string) {
		if got := fuzzSessions.Owner(token); got != "" && token != valid {
			t.Fatalf("token %q names owner %q but was not issued", token, got)
		}
	})
}
