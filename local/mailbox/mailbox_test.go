package mailbox_test

import (
	"context"
	"testing"

	"github.com/longrun/longrun/local/mailbox"
	"github.com/longrun/longrun/notify"
	"github.com/longrun/longrun/porttest"
)

func TestMailerConformance(t *testing.T) {
	porttest.TestMailer(t, func(t *testing.T) (porttest.Mailer, func(string) []notify.Mail) {
		box, err := mailbox.Open(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		return box, func(to string) []notify.Mail {
			msgs, err := box.Messages(context.Background(), "o", 100)
			if err != nil {
				t.Fatal(err)
			}
			var out []notify.Mail
			for _, m := range msgs {
				if m.To == to {
					out = append(out, m.Mail)
				}
			}
			return out
		}
	})
}

func TestMessagesAreTheOwnersNewestFirst(t *testing.T) {
	box, _ := mailbox.Open(t.TempDir())
	ctx := context.Background()
	for _, m := range []notify.Mail{{Owner: "a", Subject: "1"}, {Owner: "b", Subject: "2"}, {Owner: "a", Subject: "3"}} {
		if err := box.Send(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	got, _ := box.Messages(ctx, "a", 10)
	if len(got) != 2 || got[0].Subject != "3" || got[1].Subject != "1" {
		t.Errorf("got %+v, want a's two messages, newest first", got)
	}
}
