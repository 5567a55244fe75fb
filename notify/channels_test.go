package notify_test

import (
	"context"
	"testing"

	"github.com/longrun/longrun"
	"github.com/longrun/longrun/local/sqlite"
)

// An owner chooses how to hear of finished renders: by default, and per
// configuration over the default. An e-mail asked for ("send me the result
// now") goes whatever the defaults say.
func TestTheOwnersChannelsAreKept(t *testing.T) {
	n, q, ps, devices := deviceNotifier(t)
	m := n.Mail.(*mailer)
	prefs, err := sqlite.Open(context.Background(), t.TempDir()+"/prefs")
	if err != nil {
		t.Fatal(err)
	}
	defer prefs.Close()
	n.Preferences = prefs
	owner := config("", 0).Owner
	devices.AddDevice(context.Background(), owner, ps.Subscribe("phone"))
	no, yes := false, true
	prefs.SetPreferences(context.Background(), owner, longrun.Channels{Email: &no})

	// Version 1 says nothing: the default holds (no e-mail, the device).
	stream(t, n, record(t, 1, config(longrun.StatusRendering, 1), config(longrun.StatusDone, 1)))
	n.HandleRetries(context.Background(), q.take())
	if len(m.sent) != 0 || len(ps.Messages()) != 1 {
		t.Fatalf("by default (no e-mail): %d e-mails, %d device notifications; want 0 and 1", len(m.sent), len(ps.Messages()))
	}
	// Version 2 asks for e-mail and no device: it says over the default.
	v2 := config(longrun.StatusDone, 2)
	v2.Notify = &longrun.Channels{Email: &yes, Device: &no}
	was := config(longrun.StatusRendering, 2)
	was.Notify = v2.Notify
	stream(t, n, record(t, 2, was, v2))
	n.HandleRetries(context.Background(), q.take())
	if len(m.sent) != 1 || len(ps.Messages()) != 1 {
		t.Fatalf("its own choice: %d e-mails, %d device notifications; want 1 and still 1", len(m.sent), len(ps.Messages()))
	}
	// Version 3 chose no e-mail, and its owner asks for the result: sent.
	v3 := config(longrun.StatusDone, 3)
	v3.Notify = &longrun.Channels{Email: &no}
	asked := *v3
	asked.MailRequests = 1
	stream(t, n, record(t, 3, v3, &asked))
	if len(m.sent) != 2 {
		t.Errorf("a result asked for: %d e-mails, want it sent", len(m.sent))
	}
}
