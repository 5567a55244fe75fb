package local_test

import (
	"bufio"
	"context"
	"errors"
	"net"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/longrun/longrun"
	"github.com/longrun/longrun/internal/testutil"
	"github.com/longrun/longrun/local"
)

// A client that trickles its body is cut off at the read timeout, so slow
// connections cannot pile up until the server runs out of descriptors.
func TestASlowBodyIsCutOff(t *testing.T) {
	_, base := start(t, nil, func(c *local.Config) { c.ReadTimeout = 500 * time.Millisecond })
	u, _ := url.Parse(base)
	conn, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.Write([]byte("POST /api/configurations HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"))
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, err = bufio.NewReader(conn).ReadString('\n') // whatever comes, the connection must end
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("the server held a trickling connection open for 10 s")
	}
}

// One owner cannot hold open more than a few live connections.
func TestLiveConnectionsAreCappedPerOwner(t *testing.T) {
	_, base := start(t, newRenderer())
	c := testutil.NewClient(t, base)
	c.Session()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for range 8 {
		c.Live(ctx)
	}
	hdr := http.Header{}
	for _, ck := range c.HTTP.Jar.Cookies(mustParse(t, base)) {
		hdr.Add("Cookie", ck.Name+"="+ck.Value)
	}
	_, res, err := websocket.Dial(ctx, strings.Replace(base, "http", "ws", 1)+"api/live", &websocket.DialOptions{HTTPHeader: hdr})
	if err == nil || res == nil || res.StatusCode != http.StatusTooManyRequests || res.Header.Get("Retry-After") == "" {
		t.Fatalf("the 9th connection: %v %v, want 429 with Retry-After", res, err)
	}
	other := testutil.NewClient(t, base)
	other.Session()
	other.Live(ctx) // another owner is not affected
}

// A page on another site cannot make a visitor's browser change anything.
func TestCrossSiteRequestsChangeNothing(t *testing.T) {
	_, base := start(t, newRenderer())
	c := testutil.NewClient(t, base)
	v := c.Create(map[string]any{"name": "mine", "params": small(0.3, 0.3)})
	for _, h := range [][]string{{"Sec-Fetch-Site", "cross-site"}, {"Origin", "https://evil.example"}} {
		for _, req := range []struct{ method, path string }{
			{"POST", "/api/configurations"}, {"PUT", "/api/configurations/" + v.ID}, {"DELETE", "/api/configurations/" + v.ID},
			{"POST", "/api/configurations/" + v.ID + "/render"}, {"POST", "/api/configurations/" + v.ID + "/cancel"},
			{"POST", "/api/ops/dead-letters/1/retry"},
		} {
			res := c.Do(req.method, req.path, map[string]any{"params": small(0.1, 0.1)}, append(h, "If-Match", v.ETag)...)
			if res.Status != http.StatusForbidden || res.Err(t).Error.Code != longrun.EFORBIDDEN {
				t.Errorf("%s %s with %s: %d, want 403", req.method, req.path, h[0], res.Status)
			}
		}
	}
	if got := c.Get(v.ID); got.ETag != v.ETag {
		t.Errorf("a cross-site request changed the configuration")
	}
	if res := c.Do("POST", "/api/configurations/"+v.ID+"/cancel", nil, "Sec-Fetch-Site", "same-origin"); res.Status == http.StatusForbidden {
		t.Errorf("a same-origin request was refused")
	}
}

func TestAWrongMethodIs405WithAllow(t *testing.T) {
	_, base := start(t, newRenderer())
	c := testutil.NewClient(t, base)
	res := c.Do("PATCH", "/api/configurations/"+longrun.NewID(), map[string]any{})
	if res.Status != http.StatusMethodNotAllowed || res.Header.Get("Allow") != "GET, PUT, DELETE" {
		t.Errorf("PATCH: %d, Allow %q; want 405 and GET, PUT, DELETE", res.Status, res.Header.Get("Allow"))
	}
	if res := c.Do("GET", "/api/nothing-here", nil); res.Status != http.StatusNotFound {
		t.Errorf("an unknown route: %d, want 404", res.Status)
	}
}

// The page runs only its own script and cannot be framed.
func TestThePageIsLockedDown(t *testing.T) {
	_, base := start(t, newRenderer())
	res := testutil.NewClient(t, base).Do("GET", "/", nil)
	csp := res.Header.Get("Content-Security-Policy")
	for _, want := range []string{"script-src 'self'", "frame-ancestors 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("Content-Security-Policy %q lacks %s", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe-inline") || res.Header.Get("Referrer-Policy") == "" || res.Header.Get("X-Frame-Options") != "DENY" {
		t.Errorf("headers: %v", res.Header)
	}
	page, _ := os.ReadFile("../web/static/index.html")
	if inline := regexp.MustCompile(`<script(?:\s[^>]*)?>\s*[^<\s]|\son[a-z]+=|\sstyle=`).Find(page); inline != nil {
		t.Errorf("the page has inline script or style, which its policy refuses: %s", inline)
	}
}

func mustParse(t *testing.T, s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
