package mailbox_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
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

// A listing reads only its owner's folder: another owner's five thousand
// messages are never opened, and mail kept at the top by earlier versions
// moves into its owner's folder at start.
func TestAListingReadsOnlyItsOwnersMail(t *testing.T) {
	dir := t.TempDir()
	legacy, _ := json.Marshal(mailbox.Message{ID: "00000000000000000001-legacy", Mail: notify.Mail{Owner: "a", Subject: "old"}})
	os.WriteFile(filepath.Join(dir, "00000000000000000001-legacy.json"), legacy, 0o644)
	box, err := mailbox.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	box.Send(ctx, notify.Mail{Owner: "a", Subject: "new"})
	// Another owner's mail, which a listing of a's must not read: files
	// that are not JSON would be skipped only after being opened.
	other := filepath.Join(dir, "b")
	os.MkdirAll(other, 0o755)
	for i := range 5000 {
		os.WriteFile(filepath.Join(other, fmt.Sprintf("%020d-x.json", i)), []byte("{not json"), 0o644)
	}
	got, err := box.Messages(ctx, "a", 10)
	if err != nil || len(got) != 2 || got[0].Subject != "new" || got[1].Subject != "old" {
		t.Errorf("a's messages: %+v %v, want the new one, then the one moved from the top", got, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "a", "00000000000000000001-legacy.json")); err != nil {
		t.Errorf("the legacy message did not move into a's folder: %v", err)
	}
	if got, _ := box.Messages(ctx, "nobody", 10); len(got) != 0 {
		t.Errorf("an owner with no mail: %+v", got)
	}
	if got, _ := box.Messages(ctx, "../b", 10); len(got) != 0 {
		t.Errorf("an owner named like a path reads another's folder: %+v", got)
	}
}
