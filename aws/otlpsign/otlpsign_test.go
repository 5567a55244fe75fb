package otlpsign

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

// TestSignsForXRay: an export reaches the endpoint whole, signed for the
// xray service in the function's region with its role's key, the body's
// hash in the signed headers.
func TestSignsForXRay(t *testing.T) {
	var got *http.Request
	var body string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r
		b, _ := io.ReadAll(r.Body)
		body = string(b)
	}))
	defer srv.Close()
	cfg := aws.Config{Region: "eu-west-1", Credentials: credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", "session")}
	res, err := Client(cfg).Post(srv.URL+"/v1/traces", "application/x-protobuf", strings.NewReader("spans"))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	auth := got.Header.Get("Authorization")
	if !strings.HasPrefix(auth, "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/") || !strings.Contains(auth, "/eu-west-1/xray/aws4_request") {
		t.Errorf("Authorization %q: want a SigV4 signature for xray in eu-west-1", auth)
	}
	if got.Header.Get("X-Amz-Security-Token") != "session" || got.Header.Get("X-Amz-Date") == "" {
		t.Errorf("headers %v: want the session token and the signing date", got.Header)
	}
	if body != "spans" {
		t.Errorf("body %q arrived, want the export whole", body)
	}
}

// TestNoCredentialsIsAnError: without credentials nothing is sent unsigned.
func TestNoCredentialsIsAnError(t *testing.T) {
	sent := false
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { sent = true }))
	defer srv.Close()
	if _, err := Client(aws.Config{Region: "eu-west-1"}).Post(srv.URL, "application/x-protobuf", strings.NewReader("x")); err == nil || sent {
		t.Errorf("err %v, sent %v: want an error and nothing sent", err, sent)
	}
}

func TestIsXRay(t *testing.T) {
	for endpoint, want := range map[string]bool{
		XRayEndpoint("us-east-1"):                 true,
		"https://xray.eu-west-1.amazonaws.com":    true,
		"http://127.0.0.1:4318":                   false,
		"https://collector.example.com/v1/traces": false,
	} {
		if IsXRay(endpoint) != want {
			t.Errorf("IsXRay(%q) = %v", endpoint, !want)
		}
	}
}
