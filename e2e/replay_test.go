package e2e

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// A page whose connection drops (a closed lid, a network change) misses
// nothing: three changes made while it is away arrive when it reconnects,
// in order, each once, numbered after the last it had.
func TestBrowserMissesNothingWhileAway(t *testing.T) {
	ctx := browser(t)
	s := serve(t, t.TempDir())
	// The test holds the page's sockets, to drop them and keep it from
	// reconnecting for a while; it hears every update the page applies.
	onEveryPage(t, ctx, `(() => {
		const Real = WebSocket;
		window.__sockets = []; window.__away = false; window.__applied = [];
		window.WebSocket = class extends Real {
			constructor(url, protocols) { super(window.__away ? "ws://127.0.0.1:9/" : url, protocols); window.__sockets.push(this); }
		};
		document.addEventListener("longrun:update", (e) => window.__applied.push({ seq: e.detail.seq, name: e.detail.configuration && e.detail.configuration.name }));
	})();`)
	within(t, ctx, 30*time.Second, "the page",
		chromedp.Navigate(s.URL+"/"),
		chromedp.WaitVisible(chromedp.CSS(".live.on")))
	within(t, ctx, 30*time.Second, "a configuration, done",
		chromedp.Evaluate[chromedp.Void](`fetch("/api/configurations", {method: "POST", headers: {"Content-Type": "application/json"},
			body: JSON.stringify({name: "away", params: {c: {re: 0.3, im: 0.5}, width: 64, height: 64}})}).then(r => r.json()).then(c => { window.__id = c.id; })`),
		poll(`[...document.querySelectorAll("#list li")].some(li => li.textContent.includes("away") && li.querySelector(".badge.done"))`),
	)
	before := eval[int](t, ctx, `window.__applied.length`)
	within(t, ctx, 30*time.Second, "the connection drops; three renames meanwhile",
		chromedp.Evaluate[chromedp.Void](`window.__away = true; window.__sockets.forEach(s => s.close());`),
		poll(`!document.querySelector(".live.on")`),
		chromedp.Evaluate[chromedp.Void](`(async () => {
			for (const name of ["one", "two", "three"]) {
				const c = await (await fetch("/api/configurations/" + window.__id)).json();
				await fetch("/api/configurations/" + window.__id, {method: "PUT", headers: {"Content-Type": "application/json", "If-Match": c.etag},
					body: JSON.stringify({name, kind: c.kind, params: c.params})});
			}
			window.__renamed = true;
		})()`),
		poll(`window.__renamed === true`),
	)
	if got := eval[int](t, ctx, `window.__applied.length`); got != before {
		t.Fatalf("%d updates applied while away: the connection did not drop", got-before)
	}
	within(t, ctx, 60*time.Second, "back: the three arrive",
		chromedp.Evaluate[chromedp.Void](`window.__away = false;`),
		chromedp.WaitVisible(chromedp.CSS(".live.on")),
		poll(`window.__applied.some(u => u.name === "three")`),
	)
	var applied []struct {
		Seq  int64
		Name string
	}
	json.Unmarshal([]byte(eval[string](t, ctx, `JSON.stringify(window.__applied)`)), &applied)
	var names []string
	for i, u := range applied[before:] {
		names = append(names, u.Name)
		if want := applied[before-1].Seq + int64(i) + 1; u.Seq != want {
			t.Errorf("update %d after the drop is numbered %d, want %d: %+v", i, u.Seq, want, applied)
		}
	}
	if strings.Join(names, " ") != "one two three" {
		t.Errorf("applied after the drop: %v, want one two three, each once, in order", names)
	}
	if got := eval[string](t, ctx, `document.querySelector("#list li .name").textContent`); got != "three" {
		t.Errorf("the list shows %q", got)
	}
}

// The owner says how to be told: the boxes a configuration is saved with
// are its own; "Make these my defaults" carries them to the next ones, on
// a reload too.
func TestBrowserKeepsHowTheOwnerWantsToBeTold(t *testing.T) {
	ctx := browser(t)
	s := serve(t, t.TempDir())
	within(t, ctx, 30*time.Second, "every channel at first; e-mail off for this one",
		chromedp.Navigate(s.URL+"/"),
		chromedp.WaitVisible(chromedp.CSS(".live.on")),
		poll(`["ch-page", "ch-device", "ch-email"].every(id => document.getElementById(id).checked)`),
		setValue("name", "quiet"), setValue("width", "64"), setValue("height", "64"),
		chromedp.Click(chromedp.ID("ch-email")),
		chromedp.Click(chromedp.ID("save")),
		poll(`location.hash.length > 1`),
		poll(`fetch("/api/configurations/" + location.hash.slice(1)).then(r => r.json()).then(c => { window.__c = c; }), window.__c && window.__c.notify && window.__c.notify.email === false && window.__c.notify.page === true`),
	)
	within(t, ctx, 30*time.Second, "no page toasts by default, after a reload",
		chromedp.Click(chromedp.ID("new")),
		chromedp.Click(chromedp.ID("ch-page")),
		chromedp.Click(chromedp.ID("ch-default")),
		poll(`[...document.querySelectorAll(".toast")].some(t => t.textContent.startsWith("By default you are told on your devices, by e-mail"))`),
		chromedp.Navigate(s.URL+"/"),
		chromedp.WaitVisible(chromedp.CSS(".live.on")),
		poll(`!document.getElementById("ch-page").checked && document.getElementById("ch-email").checked`),
	)
}
