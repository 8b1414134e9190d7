package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/splinter-lab/splinter/evade"
	"github.com/splinter-lab/splinter/lab"
	"github.com/splinter-lab/splinter/scenario"
	"github.com/splinter-lab/splinter/strategy"
)

func init() {
	register("evolve", "search Geneva's strategy language for client-side strategies that get a URL through; print the best", runEvolve)
}

func runEvolve(e *env, args []string) error {
	fs := flags(e, "evolve", "[--scenario NAME|FILE] --from HOST [--population N] [--generations N] [--trials N] [--budget D] [--timeout D] [--seed-strategy DNA] [--disable-action LIST] [--json FILE] [--at DATE] URL")
	scen := fs.String("scenario", scenario.Default, "scenario: embedded name or file")
	from := fs.String("from", "", "the host the trials start at (see 'splinter scenarios --hosts')")
	population := fs.Int("population", evade.DefaultPopulation, "strategies per generation")
	generations := fs.Int("generations", evade.DefaultGenerations, "generations at most")
	trials := fs.Int("trials", evade.DefaultEvalTrials, "trials per new strategy")
	budget := fs.Duration("budget", evade.DefaultBudget, "stop after this long (real time) with what was found")
	top := fs.Int("top", 10, "how many of the best strategies to print")
	seed := fs.Uint64("seed", 1, "seed of the search, the censors and the strategies (0: random)")
	seedDNA := fs.String("seed-strategy", "", "a strategy to start the population with (Geneva's --seed)")
	disable := fs.String("disable-action", "", "actions new strategies never draw, comma-separated: tamper, duplicate, fragment, drop (Geneva's --disable-action)")
	jsonOut := fs.String("json", "", "write the best strategies with their tallies to this file")
	timeout := fs.Duration("timeout", evade.DefaultEvolveTimeout, "how long one trial may take")
	at := dateFlag(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	switch {
	case fs.NArg() != 1:
		return badInput("want one URL, got %d", fs.NArg())
	case *from == "":
		return badInput("--from HOST is required")
	case *population < 2 || *generations < 1 || *trials < 1 || *budget <= 0 || *top < 1 || *timeout <= 0:
		return badInput("--population (at least 2), --generations, --trials, --budget, --top and --timeout must be positive")
	}
	u := fs.Arg(0)
	if !strings.Contains(u, "://") {
		u = "http://" + u + "/"
	}
	var seeds []*strategy.Strategy
	if s, err := parseStrategy("--seed-strategy", *seedDNA); err != nil {
		return err
	} else if s != nil {
		seeds = append(seeds, s)
	}
	disabled, err := disabledActions(*disable)
	if err != nil {
		return err
	}
	spec, err := lab.Load(*scen)
	if err != nil {
		return err
	}
	if err := evade.Check(spec, *from, []string{u}); err != nil {
		return err
	}
	var jf *os.File
	if *jsonOut != "" {
		if jf, err = os.Create(*jsonOut); err != nil {
			return inputError{err}
		}
		defer jf.Close()
	}
	s, err := evade.Start(e.ctx, spec, evade.Options{From: *from, Seed: *seed, Timeout: *timeout, Concurrency: evade.DefaultEvolveConcurrency, At: at.t})
	if err != nil {
		return err
	}
	defer s.Close()
	res, err := s.Evolve(e.ctx, evade.EvolveOptions{
		URL: u, Population: *population, Generations: *generations, Trials: *trials, Budget: *budget,
		Seed: *seed, Seeds: seeds, Top: *top, Gen: strategy.Gen{Disabled: disabled},
		Progress: func(g evade.Generation) {
			fmt.Fprintf(e.stderr, "generation %d: %d new of %d distinct, mean fitness %.0f, best %.0f (%d/%d) %s [%.1fs]\n",
				g.N, g.Tried, g.Unique, g.Mean, g.Best.Fitness, g.Best.Tally.Success, g.Best.Tally.Trials, g.Best.DNA, g.Elapsed.Seconds())
		},
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stderr, "%d generations, %d strategies, %d trials in %.0fs (stopped by %s)\n", res.Generations, res.Tried, res.Trials, res.Elapsed.Seconds(), res.Stopped)
	fmt.Fprintf(e.stdout, "best strategies for %s from %s:\n", u, *from)
	for _, ind := range res.Best {
		fmt.Fprintf(e.stdout, "%4.0f%%  %3d/%-3d fitness %6.1f  %s\n", 100*ind.Tally.Rate(), ind.Tally.Success, ind.Tally.Trials, ind.Fitness, ind.DNA)
	}
	if jf != nil {
		enc := json.NewEncoder(jf)
		enc.SetIndent("", "  ")
		if err := enc.Encode(res); err != nil {
			return fmt.Errorf("writing %s: %w", *jsonOut, err)
		}
		if err := jf.Close(); err != nil {
			return fmt.Errorf("writing %s: %w", *jsonOut, err)
		}
	}
	return nil
}

// disabledActions reads --disable-action. Sleep and trace, which Geneva
// disables by default, are never drawn anyway and are accepted.
func disabledActions(list string) ([]strategy.Kind, error) {
	var kinds []strategy.Kind
	for _, name := range strings.Split(list, ",") {
		name = strings.TrimSpace(name)
		switch name {
		case "", "sleep", "trace":
			continue
		}
		found := false
		for _, k := range []strategy.Kind{strategy.Tamper, strategy.Duplicate, strategy.Fragment, strategy.Drop} {
			if k.String() == name {
				kinds, found = append(kinds, k), true
			}
		}
		if !found {
			return nil, badInput("--disable-action: unknown action %q (tamper, duplicate, fragment, drop)", name)
		}
	}
	return kinds, nil
}
