package web_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/longrun/longrun"
	"github.com/longrun/longrun/internal/testutil"
	"github.com/longrun/longrun/kinds/juliaset"
	"github.com/longrun/longrun/local/sqlite"
	"github.com/longrun/longrun/web"
)

var deviceSessions = &web.Sessions{Key: []byte("0123456789abcdef0123456789abcdef")}

// ownerOf is the owner c's session cookie names.
func ownerOf(t *testing.T, c *testutil.Client) string {
	u, _ := url.Parse(c.Base)
	for _, ck := range c.HTTP.Jar.Cookies(u) {
		if ck.Name == web.CookieName {
			return deviceSessions.Owner(ck.Value)
		}
	}
	t.Fatal("no session cookie")
	return ""
}

func deviceServer(t *testing.T, key string) (*httptest.Server, *sqlite.DB) {
	db, err := sqlite.Open(context.Background(), t.TempDir()+"/db")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	svc := &longrun.Service{Store: db, Results: db, Kinds: longrun.Kinds{juliaset.Name: juliaset.New(juliaset.Bounds{})}}
	srv := httptest.NewServer(web.NewServer(web.Deps{Service: svc, Sessions: deviceSessions,
		Devices: db, PushKey: key}))
	t.Cleanup(srv.Close)
	return srv, db
}

// What a browser's PushSubscription.toJSON() gives.
var subscription = map[string]any{"endpoint": "https://fcm.googleapis.com/fcm/send/fJk3:APA91b", "expirationTime": nil,
	"keys": map[string]string{"p256dh": "BOr9Pv1uIPQ4Ux6aDFxMKf2Ynd6lB6P2cGZc0sFkOYRc3oIdQ-53MzNw51O2e5pAr5c2vRPcBXjmVIBMQLnHJ5w", "auth": "k8JV6sjdbhAi1n3_LDBLvA"}}

func TestADeviceIsKeptForItsOwnerAndForgotten(t *testing.T) {
	srv, db := deviceServer(t, "BPublicKey")
	c := testutil.NewClient(t, srv.URL)
	var key web.PushKey
	res := c.Do("GET", "/api/push/key", nil)
	res.JSON(t, &key)
	if res.Status != 200 || key.PublicKey != "BPublicKey" || res.Header.Get("Set-Cookie") != "" {
		t.Fatalf("the key: %d %s (cookie %q): want it, without a session", res.Status, res.Body, res.Header.Get("Set-Cookie"))
	}
	if res := c.Do("POST", "/api/devices", subscription); res.Status != http.StatusCreated {
		t.Fatalf("add: %d %s", res.Status, res.Body)
	}
	owner := ownerOf(t, c)
	if ds, _ := db.Devices(context.Background(), owner); len(ds) != 1 || ds[0].Endpoint != subscription["endpoint"] {
		t.Fatalf("kept %+v", ds)
	}
	if res := c.Do("DELETE", "/api/devices", map[string]any{"endpoint": subscription["endpoint"]}); res.Status != http.StatusNoContent {
		t.Fatalf("remove: %d %s", res.Status, res.Body)
	}
	if ds, _ := db.Devices(context.Background(), owner); len(ds) != 0 {
		t.Errorf("after the remove: %+v", ds)
	}
}

// An owner cannot make the server POST anywhere: an endpoint must be on a
// browser's push service, https; the keys must be keys. Nothing is kept.
func TestADeviceOffThePushServicesIsRefused(t *testing.T) {
	srv, db := deviceServer(t, "BPublicKey")
	c := testutil.NewClient(t, srv.URL)
	keys := subscription["keys"]
	for _, tc := range []struct {
		body  map[string]any
		field string
	}{
		{map[string]any{"endpoint": "https://169.254.169.254/latest/meta-data", "keys": keys}, "endpoint"},
		{map[string]any{"endpoint": "http://fcm.googleapis.com/fcm/send/x", "keys": keys}, "endpoint"},
		{map[string]any{"endpoint": "https://fcm.googleapis.com.evil.example/x", "keys": keys}, "endpoint"},
		{map[string]any{"endpoint": "https://internal.example/x#.push.apple.com", "keys": keys}, "endpoint"},
		{map[string]any{"endpoint": "https://fcm.googleapis.com/fcm/send/x", "keys": map[string]string{"p256dh": "short", "auth": "k8JV6sjdbhAi1n3_LDBLvA"}}, "keys.p256dh"},
		{map[string]any{"endpoint": "https://fcm.googleapis.com/fcm/send/x", "keys": map[string]string{"p256dh": subscription["keys"].(map[string]string)["p256dh"]}}, "keys.auth"},
	} {
		res := c.Do("POST", "/api/devices", tc.body)
		if res.Status != http.StatusBadRequest || !strings.Contains(string(res.Body), `"field":"`+tc.field+`"`) {
			t.Errorf("%v: %d %s, want 400 naming %s", tc.body, res.Status, res.Body, tc.field)
		}
	}
	if ds, _ := db.Devices(context.Background(), ownerOf(t, c)); len(ds) != 0 {
		t.Errorf("kept %+v", ds)
	}
	// Where device notifications are off, the page is told so.
	off, _ := deviceServer(t, "")
	if res := testutil.NewClient(t, off.URL).Do("GET", "/api/push/key", nil); res.Status != http.StatusNotFound {
		t.Errorf("the key with none: %d", res.Status)
	}
}
