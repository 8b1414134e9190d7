package lab_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/splinter-lab/splinter/lab"
	"github.com/splinter-lab/splinter/probe"
)

// TestRunWarnsWhenBusy: a run whose machine was too busy says so, in the
// run result, the terminal summary (last), report.html and score.json. The
// machine's load is given, not awaited: the run's pacer is fed timers that
// fired two seconds late (more than one sample in a hundred, whatever the
// real load adds), its factor capped at 1 and its bound fixed so that the
// fed delays change nothing but the figures.
func TestRunWarnsWhenBusy(t *testing.T) {
	if testing.Short() {
		t.Skip("a small run")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	p := probe.NewPacer(probe.PacerConfig{MaxFactor: 1, MinInFlight: 64, MaxInFlight: 64, StartInFlight: 64})
	for range 5000 {
		p.ObserveDelay(2 * time.Second)
	}
	out := t.TempDir()
	res, err := lab.Run(ctx, honestSpec(t), lab.RunOptions{Out: out, Lab: lab.Options{Seed: 1, Pacer: p}})
	if err != nil {
		t.Fatal(err)
	}
	h := res.Health
	if h == nil || !h.Busy || !strings.Contains(h.Warning, "scheduling delay's 99th percentile was 2000 ms") || h.Measurements != res.Measured {
		t.Fatalf("health %+v", h)
	}
	t.Logf("health: %s", h.Summary())
	var s bytes.Buffer
	res.Report.WriteSummary(&s)
	if !strings.HasSuffix(s.String(), "WARNING: "+h.Warning+"\n") || !strings.Contains(s.String(), "99th percentile 2000 ms") {
		t.Errorf("the summary does not end with the warning:\n%s", s.String())
	}
	html, err := os.ReadFile(filepath.Join(out, "report.html"))
	if err != nil || !bytes.Contains(html, []byte("Warning: the machine was too busy for these figures to be trusted")) {
		t.Errorf("report.html lacks the warning (%v)", err)
	}
	data, err := os.ReadFile(filepath.Join(out, "score.json"))
	if err != nil {
		t.Fatal(err)
	}
	var sj struct {
		Accuracy *float64     `json:"accuracy"`
		Health   probe.Health `json:"health"`
	}
	if err := json.Unmarshal(data, &sj); err != nil || sj.Accuracy == nil || !sj.Health.Busy || sj.Health.Warning != h.Warning {
		t.Errorf("score.json: accuracy %v, health %+v (%v)", sj.Accuracy, sj.Health, err)
	}
}
