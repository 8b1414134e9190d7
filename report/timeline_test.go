package report

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/splinter-lab/splinter/border"
	"github.com/splinter-lab/splinter/internal/headless"
	"github.com/splinter-lab/splinter/scenario"
	"github.com/splinter-lab/splinter/score"
)

// dated makes the report of one date: reachable of 10 measurements per
// jurisdiction, a rule count, the policies in force.
func dated(at time.Time, reach map[string]int, rules map[string]int, policies ...Policy) *Report {
	r := &Report{Scenario: "test-world", At: at, Policies: policies, Score: &score.Result{},
		Categories: []scenario.Category{{Code: "NEWS", Name: "News Media"}}}
	for _, code := range []string{"CN", "IR", "RU"} {
		j := Jurisdiction{Code: code, Name: "Land " + code, Total: 10, Reachable: reach[code], Rules: map[RuleAction]int{}}
		for rule, n := range rules {
			if strings.HasPrefix(rule, code+" ") {
				// "CN cn-fully-encrypted (drop)"
				b, rest, _ := strings.Cut(rule, " ")
				id, action, _ := strings.Cut(rest, " (")
				j.Rules[RuleAction{Border: b, Rule: id, Action: border.ActionKind(strings.TrimSuffix(action, ")"))}] = n
			}
		}
		r.Jurisdictions = append(r.Jurisdictions, j)
		r.Cells = append(r.Cells, []Cell{{Total: 10, Reachable: reach[code]}})
	}
	return r
}

func day(s string) time.Time {
	t, _ := time.Parse(time.DateOnly, s)
	return t
}

func testTimeline() *Timeline {
	fet := Change{Date: day("2021-11-01"), Jurisdiction: "CN", Border: "CN", Version: "CN-2021", Rule: "cn-fully-encrypted",
		What: "adds rule cn-fully-encrypted", Source: "USENIX Security 2023", Year: 2022}
	tspu := Change{Date: day("2022-03-04"), Jurisdiction: "RU", Border: "RU", Version: "RU-2022", Rule: "ru-tspu-sni",
		What: "adds rule ru-tspu-sni", Source: "TSPU (IMC 2022)", Year: 2022}
	return BuildTimeline([]Point{
		{Date: day("2021-06-01"), Report: dated(day("2021-06-01"), map[string]int{"CN": 8, "IR": 5, "RU": 9}, map[string]int{"CN cn-dns (dns-inject)": 2},
			Policy{Border: "CN", Jurisdiction: "CN", Name: "CN-2020", History: "CN", Since: "2020-07-29", Follows: true})},
		{Date: day("2022-06-01"), Report: dated(day("2022-06-01"), map[string]int{"CN": 5, "IR": 5, "RU": 6},
			map[string]int{"CN cn-dns (dns-inject)": 2, "CN cn-fully-encrypted (drop)": 3, "RU ru-tspu-sni (drop)": 3},
			Policy{Border: "CN", Jurisdiction: "CN", Name: "CN-2021", History: "CN", Since: "2021-11-01", Follows: true}), Changes: []Change{fet, tspu}},
		{Date: day("2024-06-01"), Report: dated(day("2024-06-01"), map[string]int{"CN": 8, "IR": 5, "RU": 6},
			map[string]int{"CN cn-dns (dns-inject)": 2, "RU ru-tspu-sni (drop)": 3})},
	})
}

// TestTimeline: the index series per jurisdiction and category, and per
// step the changes at each jurisdiction's borders and the rules whose
// decisions moved its index.
func TestTimeline(t *testing.T) {
	tl := testTimeline()
	if len(tl.Series) != 3 || len(tl.Dates) != 3 || len(tl.Steps) != 2 {
		t.Fatalf("%d series, %d dates, %d steps", len(tl.Series), len(tl.Dates), len(tl.Steps))
	}
	cn := tl.Series[0]
	if cn.Jurisdiction != "CN" || cn.Index[0] != 0.8 || cn.Index[1] != 0.5 || cn.Index[2] != 0.8 || cn.ByCategory["NEWS"][1] != 0.5 {
		t.Errorf("CN series %+v", cn)
	}
	if got := cn.Policies[1]; len(got) != 1 || got[0] != "CN=CN-2021" {
		t.Errorf("CN policies at the second date: %v", got)
	}
	st := tl.Steps[0]
	if len(st.Moves) != 2 {
		t.Fatalf("first step moves %+v, want CN and RU", st.Moves)
	}
	mv := st.Moves[0]
	if mv.Jurisdiction != "CN" || mv.Before != 0.8 || mv.After != 0.5 || len(mv.Changes) != 1 || mv.Changes[0].Rule != "cn-fully-encrypted" {
		t.Errorf("CN's move %+v", mv)
	}
	if len(mv.Rules) != 1 || mv.Rules[0] != (RuleCount{Rule: "CN cn-fully-encrypted (drop)", Before: 0, After: 3}) {
		t.Errorf("CN's rules %+v", mv.Rules)
	}
	if m := tl.Steps[1].Moves; len(m) != 1 || m[0].Jurisdiction != "CN" || len(m[0].Changes) != 0 {
		t.Errorf("second step moves %+v, want CN's recovery only", m)
	}
	var sum bytes.Buffer
	tl.WriteSummary(&sum)
	if !strings.Contains(strings.Join(strings.Fields(sum.String()), " "), "2022-06-01 50% 50% 60%") {
		t.Errorf("summary lacks the 2022-06-01 row:\n%s", sum.String())
	}
	for _, want := range []string{"adds rule cn-fully-encrypted [USENIX Security 2023, 2022]", "CN cn-fully-encrypted (drop)"} {
		if !strings.Contains(sum.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, sum.String())
		}
	}
	if _, err := json.Marshal(tl); err != nil {
		t.Error(err)
	}
}

// TestTimelineChart renders a timeline's report.html in headless Chromium
// and checks that the chart is drawn: one step line per jurisdiction, each
// with a length and a horizontal extent, the change markers with their
// citations as tooltips, a legend entry per jurisdiction.
func TestTimelineChart(t *testing.T) {
	tl := testTimeline()
	r := dated(day("2024-06-01"), map[string]int{"CN": 8, "IR": 5, "RU": 6}, nil)
	r.Timeline = tl
	var b bytes.Buffer
	if err := r.WriteHTML(&b); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	for _, want := range []string{`<section id="timeline">`, `class="series" data-jurisdiction="CN"`, `class="series" data-jurisdiction="RU"`,
		"2021-11-01 CN\nCN CN-2021: adds rule cn-fully-encrypted [USENIX Security 2023, 2022]", "World date <b>2024-06-01</b>"} {
		if !strings.Contains(page, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	browser := headless.Browser()
	if browser == "" {
		t.Skip("no Chromium on this machine (apt-get install chromium): the chart was not rendered")
	}
	file := filepath.Join(t.TempDir(), "report.html")
	if err := os.WriteFile(file, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := headless.Eval(t.Context(), browser, file, `
var svg = document.querySelector("svg.timeline");
var r = {series: {}, changes: [], legend: svg.querySelectorAll(".legend-item").length, width: svg.getBoundingClientRect().width};
svg.querySelectorAll("path.series").forEach(function (p) {
  var b = p.getBBox();
  r.series[p.getAttribute("data-jurisdiction")] = {w: b.width, len: p.getTotalLength()};
});
svg.querySelectorAll("circle.change").forEach(function (c) { r.changes.push(c.querySelector("title").textContent); });
return JSON.stringify(r);`)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Series map[string]struct {
			W   float64 `json:"w"`
			Len float64 `json:"len"`
		}
		Changes []string
		Legend  int
		Width   float64
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	t.Logf("rendered: %s", out)
	if len(got.Series) != 3 {
		t.Errorf("%d series drawn, want one per jurisdiction (3)", len(got.Series))
	}
	for code, s := range got.Series {
		if s.W < 100 || s.Len < 100 {
			t.Errorf("series %s drawn %.0f wide, %.0f long", code, s.W, s.Len)
		}
	}
	if got.Legend != 3 || got.Width < 500 {
		t.Errorf("legend %d entries, chart %.0f px wide", got.Legend, got.Width)
	}
	if len(got.Changes) != 2 || !strings.Contains(strings.Join(got.Changes, "\n"), "TSPU (IMC 2022)") {
		t.Errorf("change markers %q", got.Changes)
	}
}
