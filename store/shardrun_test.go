package store_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/splinter-lab/splinter/lab"
	"github.com/splinter-lab/splinter/store"
)

// TestShardedRun is issue 15's item 5: three shards of a run (each its own
// world, as three processes would be, at once) into one store measure the
// same (vantage, input, verdict) set as the run unsharded; the stored run
// is running until the last shard ends and complete then; and scoring it
// again from the store (lab.ScoreStored, the union of the shards) gives
// the unsharded run's agreement. On SQLite, PostgreSQL and ClickHouse.
func TestShardedRun(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a world four times per database")
	}
	spec, err := lab.Load("two-lands")
	if err != nil {
		t.Fatal(err)
	}
	dialects(t, func(t *testing.T, dsn string) {
		ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
		defer cancel()
		st := open(t, dsn)
		whole, err := lab.Run(ctx, spec, lab.RunOptions{Store: st, RunID: "whole", Lab: lab.Options{Seed: 1}})
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		planned := make([]int, 3)
		for i := range 3 {
			own := open(t, dsn) // a process's own connection
			wg.Go(func() {
				res, err := lab.Run(ctx, spec, lab.RunOptions{Store: own, RunID: "sharded", Shard: lab.Shard{Index: i, Count: 3}, Lab: lab.Options{Seed: 1}})
				if err != nil {
					t.Errorf("shard %d/3: %v", i, err)
					return
				}
				planned[i] = res.Planned
			})
		}
		wg.Wait()
		if t.Failed() {
			return
		}
		if n := planned[0] + planned[1] + planned[2]; n != whole.Planned {
			t.Errorf("the shards planned %v measurements, the whole run %d", planned, whole.Planned)
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
				t.Errorf("the whole run has %s, the shards do not", k)
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
		if r.Status != store.Complete || r.Shards != 3 || len(r.Parts) != 3 {
			t.Errorf("sharded run: %s, %d shards, %d parts; want complete, 3, 3", r.Status, r.Shards, len(r.Parts))
		}
		sc, err := lab.ScoreStored(ctx, st, spec, "sharded", lab.ScoreOptions{Out: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		if sc.Score.Total != whole.Score.Total || sc.Score.Agree != whole.Score.Agree {
			t.Errorf("the sharded run scored from the store: %d/%d; the whole run: %d/%d", sc.Score.Agree, sc.Score.Total, whole.Score.Agree, whole.Score.Total)
		}
	})
}
