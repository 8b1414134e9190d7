package explorer

import (
	"fmt"
	"strings"
	"testing"

	"github.com/splinter-lab/splinter/internal/browsertest"
)

// TestBrowser walks the explorer in headless Chromium as a person would,
// on a desktop (1400 px) and on a phone (400 px): the runs list, ticking
// two runs to compare them (China's border off, then on), a run's heatmap
// and the rules behind it, a square of the heatmap, a measurement, the
// timeline and the glossary. No page may be wider than the screen, and
// each is kept as a screenshot (SPLINTER_ARTIFACTS, else the test's
// temporary folder).
func TestBrowser(t *testing.T) {
	a, _ := newAPI(t) // skips in short mode
	b := browsertest.Start(t)
	var cmp ComparisonDoc
	a.get("/api/v1/compare?a="+runOff+"&b="+runOn, 200, &cmp)
	var heat Heatmap
	a.get("/api/v1/runs/"+runOn+"/heatmap", 200, &heat)
	base := a.srv.URL
	for _, width := range []int{1400, 400} {
		t.Run(fmt.Sprintf("%dpx", width), func(t *testing.T) {
			p := b.Page(t, width, 900)
			// shown checks what every page must be: wide no more than the
			// screen, fetching nothing but its own files; and keeps it.
			shown := func(name string) {
				t.Helper()
				if over, why := p.Overflow(); over > 0 {
					t.Errorf("%s: %d px wider than the %d px screen (%s)", name, over, width, why)
				}
				if foreign := browsertest.Eval[[]string](p, fmt.Sprintf(`performance.getEntriesByType('resource').map(e => e.name).filter(n => !n.startsWith(%q))`, base)); len(foreign) > 0 {
					t.Errorf("%s fetched %v", name, foreign)
				}
				t.Logf("%s: %s", name, p.Screenshot(name))
			}
			has := func(sel string, want ...string) {
				t.Helper()
				// innerText as shown: some labels are upper-cased by CSS.
				text := strings.ToLower(p.Text(sel))
				for _, w := range want {
					if !strings.Contains(text, strings.ToLower(w)) {
						t.Errorf("%s lacks %q: %.400s", sel, w, text)
					}
				}
			}

			// The runs list.
			if st := p.Go(base + "/"); st != 200 {
				t.Fatalf("runs list: status %d", st)
			}
			if n := p.Count("#runs tbody tr"); n != 2 {
				t.Errorf("runs list: %d rows, want 2", n)
			}
			has("#runs", runOn, runOff, "China's national border on", "2024-06-01")
			shown("runs")

			// Ticking two runs compares them, the older as A.
			browsertest.Eval[bool](p, `(() => { const c = document.querySelector('input.pick[value="`+runOn+`"]'); c.click(); return c.checked })()`)
			if st := p.Click(`input.pick[value="` + runOff + `"]`); st != 200 {
				t.Fatalf("compare: status %d", st)
			}
			if loc := browsertest.Eval[string](p, `location.pathname + location.search`); loc != "/compare?a="+runOff+"&b="+runOn {
				t.Errorf("ticking two runs led to %s", loc)
			}
			has("#changed", fmt.Sprint(cmp.Changed))
			if n := p.Count("#changes tbody tr"); n != len(cmp.Changes) {
				t.Errorf("compare: %d changed measurements listed, want %d", n, len(cmp.Changes))
			}
			has("#changes", "cn-client-1", "accessible", "dns")
			has("#by-cell", "CN", "NEWS", "-100")
			if d := browsertest.Eval[string](p, `[...document.querySelectorAll('#by-category tbody tr')].find(r => r.querySelector('.code').textContent === 'NEWS').lastElementChild.textContent`); !strings.HasPrefix(d, "-") {
				t.Errorf("compare: NEWS changed by %q, want a fall", d)
			}
			shown("compare")

			// A run: its heatmap and how each jurisdiction blocks.
			if st := p.Go(base + "/runs/" + runOn); st != 200 {
				t.Fatalf("run: status %d", st)
			}
			if n := p.Count("table.heat a[data-cc=CN]"); n < 31 {
				t.Errorf("heatmap: %d squares for CN, want every category and all", n)
			}
			var cnReach, cnTotal int64
			for _, c := range heat.Cells {
				if c.CC == "CN" {
					cnReach += reachable(c)
					cnTotal += c.Total
				}
			}
			has(`table.heat a[data-cc=CN][data-category=all]`, fmt.Sprintf("%.0f%%", 100*float64(cnReach)/float64(cnTotal)))
			has(`table.heat a[data-cc=US][data-category=all]`, "100%")
			has(`table.heat a[data-cc=CN][data-category=NEWS]`, "0%")
			has("#jur-CN ul.rules", "cn-dns-injector", "Triplet Censors", "(20")
			if n, m := p.Count("#jur-CN ul.rules > li"), p.Count("#jur-CN ul.rules > li cite"); n == 0 || m != n {
				t.Errorf("China's rules: %d listed, %d cited", n, m)
			}
			has("#jur-US", "No border decision")
			shown("run")

			// A square leads to its measurements.
			if st := p.Click(`table.heat a[data-cc=CN][data-category=NEWS]`); st != 200 {
				t.Fatalf("measurements: status %d", st)
			}
			rows := p.Count("#measurements tbody tr")
			if rows == 0 || p.Count("#measurements tbody .pill") < rows {
				t.Errorf("CN × NEWS: %d rows", rows)
			}
			has("#measurements tbody", "dns")
			if strings.Contains(p.Text("#measurements tbody"), "accessible") {
				t.Errorf("CN × NEWS with the border on lists an accessible measurement")
			}
			shown("measurements")

			// A measurement: its evidence chain and the decisions behind it.
			if st := p.Click(`#measurements tbody td a`); st != 200 {
				t.Fatalf("measurement: status %d", st)
			}
			if n := p.Count("ol.chain li.border"); n == 0 {
				t.Errorf("measurement: no border decision in the evidence chain")
			}
			has("#decisions", "cn-dns-injector", "dns-inject", "Triplet Censors")
			if n, m := p.Count("ol.decisions > li"), p.Count("ol.decisions > li cite"); n == 0 || m != n {
				t.Errorf("measurement: %d decisions, %d cited", n, m)
			}
			has(".verdicts", "measured", "dns", "truth")
			if href := browsertest.Eval[string](p, `document.getElementById('permalink').getAttribute('href')`); href != browsertest.Eval[string](p, `location.pathname`) {
				t.Errorf("the measurement's permanent link %s is not its address", href)
			}
			shown("measurement")

			// The timeline: both runs, per jurisdiction.
			if st := p.Go(base + "/timeline"); st != 200 {
				t.Fatalf("timeline: status %d", st)
			}
			if n := p.Count("#timeline-chart circle"); n != 4 {
				t.Errorf("timeline: %d points, want 4 (CN and US on two dates)", n)
			}
			has("#timeline", "2024-05-01", "2024-06-01", runOff, runOn)
			shown("timeline")

			// The glossary.
			if st := p.Go(base + "/glossary"); st != 200 {
				t.Fatalf("glossary: status %d", st)
			}
			if n := p.Count("#verdicts dt"); n != len(verdicts) {
				t.Errorf("glossary: %d verdicts, want %d", n, len(verdicts))
			}
			has("#methods", "dns-inject", "rst", "blockpage")
			shown("glossary")

			// A run that does not exist.
			if st := p.Go(base + "/runs/atlantis"); st != 404 {
				t.Errorf("/runs/atlantis: status %d", st)
			}
			has("main", "not found")
		})
	}
}
