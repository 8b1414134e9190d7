package store_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/splinter-lab/splinter/border"
	"github.com/splinter-lab/splinter/probe"
	"github.com/splinter-lab/splinter/score"
	"github.com/splinter-lab/splinter/store"
)

// synthRun makes n measurements and about 4 decisions per measurement (the
// default run's ratio) from the fixture: each a copy of a real measurement
// under another vantage, site and category, its verdict kept.
func synthRun(tb testing.TB, n int, certs bool) ([]*probe.Measurement, []border.Decision) {
	f := loadFixture(tb)
	ccs := []string{"CN", "IR", "RU", "TM", "KZ", "IN", "US", "DE", "BR", "ZA"}
	cats := []string{"NEWS", "POLR", "HUMR", "LGBT", "REL", "PORN", "GAME", "COMT", "SRCH", "MMED", "HOST", "ANON", "GRP", "CULTR", "ECON",
		"GOVT", "HATE", "MILX", "POLR", "PUBH", "ENV", "FILE", "PROV", "DATE", "SEX", "XED", "ALDR", "GMB", "COMM", "IGO", "CTRL"}
	vantages := 2 * len(ccs)
	var ms []*probe.Measurement
	var ds []border.Decision
	for i := range n {
		v, in := i%vantages, i/vantages
		base := f.ms[i%len(f.ms)]
		m := *base
		tk := *base.TestKeys
		if !certs {
			hs := make([]probe.TLSHandshake, len(tk.TLSHandshakes))
			copy(hs, tk.TLSHandshakes)
			for j := range hs {
				hs[j].PeerCertificates = nil
			}
			tk.TLSHandshakes = hs
		}
		tk.Vantage.Host = fmt.Sprintf("%s-client-%d", ccs[v/2], v%2+1)
		tk.Start = base.TestKeys.Start.Add(time.Duration(i) * time.Millisecond)
		m.TestKeys = &tk
		m.ProbeCC = ccs[v/2]
		m.Input = fmt.Sprintf("http://www.site-%05d.example/", in)
		m.Annotations = map[string]string{"category_code": cats[in%len(cats)]}
		ms = append(ms, &m)
		for j := range 4 {
			d := f.ds[(4*i+j)%len(f.ds)]
			d.Time = d.Time.Add(time.Duration(i) * time.Millisecond)
			ds = append(ds, d)
		}
	}
	return ms, ds
}

// BenchmarkWriteRun writes a run of the default scenario's size (2,445
// measurements, ~9,800 decisions, the scoring) into a new SQLite store, and,
// as the same-run baseline, as the JSON lines files splinter run writes
// today. The ratio of the two is what the store adds to a run's CPU time.
func BenchmarkWriteRun(b *testing.B) {
	ms, ds := synthRun(b, 2445, true)
	res := score.Score(ms[:0], nil)
	items := make([]score.Item, len(ms))
	for i, m := range ms {
		items[i] = score.Item{Input: m.Input, Vantage: m.TestKeys.Vantage.Host, CC: m.ProbeCC, Measured: m.TestKeys.Verdict, Truth: m.TestKeys.Verdict}
	}
	res.Items = items
	b.Run("jsonl", func(b *testing.B) {
		dir := b.TempDir()
		for b.Loop() {
			for _, name := range []string{"measurements.jsonl", "decisions.jsonl"} {
				fh, err := os.Create(filepath.Join(dir, name))
				if err != nil {
					b.Fatal(err)
				}
				w := bufio.NewWriterSize(fh, 1<<16)
				enc := json.NewEncoder(w)
				if name == "measurements.jsonl" {
					for _, m := range ms {
						enc.Encode(m)
					}
				} else {
					for _, d := range ds {
						enc.Encode(d)
					}
				}
				w.Flush()
				fh.Close()
			}
		}
		b.ReportMetric(float64(len(ms))*float64(b.N)/b.Elapsed().Seconds(), "measurements/s")
	})
	for _, db := range []struct {
		name string
		dsn  func(b *testing.B, i int) string
	}{
		{"sqlite", func(b *testing.B, i int) string { return filepath.Join(b.TempDir(), fmt.Sprintf("run%d.db", i)) }},
		{"postgres", func(b *testing.B, _ int) string { return postgresDSN(b) }},
		{"clickhouse", func(b *testing.B, _ int) string { return clickhouseDSN(b) }},
	} {
		b.Run(db.name, func(b *testing.B) {
			dsn := db.dsn(b, 0)
			i := 0
			for b.Loop() {
				i++
				s, err := store.Open(context.Background(), dsn)
				if err != nil {
					b.Fatal(err)
				}
				writeBench(b, s, fmt.Sprintf("bench%d", i), ms, ds, res)
				s.Close()
			}
			b.ReportMetric(float64(len(ms))*float64(b.N)/b.Elapsed().Seconds(), "measurements/s")
		})
	}
}

func writeBench(b testing.TB, s *store.Store, run string, ms []*probe.Measurement, ds []border.Decision, res *score.Result) {
	ctx := context.Background()
	w, err := s.Begin(ctx, store.Run{ID: run, Scenario: "splinternet", Simulated: jan2024}, store.Part{})
	if err != nil {
		b.Fatal(err)
	}
	for i, m := range ms {
		if err := w.Measurement(m); err != nil {
			b.Fatal(err)
		}
		for _, d := range ds[min(4*i, len(ds)):min(4*i+4, len(ds))] {
			if err := w.Decision(d); err != nil {
				b.Fatal(err)
			}
		}
	}
	if res != nil {
		if err := w.Result(res); err != nil {
			b.Fatal(err)
		}
	}
	if err := w.Close(ctx, store.Complete, store.Health{}); err != nil {
		b.Fatal(err)
	}
}

var big struct {
	once sync.Once
	dsn  string
	err  error
}

// bigStore is a SQLite store holding one run of 100,000 measurements (TLS
// certificates left out of the OONI JSON to keep the file near 1 GB smaller;
// list queries never read that table), built once per process.
func bigStore(b *testing.B) *store.Store {
	big.once.Do(func() {
		// SPLINTER_BENCH_DIR keeps the store between runs (it takes
		// minutes to build on a loaded machine).
		dir := os.Getenv("SPLINTER_BENCH_DIR")
		if dir != "" {
			big.dsn = filepath.Join(dir, "big.db")
			if _, err := os.Stat(big.dsn); err == nil {
				big.err = addSecondRun(b, big.dsn)
				return
			}
		} else {
			d, err := os.MkdirTemp("", "splinter-bench-")
			if err != nil {
				big.err = err
				return
			}
			dir = d
			atExit(func() { os.RemoveAll(dir) })
		}
		big.dsn = filepath.Join(dir, "big.db")
		s, err := store.Open(context.Background(), big.dsn)
		if err != nil {
			big.err = err
			return
		}
		defer s.Close()
		start := time.Now()
		ms, ds := synthRun(b, 100000, false)
		res := &score.Result{}
		for _, m := range ms {
			res.Items = append(res.Items, score.Item{Input: m.Input, Vantage: m.TestKeys.Vantage.Host, CC: m.ProbeCC,
				Category: m.Annotations["category_code"], Domain: "x", Measured: m.TestKeys.Verdict, Truth: m.TestKeys.Verdict})
		}
		writeBench(b, s, "big", ms, ds, res)
		st, _ := os.Stat(big.dsn)
		b.Logf("built a 100,000-measurement store in %.1fs (%d MB)", time.Since(start).Seconds(), st.Size()>>20)
		big.err = addSecondRun(b, big.dsn)
	})
	if big.err != nil {
		b.Fatal(big.err)
	}
	s, err := store.Open(context.Background(), big.dsn)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}

// addSecondRun adds run "big2": the same 100,000 keys, one in ten with
// another verdict, for comparisons.
func addSecondRun(b *testing.B, dsn string) error {
	s, err := store.Open(context.Background(), dsn)
	if err != nil {
		return err
	}
	defer s.Close()
	if r, err := s.Run(context.Background(), "big2"); err == nil && r.Status == store.Complete {
		return nil
	}
	ms, _ := synthRun(b, 100000, false)
	for i, m := range ms {
		if i%10 == 0 {
			tk := *m.TestKeys
			tk.Verdict = probe.Accessible
			if m.TestKeys.Verdict == probe.Accessible {
				tk.Verdict = probe.TLS
			}
			m.TestKeys = &tk
		}
	}
	writeBench(b, s, "big2", ms, nil, nil)
	return nil
}

// BenchmarkQuery100k measures the explorer's reads on a 100,000-measurement
// run in SQLite (goal: a filtered page in at most 200 ms).
func BenchmarkQuery100k(b *testing.B) {
	s := bigStore(b)
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		q    store.Query
	}{
		{"first-page", store.Query{}},
		{"cc+verdict", store.Query{CC: "CN", Verdict: probe.DNS}},
		{"cc+category", store.Query{CC: "IR", Category: "NEWS"}},
		{"domain", store.Query{Domain: "www.site-00042.example"}},
		{"truth", store.Query{Truth: probe.DNS, CC: "RU"}},
		{"offset-90000", store.Query{Offset: 90000}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			q := tc.q
			q.Run = "big"
			for b.Loop() {
				p, err := s.Measurements(ctx, q)
				if err != nil || len(p.Items) == 0 {
					b.Fatalf("%+v, %v", p, err)
				}
			}
		})
	}
	b.Run("heatmap", func(b *testing.B) {
		for b.Loop() {
			cells, err := s.Heatmap(ctx, "big", false)
			if err != nil || len(cells) == 0 {
				b.Fatal(err)
			}
		}
	})
	b.Run("compare", func(b *testing.B) {
		for b.Loop() {
			c, err := s.Compare(ctx, "big", "big2", 100)
			if err != nil || c.Changed != 10000 {
				b.Fatalf("%d changed, %v", c.Changed, err)
			}
		}
	})
	b.Run("measurement", func(b *testing.B) {
		for b.Loop() {
			if _, err := s.Measurement(ctx, "big", store.Key{Vantage: "CN-client-1", Input: "http://www.site-00042.example/"}); err != nil {
				b.Fatal(err)
			}
		}
	})
}
