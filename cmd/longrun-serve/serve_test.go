package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/longrun/longrun/internal/cli"
)

func TestServeBadFlagsNameTheFlag(t *testing.T) {
	cases := map[string][]string{
		"--owner-bytes": {"--owner-bytes", "1000"},
		"--total-bytes": {"--owner-bytes", "4194304", "--total-bytes", "2097152"},
		"--cache-bytes": {"--cache-bytes", "1"},
		"--max-conns":   {"--max-conns", "-1"},
	}
	for flag, args := range cases {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			data := t.TempDir()
			err := runServe(context.Background(), append(args, "--data", data, "--addr", "127.0.0.1:0"), os.Getenv, new(bytes.Buffer), new(bytes.Buffer))
			var u cli.UsageError
			if !errors.As(err, &u) || !strings.Contains(err.Error(), flag) {
				t.Fatalf("got %v, want a usage error naming %s", err, flag)
			}
			if entries, _ := os.ReadDir(data); len(entries) != 0 {
				t.Errorf("a bad command wrote into the data folder: %v", entries)
			}
		})
	}
}

// Webhook endpoints are the operator's: each must be an http(s) URL, and
// they need the secret their deliveries are signed with.
func TestServeWebhookFlagsNameWhatIsWrong(t *testing.T) {
	for _, c := range []struct {
		args   []string
		secret string
		want   string
	}{
		{[]string{"--webhook-url", "ftp://backend.example/hooks"}, "", "-webhook-url: want an http or https URL"},
		{[]string{"--webhook-url", "https://backend.example/hooks"}, "", "LONGRUN_WEBHOOK_SECRET"},
		{[]string{"--webhook-url", "https://backend.example/hooks"}, "whsec_c2hvcnQ=", "LONGRUN_WEBHOOK_SECRET: a webhook secret is 24 to 64 bytes"},
	} {
		data := t.TempDir()
		getenv := func(k string) string {
			if k == "LONGRUN_WEBHOOK_SECRET" {
				return c.secret
			}
			return ""
		}
		err := runServe(context.Background(), append(c.args, "--data", data, "--addr", "127.0.0.1:0"), getenv, new(bytes.Buffer), new(bytes.Buffer))
		var u cli.UsageError
		if !errors.As(err, &u) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v with secret %q: got %v, want a usage error naming %s", c.args, c.secret, err, c.want)
		}
		if entries, _ := os.ReadDir(data); len(entries) != 0 {
			t.Errorf("a bad command wrote into the data folder: %v", entries)
		}
	}
}
