package lab_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/splinter-lab/splinter/lab"
	"github.com/splinter-lab/splinter/store"
)

// TestShards is issue 15's item 5 on SQLite: three processes' shards of a
// run (here one after another, each its own world) into one store measure
// the same (vantage, input, verdict) set as the run unsharded, every pair
// in exactly one shard; the stored run is complete once the three are, and
// scoring it again from the store (lab.ScoreStored, the union of the
// shards) gives the unsharded run's agreement.
func TestShards(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a world four times")
	}
	spec, err := lab.Load("two-lands")
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
	whole, err := lab.Run(ctx, spec, lab.RunOptions{Store: st, RunID: "whole", Lab: lab.Options{Seed: 1}})
	if err != nil {
		t.Fatal(err)
	}
	planned := 0
	for i := range 3 {
		res, err := lab.Run(ctx, spec, lab.RunOptions{Store: st, RunID: "sharded", Shard: lab.Shard{Index: i, Count: 3}, Lab: lab.Options{Seed: 1}})
		if err != nil {
			t.Fatalf("shard %d/3: %v", i, err)
		}
		planned += res.Planned
		if i < 2 {
			if r, err := st.Run(ctx, "sharded"); err != nil || r.Status != store.Running {
				t.Errorf("after shard %d of 3: %v, %v; want running", i, r.Status, err)
			}
		}
	}
	if planned != whole.Planned {
		t.Errorf("the shards planned %d measurements, the whole run %d", planned, whole.Planned)
	}
	set := func(id string) map[string]bool {
		page, err := st.Measurements(ctx, store.Query{Run: id, Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]bool{}
		for _, s := range page.Items {
			out[fmt.Sprintf("%s %s %s", s.Vantage, s.Input, s.Verdict)] = true
		}
		return out
	}
	a, b := set("whole"), set("sharded")
	if len(a) != whole.Measured || len(a) == 0 {
		t.Fatalf("whole run: %d stored of %d measured", len(a), whole.Measured)
	}
	for k := range a {
		if !b[k] {
			t.Errorf("whole run has %s, the shards do not", k)
		}
	}
	for k := range b {
		if !a[k] {
			t.Errorf("the shards have %s, the whole run does not", k)
		}
	}
	r, err := st.Run(ctx, "sharded")
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != store.Complete || r.Shards != 3 {
		t.Errorf("sharded run: %s, %d shards; want complete, 3", r.Status, r.Shards)
	}
	sc, err := lab.ScoreStored(ctx, st, spec, "sharded", lab.ScoreOptions{Out: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if sc.Score.Total != whole.Score.Total || sc.Score.Agree != whole.Score.Agree {
		t.Errorf("sharded run scored from the store: %d/%d; whole run: %d/%d", sc.Score.Agree, sc.Score.Total, whole.Score.Agree, whole.Score.Total)
	}
}

// TestParseShard: I/N, /N with the index from a Kubernetes Indexed Job's
// variable, and what is refused.
func TestParseShard(t *testing.T) {
	t.Setenv(lab.JobIndexEnv, "2")
	for _, tc := range []struct {
		in   string
		want lab.Shard
		ok   bool
	}{
		{"0/3", lab.Shard{Index: 0, Count: 3}, true},
		{"/3", lab.Shard{Index: 2, Count: 3}, true},
		{"3/3", lab.Shard{}, false},
		{"-1/3", lab.Shard{}, false},
		{"1/0", lab.Shard{}, false},
		{"a/3", lab.Shard{}, false},
		{"3", lab.Shard{}, false},
	} {
		got, err := lab.ParseShard(tc.in)
		if (err == nil) != tc.ok || tc.ok && got != tc.want {
			t.Errorf("ParseShard(%q) = %v, %v; want %v, ok %v", tc.in, got, err, tc.want, tc.ok)
		}
	}
	// Every pair falls in exactly one shard.
	for _, v := range []string{"cn-client-1", "us-client-1"} {
		for i := range 50 {
			in := fmt.Sprintf("http://www.site-%d.com/", i)
			n := 0
			for k := range 3 {
				if (lab.Shard{Index: k, Count: 3}).Includes(v, in) {
					n++
				}
			}
			if n != 1 {
				t.Errorf("%s %s is in %d shards of 3", v, in, n)
			}
		}
	}
}
