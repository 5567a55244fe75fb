package sesmail_test

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/sesv2"

	"github.com/longrun/longrun/aws/awstest"
	"github.com/longrun/longrun/aws/sesmail"
	"github.com/longrun/longrun/notify"
	"github.com/longrun/longrun/porttest"
)

func TestMain(m *testing.M) { awstest.Main(m) }

func TestSentMailArrives(t *testing.T) {
	awstest.SES(t)
	m := &sesmail.Mailer{Client: sesv2.NewFromConfig(awstest.Config(t)), From: "longrun@example.com"}
	to := "reader-" + awstest.Name("x") + "@example.com"
	if err := m.Send(context.Background(), notify.Mail{To: to, Subject: "Your Julia set “x” is ready", Text: "See it at http://x/#id\n",
		HTML: `<p><a href="http://x/#id">See it</a></p>`}); err != nil {
		t.Fatal(err)
	}
	got := awstest.Inbox(t, to)
	if len(got) != 1 || !strings.Contains(got[0].Subject, "is ready") || !strings.Contains(got[0].Body.Text, "http://x/#id") ||
		!strings.Contains(got[0].Body.HTML, `<a href="http://x/#id">`) {
		t.Fatalf("the SES server holds %+v for %s, want the one e-mail", got, to)
	}
}

func TestMailerConformance(t *testing.T) {
	porttest.TestMailer(t, func(t *testing.T) (porttest.Mailer, func(string) []notify.Mail) {
		awstest.SES(t)
		m := &sesmail.Mailer{Client: sesv2.NewFromConfig(awstest.Config(t)), From: "longrun@example.com"}
		return m, func(to string) []notify.Mail {
			var out []notify.Mail
			for _, e := range awstest.Inbox(t, to) {
				out = append(out, notify.Mail{To: to, Subject: e.Subject, Text: e.Body.Text})
			}
			return out
		}
	})
}
