package e2e

import (
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"testing"

	"github.com/longrun/longrun/internal/testutil"
)

// rejar copies the client's cookies for the old server to a jar for the new
// one: a restarted server listens on another free port.
func rejar(t *testing.T, c *testutil.Client, from, to string) http.CookieJar {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	f, _ := url.Parse(from)
	u, _ := url.Parse(to)
	jar.SetCookies(u, c.HTTP.Jar.Cookies(f))
	return jar
}
