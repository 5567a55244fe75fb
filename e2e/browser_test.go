package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"
)

const chromium = "/usr/bin/chromium"

// shots is where screenshots go: $LONGRUN_TEST_OUTPUT/browser (make test
// sets it and prints where), else the test's temporary folder.
func shots(t *testing.T) string {
	dir := os.Getenv("LONGRUN_TEST_OUTPUT")
	if dir == "" {
		dir = t.TempDir()
	}
	dir = filepath.Join(dir, "browser")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// browser starts a headless Chromium with a fresh profile: one user.
func browser(t *testing.T) context.Context {
	t.Helper()
	if _, err := os.Stat(chromium); err != nil {
		t.Skipf("browser tests need Chromium at %s (apt-get install chromium): %v", chromium, err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-quic", true), chromedp.NoFirstRun,
		chromedp.Flag("disable-dev-shm-usage", true), chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1400, 1000),
		// On a loaded 2-core machine Chromium has taken over chromedp's
		// default 20 s to say where it listens: "chrome failed to start".
		chromedp.WSURLReadTimeout(90*time.Second))
	// Chromium has been seen to exit at once, printing nothing, while the
	// machine's two cores ran other tests' builds: a start is tried three
	// times before the test fails.
	var err error
	for attempt := 1; attempt <= 3; attempt++ {
		actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
		ctx, cancel := chromedp.NewContext(actx)
		if err = chromedp.Do(ctx); err == nil { // start the browser without a deadline
			t.Cleanup(func() { cancel(); cancelAlloc() })
			return ctx
		}
		cancel()
		cancelAlloc()
		t.Logf("start chromium, attempt %d: %v", attempt, err)
	}
	t.Fatalf("start chromium: %v", err)
	return nil
}

// shot saves the whole page as name.png. It is drawn from the top: a
// capture of the whole page draws the sticky header where the view is
// scrolled to, over whatever is there (which the page itself never shows),
// so the view goes to the top for the capture and back after.
func shot(t *testing.T, ctx context.Context, dir, name string) {
	t.Helper()
	y, err := chromedp.Run(ctx, chromedp.Evaluate[float64](`(() => { const y = window.scrollY; window.scrollTo(0, 0); return y; })()`))
	if err != nil {
		t.Errorf("screenshot %s: %v", name, err)
		return
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[chromedp.Void](fmt.Sprintf("window.scrollTo(0, %g)", y))); err != nil {
		t.Errorf("screenshot %s: scrolling back: %v", name, err)
	}
	if err != nil {
		t.Errorf("screenshot %s: %v", name, err)
		return
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		t.Error(err)
	}
}

// within runs steps with a deadline.
func within(t *testing.T, ctx context.Context, d time.Duration, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	tctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	if err := chromedp.Do(tctx, steps...); err != nil {
		t.Fatalf("%s: %v\n%s", what, err, pageState(t, ctx, what))
	}
}

// pageState is what the page shows when a step fails, for the failure's
// message: its status, the conflict box, errors and toasts, with a
// screenshot beside the other test artefacts.
func pageState(t *testing.T, ctx context.Context, what string) string {
	sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	state, err := chromedp.Run(sctx, chromedp.Evaluate[string](`(() => {
		const text = (id) => { const e = document.getElementById(id); return e ? (e.hidden ? "(hidden) " : "") + e.textContent.trim().replace(/\s+/g, " ").slice(0, 300) : "(none)"; };
		return ["status: " + text("status"), "conflict: " + text("conflict"), "toasts: " + text("toasts"),
			"errors: " + [...document.querySelectorAll(".err")].map((e) => e.textContent).filter(Boolean).join("; "),
			"url: " + location.href].join("\n");
	})()`))
	if err != nil {
		return "(the page's state could not be read: " + err.Error() + ")"
	}
	if png, err := chromedp.Run(sctx, chromedp.CaptureScreenshot()); err == nil {
		name := "failed-" + strings.NewReplacer("/", "-", " ", "-").Replace(t.Name()+"-"+what) + ".png"
		if err := os.WriteFile(filepath.Join(shots(t), name), png, 0o644); err == nil {
			state += "\nscreenshot: " + name
		}
	}
	return state
}

func eval[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// stored is a polling expression that is true once the configuration id,
// as the API returns it, meets cond (an expression of c and its params p):
// each poll fetches it anew and looks at the last answer.
func stored(id, cond string) string {
	return `(fetch("/api/configurations/` + id + `").then(r => r.json()).then(c => { window.__seen = c; }),
		((c) => { if (!c || c.id !== "` + id + `") return false; const p = c.params; return ` + cond + `; })(window.__seen))`
}

func setValue(id, v string) chromedp.Action[chromedp.Void] {
	return chromedp.SetValue(chromedp.ID(id), v)
}

// createInForm opens the page and saves a new size×size configuration
// through the form, until it is open, done and shown.
func createInForm(t *testing.T, ctx context.Context, url, name, size string) {
	t.Helper()
	within(t, ctx, 20*time.Second, "create "+name,
		chromedp.Navigate(url+"/"),
		chromedp.WaitVisible(chromedp.CSS(".live.on")),
		setValue("name", name), setValue("width", size), setValue("height", size),
		chromedp.Click(chromedp.ID("save")),
		poll(`location.hash.length > 1 && document.querySelector("#list li .badge.done") !== null && !document.getElementById("image").hidden`),
	)
}

func TestBrowserCreateEditValidateAndOwners(t *testing.T) {
	ctx := browser(t)
	dir := shots(t)
	s := serve(t, t.TempDir(), "--render-goroutines", "1", "--max-size", "4096") // a deployment's own limit, which the page states

	within(t, ctx, 20*time.Second, "open the page",
		chromedp.Navigate(s.URL+"/"),
		chromedp.WaitVisible(chromedp.CSS(".live.on")),
	)
	shot(t, ctx, dir, "1-empty")

	// Create through the form: a render heavy enough to watch (off centre,
	// so no symmetry: about 1.5·10⁹ iterations).
	within(t, ctx, 10*time.Second, "fill the form",
		setValue("name", "Rabbit"),
		setValue("c-re", "-0.123"), setValue("c-im", "0.745"),
		setValue("center-re", "0.001"),
		setValue("width", "4096"), setValue("height", "4096"), setValue("depth", "119"),
		setValue("email", "browser@example.com"),
		chromedp.Click(chromedp.ID("save")),
		chromedp.WaitVisible(chromedp.CSS("#progress")),
	)
	// The list's row is updated in place while the render reports
	// progress: the element stays the one a click would land on.
	eval[bool](t, ctx, `document.querySelector("#list li").dataset.mark = "kept"; true`)
	var widths []string
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		w := eval[string](t, ctx, `document.getElementById("progress").hidden ? "hidden" : document.querySelector("#progress .bar").style.width`)
		if len(widths) == 0 || widths[len(widths)-1] != w {
			widths = append(widths, w)
			if w != "hidden" && w != "0%" && len(widths) < 4 {
				shot(t, ctx, dir, "2-progress")
			}
		}
		if w == "hidden" {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	moved := false
	for _, w := range widths {
		moved = moved || (w != "hidden" && w != "0%" && w != "100%" && w != "")
	}
	if !moved {
		t.Errorf("progress bar widths %v: want it to move between 0%% and 100%%", widths)
	}
	if mark := eval[string](t, ctx, `document.querySelector("#list li").dataset.mark || ""`); mark != "kept" {
		t.Errorf("the list's row was rebuilt during the render")
	}
	within(t, ctx, 30*time.Second, "image, status and e-mail",
		chromedp.WaitVisible(chromedp.CSS("#image")),
		poll(`document.getElementById("status").textContent === "done"`),
		chromedp.WaitVisible(chromedp.CSS("#mail li")),
	)
	// The user watched it finish: no toast tells them again.
	if toast := eval[string](t, ctx, `[...document.querySelectorAll(".toast")].map(t => t.textContent).join(" | ")`); strings.Contains(toast, "ready") {
		t.Errorf("a toast %q for the render the user watched finish", toast)
	}
	if link := eval[string](t, ctx, `document.querySelector("#mail li a")?.href || ""`); !strings.Contains(link, "/api/email/confirm?token=") {
		t.Errorf("the mailbox's link is not clickable: %q", link)
	}
	if size := eval[string](t, ctx, `document.getElementById("image").getAttribute("width") + "x" + document.getElementById("image").getAttribute("height")`); size != "4096x4096" {
		t.Errorf("the result image has no intrinsic size (%s): the page shifts when it loads", size)
	}
	if mail := eval[string](t, ctx, `document.querySelector("#mail li").textContent`); !strings.Contains(mail, "browser@example.com") {
		t.Errorf("mailbox shows %q", mail)
	}
	if ok := eval[bool](t, ctx, `document.getElementById("image").naturalWidth === 4096`); !ok {
		t.Errorf("the image did not load at 4096 px")
	}
	shot(t, ctx, dir, "3-done")
	// The address was new, so it got only the confirmation; once confirmed,
	// "E-mail me the result now" sends the finished render.
	if ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`fetch(document.querySelector("#mail li a").href, {method: "POST"}).then(r => r.ok)`,
		chromedp.EvalAwaitPromise)); err != nil || !ok {
		t.Fatalf("following the confirmation link: %v %v", ok, err)
	}
	within(t, ctx, 20*time.Second, "send me the result now",
		chromedp.WaitVisible(chromedp.ID("send-result")),
		chromedp.Click(chromedp.ID("send-result")),
		poll(`[...document.querySelectorAll(".toast")].some(t => t.textContent.includes("on its way to browser@example.com"))`),
		poll(`(document.getElementById("mail-refresh").click(),
			[...document.querySelectorAll("#mail .subject")].some(s => s.textContent === "Your Julia set is ready"))`),
	)
	shot(t, ctx, dir, "3-mailed")
	// The operator's page of its own counts the render.
	ops, cancelOps := chromedp.NewContext(ctx)
	defer cancelOps()
	if err := chromedp.Do(ops); err != nil {
		t.Fatal(err)
	}
	within(t, ops, 10*time.Second, "the operations page counts the render",
		chromedp.Navigate(s.URL+"/ops.html?token="+opsToken),
		chromedp.WaitVisible(chromedp.ID("ops-panel")),
		poll(`Number(document.getElementById("ops-rpm").textContent) >= 1`),
	)
	shot(t, ops, dir, "3-operations")
	firstSrc := eval[string](t, ctx, `document.getElementById("image").getAttribute("src")`)

	// Edit: the old image stays, marked outdated, until the new one lands.
	within(t, ctx, 10*time.Second, "edit",
		setValue("c-re", "-0.125"),
		chromedp.Click(chromedp.ID("save")),
		chromedp.WaitVisible(chromedp.ID("outdated")),
	)
	if src := eval[string](t, ctx, `document.getElementById("image").getAttribute("src")`); src != firstSrc {
		t.Errorf("while outdated the page shows %s, want the old image %s", src, firstSrc)
	}
	shot(t, ctx, dir, "4-outdated")
	within(t, ctx, 60*time.Second, "new image",
		chromedp.WaitNotVisible(chromedp.ID("outdated")),
		poll(fmt.Sprintf(`document.getElementById("image").getAttribute("src") !== %q && document.getElementById("image").complete`, firstSrc)),
	)
	shot(t, ctx, dir, "5-replaced")
	// Its row times the new version's render.
	within(t, ctx, 10*time.Second, "the row's times",
		poll(`/^queued \d.* · started \d.* · finished \d/.test(document.querySelector("#list li.selected .times").textContent)`))

	// A validation error appears next to its field and nothing is saved.
	count := eval[int](t, ctx, `document.querySelectorAll("#list li").length`)
	within(t, ctx, 10*time.Second, "invalid width",
		chromedp.Click(chromedp.ID("new")),
		setValue("name", "Too small"),
		setValue("width", "10"),
		chromedp.Click(chromedp.ID("save")),
		chromedp.WaitVisible(chromedp.CSS(`.err[data-field="params.width"]`)),
	)
	if msg := eval[string](t, ctx, `document.querySelector('.err[data-field="params.width"]').textContent`); !strings.Contains(msg, "between 16 and 4096") {
		t.Errorf("width error %q does not give the rule", msg)
	}
	if n := eval[int](t, ctx, `document.querySelectorAll("#list li").length`); n != count {
		t.Errorf("list has %d entries after a rejected save, want %d", n, count)
	}
	shot(t, ctx, dir, "6-validation")

	// Another browser profile is another owner: it sees none of this.
	other := browser(t)
	mine := "#" + eval[string](t, ctx, `document.querySelector("#list li").dataset.id`)
	within(t, other, 20*time.Second, "second owner, with the first owner's link",
		chromedp.Navigate(s.URL+"/"+mine),
		chromedp.WaitVisible(chromedp.CSS(".live.on")),
		chromedp.WaitVisible(chromedp.ID("list-empty")),
		poll(`[...document.querySelectorAll(".toast")].some(t => t.textContent.startsWith("Not found"))`),
	)
	if name := eval[string](t, other, `document.getElementById("name").value`); name != "" {
		t.Errorf("another owner's link opened a form with %q", name)
	}
	if n := eval[int](t, other, `document.querySelectorAll("#list li").length`); n != 0 {
		t.Errorf("another owner sees %d configurations, want 0", n)
	}
	if eval[bool](t, other, `document.getElementById("ops-panel") !== null`) {
		t.Errorf("the page carries the operations panel")
	}
	within(t, other, 10*time.Second, "a visitor on the operations page is asked for the token",
		chromedp.Navigate(s.URL+"/ops.html"),
		chromedp.WaitVisible(chromedp.ID("token-form")),
	)
	if eval[bool](t, other, `!document.getElementById("ops-panel").hidden`) {
		t.Errorf("a visitor without the operator token sees the operations numbers")
	}
	shot(t, other, dir, "7-other-owner")

	// On a phone-sized screen.
	within(t, ctx, 10*time.Second, "phone",
		chromedp.EmulateViewport(390, 844),
		chromedp.Navigate(s.URL+"/"),
		chromedp.WaitVisible(chromedp.CSS("#list li")),
	)
	shot(t, ctx, dir, "8-phone")
}

// Where no WebSocket can be opened (sam local start-api emulates none), the
// page polls instead: a render still shows its progress to done.
func TestBrowserPollsWithoutAWebSocket(t *testing.T) {
	ctx := browser(t)
	s := serve(t, t.TempDir(), "--render-goroutines", "1")
	onEveryPage(t, ctx, `window.WebSocket = function () { throw new Error("no WebSocket here"); };`)
	within(t, ctx, 20*time.Second, "open the page and save",
		chromedp.Navigate(s.URL+"/"),
		chromedp.WaitVisible(chromedp.CSS(".live.off")),
		setValue("name", "polled"),
		chromedp.Click(chromedp.ID("save")),
	)
	within(t, ctx, 30*time.Second, "the render shows done without a push",
		poll(`document.querySelector("#list li .badge")?.textContent === "done" && !document.getElementById("image").hidden`),
	)
	if got := eval[string](t, ctx, `document.getElementById("live").textContent`); got != "polling" {
		t.Errorf("the badge says %q, want polling", got)
	}
}

// openID is the id of the configuration the page's URL names.
func openID(t *testing.T, ctx context.Context) string {
	t.Helper()
	return eval[string](t, ctx, `location.hash.slice(1).split("?")[0]`)
}

// Edits are never lost between tabs, and never overwrite what the other
// tab changed: tab B has an unsaved name when tab A saves a new colormap;
// B merges by itself (A's colormap, its own name, unsaved) and says so, and
// saving keeps both. A field changed on both sides (depth) asks, showing
// both values; "Load theirs" sets B's edits aside and can put them back.
func TestBrowserTabsNeverLoseAnEdit(t *testing.T) {
	a := browser(t)
	dir := shots(t)
	s := serve(t, t.TempDir(), "--render-goroutines", "1")
	createInForm(t, a, s.URL, "shared", "64")
	id := openID(t, a)
	b, cancel := chromedp.NewContext(a) // another tab, the same owner
	defer cancel()
	if err := chromedp.Do(b); err != nil { // open it without a deadline, which would close it
		t.Fatal(err)
	}
	within(t, b, 20*time.Second, "tab B opens it and edits the name, unsaved",
		chromedp.Navigate(s.URL+"/#"+id),
		chromedp.WaitVisible(chromedp.CSS(".live.on")),
		poll(`document.getElementById("name").value === "shared"`),
		setValue("name", "mine, from tab B"),
	)
	within(t, a, 10*time.Second, "tab A changes the colormap and saves",
		chromedp.SetValue(chromedp.ID("colormap"), "magma"),
		chromedp.Click(chromedp.ID("save")),
	)
	within(t, b, 10*time.Second, "tab B merges by itself and says so",
		chromedp.WaitVisible(chromedp.ID("conflict")),
		poll(`document.getElementById("colormap").value === "magma"`),
	)
	shot(t, b, dir, "9-merged")
	if text := eval[string](t, b, `document.getElementById("conflict-text").textContent`); !strings.Contains(text, "colormap came from there") || !strings.Contains(text, "your name stayed") {
		t.Errorf("the notice %q does not say what came from where", text)
	}
	if name := eval[string](t, b, `document.getElementById("name").value`); name != "mine, from tab B" {
		t.Errorf("tab B's unsaved name became %q", name)
	}
	within(t, b, 10*time.Second, "tab B saves: both changes kept",
		chromedp.Click(chromedp.ID("conflict-ok")),
		chromedp.Click(chromedp.ID("save")),
		poll(stored(id, `c.name === "mine, from tab B" && p.colormap === "magma"`)),
	)

	// Depth changed on both sides: B is asked, with both values.
	within(t, b, 10*time.Second, "tab B edits the depth, unsaved",
		poll(`document.getElementById("conflict").hidden && document.getElementById("status").textContent === "done"`),
		setValue("depth", "300"), setValue("c-im", "0.3"),
	)
	within(t, a, 10*time.Second, "tab A saves another depth",
		poll(`document.getElementById("name").value === "mine, from tab B"`),
		setValue("depth", "500"),
		chromedp.Click(chromedp.ID("save")),
	)
	within(t, b, 10*time.Second, "tab B asks about the depth",
		poll(`document.querySelectorAll("#conflict-fields li").length === 1`),
	)
	shot(t, b, dir, "9-changed-on-both-sides")
	if text := eval[string](t, b, `document.getElementById("conflict-fields").textContent`); !strings.Contains(text, "depth") ||
		!strings.Contains(text, "yours: 300") || !strings.Contains(text, "theirs: 500") {
		t.Errorf("the question %q does not show both depths", text)
	}
	within(t, b, 10*time.Second, "Load theirs, then put the edits back",
		chromedp.Click(chromedp.ID("conflict-theirs")),
		poll(`document.getElementById("depth").value === "500" && document.getElementById("c-im").value !== "0.3"`),
		chromedp.WaitVisible(chromedp.ID("restore-mine")),
		chromedp.Click(chromedp.ID("restore-mine")),
		poll(`document.getElementById("depth").value === "300" && document.getElementById("c-im").value === "0.3"`),
	)
	within(t, b, 10*time.Second, "and saves them over theirs, choosing",
		chromedp.Click(chromedp.ID("save")),
		poll(stored(id, `p.depth === 300 && p.c.im === 0.3 && p.colormap === "magma"`)),
	)
	if hidden := eval[bool](t, b, `document.getElementById("conflict").hidden`); !hidden {
		t.Errorf("the notice stays after the choice")
	}
	// The list by keyboard: a row is a button; Enter opens it.
	within(t, a, 10*time.Second, "open a row by keyboard",
		chromedp.Click(chromedp.ID("new")),
		poll(`location.hash === ""`),
		chromedp.Focus(chromedp.CSS("#list li button")),
		chromedp.KeyEvent("\r"),
		poll(`location.hash.startsWith("#`+id+`?")`),
	)
	// Search by name and filter by status.
	visible := `[...document.querySelectorAll("#list li")].filter(li => !li.hidden).length`
	within(t, a, 15*time.Second, "search and filter the list",
		chromedp.Evaluate[chromedp.Void](`fetch("/api/configurations", {method: "POST", headers: {"Content-Type": "application/json"},
			body: JSON.stringify({name: "another", params: {c: {re: 0.3, im: 0.5}, width: 32, height: 32}})})`),
		poll(`document.querySelectorAll("#list li").length === 2`),
		setValue("search", "MINE"),
		chromedp.Evaluate[chromedp.Void](`document.getElementById("search").dispatchEvent(new Event("input"))`),
		poll(visible+` === 1 && !document.querySelector("#list li:not([hidden]) .name").textContent.includes("another")`),
		chromedp.Evaluate[chromedp.Void](`document.getElementById("search").value = "";
			document.getElementById("status-filter").value = "failed";
			document.getElementById("status-filter").dispatchEvent(new Event("change"))`),
		poll(visible+` === 0`),
		// The server filtered: the list holds none, and says why.
		poll(`!document.getElementById("list-empty").hidden &&
			document.getElementById("list-empty").textContent === "Nothing matches the search and filter."`),
		chromedp.Evaluate[chromedp.Void](`document.getElementById("status-filter").value = "";
			document.getElementById("status-filter").dispatchEvent(new Event("change"))`),
		poll(`document.querySelectorAll("#list li").length === 2`),
	)
}

// Explore by pointing: click zooms in ×2 about the point, shift-click and
// − zoom out, the wheel zooms about the cursor, drag pans, Reset view goes
// back; each gesture saves the view as a new version.
func TestBrowserExploresByPointing(t *testing.T) {
	ctx := browser(t)
	dir := shots(t)
	s := serve(t, t.TempDir(), "--render-goroutines", "1", "--max-work", "2000000000")
	createInForm(t, ctx, s.URL, "explore", "256")
	id := openID(t, ctx)
	within(t, ctx, 5*time.Second, "the limits beside the fields follow the size",
		setValue("width", "2048"), setValue("height", "2048"),
		chromedp.Evaluate[chromedp.Void](`document.getElementById("width").dispatchEvent(new Event("input"))`),
		poll(`document.getElementById("depth-hint").textContent === "1–476 at 2048×2048"`),
		setValue("width", "256"), setValue("height", "256"),
	)
	view := func() (re, im, zoom float64) {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Evaluate[[]float64](`fetch("/api/configurations/`+id+`").then(r => r.json()).then(c => [c.params.center.re, c.params.center.im, c.params.zoom])`,
			chromedp.EvalAwaitPromise))
		if err != nil {
			t.Fatal(err)
		}
		return v[0], v[1], v[2]
	}
	await := func(what, cond string) {
		t.Helper()
		within(t, ctx, 15*time.Second, what, poll(stored(id, cond)))
	}
	box := eval[[]float64](t, ctx, `(() => { const r = document.getElementById("image").getBoundingClientRect(); return [r.left, r.top, r.width, r.height]; })()`)
	x, y := box[0]+box[2]*0.75, box[1]+box[3]/2
	within(t, ctx, 10*time.Second, "click to zoom in", chromedp.MouseClickXY(x, y))
	// The point at three quarters of the width is x ≈ 0.506; zoomed ×2
	// about it, the centre moves halfway there.
	await("zoomed in about the point", `p.zoom === 2 && Math.abs(p.center.re - 0.2529) < 0.01 && Math.abs(p.center.im) < 0.01`)
	shot(t, ctx, dir, "10-explore-zoomed")
	re, _, _ := view()
	within(t, ctx, 10*time.Second, "− zooms out", chromedp.Focus(chromedp.ID("image")), chromedp.KeyEvent("-"))
	await("zoomed out", `p.zoom === 1`)
	within(t, ctx, 10*time.Second, "the wheel zooms in about the cursor",
		poll(`!document.getElementById("image").classList.contains("is-outdated")`),
		chromedp.Evaluate[chromedp.Void](`document.getElementById("image").dispatchEvent(new WheelEvent("wheel",
			{deltaY: -100, bubbles: true, cancelable: true, clientX: `+fmt.Sprint(x)+`, clientY: `+fmt.Sprint(y)+`}))`))
	await("zoomed by the wheel", `Math.abs(p.zoom - 1.25) < 1e-9`)
	within(t, ctx, 10*time.Second, "drag pans",
		chromedp.MouseEvent(input.DispatchMouseEventTypeMousePressed, x, y, chromedp.ButtonLeft),
		chromedp.MouseEvent(input.DispatchMouseEventTypeMouseMoved, x-30, y, chromedp.ButtonLeft),
		chromedp.MouseEvent(input.DispatchMouseEventTypeMouseMoved, x-60, y, chromedp.ButtonLeft),
		chromedp.MouseEvent(input.DispatchMouseEventTypeMouseReleased, x-60, y, chromedp.ButtonLeft))
	await("panned right by the drag", `p.center.re > `+fmt.Sprint(re/2)+` && Math.abs(p.zoom - 1.25) < 1e-9`)
	// Back below shows this version with its kept image: it must have been
	// rendered before the reset supersedes it (a version superseded first
	// is kept without one, and shown as "never rendered").
	await("the panned view rendered", `c.status === "done" && !c.outdated && Math.abs(p.zoom - 1.25) < 1e-9`)
	within(t, ctx, 20*time.Second, "reset", chromedp.Click(chromedp.ID("reset-view")))
	await("reset", `p.zoom === 1 && p.center.re === 0 && p.center.im === 0`)

	// The URL names the version; Back and Forward walk the versions, each a
	// place shown as it was (its kept image and parameters, read-only), and
	// nothing is saved by going there.
	within(t, ctx, 10*time.Second, "the URL names the view",
		poll(`location.hash.startsWith("#`+id+`?") && new URLSearchParams(location.hash.split("?")[1]).get("zoom") === "1"`))
	latest := eval[int](t, ctx, `Number(new URLSearchParams(location.hash.split("?")[1]).get("v"))`)
	within(t, ctx, 10*time.Second, "Back shows the panned version, read-only",
		chromedp.Evaluate[chromedp.Void](`setTimeout(() => history.back(), 0)`),
		poll(`!document.getElementById("place").hidden && document.getElementById("zoom").disabled &&
			Math.abs(Number(document.getElementById("zoom").value) - 1.25) < 1e-9 &&
			(document.getElementById("image").getAttribute("src") || "").includes("?h=")`),
	)
	shot(t, ctx, dir, "11-a-place")
	if latest < 5 {
		t.Errorf("the latest version is v%d after five gestures", latest)
	}
	await("nothing saved by going back", fmt.Sprintf(`c.version === %d && p.zoom === 1`, latest))
	within(t, ctx, 10*time.Second, "Forward to the current version",
		chromedp.Evaluate[chromedp.Void](`setTimeout(() => history.forward(), 0)`),
		poll(`document.getElementById("place").hidden && !document.getElementById("zoom").disabled &&
			document.getElementById("zoom").value === "1"`),
	)
	await("nothing saved by going forward", fmt.Sprintf(`c.version === %d`, latest))
	// The strip of versions: the current one first, earlier ones with
	// their thumbnails; choosing one shows it, and "Make this the current
	// version" puts it back (from its kept image: no render).
	within(t, ctx, 10*time.Second, "the versions, with thumbnails",
		poll(`document.querySelectorAll("#versions li").length >= 4 &&
			document.querySelector("#versions li button").getAttribute("aria-current") === "true" &&
			[...document.querySelectorAll("#versions img")].length >= 3 &&
			[...document.querySelectorAll("#versions img")].every(i => i.complete && i.naturalWidth === 128)`))
	shot(t, ctx, dir, "11-versions")
	within(t, ctx, 10*time.Second, "choose the zoomed-in version, then make it current",
		chromedp.Click(chromedp.CSS(`#versions button[title*="zoom 2 "]`)),
		poll(`!document.getElementById("place").hidden && document.getElementById("zoom").value === "2"`),
		chromedp.Click(chromedp.ID("place-current")),
	)
	await("the zoomed-in version back", fmt.Sprintf(`c.version === %d && p.zoom === 2 && c.status === "done" && !c.startedAt`, latest+1))
	// A link naming another view opens that view.
	within(t, ctx, 10*time.Second, "open a link naming a view",
		chromedp.Navigate("about:blank"), chromedp.Navigate(s.URL+"/#"+id+"?re=0.1&im=0&zoom=3"))
	await("the linked view", `p.zoom === 3 && p.center.re === 0.1`)
}

// A big render is tiled: the page shows its tiles filling in, the count
// of tiles done and the time left, then the image.
func TestBrowserShowsTilesFillingIn(t *testing.T) {
	ctx := browser(t)
	dir := shots(t)
	s := serve(t, t.TempDir(), "--render-goroutines", "1", "--tile-above", "100000", "--tile-size", "128")
	within(t, ctx, 30*time.Second, "a tiled render, seen filling in",
		chromedp.Navigate(s.URL+"/"),
		chromedp.WaitVisible(chromedp.CSS(".live.on")),
		setValue("name", "poster"), setValue("width", "2048"), setValue("height", "2048"), setValue("depth", "470"),
		chromedp.Click(chromedp.ID("save")),
		poll(`!document.getElementById("mosaic").hidden &&
			/ of 256 tiles/.test(document.querySelector("#progress .label").textContent) &&
			!/ 0 of 256 tiles/.test(document.querySelector("#progress .label").textContent)`),
	)
	// The mosaic is the picture coming, not squares of two colours: the
	// preview drawn under the tiles to come, with many colours.
	within(t, ctx, 20*time.Second, "the preview under the tiles",
		poll(`(() => { const c = document.getElementById("mosaic");
			if (c.hidden) return true; // finished already
			const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data, seen = new Set();
			for (let i = 0; i < d.length; i += 4 * 97) seen.add(d[i] + "," + d[i + 1] + "," + d[i + 2]);
			return seen.size > 40; })()`))
	shot(t, ctx, dir, "12-tiles")
	label := eval[string](t, ctx, `document.querySelector("#progress .label").textContent`)
	within(t, ctx, 60*time.Second, "the image, once every tile is done",
		poll(`!document.getElementById("image").hidden && document.getElementById("mosaic").hidden &&
			document.getElementById("image").naturalWidth === 2048`))
	t.Logf("while rendering: %q", label)
}

// TestBrowserTrainsAClassifier chooses the classifier kind on the page,
// sees a field error beside its field, trains it watching the loss curve
// grow, and finds the boundary, the figures and the weights' link; the
// kind of a saved configuration cannot be changed, and the image is not a
// view to explore.
func TestBrowserTrainsAClassifier(t *testing.T) {
	ctx := browser(t)
	s := serve(t, t.TempDir())
	dir := shots(t)
	chooseClassifier := `(() => { const k = document.getElementById("kind"); k.value = "classifier"; k.dispatchEvent(new Event("change")); return true; })()`
	within(t, ctx, 20*time.Second, "open the page",
		chromedp.Navigate(s.URL+"/"),
		chromedp.WaitVisible(chromedp.CSS(".live.on")))
	if !eval[bool](t, ctx, chooseClassifier) || !eval[bool](t, ctx, `document.getElementById("julia-fields").hidden && !document.querySelector('#kind-fields [data-kind="classifier"]').hidden`) {
		t.Fatal("choosing the classifier kind did not show its fields")
	}
	if got := eval[string](t, ctx, `document.getElementById("p-epochs").value`); got != "300" {
		t.Errorf("the epochs' default is %q, want the kind's 300", got)
	}
	within(t, ctx, 20*time.Second, "a learning rate out of bounds",
		setValue("name", "spiral net"), setValue("p-learningRate", "50"),
		chromedp.Click(chromedp.ID("save")),
		poll(`document.getElementById("p-learningRate").classList.contains("invalid") &&
			document.querySelector('#kind-fields .err[data-field="params.learningRate"]').textContent.includes("at most")`))
	within(t, ctx, 60*time.Second, "train it",
		setValue("p-learningRate", "0.03"), setValue("p-epochs", "600"), setValue("p-hidden", "16, x"),
		chromedp.Click(chromedp.ID("save")),
		poll(`document.getElementById("p-hidden").classList.contains("invalid") &&
			document.querySelector('#kind-fields .err[data-field="params.hidden"]').textContent !== ""`),
		setValue("p-hidden", "16, 16"),
		chromedp.Click(chromedp.ID("save")),
		poll(`location.hash.length > 1 && document.getElementById("metrics").textContent.startsWith("epoch ")`))
	shot(t, ctx, dir, "classifier-training")
	within(t, ctx, 60*time.Second, "trained",
		poll(`document.querySelector("#list li .badge.done") !== null && !document.getElementById("image").hidden &&
			document.getElementById("metrics").textContent.startsWith("accuracy") && !document.getElementById("weights").hidden`))
	shot(t, ctx, dir, "classifier-trained")
	if !eval[bool](t, ctx, `document.getElementById("kind").disabled && document.getElementById("kind").value === "classifier"`) {
		t.Error("the saved classifier's kind can be changed on the page")
	}
	if got := eval[string](t, ctx, `document.querySelector("#list li .size").textContent`); !strings.Contains(got, "spirals") {
		t.Errorf("the list names %q, want the dataset", got)
	}
	// A click on the boundary is no zoom: the image is not moved (a zoom
	// moves it at once, as it saves) and no new version is saved.
	within(t, ctx, 10*time.Second, "click the boundary", chromedp.Click(chromedp.ID("image")))
	if eval[bool](t, ctx, `document.getElementById("image").style.transform !== "" || document.getElementById("image").classList.contains("is-outdated") || document.getElementById("save").disabled`) {
		t.Error("a click on a classifier's image zoomed it as a view")
	}
	v, err := chromedp.Run(ctx, chromedp.Evaluate[float64](`fetch("/api/configurations/" + location.hash.slice(1).split("?")[0]).then(r => r.json()).then(c => c.version)`,
		chromedp.EvalAwaitPromise))
	if err != nil || v != 1 {
		t.Errorf("a click on a classifier's image made version %v (%v)", v, err)
	}
	weights, err := chromedp.Run(ctx, chromedp.Evaluate[string](`fetch(document.getElementById("weights").href).then(r => r.text())`, chromedp.EvalAwaitPromise))
	if err != nil || !strings.Contains(weights, `"layers"`) {
		t.Errorf("the weights' link served %.200s (%v)", weights, err)
	}
}

// TestBrowserRefusesTextThatIsNoNumber: text in a number box that is no
// number ("1e") is said beside its field and nothing is saved; the browser
// would read it as empty, and the default would be saved in its place.
func TestBrowserRefusesTextThatIsNoNumber(t *testing.T) {
	ctx := browser(t)
	s := serve(t, t.TempDir())
	within(t, ctx, 20*time.Second, "type 1e as depth",
		chromedp.Navigate(s.URL+"/"),
		chromedp.WaitVisible(chromedp.CSS(".live.on")),
		setValue("depth", ""),
		chromedp.SendKeys(chromedp.ID("depth"), "1e"),
		chromedp.Click(chromedp.ID("save")),
		poll(`document.getElementById("depth").classList.contains("invalid") &&
			document.querySelector('.err[data-field="params.depth"]').textContent.includes("must be a number")`))
	if n := eval[int](t, ctx, `document.querySelectorAll("#list li").length`); n != 0 || eval[string](t, ctx, `location.hash`) != "" {
		t.Errorf("%d configurations listed after a depth of 1e, want nothing saved", n)
	}
	saved, err := chromedp.Run(ctx, chromedp.Evaluate[int](`fetch("/api/configurations").then(r => r.json()).then(d => d.configurations.length)`, chromedp.EvalAwaitPromise))
	if err != nil || saved != 0 {
		t.Errorf("the server holds %d configurations (%v), want none", saved, err)
	}
}

// poll waits until the expression is truthy. The in-page timeout chromedp
// gives a poll (30 s) is switched off: the step's deadline, given to within,
// is the only one, so a step allowed 60 s on a loaded machine gets 60 s.
func poll(expr string) chromedp.Action[chromedp.Void] {
	return chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingTimeout(0))
}
