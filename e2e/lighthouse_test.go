package e2e

import (
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/longrun/longrun/internal/testutil"
)

// lighthouse is the pinned Lighthouse that make deps installs
// (e2e/lighthouse/package-lock.json).
const lighthouse = "lighthouse/node_modules/.bin/lighthouse"

// The scores the page must keep, with a finished configuration open, as a
// phone with Lighthouse's default (simulated) throttling loads it.
var lighthouseFloor = map[string]float64{"accessibility": 1, "best-practices": 1, "performance": 0.95}

// TestLighthouse audits the page with a finished configuration open and
// fails below the floor; the scores and the report go to
// $LONGRUN_TEST_OUTPUT/lighthouse (make test prints the scores).
func TestLighthouse(t *testing.T) {
	if _, err := os.Stat(chromium); err != nil {
		t.Skipf("Lighthouse needs Chromium at %s (apt-get install chromium): %v", chromium, err)
	}
	if _, err := os.Stat(lighthouse); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("Lighthouse is not installed (make deps installs it): %v", err)
		}
		t.Skipf("Lighthouse is not installed (make deps installs it): %v", err)
	}
	s := serve(t, t.TempDir(), "--render-goroutines", "1")
	c := testutil.NewClient(t, s.URL)
	v := c.Create(map[string]any{"name": "audited", "params": testutil.Params(-0.7, 0.27015, "width", 512, "height", 512)})
	v = c.Await(v.ID, 30*time.Second, "done", testutil.Done)
	u, _ := url.Parse(s.URL)
	var cookies []string
	for _, ck := range c.HTTP.Jar.Cookies(u) {
		cookies = append(cookies, ck.Name+"="+ck.Value)
	}
	headers, _ := json.Marshal(map[string]string{"Cookie": strings.Join(cookies, "; ")})

	dir := filepath.Join(t.TempDir())
	if out := os.Getenv("LONGRUN_TEST_OUTPUT"); out != "" {
		dir = filepath.Join(out, "lighthouse")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	report := filepath.Join(dir, "report.json")
	cmd := exec.Command(lighthouse, s.URL+"/#"+v.ID,
		"--chrome-path="+chromium,
		"--chrome-flags=--headless=new --no-sandbox --disable-gpu --disable-dev-shm-usage --disable-background-networking --disable-component-update --disable-sync --no-first-run --user-data-dir="+t.TempDir(),
		"--extra-headers="+string(headers),
		"--only-categories=performance,accessibility,best-practices",
		"--output=json", "--output-path="+report, "--quiet")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("lighthouse: %v\n%s", err, out)
	}
	b, err := os.ReadFile(report)
	if err != nil {
		t.Fatal(err)
	}
	var r struct {
		Categories map[string]struct {
			Score float64 `json:"score"`
		} `json:"categories"`
		Audits map[string]struct {
			Score        *float64 `json:"score"`
			Mode         string   `json:"scoreDisplayMode"`
			DisplayValue string   `json:"displayValue"`
		} `json:"audits"`
	}
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	var summary strings.Builder
	fmt.Fprintf(&summary, "Lighthouse (phone, simulated throttling), a finished 512² configuration open:")
	for _, cat := range []string{"performance", "accessibility", "best-practices"} {
		fmt.Fprintf(&summary, " %s %.0f", cat, r.Categories[cat].Score*100)
	}
	summary.WriteString("\n")
	for id, a := range r.Audits {
		if a.Score != nil && *a.Score < 1 && a.Mode != "informative" && a.Mode != "notApplicable" {
			fmt.Fprintf(&summary, "  below full marks: %s %.2f %s\n", id, *a.Score, a.DisplayValue)
		}
	}
	t.Log(summary.String())
	os.WriteFile(filepath.Join(dir, "scores.txt"), []byte(summary.String()), 0o644)
	for cat, floor := range lighthouseFloor {
		if got := r.Categories[cat].Score; got < floor {
			t.Errorf("%s %.0f, below %.0f (report: %s)", cat, got*100, floor*100, report)
		}
	}
}
