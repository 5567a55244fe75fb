package testutil

import (
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	collector "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"
)

// A Span is one span as an OTLP collector received it.
type Span struct {
	Service, Name              string
	TraceID, SpanID, ParentID  string
	Links                      []string // the trace ids linked to
	Error                      bool
	Attributes                 map[string]string
	StartUnixNano, EndUnixNano uint64
}

// An OTLPReceiver is an OpenTelemetry collector stand-in: it takes OTLP
// over HTTP (protobuf) at /v1/traces, as the functions export to X-Ray's
// endpoint or a collector, and keeps the spans.
type OTLPReceiver struct {
	URL   string
	mu    sync.Mutex
	spans []Span
	bytes int
}

// NewOTLPReceiver starts a receiver, closed when the test ends.
func NewOTLPReceiver(t *testing.T) *OTLPReceiver {
	r := &OTLPReceiver{}
	srv := httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(srv.Close)
	r.URL = srv.URL
	return r
}

func (r *OTLPReceiver) serve(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(req.Body)
	var in collector.ExportTraceServiceRequest
	if err != nil || req.URL.Path != "/v1/traces" || proto.Unmarshal(body, &in) != nil {
		http.Error(w, "not an OTLP trace export", http.StatusBadRequest)
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.bytes += len(body)
	for _, rs := range in.ResourceSpans {
		service := ""
		for _, a := range rs.GetResource().GetAttributes() {
			if a.Key == "service.name" {
				service = a.GetValue().GetStringValue()
			}
		}
		for _, ss := range rs.ScopeSpans {
			for _, s := range ss.Spans {
				sp := Span{Service: service, Name: s.Name, TraceID: hex.EncodeToString(s.TraceId), SpanID: hex.EncodeToString(s.SpanId),
					ParentID: hex.EncodeToString(s.ParentSpanId), Error: s.GetStatus().GetCode() == 2, Attributes: map[string]string{},
					StartUnixNano: s.StartTimeUnixNano, EndUnixNano: s.EndTimeUnixNano}
				for _, l := range s.Links {
					sp.Links = append(sp.Links, hex.EncodeToString(l.TraceId))
				}
				for _, a := range s.Attributes {
					v := a.GetValue()
					switch {
					case v.GetStringValue() != "":
						sp.Attributes[a.Key] = v.GetStringValue()
					case v.GetArrayValue() != nil:
						for _, e := range v.GetArrayValue().Values {
							sp.Attributes[a.Key] += e.GetStringValue() + " "
						}
					}
				}
				r.spans = append(r.spans, sp)
			}
		}
	}
	w.Header().Set("Content-Type", "application/x-protobuf")
	w.Write(nil)
}

// Spans returns the spans received so far.
func (r *OTLPReceiver) Spans() []Span {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Span(nil), r.spans...)
}

// Bytes is the size of the exports received so far, as sent.
func (r *OTLPReceiver) Bytes() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.bytes
}
