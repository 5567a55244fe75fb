package sesmail_test

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/sesv2"

	"github.com/longrun/longrun/aws/awstest"
	"github.com/longrun/longrun/aws/sesmail"
	"github.com/longrun/longrun/notify"
	"github.com/longrun/longrun/porttest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	awstest.Stop()
	os.Exit(code)
}

func TestSentMailArrives(t *testing.T) {
	ep := awstest.SES(t)
	m := &sesmail.Mailer{Client: sesv2.NewFromConfig(awstest.Config(t)), From: "longrun@example.com"}
	to := "reader-" + awstest.Name("x") + "@example.com"
	if err := m.Send(context.Background(), notify.Mail{To: to, Subject: "Your Julia set “x” is ready", Text: "See it at http://x/#id\n"}); err != nil {
		t.Fatal(err)
	}
	res, err := http.Get(ep + "/store")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var store struct {
		Emails []struct {
			Subject     string
			Destination struct{ To []string }
			Body        struct{ Text string }
		}
	}
	if err := json.NewDecoder(res.Body).Decode(&store); err != nil {
		t.Fatal(err)
	}
	for _, e := range store.Emails {
		if len(e.Destination.To) == 1 && e.Destination.To[0] == to {
			if !strings.Contains(e.Subject, "is ready") || !strings.Contains(e.Body.Text, "http://x/#id") {
				t.Errorf("got %+v", e)
			}
			return
		}
	}
	t.Fatalf("no e-mail to %s in the SES server's store: %+v", to, store.Emails)
}

func TestMailerConformance(t *testing.T) {
	porttest.TestMailer(t, func(t *testing.T) (porttest.Mailer, func(string) []notify.Mail) {
		ep := awstest.SES(t)
		m := &sesmail.Mailer{Client: sesv2.NewFromConfig(awstest.Config(t)), From: "longrun@example.com"}
		return m, func(to string) []notify.Mail {
			res, err := http.Get(ep + "/store")
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			var store struct {
				Emails []struct {
					Subject     string
					Destination struct{ To []string }
					Body        struct{ Text string }
				}
			}
			json.NewDecoder(res.Body).Decode(&store)
			var out []notify.Mail
			for _, e := range store.Emails {
				if len(e.Destination.To) == 1 && e.Destination.To[0] == to {
					out = append(out, notify.Mail{To: to, Subject: e.Subject, Text: e.Body.Text})
				}
			}
			return out
		}
	})
}
