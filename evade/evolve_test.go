package evade_test

import (
	"context"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/splinter-lab/splinter/evade"
	"github.com/splinter-lab/splinter/strategy"
)

// TestEvolve runs a small search against the 2019 GFW, seeded with a
// Geneva strategy that evades it: the search runs every generation, the
// seed survives as the elite, the best strategies come out best first,
// and every fitness is Geneva's formula applied to the strategy's own
// trials.
func TestEvolve(t *testing.T) {
	s := start(t, evade.Options{From: "cn-client-1", Seed: 11})
	seed := strategy.MustParse(`[TCP:flags:PA]-duplicate(tamper{TCP:dataofs:replace:10}(tamper{TCP:chksum:corrupt},),)-|`)
	var gens []evade.Generation
	res, err := s.Evolve(context.Background(), evade.EvolveOptions{
		URL: keyword, Population: 6, Generations: 3, Trials: 4, Budget: 3 * time.Minute, Seed: 1,
		Seeds: []*strategy.Strategy{seed}, Progress: func(g evade.Generation) { gens = append(gens, g) },
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range gens {
		t.Logf("generation %d: %d tried, %d unique, mean %.1f, best %.1f %s (%s)", g.N, g.Tried, g.Unique, g.Mean, g.Best.Fitness, g.Best.DNA, g.Best.Tally)
	}
	if res.Stopped != "generations" || res.Generations != 3 || len(gens) != 3 {
		t.Errorf("stopped by %s after %d generations (%d reported), want 3 generations", res.Stopped, res.Generations, len(gens))
	}
	if len(res.Best) == 0 || res.Tried < len(res.Best) || res.Trials != 4*res.Tried {
		t.Fatalf("%d best of %d tried, %d trials", len(res.Best), res.Tried, res.Trials)
	}
	if !slices.IsSortedFunc(res.Best, func(a, b evade.Individual) int { return -cmpFloat(a.Fitness, b.Fitness) }) {
		t.Errorf("best not sorted by fitness")
	}
	top := res.Best[0]
	if top.Fitness < seedFitness(t, res, seed.String()) || top.Tally.Success < 3 {
		t.Errorf("best %s (%.1f, %s): the seed (%.1f) should survive as the elite", top.DNA, top.Fitness, top.Tally, seedFitness(t, res, seed.String()))
	}
	for _, ind := range res.Best {
		tl := ind.Tally
		if tl.Trials != 4 {
			t.Errorf("%s: %d trials, want 4", ind.DNA, tl.Trials)
		}
		f := float64(400*tl.Success-360*tl.Reset-400*(tl.Timeout+tl.Other)) / float64(tl.Trials)
		if f > 0 {
			f -= float64(ind.Size)
		}
		f -= float64(10 * ind.Unused)
		if math.Abs(f-ind.Fitness) > 1e-9 {
			t.Errorf("%s: fitness %.2f, want %.2f from %s, size %d, %d unused", ind.DNA, ind.Fitness, f, tl, ind.Size, ind.Unused)
		}
		if _, err := strategy.Parse(ind.DNA); err != nil {
			t.Errorf("%s: %v", ind.DNA, err)
		}
	}
}

func seedFitness(t *testing.T, res *evade.Evolution, dna string) float64 {
	for _, ind := range res.Best {
		if ind.DNA == dna {
			return ind.Fitness
		}
	}
	return math.Inf(-1)
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// TestEvolveBudget: a search stops when its budget runs out, soon after,
// with what it found so far.
func TestEvolveBudget(t *testing.T) {
	s := start(t, evade.Options{From: "cn-client-1", Seed: 12})
	begin := time.Now()
	res, err := s.Evolve(context.Background(), evade.EvolveOptions{URL: keyword, Population: 200, Generations: 50, Trials: 4, Budget: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	took := time.Since(begin)
	t.Logf("%d generations, %d tried, %d trials in %v, stopped by %s", res.Generations, res.Tried, res.Trials, took, res.Stopped)
	if res.Stopped != "budget" || took > 8*time.Second {
		t.Errorf("stopped by %s after %v, want the 2s budget", res.Stopped, took)
	}
	for _, ind := range res.Best {
		if ind.Tally.Trials != 4 {
			t.Errorf("%s: %d trials: a strategy cut short by the budget is reported", ind.DNA, ind.Tally.Trials)
		}
	}
}
