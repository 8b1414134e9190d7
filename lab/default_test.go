package lab_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/splinter-lab/splinter/lab"
	"github.com/splinter-lab/splinter/scenario"
)

// TestDefaultScenario runs the default scenario exactly as `splinter run`
// does (lab.Run with an output directory): every site from a client in
// every access network, scored against the borders' decisions. It asserts
// at least 99% agreement overall and precision and recall of at least 0.98
// for every class, with every disagreement explained in the output, and
// that the outputs were written. It takes about a minute.
func TestDefaultScenario(t *testing.T) {
	if testing.Short() {
		t.Skip("measures the whole default scenario (about a minute)")
	}
	spec, err := lab.Load(scenario.Default)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	out := t.TempDir()
	res, err := lab.Run(ctx, spec, lab.RunOptions{Out: out})
	if err != nil {
		t.Fatal(err)
	}
	s := res.Score
	t.Logf("%d measurements from %d vantages in %.1fs", res.Measured, len(res.Vantages), res.Elapsed.Seconds())
	t.Logf("agreement %d/%d = %.2f%%", s.Agree, s.Total, 100*s.Accuracy)
	for _, c := range s.PerClass {
		t.Logf("  %-13s true %4d  tp %4d  fp %3d  fn %3d  precision %.3f  recall %.3f", c.Class, c.Support, c.TP, c.FP, c.FN, c.Precision, c.Recall)
	}
	for _, d := range s.Disagree {
		t.Logf("disagreement: %s from %s: %s", d.Domain, d.Vantage, d.Explanation)
	}
	if res.Health == nil {
		t.Fatal("no run health")
	}
	t.Logf("health: %s", res.Health.Summary())
	if data, err := os.ReadFile(filepath.Join(out, "score.json")); err != nil || !strings.Contains(string(data), `"health": {`) {
		t.Errorf("score.json lacks the run's health (%v)", err)
	}
	if s.Accuracy < 0.99 {
		t.Errorf("agreement %.4f < 0.99", s.Accuracy)
	}
	for _, c := range s.PerClass {
		if c.Precision < 0.98 || c.Recall < 0.98 {
			t.Errorf("class %s: precision %.3f recall %.3f, want both >= 0.98", c.Class, c.Precision, c.Recall)
		}
	}
	for _, want := range []string{"CN", "IR", "RU", "TM", "KZ", "IN"} {
		blocked := 0
		for _, it := range s.Items {
			if it.CC == want && it.Measured.Blocked() {
				blocked++
			}
		}
		if blocked == 0 {
			t.Errorf("%s blocks nothing", want)
		}
	}
	for _, it := range s.Items {
		if (it.CC == "US" || it.CC == "DE") && it.Measured.Blocked() {
			t.Errorf("%s from %s: %s (%s)", it.Domain, it.Vantage, it.Measured, it.Reason)
		}
	}
	for _, name := range lab.Outputs {
		if st, err := os.Stat(filepath.Join(out, name)); err != nil || st.Size() == 0 {
			t.Errorf("output %s: %v", name, err)
		}
	}
	if left, _ := filepath.Glob(filepath.Join(out, ".*")); len(left) > 0 {
		t.Errorf("temporary files left: %v", left)
	}
}
