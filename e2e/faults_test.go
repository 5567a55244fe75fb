package e2e

import (
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/longrun/longrun/internal/testutil"
	"github.com/longrun/longrun/notify"
	"github.com/longrun/longrun/web"
)

// mailPerVersion counts e-mails by configuration and version.
func mailPerVersion(t *testing.T, c *testutil.Client) map[string]int {
	t.Helper()
	var mail struct{ Messages []notify.Mail }
	c.Do("GET", "/api/mail", nil).JSON(t, &mail)
	out := map[string]int{}
	for _, m := range mail.Messages {
		if m.ConfigurationID != "" { // not the address's confirmation
			out[fmt.Sprintf("%s/v%d", m.ConfigurationID, m.Version)]++
		}
	}
	return out
}

// TestKilledDuringCreatesLosesNothingAccepted fires a batch of creates,
// SIGKILLs the server while they are arriving, restarts it, and checks that
// every configuration that was answered 201 reaches done with at most one
// e-mail.
func TestKilledDuringCreatesLosesNothingAccepted(t *testing.T) {
	data := t.TempDir()
	s := serve(t, data, burst...)
	c := testutil.NewClient(t, s.URL)
	c.ConfirmEmail("burst@example.com") // the session and the address, before the burst
	c.HTTP.Timeout = 5 * time.Second

	var mu sync.Mutex
	var accepted []string
	ten := make(chan struct{})
	var wg sync.WaitGroup
	for i := range 40 {
		wg.Go(func() {
			body := map[string]any{"name": fmt.Sprint(i), "notifyEmail": "burst@example.com",
				"params": testutil.Params(-0.5+0.01*float64(i), 0.5, "width", 256, "height", 256)}
			res, err := c.Try("POST", "/api/configurations", body)
			if err != nil || res.Status != http.StatusCreated {
				return // refused or cut off by the kill: never accepted
			}
			mu.Lock()
			accepted = append(accepted, res.View(t).ID)
			if len(accepted) == 10 {
				close(ten)
			}
			mu.Unlock()
		})
	}
	<-ten
	s.kill(t)
	wg.Wait()

	s2 := serve(t, data, burst...)
	c.HTTP.Jar = rejar(t, c, s.URL, s2.URL)
	c.Base = s2.URL
	c.HTTP.Timeout = 30 * time.Second
	mu.Lock()
	ids := append([]string(nil), accepted...)
	mu.Unlock()
	for _, id := range ids {
		c.Await(id, 60*time.Second, "done after restart", testutil.Done)
	}
	// A create the kill cut off after its write, its 201 never sent, is
	// rendered too: none is left queued without its job.
	var page struct{ Configurations []web.View }
	c.Do("GET", "/api/configurations?limit=100", nil).JSON(t, &page)
	for _, v := range page.Configurations {
		c.Await(v.ID, 60*time.Second, "done after restart, answered or not", testutil.Done)
	}
	t.Logf("%d stored, %d of them answered 201", len(page.Configurations), len(ids))
	// Wait until the feed has caught up: every accepted version mailed or
	// (if the kill fell between the record and the send) lost, never twice.
	deadline := time.Now().Add(20 * time.Second)
	for {
		counts := mailPerVersion(t, c)
		for k, n := range counts {
			if n > 1 {
				t.Fatalf("%s got %d e-mails", k, n)
			}
		}
		if len(counts) >= len(ids) || time.Now().After(deadline) {
			t.Logf("%d configurations accepted before the kill, %d e-mails after the restart", len(ids), len(counts))
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestKilledDuringFeedDeliverySendsNoDuplicates kills the server while the
// change feed is delivering e-mails, restarts it, and checks that every
// version got at most one e-mail and all are done.
func TestKilledDuringFeedDeliverySendsNoDuplicates(t *testing.T) {
	data := t.TempDir()
	s := serve(t, data, burst...)
	c := testutil.NewClient(t, s.URL)
	c.ConfirmEmail("feed@example.com")
	var ids []string
	for i := range 40 {
		ids = append(ids, c.Create(map[string]any{"name": fmt.Sprint(i), "notifyEmail": "feed@example.com",
			"params": testutil.Params(0.2+0.005*float64(i), 0.55, "width", 64, "height", 64)}).ID)
	}
	// Kill once some e-mails are out and others are not.
	for {
		n := len(mailPerVersion(t, c))
		if n > 0 && n < len(ids) {
			break
		}
		if n == len(ids) {
			t.Skip("the feed finished before the kill could land; nothing to test this run")
		}
		time.Sleep(2 * time.Millisecond)
	}
	s.kill(t)

	s2 := serve(t, data, burst...)
	c.HTTP.Jar = rejar(t, c, s.URL, s2.URL)
	c.Base = s2.URL
	for _, id := range ids {
		c.Await(id, 60*time.Second, "done", func(v web.View) bool { return testutil.Done(v) })
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		counts := mailPerVersion(t, c)
		for k, n := range counts {
			if n > 1 {
				t.Fatalf("%s got %d e-mails after the restart", k, n)
			}
		}
		if len(counts) >= len(ids)-1 || time.Now().After(deadline) {
			if len(counts) < len(ids)-1 {
				t.Errorf("only %d of %d versions mailed: more lost than the one the kill can interrupt", len(counts), len(ids))
			}
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// burst are the flags of a server that takes one owner's burst of 40
// creates: above the default quotas, which the fault tests are not about.
var burst = []string{"--render-goroutines", "1", "--max-active", "100", "--owner-writes", "1000", "--mail-per-address", "1000"}
