package local_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"

	"github.com/longrun/longrun"
	"github.com/longrun/longrun/internal/testutil"
	"github.com/longrun/longrun/web"
)

// contract validates every response a client receives against the
// published OpenAPI document, and remembers which operations it saw.
type contract struct {
	t      *testing.T
	next   http.RoundTripper
	router routers.Router
	mu     sync.Mutex
	seen   map[string]bool // operationId
}

func loadContract(t *testing.T) (*openapi3.T, routers.Router) {
	t.Helper()
	openapi3filter.RegisterBodyDecoder("text/html", openapi3filter.PlainBodyDecoder) // the e-mail links' pages
	doc, err := openapi3.NewLoader().LoadFromData(web.OpenAPI)
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("the OpenAPI document is not valid: %v", err)
	}
	if !doc.IsOpenAPI31OrLater() {
		t.Errorf("the document is OpenAPI %s, want 3.1", doc.OpenAPI)
	}
	router, err := legacy.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	return doc, router
}

func (c *contract) RoundTrip(req *http.Request) (*http.Response, error) {
	var reqBody []byte
	if req.Body != nil {
		reqBody, _ = io.ReadAll(req.Body)
		req.Body = io.NopCloser(bytes.NewReader(reqBody))
	}
	res, err := c.next.RoundTrip(req)
	if err != nil {
		return res, err
	}
	var body []byte
	if res.StatusCode != http.StatusSwitchingProtocols { // an upgrade's body is the connection
		body, err = io.ReadAll(res.Body)
		res.Body.Close()
		res.Body = io.NopCloser(bytes.NewReader(body))
		if err != nil {
			return res, err
		}
	}
	check := req.Clone(req.Context())
	check.Body = io.NopCloser(bytes.NewReader(reqBody))
	route, params, err := c.router.FindRoute(check)
	if err != nil {
		c.t.Errorf("%s %s: not in the OpenAPI document: %v", req.Method, req.URL.Path, err)
		return res, nil
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: check, PathParams: params, Route: route},
		Status:                 res.StatusCode, Header: res.Header, Body: io.NopCloser(bytes.NewReader(body)),
		Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	if err := openapi3filter.ValidateResponse(req.Context(), in); err != nil {
		c.t.Errorf("%s %s answered %d, which the OpenAPI document does not allow: %v\n%s", req.Method, req.URL.Path, res.StatusCode, err, body)
	}
	c.mu.Lock()
	c.seen[route.Operation.OperationID] = true
	c.mu.Unlock()
	return res, nil
}

// TestEveryRouteAnswersAsPublished drives every route of the local system,
// successes and failures, and validates each response against the
// published OpenAPI document; every route the servers register is in it.
func TestEveryRouteAnswersAsPublished(t *testing.T) {
	doc, router := loadContract(t)
	r := newRenderer()
	r.fail[0.93] = errors.New("broken on purpose")
	release := r.holdRender(0.94)
	defer release()
	_, url := start(t, r)
	c := testutil.NewClient(t, url)
	check := &contract{t: t, next: http.DefaultTransport, router: router, seen: map[string]bool{}}
	c.HTTP.Transport = check
	conf := func(id string) string { return "/api/configurations/" + id }

	for _, path := range []string{"/api/health", "/api/meta", "/api/openapi.json", "/api/push-token", "/api/mail",
		"/api/configurations", "/api/configurations?limit=0", "/api/configurations?status=done&q=a", "/api/configurations?status=bogus", "/api/ops", "/metrics", conf(longrun.NewID())} {
		c.Do("GET", path, nil)
	}
	c.Do("GET", "/api/ops", nil, operator...)
	c.Do("GET", "/metrics", nil, operator...)
	c.Do("POST", "/api/configurations", `{"params": {"c": {"re": 9}}}`)
	c.Do("POST", "/api/configurations", "name=x", "Content-Type", "text/plain")
	c.Do("POST", "/api/configurations", `{"name": "`+strings.Repeat("x", web.MaxBody)+`"}`)
	v := c.Create(map[string]any{"name": "a", "params": small(0.92, 0.1)})
	v = c.Await(v.ID, 10*time.Second, "done", testutil.Done)
	c.Do("GET", conf(v.ID), nil)
	c.Do("GET", conf(v.ID)+"/image?h="+v.RenderedHash[:16], nil)
	c.Do("POST", conf(v.ID)+"/render", nil) // done: a conflict
	c.Do("POST", conf(v.ID)+"/cancel", nil) // done: a conflict
	c.Do("PUT", conf(v.ID), map[string]any{"name": "b", "params": small(0.92, 0.1)})
	c.Do("PUT", conf(v.ID), map[string]any{"name": "b", "params": small(0.92, 0.1)}, "If-Match", `"stale"`)
	c.Do("PUT", conf(v.ID), map[string]any{"params": map[string]any{}}, "If-Match", v.ETag)
	c.Do("PUT", conf(v.ID), map[string]any{"name": "b", "params": small(0.92, 0.1)}, "If-Match", v.ETag)
	c.Do("DELETE", conf(v.ID), nil, "If-Match", `"stale"`)
	c.Do("DELETE", conf(v.ID), nil)
	c.Do("DELETE", conf(v.ID), nil)

	// A classifier: its own parameters, a 400 naming a Julia field sent to
	// it, its weights to download, an artifact it has not.
	c.Do("POST", "/api/configurations", map[string]any{"kind": "classifier", "params": map[string]any{"depth": 5}})
	c.Do("POST", "/api/configurations", map[string]any{"kind": "nope"})
	cl := c.Create(map[string]any{"name": "cl", "kind": "classifier", "params": map[string]any{"epochs": 20, "dataset": map[string]any{"points": 60}}})
	cl = c.Await(cl.ID, 20*time.Second, "trained", testutil.Done)
	c.Do("GET", cl.Artifacts["weights.json"], nil)
	c.Do("GET", conf(cl.ID)+"/artifacts/nope.json", nil)
	c.Do("PUT", conf(cl.ID), map[string]any{"kind": "julia", "params": small(0.92, 0.1)}, "If-Match", cl.ETag)

	held := c.Create(map[string]any{"name": "held", "params": small(0.94, 0.1)})
	r.awaitStart(t, 0.94)
	c.Do("POST", conf(held.ID)+"/render", nil) // rendering: a conflict
	c.Do("POST", conf(held.ID)+"/cancel", nil)
	release()
	c.Await(held.ID, 10*time.Second, "cancelled", func(v web.View) bool { return v.Status == longrun.StatusCancelled })
	link := c.ConfirmEmail("ada@example.com")
	token := link[strings.LastIndex(link, "=")+1:]
	c.Do("GET", "/api/email/confirm?token="+longrun.NewID(), nil)
	c.Do("POST", "/api/email/confirm?token="+longrun.NewID(), nil)
	c.Do("GET", "/api/email/unsubscribe?token="+token, nil)
	c.Do("POST", "/api/email/unsubscribe?token="+token, nil)
	c.Do("POST", "/api/email/unsubscribe?token=nope", nil)
	c.Do("GET", link, nil) // confirmed again
	bad := c.Create(map[string]any{"name": "bad", "notifyEmail": "ada@example.com", "params": small(0.93, 0.1)})
	c.Await(bad.ID, 10*time.Second, "failed", func(v web.View) bool { return v.Status == longrun.StatusFailed })
	c.Do("POST", conf(bad.ID)+"/email", nil)  // failed, confirmed address: sent
	c.Do("POST", conf(held.ID)+"/email", nil) // cancelled: a conflict
	c.Do("POST", conf(v.ID)+"/email", nil)    // deleted: not found
	c.Do("GET", "/api/configurations?limit=1", nil)
	c.Do("GET", "/api/mail", nil)
	// A read-only link, and what it opens.
	kept := c.Await(c.Create(map[string]any{"name": "shared", "params": small(0.31, 0.1)}).ID, 10*time.Second, "done", testutil.Done)
	var shared struct{ URL string }
	c.Do("GET", conf(kept.ID)+"/link", nil).JSON(t, &shared)
	linkToken := strings.TrimPrefix(shared.URL, "/s/")
	c.Do("GET", shared.URL, nil)
	var sv struct{ ImageURL string }
	c.Do("GET", "/api/shared/"+linkToken, nil).JSON(t, &sv)
	c.Do("GET", sv.ImageURL, nil)
	c.Do("GET", "/api/shared/"+linkToken+"/artifacts/weights.json", nil) // a Julia set has none: 404
	c.Do("GET", "/api/shared/forged-token", nil)
	c.Do("GET", "/api/shared/forged-token/image", nil)
	c.Do("DELETE", conf(kept.ID)+"/link", nil)
	c.Do("GET", conf(v.ID)+"/link", nil)       // deleted: not found
	c.Do("GET", conf(kept.ID)+"/preview", nil) // too small for one: not found
	// A device to notify, one the server will not send to, one forgotten.
	c.Do("GET", "/api/push/key", nil)
	dev := map[string]any{"endpoint": "https://fcm.googleapis.com/fcm/send/abc", "expirationTime": nil,
		"keys": map[string]string{"p256dh": "BOr9Pv1uIPQ4Ux6aDFxMKf2Ynd6lB6P2cGZc0sFkOYRc3oIdQ-53MzNw51O2e5pAr5c2vRPcBXjmVIBMQLnHJ5w", "auth": "AAAAAAAAAAAAAAAAAAAAAA"}}
	c.Do("POST", "/api/devices", dev)
	c.Do("POST", "/api/devices", map[string]any{"endpoint": "https://169.254.169.254/latest", "keys": map[string]string{}})
	c.Do("DELETE", "/api/devices", map[string]string{"endpoint": "https://fcm.googleapis.com/fcm/send/abc"})
	c.Do("DELETE", "/api/devices", map[string]string{})
	c.Do("GET", "/api/updates?since=0", nil)
	c.Do("GET", "/api/updates?since=2", nil)
	c.Do("GET", "/api/updates?since=-1", nil)
	c.Do("GET", "/api/preferences", nil)
	c.Do("GET", conf(kept.ID)+"/timeline", nil) // this system traces nothing: not found
	c.Do("GET", "/api/ops/runs/"+kept.ID, nil, operator...)
	c.Do("GET", "/api/ops/runs/"+kept.ID, nil)
	c.Do("PUT", "/api/preferences", map[string]any{"notify": map[string]bool{"email": false}})
	c.Do("PUT", "/api/preferences", map[string]any{"notify": map[string]any{"sms": true}})
	c.Create(map[string]any{"name": "quiet", "notify": map[string]bool{"page": false}, "params": small(0.32, 0.1)})
	var ops struct{ DeadLetters []struct{ ID int64 } }
	deadline := time.Now().Add(10 * time.Second)
	for len(ops.DeadLetters) == 0 && time.Now().Before(deadline) {
		c.Do("GET", "/api/ops", nil, operator...).JSON(t, &ops)
	}
	if len(ops.DeadLetters) == 0 {
		t.Fatal("the failing job was never dead-lettered")
	}
	c.Do("POST", fmt.Sprintf("/api/ops/dead-letters/%d/retry", ops.DeadLetters[0].ID), nil, operator...)
	c.Do("POST", "/api/ops/dead-letters/999999/retry", nil, operator...)
	c.Do("POST", conf(bad.ID)+"/render", nil)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, strings.Replace(url, "http", "ws", 1)+"api/live", &websocket.DialOptions{HTTPClient: c.HTTP})
	if err != nil {
		t.Fatalf("live: %v", err)
	}
	ws.CloseNow()

	// Every operation was seen, and every route the servers register is
	// published.
	var ops2 []string
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			ops2 = append(ops2, method+" "+path)
			if !check.seen[op.OperationID] {
				t.Errorf("%s %s (%s) was never exercised", method, path, op.OperationID)
			}
		}
	}
	for _, file := range []string{"../web/routes.go", "ops.go"} {
		src, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range regexp.MustCompile(`Handle(?:Func)?\("([A-Z]+) (/[^"]+)"`).FindAllStringSubmatch(string(src), -1) {
			if !slices.Contains(ops2, m[1]+" "+m[2]) {
				t.Errorf("%s registers %s %s, which the OpenAPI document lacks", file, m[1], m[2])
			}
		}
	}
}
