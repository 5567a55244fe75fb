// Package otlpsign signs OTLP exports to AWS X-Ray's OTLP endpoint
// (https://xray.REGION.amazonaws.com/v1/traces) with Signature Version 4,
// from the function's own role: the functions send their spans to X-Ray
// with no collector and no layer.
package otlpsign

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// Service is the name X-Ray's OTLP endpoint is signed for.
const Service = "xray"

// XRayEndpoint returns the region's OTLP traces endpoint.
func XRayEndpoint(region string) string {
	return "https://xray." + region + ".amazonaws.com/v1/traces"
}

// IsXRay reports whether endpoint is an X-Ray OTLP endpoint, which takes
// only signed requests.
func IsXRay(endpoint string) bool {
	u, err := url.Parse(endpoint)
	return err == nil && strings.HasPrefix(u.Hostname(), "xray.") && strings.HasSuffix(u.Hostname(), ".amazonaws.com")
}

// Transport signs each request with the credentials of cfg (the function's
// role) for Service in cfg's region, then sends it through Base
// (http.DefaultTransport if nil). Make it with NewTransport.
type Transport struct {
	Config aws.Config
	Base   http.RoundTripper
	signer *v4.Signer
}

// NewTransport returns a Transport signing with cfg's credentials.
func NewTransport(cfg aws.Config) *Transport { return &Transport{Config: cfg, signer: v4.NewSigner()} }

// Client returns an HTTP client that signs what it sends.
func Client(cfg aws.Config) *http.Client {
	return &http.Client{Transport: NewTransport(cfg), Timeout: 10 * time.Second}
}

// RoundTrip signs a copy of req, its body hashed, and sends it.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	body := []byte{}
	if req.Body != nil {
		b, err := io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, err
		}
		body = b
	}
	if t.Config.Credentials == nil {
		return nil, fmt.Errorf("sign the OTLP export: no AWS credentials")
	}
	creds, err := t.Config.Credentials.Retrieve(req.Context())
	if err != nil {
		return nil, fmt.Errorf("sign the OTLP export: %w", err)
	}
	out := req.Clone(req.Context())
	out.Body = io.NopCloser(bytes.NewReader(body))
	out.ContentLength = int64(len(body))
	out.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	sum := sha256.Sum256(body)
	if err := t.signer.SignHTTP(req.Context(), creds, out, hex.EncodeToString(sum[:]), Service, t.Config.Region, time.Now()); err != nil {
		return nil, fmt.Errorf("sign the OTLP export: %w", err)
	}
	base := t.Base
	if base == nil {
		base = http.DefaultTransport
	}
	return base.RoundTrip(out)
}
