package local_test

import (
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/longrun/longrun/internal/testutil"
)

// linkIn finds a read-only link in an e-mail's text.
var linkIn = regexp.MustCompile(`https?://[^\s]+/s/[^\s]+`)

// TestAReadOnlyLinkOpensTheResultAnywhere: the e-mail of a finished render
// links to a read-only link, which opens in a browser with no session (a
// phone): the page, the result and its parameters, the image and its
// downloads, nothing of the owner, and no session minted. The owner's
// share link is the same; revoking ends both, and a forged or other
// token opens nothing.
func TestAReadOnlyLinkOpensTheResultAnywhere(t *testing.T) {
	_, url := start(t, nil)
	owner := testutil.NewClient(t, url)
	owner.ConfirmEmail("reader@example.com")
	v := owner.Await(owner.Create(map[string]any{"name": "for the phone", "notifyEmail": "reader@example.com",
		"params": small(-0.7, 0.27)}).ID, 20*time.Second, "done", testutil.Done)
	var link string
	for deadline := time.Now().Add(10 * time.Second); link == "" && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		var box struct {
			Messages []struct{ Subject, Text string }
		}
		owner.Do("GET", "/api/mail", nil).JSON(t, &box)
		for _, m := range box.Messages {
			if strings.Contains(m.Subject, "ready") {
				link = linkIn.FindString(m.Text)
			}
		}
	}
	if link == "" {
		t.Fatal("the finished render's e-mail has no read-only link")
	}
	var mine struct{ URL string }
	owner.Do("GET", "/api/configurations/"+v.ID+"/link", nil).JSON(t, &mine)
	if !strings.HasSuffix(link, mine.URL) {
		t.Errorf("the e-mail links to %s, the owner's share link is %s: want the same", link, mine.URL)
	}

	phone := testutil.NewClient(t, url) // no session
	token := strings.TrimPrefix(mine.URL, "/s/")
	page := phone.Do("GET", mine.URL, nil)
	if page.Status != http.StatusOK || !strings.Contains(string(page.Body), "share.js") || page.Header.Get("Set-Cookie") != "" {
		t.Fatalf("the link's page: %d, cookie %q", page.Status, page.Header.Get("Set-Cookie"))
	}
	shared := phone.Do("GET", "/api/shared/"+token, nil)
	if shared.Status != http.StatusOK || shared.Header.Get("Set-Cookie") != "" {
		t.Fatalf("the shared result: %d %s", shared.Status, shared.Body)
	}
	for _, private := range []string{"reader@example.com", "owner", "history", "notifyEmail"} { // (the token names the id, which opens nothing without the owner's session)
		if strings.Contains(string(shared.Body), private) {
			t.Errorf("the shared result tells %q: %s", private, shared.Body)
		}
	}
	var view struct {
		Name, Status, ImageURL string
		Params                 map[string]any
	}
	shared.JSON(t, &view)
	if view.Name != "for the phone" || view.Status != "done" || view.Params["c"] == nil || view.ImageURL == "" {
		t.Fatalf("the shared result: %+v", view)
	}
	if img := phone.Do("GET", view.ImageURL, nil); img.Status != http.StatusOK || img.Header.Get("Content-Type") != "image/png" {
		t.Errorf("the shared image: %d %s", img.Status, img.Header.Get("Content-Type"))
	}
	if img := phone.Do("GET", view.ImageURL+"&thumb=1", nil); img.Status != http.StatusOK {
		t.Errorf("the shared thumbnail: %d", img.Status)
	}

	// Not someone else's link, not a forged one, not a session's token.
	if res := testutil.NewClient(t, url).Do("GET", "/api/configurations/"+v.ID+"/link", nil); res.Status != http.StatusNotFound {
		t.Errorf("another owner asking for the link: %d, want 404", res.Status)
	}
	for _, bad := range []string{token[:len(token)-2] + "xx", "r." + v.ID + ".0.forged", sessionToken(t, owner, url)} {
		if res := phone.Do("GET", "/api/shared/"+bad, nil); res.Status != http.StatusNotFound {
			t.Errorf("a forged or other token %q: %d, want 404", bad, res.Status)
		}
	}

	// Revoked: the e-mail's link and the share link open nothing; the new one does.
	var renewed struct{ URL string }
	owner.Do("DELETE", "/api/configurations/"+v.ID+"/link", nil).JSON(t, &renewed)
	if res := phone.Do("GET", "/api/shared/"+token, nil); res.Status != http.StatusNotFound || !strings.Contains(string(res.Body), "revoked") {
		t.Errorf("a revoked link: %d %s, want 404 saying it was revoked", res.Status, res.Body)
	}
	if renewed.URL == mine.URL {
		t.Fatal("revoking gave the same link")
	}
	if res := phone.Do("GET", "/api/shared/"+strings.TrimPrefix(renewed.URL, "/s/"), nil); res.Status != http.StatusOK {
		t.Errorf("the new link: %d", res.Status)
	}
	if got := owner.Get(v.ID); got.ETag != v.ETag {
		t.Errorf("revoking links changed the configuration's ETag (%s → %s): an open tab's edit would be refused", v.ETag, got.ETag)
	}
}

// sessionToken is the value of client c's session cookie.
func sessionToken(t *testing.T, c *testutil.Client, url string) string {
	t.Helper()
	u := httptest.NewRequest("GET", url, nil).URL
	for _, ck := range c.HTTP.Jar.Cookies(u) {
		if ck.Name == "longrun_session" {
			return ck.Value
		}
	}
	t.Fatal("no session cookie")
	return ""
}
