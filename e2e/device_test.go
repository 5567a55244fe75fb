package e2e

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/serviceworker"
	"github.com/chromedp/chromedp"

	"github.com/longrun/longrun/internal/testutil"
	"github.com/longrun/longrun/notify"
)

// A user asks to be notified on this device, starts a long render and
// closes the tab: the server sends the finished render through the
// device's push service (a stand-in here, which decrypts it and checks
// its VAPID signature), the push service hands it to the browser, and the
// service worker shows the notification with no page of longrun open.
//
// Headless Chromium has no push service of its own, so the page's
// pushManager answers with the stand-in's subscription, and the stand-in
// delivers through the DevTools protocol (ServiceWorker.deliverPushMessage),
// as the browser's own push service would.
func TestBrowserNotifiesTheDeviceWithTheTabClosed(t *testing.T) {
	root := browser(t)
	dir := shots(t)
	data := t.TempDir()
	seed := []byte("e2e seed of the devices' key pair")
	if err := os.WriteFile(filepath.Join(data, "vapid.key"), []byte(hex.EncodeToString(seed[:32])+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	vapid, err := notify.VAPIDFromSeed(seed[:32], "")
	if err != nil {
		t.Fatal(err)
	}
	delivered := make(chan testutil.PushMessage, 4)
	var deliveredAt time.Time
	ps := testutil.NewPushService(t, vapid.PublicKey)
	ps.Delivered = func(m testutil.PushMessage) { deliveredAt = time.Now(); delivered <- m }
	certs := filepath.Join(t.TempDir(), "push-service.pem")
	os.WriteFile(certs, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ps.Certificate().Raw}), 0o600)
	s := serveWith(t, data, []string{"SSL_CERT_FILE=" + certs}, "--push-service", "127.0.0.1", "--render-goroutines", "1")

	if _, err := chromedp.CallBrowser(root, cdpbrowser.SetPermission, cdpbrowser.SetPermissionParams{
		Permission: &cdpbrowser.PermissionDescriptor{Name: "notifications"}, Setting: cdpbrowser.PermissionSettingGranted, Origin: s.URL}); err != nil {
		t.Fatal(err)
	}
	regs := make(chan serviceworker.RegistrationID, 64)
	if err := chromedp.Listen(root, func(ev any) {
		if e, ok := ev.(*serviceworker.EventWorkerRegistrationUpdated); ok {
			for _, r := range e.Registrations {
				if strings.HasPrefix(r.ScopeURL, s.URL) && !r.IsDeleted {
					select {
					case regs <- r.RegistrationID:
					default:
					}
				}
			}
		}
	}); err != nil {
		t.Fatal(err)
	}
	within(t, root, 10*time.Second, "a blank tab that stays", chromedp.Navigate("about:blank"))
	if _, err := chromedp.Call(root, serviceworker.Enable, struct{}{}); err != nil {
		t.Fatal(err)
	}

	tab, closeTab := chromedp.NewContext(root)
	if err := chromedp.Do(tab); err != nil {
		t.Fatal(err)
	}
	sub, _ := json.Marshal(ps.Subscribe("chromium"))
	onEveryPage(t, tab, `(() => { const sub = `+string(sub)+`;
		const fake = { endpoint: sub.endpoint, options: {}, toJSON: () => ({ ...sub, expirationTime: null }), unsubscribe: async () => true };
		let subscribed = false;
		PushManager.prototype.subscribe = async function () { subscribed = true; return fake; };
		PushManager.prototype.getSubscription = async function () { return subscribed ? fake : null; }; })();`)
	within(t, tab, 30*time.Second, "notify me on this device",
		chromedp.Navigate(s.URL+"/"),
		chromedp.WaitVisible(chromedp.CSS(".live.on")),
		poll(`document.getElementById("notify-perm").textContent === "Notify me on this device"`),
		chromedp.Click(chromedp.ID("notify-perm")),
		poll(`document.getElementById("notify-perm").textContent.startsWith("Notified on this device")`),
	)
	shot(t, tab, dir, "device-subscribed")
	within(t, tab, 30*time.Second, "a long render, under way",
		setValue("name", "while away"), setValue("width", "1024"), setValue("height", "1024"), setValue("depth", "20000"),
		chromedp.Evaluate[chromedp.Void](`fetch("/api/configurations", {method: "POST", headers: {"Content-Type": "application/json"},
			body: JSON.stringify({name: "while away", params: {c: {re: 0, im: 0}, width: 1024, height: 1024, depth: 20000}})})`),
		poll(`[...document.querySelectorAll("#list li")].some(li => li.textContent.includes("while away") && /queued|rendering/.test(li.textContent))`),
	)
	closeTab()
	closedAt := time.Now()
	var msg testutil.PushMessage
	select {
	case msg = <-delivered:
	case <-time.After(120 * time.Second):
		t.Fatalf("the push service heard nothing within 120 s (refused: %v)\n%s", ps.Refused(), s.log)
	}
	if deliveredAt.Before(closedAt) {
		t.Fatal("the render finished before the tab was closed: make it longer")
	}
	for _, tg := range must(chromedp.Targets(root)) {
		if tg.Type == "page" && strings.HasPrefix(tg.URL, s.URL) {
			t.Fatalf("a page of longrun is still open: %s", tg.URL)
		}
	}
	var reg serviceworker.RegistrationID
	select {
	case reg = <-regs:
	default:
		t.Fatal("no service worker registered")
	}
	if _, err := chromedp.Call(root, serviceworker.DeliverPushMessage, serviceworker.DeliverPushMessageParams{
		Origin: s.URL, RegistrationID: reg, Data: string(msg.Payload)}); err != nil {
		t.Fatal(err)
	}
	// The notification the service worker shows, read from a page opened
	// afterwards (headless Chromium draws no notification to screenshot).
	later, cancel := chromedp.NewContext(root)
	defer cancel()
	if err := chromedp.Do(later); err != nil { // the tab made without a deadline
		t.Fatal(err)
	}
	within(t, later, 20*time.Second, "open a page of the origin", chromedp.Navigate(s.URL+"/s/none"))
	var shown string
	deadline := time.Now().Add(20 * time.Second)
	for ; time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		ctx, stop := context.WithTimeout(later, 10*time.Second)
		shown, err = chromedp.Run(ctx, chromedp.Evaluate[string](`navigator.serviceWorker.getRegistration().then(r => r ? r.getNotifications() : [])
			.then(ns => JSON.stringify(ns.map(n => ({ title: n.title, body: n.body, tag: n.tag, url: n.data && n.data.url }))))`, chromedp.EvalAwaitPromise))
		stop()
		if err != nil {
			t.Fatalf("read the notifications: %v", err)
		}
		if strings.Contains(shown, "while away") {
			break
		}
	}
	os.WriteFile(filepath.Join(dir, "device-notification.json"), []byte(shown+"\n"), 0o644)
	var notes []struct{ Title, Body, Tag, URL string }
	json.Unmarshal([]byte(shown), &notes)
	if len(notes) != 1 || notes[0].Title != "Your Julia set is ready" || !strings.HasPrefix(notes[0].Body, "while away · version 1") ||
		!strings.HasPrefix(notes[0].URL, "/#") || !strings.HasSuffix(notes[0].Tag, "/1") {
		t.Fatalf("notifications shown: %s", shown)
	}
	t.Logf("shown with the tab closed: %s", shown)
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
