package report_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/splinter-lab/splinter/internal/browsertest"
	"github.com/splinter-lab/splinter/lab"
)

// TestReportInBrowser opens the report.html of a real run (the two-lands
// world, whose Chinese client's sites are poisoned, reset and filtered) in
// headless Chromium on a desktop and on a phone: nothing is wider than the
// screen, the rules that acted are cited, and the glossary is there.
func TestReportInBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("short mode: the browser tests run in the full pass")
	}
	b := browsertest.Start(t)
	spec, err := lab.Load("two-lands")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if _, err := lab.Run(context.Background(), spec, lab.RunOptions{Out: dir}); err != nil {
		t.Fatal(err)
	}
	page, err := os.ReadFile(filepath.Join(dir, "report.html"))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write(page)
	}))
	defer srv.Close()
	for _, width := range []int{1400, 400} {
		t.Run(fmt.Sprintf("%dpx", width), func(t *testing.T) {
			p := b.Page(t, width, 900)
			if st := p.Go(srv.URL + "/report.html"); st != 200 {
				t.Fatalf("status %d", st)
			}
			if over, why := p.Overflow(); over > 0 {
				t.Errorf("the report is %d px wider than the %d px screen (%s)", over, width, why)
			}
			if fetched := browsertest.Eval[[]string](p, `performance.getEntriesByType('resource').map(e => e.name)`); len(fetched) != 0 {
				t.Errorf("the report fetched %q", fetched)
			}
			rules, cited := p.Count("ul.cites > li"), p.Count("ul.cites > li cite")
			if rules == 0 || cited != rules {
				t.Errorf("%d rules listed, %d cited", rules, cited)
			}
			if text := p.Text("ul.cites"); !strings.Contains(text, "cn-dns-injector-1") || !strings.Contains(text, "(2024)") {
				t.Errorf("methods: %.500s", text)
			}
			if n := p.Count("#glossary dl.gl dt"); n < 30 {
				t.Errorf("glossary: %d terms", n)
			}
			t.Log(p.Screenshot("report"))
		})
	}
}
