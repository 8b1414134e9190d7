package explorer

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/splinter-lab/splinter/probe"
	"github.com/splinter-lab/splinter/score"
	"github.com/splinter-lab/splinter/store"
)

// big is a SQLite store holding "big", a run of 100,000 measurements, and
// "big2", the same keys with one verdict in ten changed, made of copies of
// the fixture's real measurements under other vantages, sites and
// categories (TLS certificates left out of the OONI JSON, which list
// queries never read), scored. Built once per process, or kept in
// $SPLINTER_BENCH_DIR between runs (it takes minutes on a loaded machine).
var big struct {
	once sync.Once
	dsn  string
	err  error
}

const bigN = 100000

func bigStore(b *testing.B) *store.Store {
	big.once.Do(func() { big.dsn, big.err = buildBig(b) })
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

func buildBig(b *testing.B) (string, error) {
	ctx := context.Background()
	dir := os.Getenv("SPLINTER_BENCH_DIR")
	if dir == "" {
		dir = filepath.Dir(fixtureDSN(b))
	}
	dsn := filepath.Join(dir, "explorer-big.db")
	s, err := store.Open(ctx, dsn)
	if err != nil {
		return "", err
	}
	defer s.Close()
	if r, err := s.Run(ctx, "big2"); err == nil && r.Status == store.Complete && r.Measurements == bigN {
		return dsn, nil
	}
	start := time.Now()
	fs, err := store.Open(ctx, fixtureDSN(b))
	if err != nil {
		return "", err
	}
	var base []*probe.Measurement
	for m, err := range fs.OONI(ctx, runOn) {
		if err != nil {
			fs.Close()
			return "", err
		}
		base = append(base, m)
	}
	fs.Close()
	ccs := []string{"CN", "IR", "RU", "TM", "KZ", "IN", "US", "DE", "GB", "BR"}
	cats := []string{"ALDR", "REL", "PORN", "PROV", "POLR", "HUMR", "ENV", "MILX", "HATE", "NEWS", "XED", "PUBH", "GMB", "ANON", "DATE", "GRP",
		"LGBT", "FILE", "HACK", "COMT", "MMED", "HOST", "SRCH", "GAME", "CULTR", "ECON", "GOVT", "COMM", "CTRL", "IGO", "MISC"}
	for _, id := range []string{"big", "big2"} {
		w, err := s.Begin(ctx, store.Run{ID: id, Scenario: "splinternet-bench", Simulated: time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC), Shards: 1}, store.Part{})
		if err != nil {
			return "", err
		}
		res := &score.Result{}
		for i := range bigN {
			v, in := i%(2*len(ccs)), i/(2*len(ccs))
			m := *base[i%len(base)]
			tk := *m.TestKeys
			hs := make([]probe.TLSHandshake, len(tk.TLSHandshakes))
			copy(hs, tk.TLSHandshakes)
			for j := range hs {
				hs[j].PeerCertificates = nil
			}
			tk.TLSHandshakes = hs
			tk.Vantage.Host = fmt.Sprintf("%s-client-%d", ccs[v/2], v%2+1)
			if id == "big2" && i%10 == 0 {
				tk.Verdict = map[bool]probe.Verdict{true: probe.TLS, false: probe.Accessible}[tk.Verdict == probe.Accessible]
			}
			m.TestKeys = &tk
			m.ProbeCC = ccs[v/2]
			m.Input = fmt.Sprintf("http://www.site-%05d.example/", in)
			m.Annotations = map[string]string{"category_code": cats[in%len(cats)]}
			if err := w.Measurement(&m); err != nil {
				return "", err
			}
			res.Items = append(res.Items, score.Item{Input: m.Input, Vantage: tk.Vantage.Host, CC: m.ProbeCC, Category: cats[in%len(cats)],
				Domain: fmt.Sprintf("www.site-%05d.example", in), Measured: tk.Verdict, Truth: base[i%len(base)].TestKeys.Verdict})
		}
		if err := w.Result(res); err != nil {
			return "", err
		}
		if err := w.Close(ctx, store.Complete, store.Health{}); err != nil {
			return "", err
		}
	}
	b.Logf("built two 100,000-measurement runs in %.1fs", time.Since(start).Seconds())
	return dsn, nil
}

// BenchmarkAPI measures the API's latency on a 100,000-measurement run in
// SQLite, each query through HTTP on loopback (what a client waits for,
// JSON encoding included) and, as the same-run baseline, the store's read
// alone: the ratio is what the HTTP layer adds. Goal: a filtered page and
// a heatmap in at most 200 ms.
func BenchmarkAPI(b *testing.B) {
	s := bigStore(b)
	srv := httptest.NewServer(New(s, Options{Logf: b.Logf}))
	b.Cleanup(srv.Close)
	ctx := context.Background()
	uid := store.UID("big", store.Key{Vantage: "CN-client-1", Input: "http://www.site-00042.example/"})
	for _, tc := range []struct {
		name  string
		path  string
		store func() error
	}{
		{"heatmap", "/api/v1/runs/big/heatmap", func() error { _, err := s.Heatmap(ctx, "big", false); return err }},
		{"filter-cc+verdict", "/api/v1/runs/big/measurements?cc=CN&verdict=dns", func() error {
			_, err := s.Measurements(ctx, store.Query{Run: "big", CC: "CN", Verdict: probe.DNS})
			return err
		}},
		{"filter-cc+category", "/api/v1/runs/big/measurements?cc=IR&category=NEWS", func() error {
			_, err := s.Measurements(ctx, store.Query{Run: "big", CC: "IR", Category: "NEWS"})
			return err
		}},
		{"filter-domain", "/api/v1/runs/big/measurements?domain=www.site-00042.example", func() error {
			_, err := s.Measurements(ctx, store.Query{Run: "big", Domain: "www.site-00042.example"})
			return err
		}},
		{"filter-truth", "/api/v1/runs/big/measurements?truth=dns&cc=RU", func() error {
			_, err := s.Measurements(ctx, store.Query{Run: "big", Truth: probe.DNS, CC: "RU"})
			return err
		}},
		{"page-offset-90000", "/api/v1/runs/big/measurements?offset=90000", func() error {
			_, err := s.Measurements(ctx, store.Query{Run: "big", Offset: 90000})
			return err
		}},
		{"measurement", "/api/v1/measurements/" + uid, func() error { _, err := s.MeasurementByUID(ctx, uid); return err }},
		{"compare", "/api/v1/compare?a=big&b=big2&limit=100", func() error { _, err := s.Compare(ctx, "big", "big2", 100); return err }},
		{"heatmap-truth", "/api/v1/runs/big/heatmap?truth=true", func() error { _, err := s.Heatmap(ctx, "big", true); return err }},
		{"run-page", "/runs/big", nil},
		{"measurements-page", "/runs/big/measurements?cc=CN&verdict=dns", nil},
		{"compare-page", "/compare?a=big&b=big2", nil},
	} {
		if tc.store != nil {
			b.Run("store/"+tc.name, func(b *testing.B) {
				for b.Loop() {
					if err := tc.store(); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
		b.Run("http/"+tc.name, func(b *testing.B) {
			for b.Loop() {
				resp, err := srv.Client().Get(srv.URL + tc.path)
				if err != nil {
					b.Fatal(err)
				}
				n, _ := io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK || n == 0 {
					b.Fatalf("GET %s: %d", tc.path, resp.StatusCode)
				}
			}
		})
	}
}
