package explorer

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/splinter-lab/splinter/border"
	"github.com/splinter-lab/splinter/probe"
	"github.com/splinter-lab/splinter/score"
	"github.com/splinter-lab/splinter/store"
)

// TestConcurrentReads serves a store holding the store package's excerpt
// of a real run (four sites from three vantages, and the decisions behind
// them) to many clients at once, every route and page, while a second run
// is being written: it runs in the race pass too.
func TestConcurrentReads(t *testing.T) {
	ctx := context.Background()
	var ms []*probe.Measurement
	var ds []border.Decision
	lines(t, "../store/testdata/measurements.jsonl", func(b []byte) {
		m := new(probe.Measurement)
		if err := json.Unmarshal(b, m); err != nil {
			t.Fatal(err)
		}
		ms = append(ms, m)
	})
	lines(t, "../store/testdata/decisions.jsonl", func(b []byte) {
		var d border.Decision
		if err := json.Unmarshal(b, &d); err != nil {
			t.Fatal(err)
		}
		ds = append(ds, d)
	})
	s, err := store.Open(ctx, filepath.Join(t.TempDir(), "runs.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	write := func(id string, res *score.Result) *store.Writer {
		w, err := s.Begin(ctx, store.Run{ID: id, Scenario: "splinternet", Shards: 1}, store.Part{})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range ms {
			w.Measurement(m)
		}
		for _, d := range ds {
			w.Decision(d)
		}
		if res != nil {
			w.Result(res)
		}
		return w
	}
	if err := write("excerpt", score.Score(ms, ds)).Close(ctx, store.Complete, store.Health{}); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(New(s, Options{Logf: t.Logf}))
	defer srv.Close()
	uid := store.UID("excerpt", store.Key{Vantage: ms[0].TestKeys.Vantage.Host, Input: ms[0].Input})
	paths := []string{
		"/api/v1/runs", "/api/v1/runs/excerpt", "/api/v1/runs/excerpt/rules", "/api/v1/runs/excerpt/heatmap",
		"/api/v1/runs/excerpt/measurements?cc=CN", "/api/v1/measurements/" + uid, "/api/v1/compare?a=excerpt&b=excerpt",
		"/api/v1/timeline", "/api/v1/glossary", "/", "/runs/excerpt", "/runs/excerpt/measurements?verdict=dns",
		"/measurements/" + uid, "/compare?a=excerpt&b=excerpt", "/timeline", "/glossary", "/static/explorer.css",
	}
	w := write("in-progress", nil) // being written while the reads go on
	var wg sync.WaitGroup
	for g := range 6 {
		wg.Go(func() {
			for i := range 3 * len(paths) {
				path := paths[(g+i)%len(paths)]
				resp, err := srv.Client().Get(srv.URL + path)
				if err != nil {
					t.Error(err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					t.Errorf("GET %s: %d", path, resp.StatusCode)
				}
			}
		})
	}
	wg.Wait()
	if err := w.Close(ctx, store.Complete, store.Health{}); err != nil {
		t.Fatal(err)
	}
}

func lines(t *testing.T, path string, f func([]byte)) {
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
