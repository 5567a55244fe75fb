// Package web is longrun's HTTP API and page: a plain http.Handler that the
// local runner serves and the API Lambda wraps. It never renders: it stores
// configurations and enqueues jobs.
package web

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"mime"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/longrun/longrun"
)

// Images opens stored images. An Images that also has
// ImageURL(ctx, key) (string, error) is redirected to instead.
type Images interface {
	OpenImage(ctx context.Context, key string) (io.ReadCloser, error)
}

type imageURLer interface {
	ImageURL(ctx context.Context, key string) (string, error)
}

// Mailbox lists the dev mailbox's messages to an owner.
type Mailbox interface {
	MailFor(ctx context.Context, owner string, limit int) (any, error)
}

// Deps are what the server needs; Mailbox and Live are optional.
type Deps struct {
	// Service holds the use cases; the handlers decode, call it, encode.
	Service  *longrun.Service
	Images   Images
	Sessions *Sessions
	Logger   *slog.Logger
	Mailbox  Mailbox
	// MailInbox, without a Mailbox, is where the mail can be read instead
	// (a local SES server's inbox); "" means mail is sent for real.
	MailInbox string
	// Live serves the push WebSocket for the owner at GET /api/live.
	Live func(w http.ResponseWriter, r *http.Request, caller longrun.Caller)
	// PushURL is the WebSocket API to connect to instead of /api/live (on
	// AWS); GET /api/push-token names it with a short-lived token.
	PushURL string
	// Metrics records requests; nil records nothing.
	Metrics longrun.Metrics
	// Health adds facts to GET /api/health.
	Health func(ctx context.Context) map[string]any
	// TrustForwardedFor takes the client's address from the last entry of
	// X-Forwarded-For, which a proxy in front adds; else it is the
	// connection's (on AWS, API Gateway's sourceIp).
	TrustForwardedFor bool
	// Devices keeps the browsers owners ask to be notified on, which
	// subscribe with PushKey (the VAPID public key) at push services on
	// PushHosts (nil: longrun.PushServices). Nil Devices: none.
	Devices   longrun.Devices
	PushKey   string
	PushHosts []string
	// Preferences hold the owners' default channels; nil: every channel,
	// not to be changed.
	Preferences longrun.Preferences
	// Timelines give the runs of recent versions; nil: none.
	Timelines Timelines
	// Replay holds the owners' numbered updates, for a page that was away
	// (GET /api/updates); nil: a page loads its list afresh instead.
	Replay longrun.Replay
}

type server struct {
	Deps
	now func() time.Time
}

// MaxBody is the largest request body accepted.
const MaxBody = 64 << 10

// NewServer returns the API and page handler.
func NewServer(d Deps) http.Handler {
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	if d.Metrics == nil {
		d.Metrics = longrun.NopMetrics{}
	}
	s := &server{Deps: d, now: func() time.Time { return time.Now().UTC() }}
	return s.routes()
}

// Protect refuses state-changing requests a browser sends from another
// site (by Sec-Fetch-Site, or Origin against Host): a cross-site form or
// script cannot edit, delete, re-render or retry on a visitor's behalf.
func Protect(h http.Handler, log *slog.Logger) http.Handler {
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		WriteError(w, r, log, longrun.Errorf(longrun.EFORBIDDEN, "cross-site requests may not change anything"))
	}))
	return cop.Handler(h)
}

// statusWriter remembers the status for the request log.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// withSession authenticates every request and logs it: one line with the
// route pattern, never the owner.
func (s *server) withSession(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		var owner string
		if needsOwner(r) {
			var fresh bool
			owner, fresh = s.Sessions.session(sw, r)
			// Every new owner counts against the client's address, reads
			// too: otherwise a cookie fetched by a GET would make owners
			// for free, each with its own quotas.
			if fresh {
				if err := s.Service.AllowSession(r.Context(), s.client(r)); err != nil {
					sw.Header().Del("Set-Cookie")
					s.fail(sw, r, err)
					return
				}
			}
		} else {
			owner = s.Sessions.existing(r)
		}
		id := longrun.NewID()[:16]
		h := sw.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("X-Frame-Options", "DENY")
		sw.Header().Set("X-Request-Id", id)
		ctx := context.WithValue(context.WithValue(r.Context(), ownerKey{}, owner), requestIDKey{}, id)
		r = r.WithContext(ctx)
		next.ServeHTTP(sw, r)
		took := time.Since(start)
		route := r.Pattern
		if route == "" {
			route = "unmatched"
		}
		attrs := []any{"method", r.Method, "route", route, "status", sw.status, "ms", float64(took.Microseconds()) / 1000, "requestId", id}
		if id := r.PathValue("id"); id != "" {
			attrs = append(attrs, "configurationId", id)
		}
		s.Logger.InfoContext(r.Context(), "request", attrs...)
		s.Metrics.Add(longrun.MetricAPIRequests, 1, "route", route, "status", strconv.Itoa(sw.status))
		s.Metrics.Observe(longrun.MetricAPISeconds, took.Seconds(), "route", route)
	})
}

// ownerless are the routes that need no owner: a request without a
// session gets none there (no cookie is issued), so the page, its assets,
// health checks, the e-mail links and read-only links (/api/shared/…) cost
// no session.
var ownerless = map[string]bool{"/api/health": true, "/api/meta": true, "/api/openapi.json": true,
	"/api/email/confirm": true, "/api/email/unsubscribe": true, "/api/push/key": true}

func needsOwner(r *http.Request) bool {
	return strings.HasPrefix(r.URL.Path, "/api/") && !ownerless[r.URL.Path] && !strings.HasPrefix(r.URL.Path, "/api/shared/")
}

// addr is the client's address, for rate limits.
func (s *server) addr(r *http.Request) string {
	if s.TrustForwardedFor {
		if f := r.Header.Values("X-Forwarded-For"); len(f) > 0 {
			parts := strings.Split(f[len(f)-1], ",")
			return strings.TrimSpace(parts[len(parts)-1])
		}
	}
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		return host
	}
	return r.RemoteAddr
}

// client is the network the request comes from (Quotas.ClientKey).
func (s *server) client(r *http.Request) string {
	if s.Service == nil {
		return s.addr(r)
	}
	return s.Service.Quotas.ClientKey(s.addr(r))
}

// caller is who makes the request.
func (s *server) caller(r *http.Request) longrun.Caller {
	return longrun.Caller{Owner: Owner(r.Context()), Addr: s.client(r)}
}

// Encode writes v as JSON with the status.
func Encode(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.Encode(v)
}

// statuses maps error codes to HTTP statuses, in one place; an unknown
// code is a 500.
var statuses = map[string]int{
	longrun.EINVALID:              http.StatusBadRequest,
	longrun.EUNAUTHORIZED:         http.StatusUnauthorized,
	longrun.ENOTFOUND:             http.StatusNotFound,
	longrun.EMETHOD:               http.StatusMethodNotAllowed,
	longrun.ECONFLICT:             http.StatusConflict,
	longrun.EPRECONDITION:         http.StatusPreconditionFailed,
	longrun.EPRECONDITIONREQUIRED: http.StatusPreconditionRequired,
	longrun.ETOOLARGE:             http.StatusRequestEntityTooLarge,
	longrun.EMEDIATYPE:            http.StatusUnsupportedMediaType,
	longrun.EUNAVAILABLE:          http.StatusServiceUnavailable,
	longrun.ETOOMANY:              http.StatusTooManyRequests,
	longrun.EFORBIDDEN:            http.StatusForbidden,
}

func statusOf(code string) int {
	if s, ok := statuses[code]; ok {
		return s
	}
	return http.StatusInternalServerError
}

type errorBody struct {
	Error struct {
		Code      string               `json:"code"`
		Message   string               `json:"message"`
		Fields    []longrun.FieldError `json:"fields"`
		RequestID string               `json:"requestId,omitempty"`
	} `json:"error"`
}

type requestIDKey struct{}

// RequestID is the id of the request being served, as its X-Request-Id
// header and error bodies name it, for finding its log lines.
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// fail writes err as the JSON error body.
func (s *server) fail(w http.ResponseWriter, r *http.Request, err error) {
	WriteError(w, r, s.Logger, err)
}

// WriteError writes err as the JSON error body, with the status its code
// maps to. An error that is not a *longrun.Error is logged and shown only as
// "internal error"; the cause of one that is, is logged and never shown.
func WriteError(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	var body errorBody
	var e *longrun.Error
	body.Error.RequestID = RequestID(r.Context())
	if errors.As(err, &e) {
		body.Error.Code, body.Error.Message, body.Error.Fields = e.Code, e.Message, e.Fields
		if e.RetryAfter > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(int(max(time.Second, e.RetryAfter.Round(time.Second)).Seconds())))
		}
		if e.Cause != nil {
			log.Warn("request failed", "route", r.Pattern, "code", e.Code, "err", e.Cause, "requestId", body.Error.RequestID)
		}
	} else {
		body.Error.Code, body.Error.Message = longrun.EINTERNAL, "internal error: the operators can find it by its request id"
		log.Error("internal error", "route", r.Pattern, "err", err, "requestId", body.Error.RequestID)
	}
	if body.Error.Fields == nil {
		body.Error.Fields = []longrun.FieldError{}
	}
	Encode(w, statusOf(body.Error.Code), body)
}

// decode reads a JSON request body into v: JSON only, MaxBody at most, no
// nulls, no unknown fields, one value.
func decode(w http.ResponseWriter, r *http.Request, v any, nullable ...string) error {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		return &longrun.Error{Code: longrun.EMEDIATYPE, Message: "the body must be JSON (Content-Type: application/json)"}
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBody))
	if err == nil {
		if path := nullAt(body); path != "" && !slices.Contains(nullable, path) {
			return &longrun.Error{Code: longrun.EINVALID, Message: "invalid request",
				Fields: []longrun.FieldError{{Field: path, Rule: "must not be null: give a value, or leave the field out for its default"}}}
		}
		err = decodeOne(body, v)
	}
	if err == nil {
		return nil
	}
	return decodeError(err)
}

// decodeOne decodes body, one JSON value with no unknown fields, into v.
func decodeOne(body []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(body))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		return err
	}
	if _, err := d.Token(); d.More() || err != io.EOF {
		return errors.New("json: trailing data after the object")
	}
	return nil
}

// decodeError is what a client is told of a body that could not be read
// or decoded: the field and the rule it breaks, where it is known.
func decodeError(err error) error {
	var (
		maxErr  *http.MaxBytesError
		typeErr *json.UnmarshalTypeError
		synErr  *json.SyntaxError
	)
	invalid := func(field, rule string) error {
		return &longrun.Error{Code: longrun.EINVALID, Message: "invalid request", Fields: []longrun.FieldError{{Field: field, Rule: rule}}}
	}
	switch {
	case errors.As(err, &maxErr):
		return &longrun.Error{Code: longrun.ETOOLARGE, Message: fmt.Sprintf("the body must be at most %d bytes", MaxBody)}
	case errors.As(err, &typeErr):
		return invalid(cmp.Or(typeErr.Field, "body"), "must be "+article(typeErr.Type.String()))
	case errors.As(err, &synErr):
		return invalid("body", fmt.Sprintf("must be valid JSON (error at byte %d)", synErr.Offset))
	case errors.Is(err, io.EOF):
		return invalid("body", "required")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return invalid("body", "must be complete JSON")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return invalid(strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`), "unknown field")
	}
	return invalid("body", strings.TrimPrefix(err.Error(), "json: "))
}

// nullAt returns the path of the first null in a JSON document ("" if
// none, or if it is not JSON, which the decoder reports). A null number
// would otherwise be read as 0, silently.
func nullAt(body []byte) string {
	var v any
	if json.Unmarshal(body, &v) != nil {
		return ""
	}
	var walk func(v any, path string) string
	walk = func(v any, path string) string {
		switch v := v.(type) {
		case nil:
			return cmp.Or(path, "body")
		case map[string]any:
			for _, k := range slices.Sorted(maps.Keys(v)) {
				if p := walk(v[k], strings.TrimPrefix(path+"."+k, ".")); p != "" {
					return p
				}
			}
		}
		return ""
	}
	return walk(v, "")
}

func article(goType string) string {
	switch {
	case strings.Contains(goType, "int"):
		return "an integer"
	case strings.Contains(goType, "float"):
		return "a number"
	case goType == "string", goType == "*string":
		return "a string"
	case strings.Contains(goType, "RawMessage"), strings.HasPrefix(goType, "map["):
		return "an object"
	}
	return "of type " + goType
}
