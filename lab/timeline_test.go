package lab_test

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/splinter-lab/splinter/internal/headless"
	"github.com/splinter-lab/splinter/lab"
	"github.com/splinter-lab/splinter/report"
	"github.com/splinter-lab/splinter/scenario"
)

// TestTimeline measures the default world at three dates from three
// vantages (CN, IR, RU) on a short list, on one world: the versions in
// force follow the dates (Russia has none before its register of
// 2012-11-01), Russia's index falls when the register and the Telegram
// block come in, the step says which versions and rules moved it, and the
// outputs hold the series; the report's chart, rendered in headless
// Chromium, draws one line per jurisdiction measured.
func TestTimeline(t *testing.T) {
	if testing.Short() {
		t.Skip("measures a world at three dates")
	}
	t.Parallel()
	spec, err := lab.Load(scenario.Default)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	list := filepath.Join(dir, "list.csv")
	rows := "url,category_code,category_description,date_added,source,notes\n"
	for _, u := range []string{"www.russia-free-media.com", "www.chatterbox-messenger.com", "www.lucky-star-casino.com",
		"www.freepress-herald.com", "www.farsi-radio-free.com", "www.plain-control-page.com"} {
		rows += "http://" + u + "/,NEWS,News,2020-01-01,,\n"
	}
	if err := os.WriteFile(list, []byte(rows), 0o644); err != nil {
		t.Fatal(err)
	}
	dates := []time.Time{
		time.Date(2011, 6, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2019, 6, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2022, 6, 1, 0, 0, 0, 0, time.UTC),
	}
	out := filepath.Join(dir, "out")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var seen []time.Time
	res, err := lab.Timeline(ctx, spec, lab.TimelineOptions{
		Dates: dates,
		Run:   lab.RunOptions{From: []string{"cn-client-1", "ir-client-1", "ru-client-1"}, List: list, Out: out, Lab: lab.Options{Seed: 3}},
		OnDate: func(i, n int, at time.Time, _ []lab.InForce) {
			seen = append(seen, at)
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(seen, dates) {
		t.Errorf("dates measured %v", seen)
	}
	version := func(d lab.DateResult, border string) string {
		for _, f := range d.Versions {
			if f.Border == border {
				return f.Policy
			}
		}
		return "?"
	}
	for i, want := range [][2]string{{"CN-2010", ""}, {"CN-2019", "RU-2018"}, {"CN-2021", "RU-2022"}} {
		d := res.Dates[i]
		if got := [2]string{version(d, "CN"), version(d, "RU")}; got != want {
			t.Errorf("%s: CN and RU apply %v, want %v", d.At.Format(time.DateOnly), got, want)
		}
		if len(d.Measurements) != 18 {
			t.Errorf("%s: %d measurements, want 18", d.At.Format(time.DateOnly), len(d.Measurements))
		}
		for _, m := range d.Measurements {
			if st := m.MeasurementStartTime; !strings.HasPrefix(st, d.At.Format(time.DateOnly)) {
				t.Errorf("%s: a measurement started at %s", d.At.Format(time.DateOnly), st)
				break
			}
		}
		t.Logf("%s: accuracy %d/%d", d.At.Format(time.DateOnly), d.Score.Agree, d.Score.Total)
	}
	var sum strings.Builder
	res.Timeline.WriteSummary(&sum)
	t.Log(sum.String())
	series := map[string]report.Series{}
	for _, s := range res.Timeline.Series {
		series[s.Jurisdiction] = s
	}
	ru := series["RU"].Index
	if len(ru) != 3 || ru[0] != 1 || ru[1] >= ru[0] {
		t.Errorf("RU index %v: want everything reachable in 2011, less in 2019", ru)
	}
	if cn := series["CN"].Index; len(cn) != 3 || cn[0] >= 1 {
		t.Errorf("CN index %v: the GFW blocked in 2011 already", cn)
	}
	var moved *report.Move
	for _, mv := range res.Timeline.Steps[0].Moves {
		if mv.Jurisdiction == "RU" {
			moved = &mv
		}
	}
	if moved == nil {
		t.Fatal("the 2011-2019 step does not say what moved Russia's index")
	}
	var versions, rules []string
	for _, c := range moved.Changes {
		versions = append(versions, c.Version)
	}
	for _, r := range moved.Rules {
		rules = append(rules, r.Rule)
	}
	if !slices.Contains(versions, "RU-2012") || !slices.Contains(versions, "RU-2018") {
		t.Errorf("RU's changes from 2011 to 2019 name versions %v, want RU-2012 and RU-2018", versions)
	}
	if !slices.ContainsFunc(rules, func(r string) bool { return strings.HasPrefix(r, "RU ru-registry-") }) {
		t.Errorf("RU's index moved by rules %v, want the register's", rules)
	}

	// The outputs.
	for _, name := range res.Files {
		if st, err := os.Stat(filepath.Join(out, name)); err != nil || st.Size() == 0 {
			t.Errorf("output %s: %v", name, err)
		}
	}
	var tl report.Timeline
	data, err := os.ReadFile(filepath.Join(out, "timeline.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &tl); err != nil || len(tl.Dates) != 3 || len(tl.Series) == 0 {
		t.Errorf("timeline.json: %v, %d dates", err, len(tl.Dates))
	}
	f, err := os.Open(filepath.Join(out, "timeline.csv"))
	if err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(f).ReadAll()
	f.Close()
	if err != nil || len(recs) < 1+3*3 || strings.Join(recs[0], ",") != "date,jurisdiction,category,index,policies" {
		t.Errorf("timeline.csv: %v, %d rows, header %v", err, len(recs), recs[0])
	}
	var sc struct {
		At       string        `json:"at"`
		Policies []lab.InForce `json:"policies"`
		Total    int           `json:"total"`
	}
	data, _ = os.ReadFile(filepath.Join(out, "score.json"))
	if err := json.Unmarshal(data, &sc); err != nil || sc.At != "2022-06-01T00:00:00Z" || sc.Total != 18 || len(sc.Policies) == 0 {
		t.Errorf("score.json: %v, at %q, total %d, %d policies", err, sc.At, sc.Total, len(sc.Policies))
	}

	browser := headless.Browser()
	if browser == "" {
		t.Skip("no Chromium on this machine (apt-get install chromium): the chart was not rendered")
	}
	got, err := headless.Eval(ctx, browser, filepath.Join(out, "report.html"), `
var out = [];
document.querySelectorAll("svg.timeline path.series").forEach(function (p) {
  if (p.getTotalLength() > 100 && p.getBBox().width > 100) out.push(p.getAttribute("data-jurisdiction"));
});
return out.sort().join(",");`)
	if err != nil {
		t.Fatal(err)
	}
	if got != "CN,IR,RU" {
		t.Errorf("the chart draws %q, want one line for each jurisdiction measured (CN,IR,RU)", got)
	}
}
