package e2e

import (
	"context"
	"fmt"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/longrun/longrun/internal/testutil"
	"github.com/longrun/longrun/web"
)

// onEveryPage runs script in every document the browser opens, before the
// page's own.
func onEveryPage(t *testing.T, ctx context.Context, script string) {
	t.Helper()
	if err := chromedp.Do(ctx, chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		_, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: script})
		return err
	})); err != nil {
		t.Fatal(err)
	}
}

// countLists counts the page's requests for its list (window.__lists) and
// for the updates it missed (window.__catchUps), and keeps its WebSockets
// (window.__sockets).
const countLists = `window.__lists = 0; window.__catchUps = 0; { const f = window.fetch;
	window.fetch = (u, ...rest) => { if (/\/api\/configurations(\?|$)/.test(String(u))) window.__lists++;
		if (/\/api\/updates\?/.test(String(u))) window.__catchUps++; return f(u, ...rest); }; }
	window.__sockets = []; window.WebSocket = class extends WebSocket { constructor(...a) { super(...a); window.__sockets.push(this); } };`

// TestBrowserLoadsTheListOnce: a page with configurations asks for its list
// once on load, not once more when its push connection opens; a reconnect
// catches up with the updates it missed, not the whole list.
func TestBrowserLoadsTheListOnce(t *testing.T) {
	ctx := browser(t)
	s := serve(t, t.TempDir(), "--render-goroutines", "1")
	onEveryPage(t, ctx, countLists)
	createInForm(t, ctx, s.URL, "first", "64")
	within(t, ctx, 20*time.Second, "reload",
		chromedp.Reload(),
		chromedp.WaitVisible(chromedp.CSS(".live.on")),
		poll(`document.querySelectorAll("#list li").length === 1 && !document.getElementById("image").hidden`),
	)
	if n := eval[int](t, ctx, `window.__lists`); n != 1 {
		t.Errorf("the list was fetched %d times on load, want once", n)
	}
	within(t, ctx, 20*time.Second, "a reconnect catches up",
		chromedp.Evaluate[chromedp.Void](`window.__lists = 0; window.__catchUps = 0; window.__sockets.at(-1).close()`),
		poll(`window.__catchUps === 1 && window.__sockets.length === 2 && document.getElementById("live").classList.contains("on")`),
	)
	if n := eval[int](t, ctx, `window.__lists`); n != 0 {
		t.Errorf("a reconnect fetched the list %d times: the updates it missed are enough", n)
	}
}

// touch sends one touch event with fingers at points (x, y pairs).
func touch(kind input.DispatchTouchEventType, points ...float64) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		var ps []*input.TouchPoint
		for i := 0; i+1 < len(points); i += 2 {
			id := float64(i / 2)
			ps = append(ps, &input.TouchPoint{X: points[i], Y: points[i+1], ID: &id})
		}
		_, err := chromedp.Call(ctx, input.DispatchTouchEvent, input.DispatchTouchEventParams{Type: kind, TouchPoints: ps})
		return err
	})
}

// TestBrowserOnAPhone: on a 375×667 touch screen every control is at least
// 44 px high, the result scrolled to is not under the sticky header, the
// list is reachable, and a pinch zooms the image about the pinch (a new
// version at about the pinch's ratio).
func TestBrowserOnAPhone(t *testing.T) {
	ctx := browser(t)
	dir := shots(t)
	s := serve(t, t.TempDir(), "--render-goroutines", "1")
	within(t, ctx, 10*time.Second, "a phone",
		chromedp.EmulateViewport(375, 667, chromedp.EmulateMobile, chromedp.EmulateTouch, chromedp.EmulateScale(2)))
	createInForm(t, ctx, s.URL, "pinched", "256")
	small := eval[[]string](t, ctx, `[...document.querySelectorAll("button, input, select, a.button, summary")]
		.filter((e) => e.offsetParent !== null && !e.classList.contains("skip"))
		.filter((e) => e.getBoundingClientRect().height < 44)
		.map((e) => (e.id || e.className || e.tagName) + " " + Math.round(e.getBoundingClientRect().height) + "px")`)
	if len(small) > 0 {
		t.Errorf("controls under 44 px on a phone: %v", small)
	}
	// The page scrolls to the result after a save (form.js), as here at once.
	if under := eval[float64](t, ctx, `document.querySelector(".preview").scrollIntoView(),
		document.querySelector(".preview").getBoundingClientRect().top - document.querySelector(".top").getBoundingClientRect().bottom`); under < -1 {
		t.Errorf("the result scrolled to is %.0f px under the sticky header", -under)
	}
	if !eval[bool](t, ctx, `(() => { const l = document.getElementById("list"); l.scrollIntoView(); const r = l.getBoundingClientRect(); return r.height > 0 && document.querySelector("#list li") !== null; })()`) {
		t.Errorf("the list is not reachable on a phone")
	}
	shot(t, ctx, dir, "phone-1-done")
	within(t, ctx, 10*time.Second, "the image in view", chromedp.Evaluate[chromedp.Void](`document.getElementById("image").scrollIntoView({block: "center"})`))
	box := eval[map[string]float64](t, ctx, `(() => { const r = document.getElementById("image").getBoundingClientRect(); return {x: r.left + r.width / 2, y: r.top + r.height / 2}; })()`)
	x, y := box["x"], box["y"]
	id := openID(t, ctx)
	within(t, ctx, 20*time.Second, "pinch out to twice the spread",
		touch(input.DispatchTouchEventTypeTouchStart, x-20, y, x+20, y),
		touch(input.DispatchTouchEventTypeTouchMove, x-30, y, x+30, y),
		touch(input.DispatchTouchEventTypeTouchMove, x-40, y, x+40, y),
		touch(input.DispatchTouchEventTypeTouchEnd),
		poll(stored(id, `c.version === 2`)),
	)
	zoom := eval[float64](t, ctx, `window.__seen.params.zoom`)
	if zoom < 1.8 || zoom > 2.2 {
		t.Errorf("a pinch spreading the fingers from 40 to 80 px saved zoom %.2f, want about 2", zoom)
	}
	if c := eval[string](t, ctx, `window.__seen.params.center.re + "," + window.__seen.params.center.im`); c != "0,0" && zoom == 1 {
		t.Errorf("the pinch panned (%s) rather than zoomed", c)
	}
	shot(t, ctx, dir, "phone-2-pinched")
}

// freePort is a loopback address no one listens on, for a server that must
// come back where it was.
func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// toasts is the text of the toasts shown, joined.
const toasts = `[...document.querySelectorAll(".toast")].map(t => t.textContent).join(" | ")`

// TestBrowserIsQuietAndSaysWhenOffline: the render the user watches finish
// raises no toast, three that finish elsewhere raise one, which counts
// them; an address confirmed in another tab stops saying "Confirmation
// pending" here; with the server stopped the badge says offline, a search
// says why it found nothing, an unsaved edit stays, and all comes back
// when the server does.
func TestBrowserIsQuietAndSaysWhenOffline(t *testing.T) {
	ctx := browser(t)
	dir := shots(t)
	data, addr := t.TempDir(), freePort(t)
	s := serve(t, data, "--render-goroutines", "1", "--addr", addr)
	createInForm(t, ctx, s.URL, "watched", "64")
	if got := eval[string](t, ctx, toasts); strings.Contains(got, "ready") {
		t.Errorf("a toast %q for the render the user watched finish", got)
	}
	within(t, ctx, 30*time.Second, "three renders finish elsewhere",
		chromedp.Evaluate[chromedp.Void](`for (const [i, n] of ["one", "two", "three"].entries()) fetch("/api/configurations", {method: "POST",
			headers: {"Content-Type": "application/json"}, body: JSON.stringify({name: n, params: {c: {re: -0.4, im: 0.6}, width: 32, height: 32, depth: 40 + i}})})`),
		poll(`[...document.querySelectorAll("#list .badge")].filter(b => b.textContent === "done").length === 4`),
		poll(toasts+`.includes("ready")`),
	)
	if got := eval[string](t, ctx, toasts); strings.Count(got, "ready") != 1 || !strings.Contains(got, "3 renders are ready") {
		t.Errorf("toasts %q: want one, counting the three renders", got)
	}
	shot(t, ctx, dir, "quiet-1-one-toast")

	// An address confirmed in another tab of this browser.
	within(t, ctx, 20*time.Second, "ask for an e-mail",
		setValue("email", "quiet@example.com"),
		chromedp.Click(chromedp.ID("save")),
		poll(`document.getElementById("email-status").textContent.startsWith("Confirmation pending")`),
		poll(`(document.getElementById("mail-refresh").click(), document.querySelector("#mail li a") !== null)`),
	)
	link := eval[string](t, ctx, `document.querySelector("#mail li a").href`)
	other, cancel := chromedp.NewContext(ctx)
	defer cancel()
	if err := chromedp.Do(other); err != nil { // open it without a deadline, which would close it
		t.Fatal(err)
	}
	within(t, other, 20*time.Second, "open the link in another tab",
		chromedp.Navigate(link),
		chromedp.WaitVisible(chromedp.CSS("form button")),
	)
	within(t, other, 20*time.Second, "confirm there",
		chromedp.Click(chromedp.CSS("form button")),
		chromedp.WaitVisible(chromedp.CSS("main.panel p + p")), // the confirmed page has no form between its text and its link
	)
	if h := eval[string](t, other, `document.querySelector("h1").textContent`); h != "Address confirmed" {
		t.Fatalf("the confirmation page says %q", h)
	}
	within(t, ctx, 10*time.Second, "the first tab hears of it",
		poll(`!document.getElementById("email-status").textContent.startsWith("Confirmation pending")`),
	)

	// The server stops.
	within(t, ctx, 5*time.Second, "an unsaved edit", setValue("name", "kept while offline"))
	s.stop(t)
	within(t, ctx, 30*time.Second, "offline, said",
		poll(`document.getElementById("live").textContent.startsWith("offline")`),
		chromedp.SendKeys(chromedp.ID("search"), "tw"),
		poll(toasts+`.includes("not answering")`),
	)
	shot(t, ctx, dir, "quiet-2-offline")
	serve(t, data, "--render-goroutines", "1", "--addr", addr)
	within(t, ctx, 60*time.Second, "back when the server is",
		poll(`document.getElementById("live").textContent === "live"`),
	)
	if got := eval[string](t, ctx, `document.getElementById("name").value`); got != "kept while offline" {
		t.Errorf("the unsaved edit is %q after the server came back", got)
	}
}

// TestBrowserSaysWhereAQueuedRenderStands: behind a poster cut into parts,
// a small render says how many jobs are ahead of it and when it should
// start, and the number goes down as the poster's parts are handed out.
func TestBrowserSaysWhereAQueuedRenderStands(t *testing.T) {
	ctx := browser(t)
	dir := shots(t)
	s := serve(t, t.TempDir(), "--render-goroutines", "1", "--tile-above", "65536", "--tile-size", "128")
	within(t, ctx, 20*time.Second, "a poster, then a small render behind it",
		chromedp.Navigate(s.URL+"/"),
		chromedp.WaitVisible(chromedp.CSS(".live.on")),
		chromedp.Evaluate[chromedp.Void](`fetch("/api/configurations", {method: "POST", headers: {"Content-Type": "application/json"},
			body: JSON.stringify({name: "poster", params: {c: {re: 0, im: 0}, width: 2048, height: 2048, depth: 20000}})})`),
		poll(`[...document.querySelectorAll("#list .badge")].some(b => b.textContent.startsWith("rendering"))`),
		setValue("name", "small"), setValue("width", "64"), setValue("height", "64"),
		chromedp.Click(chromedp.ID("save")),
		poll(`/^Queued: \d+ ahead of you · starts in/.test(document.querySelector("#progress .label").textContent)`),
	)
	label := func() int {
		var n int
		fmt.Sscanf(eval[string](t, ctx, `document.querySelector("#progress .label").textContent`), "Queued: %d ahead", &n)
		return n
	}
	first := label()
	shot(t, ctx, dir, "queue-1-ahead")
	within(t, ctx, 30*time.Second, "fewer ahead as the poster's parts go",
		poll(fmt.Sprintf(`(() => { const m = /^Queued: (\d+) ahead/.exec(document.querySelector("#progress .label").textContent);
			return !m || Number(m[1]) < %d; })()`, first)))
	if first < 2 {
		t.Errorf("%d ahead of a render queued behind a poster of 256 parts", first)
	}
	// A row of the list, not open, says its place too, kept current.
	rowAhead := `(() => { const b = [...document.querySelectorAll("#list li")].find(li => li.querySelector(".name").textContent === "another small");
		const m = b && /queued · (\d+) ahead/.exec(b.querySelector(".badge").textContent); return m ? Number(m[1]) : -1; })()`
	within(t, ctx, 20*time.Second, "a queued row's place",
		chromedp.Evaluate[chromedp.Void](`fetch("/api/configurations", {method: "POST", headers: {"Content-Type": "application/json"},
			body: JSON.stringify({name: "another small", params: {c: {re: 0.3, im: 0.5}, width: 64, height: 64}})})`),
		poll(rowAhead+` > 0`))
	was := eval[int](t, ctx, rowAhead)
	within(t, ctx, 30*time.Second, "the row's place goes down",
		poll(fmt.Sprintf(`(() => { const n = %s; return n >= 0 && n < %d || n === -1; })()`, rowAhead, was)))
}

// TestBrowserOperationsPage: the token form goes once the token is
// accepted, and with it the note that it was wrong; the page lists what
// runs (kind, progress, parts in flight) and what waits, by kind; the
// chart has a scale.
func TestBrowserOperationsPage(t *testing.T) {
	ctx := browser(t)
	dir := shots(t)
	s := serve(t, t.TempDir(), "--render-goroutines", "1", "--tile-above", "65536", "--tile-size", "256")
	c := testutil.NewClient(t, s.URL)
	// The poster cut into parts first, then a training behind its parts.
	// (c = 0: a fifth of the view runs to the depth, a minute of work.)
	// The queue is fair between configurations, so the training may be
	// handed out after the part under way: long enough (5,000 epochs) that
	// it is still waiting or running when the page looks.
	poster := c.Create(map[string]any{"name": "the poster", "params": testutil.Params(0, 0, "width", 4096, "height", 4096, "depth", 20000)})
	c.Await(poster.ID, 30*time.Second, "tiled", func(v web.View) bool { return v.Tiles != nil })
	c.Create(map[string]any{"kind": "classifier", "name": "waiting net", "params": map[string]any{"dataset": map[string]any{"name": "moons"}, "epochs": 5000}})
	within(t, ctx, 20*time.Second, "a wrong token",
		chromedp.Navigate(s.URL+"/ops.html"),
		chromedp.WaitVisible(chromedp.ID("token-form")),
		setValue("token", "not the operator token"),
		chromedp.Click(chromedp.CSS("#token-form button")),
		poll(`document.getElementById("ops-note").textContent.includes("missing or wrong")`),
	)
	within(t, ctx, 20*time.Second, "the right token",
		setValue("token", opsToken),
		chromedp.Click(chromedp.CSS("#token-form button")),
		chromedp.WaitVisible(chromedp.ID("ops-panel")),
		poll(`document.getElementById("token-form").hidden && document.getElementById("ops-note").hidden`),
		poll(`document.getElementById("ops-running").textContent.includes("the poster · julia")`),
		poll(`/tiles · \d+ parts? in flight/.test(document.getElementById("ops-running").textContent)`),
		poll(`/Waiting: [\d,]+ julia/.test(document.getElementById("ops-queued").textContent) &&
			(document.getElementById("ops-queued").textContent.includes("classifier") ||
				document.getElementById("ops-running").textContent.includes("waiting net · classifier"))`),
	)
	shot(t, ctx, dir, "ops-running")
	if y := eval[string](t, ctx, `document.getElementById("ops-ymax").textContent + "|" + document.getElementById("ops-xstart").textContent`); strings.HasPrefix(y, "|") || strings.HasSuffix(y, "|") {
		t.Errorf("the chart's scale is %q, want its top count and its start time", y)
	}
}

// TestBrowserSharesAResult: the owner downloads the image and shares a
// read-only link; another browser (another device, no session) opens it
// and sees the result, its parameters and a download, nothing to edit;
// once the owner revokes the links, it opens nothing.
func TestBrowserSharesAResult(t *testing.T) {
	owner := browser(t)
	dir := shots(t)
	s := serve(t, t.TempDir(), "--render-goroutines", "1")
	onEveryPage(t, owner, `window.confirm = () => true;`)
	createInForm(t, owner, s.URL, "to share", "256")
	if href := eval[string](t, owner, `document.getElementById("download").getAttribute("href") + " " + document.getElementById("download").download`); !strings.Contains(href, "/image?h=") || !strings.HasSuffix(href, "to share.png") {
		t.Errorf("the download link is %q", href)
	}
	within(t, owner, 10*time.Second, "share",
		chromedp.Click(chromedp.ID("share")),
		poll(`!document.getElementById("share-url").hidden && document.getElementById("share-url").value.includes("/s/")`),
	)
	link := eval[string](t, owner, `document.getElementById("share-url").value`)
	phone := browser(t)
	within(t, phone, 20*time.Second, "another device opens the link",
		chromedp.Navigate(link),
		poll(`document.getElementById("share-name").textContent === "to share" &&
			document.getElementById("share-image").complete && document.getElementById("share-image").naturalWidth === 256`),
	)
	shot(t, phone, dir, "share-opened")
	if got := eval[string](t, phone, `document.getElementById("share-params").textContent`); !strings.Contains(got, "depth256") || !strings.Contains(got, "colormap") {
		t.Errorf("the shared page's parameters: %q", got)
	}
	if n := eval[int](t, phone, `document.querySelectorAll("input, select, form").length`); n != 0 {
		t.Errorf("the shared page has %d inputs: it is read-only", n)
	}
	if got := eval[string](t, phone, `document.querySelector("#share-downloads a")?.getAttribute("href") || ""`); !strings.Contains(got, "/api/shared/") {
		t.Errorf("the shared page's download: %q", got)
	}
	within(t, owner, 10*time.Second, "the owner revokes",
		chromedp.Click(chromedp.ID("revoke")),
		poll(`document.getElementById("share-url").value !== "`+link+`"`),
	)
	within(t, phone, 20*time.Second, "the revoked link opens nothing",
		chromedp.Reload(),
		poll(`document.getElementById("share-name").textContent === "This link opens nothing" &&
			document.getElementById("share-kind").textContent.includes("revoked")`),
	)
}

// axeScript is axe-core, pinned beside Lighthouse (e2e/lighthouse).
const axeScript = "lighthouse/node_modules/axe-core/axe.min.js"

// axeViolations runs axe-core on the page as it stands and returns its
// violations, each as its rule and the elements it found.
func axeViolations(t *testing.T, ctx context.Context) []string {
	t.Helper()
	src, err := os.ReadFile(axeScript)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("axe-core is not installed (make deps installs it): %v", err)
		}
		t.Skipf("axe-core is not installed (make deps installs it): %v", err)
	}
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[chromedp.Void](string(src))); err != nil {
		t.Fatalf("load axe-core: %v", err)
	}
	out, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`axe.run(document, {resultTypes: ["violations"]}).then(r =>
		r.violations.map(v => v.id + " (" + v.impact + "): " + v.nodes.map(n => n.target.join(" ")).join(", ")))`, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("axe: %v", err)
	}
	return out
}

// TestBrowserHasNoAccessibilityViolations: axe-core finds nothing on the
// page empty, with a tiled render under way, and with it finished, nor on
// a read-only link's page.
func TestBrowserHasNoAccessibilityViolations(t *testing.T) {
	ctx := browser(t)
	s := serve(t, t.TempDir(), "--render-goroutines", "1", "--tile-above", "65536", "--tile-size", "256")
	within(t, ctx, 20*time.Second, "the empty page",
		chromedp.Navigate(s.URL+"/"),
		chromedp.WaitVisible(chromedp.CSS(".live.on")),
	)
	check := func(state string) {
		t.Helper()
		if v := axeViolations(t, ctx); len(v) > 0 {
			t.Errorf("axe, %s: %d violations:\n%s", state, len(v), strings.Join(v, "\n"))
		}
	}
	check("empty")
	within(t, ctx, 30*time.Second, "a tiled render under way",
		setValue("name", "audited poster"), setValue("width", "2048"), setValue("height", "2048"), setValue("depth", "20000"),
		setValue("c-re", "0"), setValue("c-im", "0"), // a fifth of the view to the depth: seconds of tiles
		chromedp.Click(chromedp.ID("save")),
		chromedp.WaitVisible(chromedp.ID("mosaic")),
	)
	check("rendering")
	within(t, ctx, 60*time.Second, "finished",
		poll(`document.getElementById("status").textContent === "done" && !document.getElementById("image").hidden`),
	)
	check("finished")
	within(t, ctx, 10*time.Second, "its read-only link",
		chromedp.Click(chromedp.ID("share")),
		poll(`document.getElementById("share-url").value.includes("/s/")`),
	)
	link := eval[string](t, ctx, `document.getElementById("share-url").value`)
	within(t, ctx, 20*time.Second, "the read-only link's page",
		chromedp.Navigate(link),
		poll(`document.getElementById("share-name").textContent === "audited poster" && document.getElementById("share-image").complete`),
	)
	check("a read-only link's page")
}
