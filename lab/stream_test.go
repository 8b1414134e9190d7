package lab_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/splinter-lab/splinter/border"
	"github.com/splinter-lab/splinter/lab"
	"github.com/splinter-lab/splinter/probe"
	"github.com/splinter-lab/splinter/scenario"
	"github.com/splinter-lab/splinter/score"
	"github.com/splinter-lab/splinter/store"
)

// streamInputs are a few inputs of every category of the default world.
func streamInputs(t *testing.T, spec *lab.Spec, per int) []probe.Input {
	t.Helper()
	all, err := lab.Inputs(spec.Plan, "")
	if err != nil {
		t.Fatal(err)
	}
	n := map[string]int{}
	var out []probe.Input
	for _, in := range all {
		if n[in.Category] < per {
			n[in.Category]++
			out = append(out, in)
		}
	}
	return out
}

// jsonLines decodes every line of a JSON lines file into a new T, failing
// on a cut or malformed line.
func jsonLines[T any](t *testing.T, path string) []T {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []T
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<26)
	for sc.Scan() {
		var v T
		if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
			t.Fatalf("%s line %d: %v", path, len(out)+1, err)
		}
		out = append(out, v)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestRunStreams runs part of the default world with a store and checks
// that the run's streamed scoring (each measurement joined once its window
// closed, against only the decisions the stream kept) is the scoring of
// every measurement against every decision, that the JSON lines files and
// the store hold every measurement and decision, and that the store's run
// cites the policies in force at the run's date.
func TestRunStreams(t *testing.T) {
	if testing.Short() {
		t.Skip("measures part of the default scenario")
	}
	t.Parallel()
	spec, err := lab.Load(scenario.Default)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "splinter.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	out := t.TempDir()
	var all bytes.Buffer
	res, err := lab.Run(ctx, spec, lab.RunOptions{From: []string{"CN", "IR", "RU", "US"}, Inputs: streamInputs(t, spec, 2), Out: out,
		Store: st, Keep: true, Lab: lab.Options{Seed: 1, Decisions: &all}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Measured != res.Planned || res.Measured != len(res.Measurements) || res.Interrupted {
		t.Fatalf("measured %d of %d (kept %d), interrupted %v", res.Measured, res.Planned, len(res.Measurements), res.Interrupted)
	}
	var decisions []border.Decision
	dec := json.NewDecoder(&all)
	for dec.More() {
		var d border.Decision
		if err := dec.Decode(&d); err != nil {
			t.Fatal(err)
		}
		decisions = append(decisions, d)
	}
	if len(decisions) != res.Decisions || res.Decisions == 0 {
		t.Fatalf("%d decisions teed, the run counted %d", len(decisions), res.Decisions)
	}

	// The stream's scoring is the batch scoring, item by item.
	batch := score.ScoreWith(res.Measurements, decisions, score.Options{Exists: spec.Exists})
	type key struct{ vantage, input string }
	want := map[key]score.Item{}
	for _, it := range batch.Items {
		want[key{it.Vantage, it.Input}] = it
	}
	if got := res.Score; got.Total != batch.Total || got.Agree != batch.Agree || len(got.Items) != len(batch.Items) {
		t.Errorf("streamed: %d items, %d agree (%d kept); batch: %d, %d", got.Total, got.Agree, len(got.Items), batch.Total, batch.Agree)
	}
	for _, it := range res.Score.Items {
		b := want[key{it.Vantage, it.Input}]
		// The stream joins a resolver's repeated decisions of one rule on
		// one name once: the same rules, not as many decisions.
		if got, want := rulesOf(it.Decisions), rulesOf(b.Decisions); it.Truth != b.Truth || it.Measured != b.Measured || !maps.Equal(got, want) {
			t.Errorf("%s from %s: streamed truth %s by %v, batch truth %s by %v", it.Input, it.Vantage, it.Truth, got, b.Truth, want)
		}
	}
	blocked := 0
	for _, it := range res.Score.Items {
		if it.CC == "CN" && it.Truth.Blocked() {
			blocked++
		}
	}
	if blocked == 0 {
		t.Error("no measurement from CN was blocked: the comparison shows nothing")
	}

	// The files hold every record, whole.
	if ms := jsonLines[probe.Measurement](t, filepath.Join(out, "measurements.jsonl")); len(ms) != res.Measured {
		t.Errorf("measurements.jsonl: %d lines, %d measured", len(ms), res.Measured)
	}
	if ds := jsonLines[border.Decision](t, filepath.Join(out, "decisions.jsonl")); len(ds) != res.Decisions {
		t.Errorf("decisions.jsonl: %d lines, %d decisions", len(ds), res.Decisions)
	}

	// The store holds the run, complete, with the versions in force.
	run, err := st.Run(ctx, res.RunID)
	if err != nil {
		t.Fatal(err)
	}
	if run.Status != store.Complete || run.Measurements != int64(res.Measured) || run.Decisions != int64(res.Decisions) {
		t.Errorf("stored run %s: status %s, %d measurements, %d decisions; want complete, %d, %d",
			run.ID, run.Status, run.Measurements, run.Decisions, res.Measured, res.Decisions)
	}
	for _, b := range spec.Borders {
		p := b.At(res.At)
		if p == nil {
			continue
		}
		found := false
		for _, sp := range run.Profiles {
			found = found || sp.Name == p.Name
		}
		if !found {
			t.Errorf("border %s: the stored run does not name %s, the policy in force at %s", b.Name, p.Name, res.At.Format(time.DateOnly))
		}
	}
	page, err := st.Measurements(ctx, store.Query{Run: res.RunID, Disagree: true, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if int(page.Total) != res.Score.Total-res.Score.Agree {
		t.Errorf("store: %d disagreements, the run scored %d", page.Total, res.Score.Total-res.Score.Agree)
	}
}

// rulesOf is the set of a join's (border, rule, action, effect).
func rulesOf(ds []border.Decision) map[string]bool {
	out := map[string]bool{}
	for _, d := range ds {
		out[d.Border+" "+d.Rule+" "+string(d.Action)+" "+d.Effect.String()] = true
	}
	return out
}

// TestRunInterrupted stops a run after a few measurements: the run says
// it was interrupted, its files are complete to their last record and
// say so, no temporary file is left, and its run in the store is marked
// interrupted with what it measured.
func TestRunInterrupted(t *testing.T) {
	if testing.Short() {
		t.Skip("measures part of the default scenario")
	}
	spec, err := lab.Load(scenario.Default)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "splinter.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	out := t.TempDir()
	// A previous run's files are replaced, not mixed with this one's.
	for _, name := range lab.Outputs {
		if err := os.WriteFile(filepath.Join(out, name), []byte("previous run\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	rctx, stop := context.WithCancel(ctx)
	defer stop()
	var n atomic.Int64
	res, err := lab.Run(rctx, spec, lab.RunOptions{From: []string{"CN", "US"}, Inputs: streamInputs(t, spec, 3), Out: out, Store: st,
		Lab: lab.Options{Seed: 1}, Progress: func(int, int, *probe.Measurement) {
			if n.Add(1) == 10 {
				stop()
			}
		}})
	if !errors.Is(err, lab.ErrInterrupted) || !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want ErrInterrupted wrapping context.Canceled", err)
	}
	if res == nil || !res.Interrupted || res.Measured < 10 || res.Measured >= res.Planned {
		t.Fatalf("result %+v: want interrupted after 10 of its measurements", res)
	}
	ms := jsonLines[probe.Measurement](t, filepath.Join(out, "measurements.jsonl"))
	if len(ms) != res.Measured {
		t.Errorf("measurements.jsonl: %d records, %d measured", len(ms), res.Measured)
	}
	if ds := jsonLines[border.Decision](t, filepath.Join(out, "decisions.jsonl")); len(ds) != res.Decisions {
		t.Errorf("decisions.jsonl: %d records, %d decisions", len(ds), res.Decisions)
	}
	var sc struct {
		Status  store.Status `json:"status"`
		Planned int          `json:"planned"`
		Run     string       `json:"run"`
		Total   int          `json:"total"`
	}
	b, err := os.ReadFile(filepath.Join(out, "score.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &sc); err != nil {
		t.Fatal(err)
	}
	if sc.Status != store.Interrupted || sc.Planned != res.Planned || sc.Total != res.Measured || sc.Run != res.RunID {
		t.Errorf("score.json: %+v; want interrupted, %d planned, %d made, run %s", sc, res.Planned, res.Measured, res.RunID)
	}
	html, err := os.ReadFile(filepath.Join(out, "report.html"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(html, []byte("This run was interrupted")) {
		t.Error("report.html does not say the run was interrupted")
	}
	if left, _ := filepath.Glob(filepath.Join(out, ".*")); len(left) > 0 {
		t.Errorf("temporary files left: %v", left)
	}
	run, err := st.Run(ctx, res.RunID)
	if err != nil {
		t.Fatal(err)
	}
	if run.Status != store.Interrupted || run.Measurements != int64(res.Measured) {
		t.Errorf("stored run: %s with %d measurements; want interrupted with %d", run.Status, run.Measurements, res.Measured)
	}
}
