package store_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/splinter-lab/splinter/border"
	"github.com/splinter-lab/splinter/probe"
	"github.com/splinter-lab/splinter/profiles"
	"github.com/splinter-lab/splinter/score"
	"github.com/splinter-lab/splinter/store"
)

// fixture is an excerpt of a real run (splinter run --from CN,US): 4 sites
// from 3 vantages, and the decisions the borders took about those sites.
type fixture struct {
	ms  []*probe.Measurement
	ds  []border.Decision
	res *score.Result
}

func loadFixture(t testing.TB) fixture {
	t.Helper()
	var f fixture
	readLines(t, "testdata/measurements.jsonl", func(b []byte) {
		m := new(probe.Measurement)
		if err := json.Unmarshal(b, m); err != nil {
			t.Fatal(err)
		}
		f.ms = append(f.ms, m)
	})
	readLines(t, "testdata/decisions.jsonl", func(b []byte) {
		var d border.Decision
		if err := json.Unmarshal(b, &d); err != nil {
			t.Fatal(err)
		}
		f.ds = append(f.ds, d)
	})
	f.res = score.Score(f.ms, f.ds)
	return f
}

func readLines(t testing.TB, path string, f func([]byte)) {
	t.Helper()
	fh, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	sc := bufio.NewScanner(fh)
	sc.Buffer(nil, 1<<24)
	for sc.Scan() {
		f(sc.Bytes())
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
}

// dialects runs f against each database: SQLite always, PostgreSQL and
// ClickHouse when their servers can be had.
func dialects(t *testing.T, f func(t *testing.T, dsn string)) {
	t.Run("sqlite", func(t *testing.T) {
		f(t, filepath.Join(t.TempDir(), "splinter.db"))
	})
	t.Run("postgres", func(t *testing.T) {
		skipShort(t)
		f(t, postgresDSN(t))
	})
	t.Run("clickhouse", func(t *testing.T) {
		skipShort(t)
		f(t, clickhouseDSN(t))
	})
}

// skipShort skips the tests against database servers in -short mode (CI's
// race pass): the full pass runs them, and the code they add to SQLite's is
// the dialect's SQL, not concurrency.
func skipShort(t *testing.T) {
	if testing.Short() {
		t.Skip("short mode: the database servers are tested by the full run")
	}
}

func open(t testing.TB, dsn string) *store.Store {
	t.Helper()
	s, err := store.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func cnRules(t testing.TB) ([]store.Rule, []store.Profile) {
	t.Helper()
	var rules []store.Rule
	var profs []store.Profile
	for _, name := range []string{"CN", "CN-henan"} {
		p, err := profiles.Load(name)
		if err != nil {
			t.Fatal(err)
		}
		// The fixture's decisions were recorded when a profile was one
		// policy named after its censor; a history's versions are named
		// CN-2025 and so on.
		p.Name = name
		rules = append(rules, store.RulesOf(p)...)
		profs = append(profs, store.ProfileOf(p, "test"))
	}
	return rules, profs
}

func testRun(t testing.TB, id string, simulated time.Time) store.Run {
	rules, profs := cnRules(t)
	return store.Run{ID: id, Scenario: "splinternet", Simulated: simulated, Created: simulated.Add(time.Hour),
		SoftwareName: "splinter", SoftwareVersion: "test", Shards: 1, Profiles: profs, Rules: rules,
		Labels: map[string]string{"from": "CN,US"}}
}

// writeRun writes a whole run: measurements and decisions as they come,
// then the scoring.
func writeRun(t testing.TB, s *store.Store, run store.Run, ms []*probe.Measurement, ds []border.Decision, opts ...store.WriterOptions) {
	t.Helper()
	ctx := context.Background()
	w, err := s.Begin(ctx, run, store.Part{Health: store.CurrentHealth()}, opts...)
	if err != nil {
		t.Fatal(err)
	}
	for i, m := range ms {
		if err := w.Measurement(m); err != nil {
			t.Fatal(err)
		}
		if i < len(ds) {
			if err := w.Decision(ds[i]); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, d := range ds[min(len(ms), len(ds)):] {
		if err := w.Decision(d); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Result(score.Score(ms, ds)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(ctx, store.Complete, store.CurrentHealth()); err != nil {
		t.Fatal(err)
	}
}

var jan2024 = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

func TestRunRoundTrip(t *testing.T) {
	f := loadFixture(t)
	dialects(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		s := open(t, dsn)
		// A small batch so that the run is written in several transactions.
		writeRun(t, s, testRun(t, "r1", jan2024), f.ms, f.ds, store.WriterOptions{BatchSize: 7})

		runs, err := s.Runs(ctx, store.RunQuery{})
		if err != nil {
			t.Fatal(err)
		}
		if len(runs) != 1 {
			t.Fatalf("runs: %+v", runs)
		}
		r := runs[0]
		if r.ID != "r1" || r.Status != store.Complete || r.Measurements != int64(len(f.ms)) || r.Decisions != int64(len(f.ds)) ||
			!r.Simulated.Equal(jan2024) || r.Scenario != "splinternet" || len(r.Profiles) != 2 || r.Labels["from"] != "CN,US" ||
			len(r.Parts) != 1 || r.Parts[0].Health.CPUs == 0 || r.Parts[0].EndHealth == nil || r.Parts[0].Finished.IsZero() {
			t.Errorf("run: %+v", r)
		}

		// Everything, then by each filter, counted against the fixture.
		count := func(keep func(m *probe.Measurement) bool) int64 {
			n := int64(0)
			for _, m := range f.ms {
				if keep(m) {
					n++
				}
			}
			return n
		}
		for _, tc := range []struct {
			name string
			q    store.Query
			keep func(m *probe.Measurement) bool
		}{
			{"all", store.Query{}, func(*probe.Measurement) bool { return true }},
			{"cc", store.Query{CC: "CN"}, func(m *probe.Measurement) bool { return m.ProbeCC == "CN" }},
			{"vantage", store.Query{Vantage: "cn-henan-client-1"}, func(m *probe.Measurement) bool { return m.TestKeys.Vantage.Host == "cn-henan-client-1" }},
			{"category", store.Query{Category: "NEWS"}, func(m *probe.Measurement) bool { return m.Annotations["category_code"] == "NEWS" }},
			{"verdict", store.Query{Verdict: probe.DNS}, func(m *probe.Measurement) bool { return m.TestKeys.Verdict == probe.DNS }},
			{"domain", store.Query{Domain: "www.freepress-herald.com"}, func(m *probe.Measurement) bool { return strings.Contains(m.Input, "freepress-herald") }},
			{"truth", store.Query{Truth: probe.DNS, CC: "CN"}, func(m *probe.Measurement) bool { return m.TestKeys.Verdict == probe.DNS }},
			{"disagree", store.Query{Disagree: true}, func(*probe.Measurement) bool { return false }},
		} {
			q := tc.q
			q.Run = "r1"
			page, err := s.Measurements(ctx, q)
			if err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			want := count(tc.keep)
			if page.Total != want || int64(len(page.Items)) != want {
				t.Errorf("%s: total %d, %d items, want %d", tc.name, page.Total, len(page.Items), want)
			}
			for _, it := range page.Items {
				if it.Truth == "" || it.Agree == nil || !*it.Agree || it.UID != store.UID("r1", it.Key) {
					t.Errorf("%s: item %+v", tc.name, it)
				}
			}
		}
		if f.res.Agree != f.res.Total {
			t.Fatalf("the fixture scores %d/%d", f.res.Agree, f.res.Total)
		}

		// Keyset paging visits every measurement once, in key order.
		var keys []store.Key
		q := store.Query{Run: "r1", Limit: 5}
		for {
			page, err := s.Measurements(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			for _, it := range page.Items {
				keys = append(keys, it.Key)
			}
			if page.Next == nil {
				break
			}
			q.After = page.Next
		}
		if len(keys) != len(f.ms) || !slices.IsSortedFunc(keys, compareKeys) || len(slices.CompactFunc(slices.Clone(keys), func(a, b store.Key) bool { return a == b })) != len(keys) {
			t.Errorf("paging: %v", keys)
		}
		// Offset paging agrees.
		page, err := s.Measurements(ctx, store.Query{Run: "r1", Limit: 3, Offset: 4})
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Items) != 3 || page.Items[0].Key != keys[4] {
			t.Errorf("offset page: %+v", page.Items)
		}

		// One DNS-blocked measurement, with everything behind it.
		var blocked *probe.Measurement
		for _, m := range f.ms {
			if m.TestKeys.Vantage.Host == "cn-client-1" && m.TestKeys.Verdict == probe.DNS {
				blocked = m
				break
			}
		}
		k := store.Key{Vantage: "cn-client-1", Input: blocked.Input}
		d, err := s.MeasurementByUID(ctx, store.UID("r1", k))
		if err != nil {
			t.Fatal(err)
		}
		if d.Key != k || d.Verdict != probe.DNS || d.Truth != probe.DNS || d.CC != "CN" || d.Category != "NEWS" || d.Reason != blocked.TestKeys.VerdictReason {
			t.Errorf("detail: %+v", d.Summary)
		}
		var back probe.Measurement
		if err := json.Unmarshal(d.OONI, &back); err != nil {
			t.Fatal(err)
		}
		want, _ := json.Marshal(blocked)
		got, _ := json.Marshal(&back)
		if string(want) != string(got) {
			t.Errorf("the OONI JSON changed on the way")
		}
		if obs := store.Observations(blocked); !equalJSON(d.Observations, obs) {
			t.Errorf("observations:\n got %s\nwant %s", js(d.Observations), js(obs))
		}
		if len(d.Decisions) == 0 {
			t.Fatal("no decisions joined")
		}
		var item score.Item
		for _, it := range f.res.Items {
			if it.Vantage == k.Vantage && it.Input == k.Input {
				item = it
			}
		}
		if len(d.Decisions) != len(item.Decisions) {
			t.Errorf("%d decisions joined, score joined %d", len(d.Decisions), len(item.Decisions))
		}
		injected := false
		for _, dec := range d.Decisions {
			injected = injected || strings.HasPrefix(dec.Rule, "cn-dns-injector")
			if dec.Jurisdiction != "CN" || dec.Source == "" || dec.Year == 0 || dec.LogIndex != nil || dec.Digest != store.Digest(dec.Decision) {
				t.Errorf("decision: %+v", dec)
			}
		}
		if !injected {
			t.Errorf("no DNS injection among %d decisions joined", len(d.Decisions))
		}

		// Reading the run back and scoring it again gives the same score
		// (what `splinter score --db` will do for a sharded run).
		var ms []*probe.Measurement
		for m, err := range s.OONI(ctx, "r1") {
			if err != nil {
				t.Fatal(err)
			}
			ms = append(ms, m)
		}
		var ds []border.Decision
		for d, err := range s.Decisions(ctx, "r1") {
			if err != nil {
				t.Fatal(err)
			}
			ds = append(ds, d.Decision)
		}
		if len(ms) != len(f.ms) || len(ds) != len(f.ds) {
			t.Fatalf("read back %d measurements and %d decisions", len(ms), len(ds))
		}
		res := score.Score(ms, ds)
		if res.Agree != f.res.Agree || res.Total != f.res.Total || !equalJSON(res.Confusion, f.res.Confusion) {
			t.Errorf("rescored: %d/%d", res.Agree, res.Total)
		}

		// The heatmap counts what the fixture holds.
		cells, err := s.Heatmap(ctx, "r1", false)
		if err != nil {
			t.Fatal(err)
		}
		wantCells := map[[3]string]int64{}
		for _, m := range f.ms {
			wantCells[[3]string{m.ProbeCC, m.Annotations["category_code"], string(m.TestKeys.Verdict)}]++
		}
		gotCells := map[[3]string]int64{}
		for _, c := range cells {
			sum := int64(0)
			for v, n := range c.Counts {
				gotCells[[3]string{c.CC, c.Category, string(v)}] = n
				sum += n
			}
			if sum != c.Total {
				t.Errorf("cell %+v", c)
			}
		}
		if !equalJSON(gotCells, wantCells) {
			t.Errorf("heatmap: got %v, want %v", gotCells, wantCells)
		}
		truth, err := s.Heatmap(ctx, "r1", true)
		if err != nil {
			t.Fatal(err)
		}
		if !equalJSON(truth, cells) {
			t.Errorf("truth heatmap %v, measured %v", truth, cells)
		}

		// The rules, cited, with what they did.
		uses, err := s.Rules(ctx, "r1")
		if err != nil {
			t.Fatal(err)
		}
		actions := map[string]int64{}
		for _, d := range f.ds {
			actions[d.Rule+" "+string(d.Action)]++
		}
		gotActions := map[string]int64{}
		for _, u := range uses {
			if u.Source == "" || u.Year == 0 || u.Jurisdiction != "CN" {
				t.Errorf("rule %+v", u)
			}
			for a, n := range u.Actions {
				gotActions[u.Rule.Rule+" "+a] = n
			}
		}
		if !equalJSON(gotActions, actions) {
			t.Errorf("rule actions: got %v, want %v", gotActions, actions)
		}

		if _, err := s.Measurement(ctx, "r1", store.Key{Vantage: "nowhere", Input: "x"}); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("missing measurement: %v", err)
		}
		if _, err := s.Run(ctx, "r9"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("missing run: %v", err)
		}
	})
}

func compareKeys(a, b store.Key) int {
	if c := strings.Compare(a.Vantage, b.Vantage); c != 0 {
		return c
	}
	return strings.Compare(a.Input, b.Input)
}

func js(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func equalJSON(a, b any) bool { return js(a) == js(b) }

// unblocked is the fixture as a run with the CN border off would measure
// it: every site accessible.
func unblocked(ms []*probe.Measurement) []*probe.Measurement {
	var out []*probe.Measurement
	for _, m := range ms {
		c := *m
		tk := *m.TestKeys
		tk.Verdict, tk.Methods, tk.VerdictReason = probe.Accessible, nil, "border off"
		c.TestKeys = &tk
		out = append(out, &c)
	}
	return out
}

func TestCompareAndTimeline(t *testing.T) {
	f := loadFixture(t)
	dialects(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		s := open(t, dsn)
		writeRun(t, s, testRun(t, "on", jan2024), f.ms, f.ds)
		writeRun(t, s, testRun(t, "off", jan2024.AddDate(1, 0, 0)), unblocked(f.ms), nil)
		c, err := s.Compare(ctx, "on", "off", 0)
		if err != nil {
			t.Fatal(err)
		}
		if c1, err := s.Compare(ctx, "on", "off", 1); err != nil || len(c1.Changes) != 1 || c1.Changed != c.Changed {
			t.Errorf("limited comparison: %+v, %v", c1, err)
		}
		var want []store.Key
		for _, m := range f.ms {
			if m.TestKeys.Verdict != probe.Accessible {
				want = append(want, store.Key{Vantage: m.TestKeys.Vantage.Host, Input: m.Input})
			}
		}
		slices.SortFunc(want, compareKeys)
		var got []store.Key
		for _, ch := range c.Changes {
			got = append(got, ch.Key)
			if ch.A != probe.DNS || ch.B != probe.Accessible || ch.CC != "CN" || ch.Category != "NEWS" {
				t.Errorf("change %+v", ch)
			}
		}
		if !equalJSON(got, want) || c.Same != int64(len(f.ms)-len(want)) || c.Changed != int64(len(want)) {
			t.Errorf("changes %v (same %d), want %v", got, c.Same, want)
		}
		for _, cell := range c.Cells {
			if cell.A.Total != cell.B.Total || cell.B.Counts[probe.Accessible] != cell.B.Total {
				t.Errorf("cell %+v", cell)
			}
			if cell.CC == "CN" && cell.Category == "NEWS" && cell.A.Counts[probe.DNS] != 4 {
				t.Errorf("CN NEWS: %+v", cell.A)
			}
		}

		for _, cat := range c.Categories {
			want := map[string]int64{"NEWS": 6, "DATE": 3, "PROV": 3}[cat.Category]
			if cat.A.Total != want || cat.B.Total != want || cat.B.Counts[probe.Accessible] != want ||
				cat.Category == "NEWS" && cat.A.Counts[probe.DNS] != 4 {
				t.Errorf("category %+v", cat)
			}
		}
		if len(c.Categories) != 3 {
			t.Errorf("categories: %+v", c.Categories)
		}

		points, err := s.Timeline(ctx, store.TimelineQuery{Scenario: "splinternet", CC: "CN"})
		if err != nil {
			t.Fatal(err)
		}
		if len(points) != 2 || points[0].Run != "on" || points[1].Run != "off" || !points[1].Simulated.Equal(jan2024.AddDate(1, 0, 0)) ||
			points[0].Counts[probe.DNS] != 4 || points[1].Counts[probe.DNS] != 0 || points[0].Total != 8 || points[1].Total != 8 {
			t.Errorf("timeline: %+v", points)
		}
	})
}

// TestShards writes one run from three writers at once, as three processes
// of `run --shard I/3` would (each with its own connection pool), and
// checks that the run is whole and complete only when every shard is.
func TestShards(t *testing.T) {
	f := loadFixture(t)
	dialects(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		run := testRun(t, "sharded", jan2024)
		run.Shards = 3
		var ws []*store.Writer
		for i := range 3 {
			s := open(t, dsn)
			w, err := s.Begin(ctx, run, store.Part{Shard: i}, store.WriterOptions{BatchSize: 3})
			if err != nil {
				t.Fatal(err)
			}
			ws = append(ws, w)
		}
		var wg sync.WaitGroup
		for i, w := range ws {
			wg.Go(func() {
				for j, m := range f.ms {
					if j%3 == i {
						if err := w.Measurement(m); err != nil {
							t.Error(err)
						}
					}
				}
				for j, d := range f.ds {
					if j%3 == i {
						if err := w.Decision(d); err != nil {
							t.Error(err)
						}
					}
				}
			})
		}
		wg.Wait()
		s := open(t, dsn)
		for i, w := range ws[:2] {
			if err := w.Close(ctx, store.Complete, store.Health{}); err != nil {
				t.Fatalf("shard %d: %v", i, err)
			}
		}
		r, err := s.Run(ctx, "sharded")
		if err != nil {
			t.Fatal(err)
		}
		if r.Status != store.Running || len(r.Parts) != 3 {
			t.Errorf("two shards of three done: %s, %d parts", r.Status, len(r.Parts))
		}
		if err := ws[2].Close(ctx, store.Complete, store.Health{}); err != nil {
			t.Fatal(err)
		}
		r, err = s.Run(ctx, "sharded")
		if err != nil {
			t.Fatal(err)
		}
		if r.Status != store.Complete || r.Measurements != int64(len(f.ms)) || r.Decisions != int64(len(f.ds)) {
			t.Errorf("all done: %s, %d measurements, %d decisions", r.Status, r.Measurements, r.Decisions)
		}
		// The union is the whole run, and scoring it from the store gives
		// what scoring it in one piece gives.
		var ms []*probe.Measurement
		for m, err := range s.OONI(ctx, "sharded") {
			if err != nil {
				t.Fatal(err)
			}
			ms = append(ms, m)
		}
		var ds []border.Decision
		for d, err := range s.Decisions(ctx, "sharded") {
			if err != nil {
				t.Fatal(err)
			}
			ds = append(ds, d.Decision)
		}
		res := score.Score(ms, ds)
		if res.Total != f.res.Total || res.Agree != f.res.Agree {
			t.Errorf("sharded run scores %d/%d, whole %d/%d", res.Agree, res.Total, f.res.Agree, f.res.Total)
		}
	})
}

// TestRewrite: a measurement written again (a retried shard) replaces the
// first, observations included, and the run keeps one row for it.
func TestRewrite(t *testing.T) {
	f := loadFixture(t)
	dialects(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		s := open(t, dsn)
		var m *probe.Measurement
		for _, x := range f.ms {
			if x.TestKeys.Verdict == probe.DNS && len(store.Observations(x)) > 2 {
				m = x
				break
			}
		}
		run := testRun(t, "again", jan2024)
		w, err := s.Begin(ctx, run, store.Part{})
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Measurement(m); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(ctx, store.Interrupted, store.Health{}); err != nil {
			t.Fatal(err)
		}
		r, err := s.Run(ctx, "again")
		if err != nil {
			t.Fatal(err)
		}
		if r.Status != store.Interrupted {
			t.Errorf("status %s", r.Status)
		}
		// The second attempt sees only the DNS answer.
		c := *m
		tk := *m.TestKeys
		tk.TCPConnect, tk.TLSHandshakes, tk.Requests, tk.Queries = nil, nil, nil, tk.Queries[:1]
		tk.Verdict = probe.Unknown
		c.TestKeys = &tk
		w, err = s.Begin(ctx, run, store.Part{})
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Measurement(&c); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(ctx, store.Complete, store.Health{}); err != nil {
			t.Fatal(err)
		}
		page, err := s.Measurements(ctx, store.Query{Run: "again"})
		if err != nil {
			t.Fatal(err)
		}
		if page.Total != 1 || page.Items[0].Verdict != probe.Unknown {
			t.Fatalf("after a rewrite: %+v", page)
		}
		d, err := s.Measurement(ctx, "again", page.Items[0].Key)
		if err != nil {
			t.Fatal(err)
		}
		if want := store.Observations(&c); !equalJSON(d.Observations, want) {
			t.Errorf("observations after a rewrite:\n got %s\nwant %s", js(d.Observations), js(want))
		}
		var n int
		for _, err := range s.Records(ctx, "again") {
			if err != nil {
				t.Fatal(err)
			}
			n++
		}
		if n != len(store.Observations(&c)) {
			t.Errorf("%d records after a rewrite", n)
		}
		r, err = s.Run(ctx, "again")
		if err != nil {
			t.Fatal(err)
		}
		if r.Status != store.Complete || len(r.Parts) != 2 {
			t.Errorf("retried run: %s with %d parts", r.Status, len(r.Parts))
		}
	})
}

func TestOpenErrors(t *testing.T) {
	ctx := context.Background()
	for _, dsn := range []string{"mysql://localhost/x", ""} {
		if _, err := store.Open(ctx, dsn); err == nil || !strings.HasPrefix(err.Error(), "store: ") {
			t.Errorf("Open(%q): %v", dsn, err)
		}
	}
	s := open(t, filepath.Join(t.TempDir(), "x.db"))
	if _, err := s.Begin(ctx, store.Run{ID: "no spaces"}, store.Part{}); err == nil {
		t.Error("a run id with a space was accepted")
	}
	if _, err := s.Begin(ctx, store.Run{ID: "ok", Shards: 2}, store.Part{Shard: 2}); err == nil {
		t.Error("shard 2 of 2 was accepted")
	}
	w, err := s.Begin(ctx, store.Run{ID: "two", Shards: 2}, store.Part{Shard: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close(ctx, store.Complete, store.Health{})
	if _, err := s.Begin(ctx, store.Run{ID: "two", Shards: 3}, store.Part{Shard: 0}); err == nil || !strings.Contains(err.Error(), "has 2 shards") {
		t.Errorf("a part that disagrees on the shards: %v", err)
	}
	if _, err := s.Begin(ctx, store.Run{ID: "nothing"}, store.Part{Scoring: true}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("scoring a run that does not exist: %v", err)
	}
}

// TestWriterConcurrent: many goroutines feed one writer with tiny batches
// flushed often, then the run's context is cancelled (an interrupted run)
// and Close still records everything and the status.
func TestWriterConcurrent(t *testing.T) {
	f := loadFixture(t)
	s := open(t, filepath.Join(t.TempDir(), "c.db"))
	ctx, cancel := context.WithCancel(context.Background())
	w, err := s.Begin(ctx, store.Run{ID: "busy"}, store.Part{}, store.WriterOptions{BatchSize: 2, FlushEvery: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i, m := range f.ms {
				if i%8 == g {
					if err := w.Measurement(m); err != nil {
						t.Error(err)
					}
				}
			}
			for i, d := range f.ds {
				if i%8 == g {
					if err := w.Decision(d); err != nil {
						t.Error(err)
					}
				}
			}
		})
	}
	wg.Wait()
	cancel()
	if err := w.Close(ctx, store.Interrupted, store.Health{}); err != nil {
		t.Fatal(err)
	}
	if err := w.Measurement(f.ms[0]); err == nil {
		t.Error("a closed writer took a measurement")
	}
	r, err := s.Run(context.Background(), "busy")
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != store.Interrupted || r.Measurements != int64(len(f.ms)) || r.Decisions != int64(len(f.ds)) {
		t.Errorf("run: %s, %d measurements, %d decisions", r.Status, r.Measurements, r.Decisions)
	}
	n := 0
	for _, err := range s.Decisions(context.Background(), "busy") {
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	if n != len(f.ds) {
		t.Errorf("%d decisions stored, %d written", n, len(f.ds))
	}
}
