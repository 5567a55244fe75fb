// Package testutil has helpers for tests that drive longrun over HTTP as a
// browser would: one Client per owner, each with its own cookie jar.
package testutil

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/longrun/longrun"
	"github.com/longrun/longrun/kinds/juliaset"
	"github.com/longrun/longrun/web"
)

// A Client is one browser: one owner.
type Client struct {
	T    testing.TB
	Base string // http://host:port
	HTTP *http.Client
}

// NewClient returns a client with an empty cookie jar.
func NewClient(t testing.TB, base string) *Client {
	jar, _ := cookiejar.New(nil)
	return &Client{T: t, Base: strings.TrimSuffix(base, "/"), HTTP: &http.Client{Jar: jar, Timeout: 30 * time.Second}}
}

// NewClientFrom returns a client whose connections come from the local
// address ip (any of 127.0.0.0/8 on a loopback server): another client
// network to the server's per-address limits and fair shares.
func NewClientFrom(t testing.TB, base, ip string) *Client {
	c := NewClient(t, base)
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 10 * time.Second}
	c.HTTP.Transport = &http.Transport{DialContext: d.DialContext}
	return c
}

// A Response is a status, headers and the raw body.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into v, failing the test if it cannot.
func (r *Response) JSON(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("decode %s: %v", r.Body, err)
	}
}

// View decodes the body as a configuration.
func (r *Response) View(t testing.TB) web.View {
	t.Helper()
	var v web.View
	r.JSON(t, &v)
	return v
}

// ErrorBody is the API's error shape.
type ErrorBody struct {
	Error struct {
		Code    string               `json:"code"`
		Message string               `json:"message"`
		Fields  []longrun.FieldError `json:"fields"`
	} `json:"error"`
}

// Err decodes the body as an API error.
func (r *Response) Err(t testing.TB) ErrorBody {
	t.Helper()
	var e ErrorBody
	r.JSON(t, &e)
	return e
}

// Do sends a request; a non-nil body is sent as JSON (a string or []byte as
// is). Headers are name, value pairs. A transport error fails the test.
func (c *Client) Do(method, path string, body any, headers ...string) *Response {
	c.T.Helper()
	r, err := c.Try(method, path, body, headers...)
	if err != nil {
		c.T.Fatalf("%s %s: %v", method, path, err)
	}
	return r
}

// Try is Do that returns a transport error instead of failing the test.
func (c *Client) Try(method, path string, body any, headers ...string) (*Response, error) {
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, c.Base+path, rd)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := c.HTTP.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, err
	}
	return &Response{Status: res.StatusCode, Header: res.Header, Body: data}, nil
}

// Create posts a configuration and fails the test unless it is created.
func (c *Client) Create(body any) web.View {
	c.T.Helper()
	r := c.Do("POST", "/api/configurations", body)
	if r.Status != http.StatusCreated {
		c.T.Fatalf("create: got %d %s, want 201", r.Status, r.Body)
	}
	return r.View(c.T)
}

// Get fetches a configuration and fails the test unless it is found.
func (c *Client) Get(id string) web.View {
	c.T.Helper()
	r := c.Do("GET", "/api/configurations/"+id, nil)
	if r.Status != http.StatusOK {
		c.T.Fatalf("get %s: got %d %s", id, r.Status, r.Body)
	}
	return r.View(c.T)
}

// Await polls the configuration until cond holds or the timeout passes.
func (c *Client) Await(id string, timeout time.Duration, what string, cond func(web.View) bool) web.View {
	c.T.Helper()
	deadline := time.Now().Add(timeout)
	for {
		v := c.Get(id)
		if cond(v) {
			return v
		}
		if time.Now().After(deadline) {
			c.T.Fatalf("configuration %s: waited %v for %s; last state %+v", id, timeout, what, v)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Done reports whether the configuration shows the image of its parameters.
func Done(v web.View) bool {
	return v.Status == longrun.StatusDone && v.RenderedHash == v.ParamsHash
}

// Session makes sure the client has a session cookie, as the page's first
// request for its list gets one (health, meta and the page mint none).
func (c *Client) Session() {
	c.T.Helper()
	if res := c.Do("GET", "/api/configurations?limit=1", nil); res.Status != http.StatusOK {
		c.T.Fatalf("a session: GET /api/configurations answered %d %s", res.Status, res.Body)
	}
}

// Live opens the client's push WebSocket.
func (c *Client) Live(ctx context.Context) *websocket.Conn {
	c.T.Helper()
	u := strings.Replace(c.Base, "http", "ws", 1) + "/api/live"
	hdr := http.Header{}
	req, _ := http.NewRequest("GET", c.Base+"/", nil)
	for _, ck := range c.HTTP.Jar.Cookies(req.URL) {
		hdr.Add("Cookie", ck.Name+"="+ck.Value)
	}
	conn, _, err := websocket.Dial(ctx, u, &websocket.DialOptions{HTTPHeader: hdr})
	if err != nil {
		c.T.Fatalf("dial %s: %v", u, err)
	}
	c.T.Cleanup(func() { conn.CloseNow() })
	return conn
}

// Params builds a params object; override fields with key, value pairs.
func Params(re, im float64, kv ...any) map[string]any {
	p := map[string]any{"c": map[string]float64{"re": re, "im": im}}
	for i := 0; i+1 < len(kv); i += 2 {
		p[kv[i].(string)] = kv[i+1]
	}
	return p
}

var confirmLink = regexp.MustCompile(`/api/email/confirm\?token=[0-9a-f]{32}`)

// ConfirmEmail makes addr a confirmed address of the client's owner, as a
// person would: a configuration naming it sends the confirmation e-mail,
// and the link in the dev mailbox is followed. It returns the link. The
// configuration is a long render, cancelled and deleted at once, so it is
// never rendered, counted or mailed, whatever the worker was doing.
func (c *Client) ConfirmEmail(addr string) string {
	c.T.Helper()
	v := c.Create(map[string]any{"name": "confirm " + addr, "notifyEmail": addr,
		"params": Params(0, 0.001, "center", map[string]float64{"re": 0.0001, "im": 0}, "width", 4096, "height", 4096, "depth", 119)})
	c.Do("POST", "/api/configurations/"+v.ID+"/cancel", nil)
	c.Do("DELETE", "/api/configurations/"+v.ID, nil)
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		var box struct {
			Messages []struct{ To, Subject, Text string }
		}
		c.Do("GET", "/api/mail", nil).JSON(c.T, &box)
		for _, m := range box.Messages {
			if link := confirmLink.FindString(m.Text); m.To == addr && link != "" {
				if res := c.Do("GET", link, nil); res.Status != http.StatusOK || !strings.Contains(string(res.Body), `method="post"`) {
					c.T.Fatalf("following %s: %d %s, want the page that asks", link, res.Status, res.Body)
				}
				if res := c.Do("POST", link, nil); res.Status != http.StatusOK {
					c.T.Fatalf("confirming at %s: %d %s", link, res.Status, res.Body)
				}
				return link
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	c.T.Fatalf("no confirmation e-mail to %s", addr)
	return ""
}

// Julia decodes a view's parameters as a Julia set's.
func Julia(t testing.TB, raw json.RawMessage) juliaset.Params {
	t.Helper()
	var p juliaset.Params
	if err := json.Unmarshal(raw, &p); err != nil {
		t.Fatalf("params %s: %v", raw, err)
	}
	return p
}
