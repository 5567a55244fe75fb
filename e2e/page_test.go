package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
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

// countLists counts the page's requests for its list (window.__lists).
// and keeps its WebSockets (window.__sockets).
const countLists = `window.__lists = 0; { const f = window.fetch;
	window.fetch = (u, ...rest) => { if (/\/api\/configurations(\?|$)/.test(String(u))) window.__lists++; return f(u, ...rest); }; }
	window.__sockets = []; window.WebSocket = class extends WebSocket { constructor(...a) { super(...a); window.__sockets.push(this); } };`

// TestBrowserLoadsTheListOnce: a page with configurations asks for its list
// once on load, not once more when its push connection opens; a reconnect
// asks again, to catch up.
func TestBrowserLoadsTheListOnce(t *testing.T) {
	ctx := browser(t)
	s := serve(t, t.TempDir(), "--render-goroutines", "1")
	onEveryPage(t, ctx, countLists)
	createInForm(t, ctx, s.URL, "first", "64")
	within(t, ctx, 20*time.Second, "reload",
		chromedp.Reload(),
		chromedp.WaitVisible(chromedp.CSS(".live.on")),
		chromedp.Poll[chromedp.Void](`document.querySelectorAll("#list li").length === 1 && !document.getElementById("image").hidden`),
	)
	if n := eval[int](t, ctx, `window.__lists`); n != 1 {
		t.Errorf("the list was fetched %d times on load, want once", n)
	}
	within(t, ctx, 20*time.Second, "a reconnect catches up",
		chromedp.Evaluate[chromedp.Void](`window.__lists = 0; window.__sockets.at(-1).close()`),
		chromedp.Poll[chromedp.Void](`window.__lists === 1 && window.__sockets.length === 2 && document.getElementById("live").classList.contains("on")`),
	)
}
