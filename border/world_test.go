package border_test

import (
	"testing"

	"github.com/splinter-lab/splinter/border"
	"github.com/splinter-lab/splinter/clock"
	"github.com/splinter-lab/splinter/policy"
	"github.com/splinter-lab/splinter/scenario"
	"github.com/splinter-lab/splinter/world"
)

// engineWorld starts sc with an engine enforcing pol on every border that
// has a policy, all writing to log and on clk (nil: the system clock). It
// returns the world and its engines by border name.
func engineWorld(tb testing.TB, sc *scenario.Scenario, pol *policy.Policy, clk clock.Clock, log *border.Log) (*world.World, map[string]*border.Engine) {
	tb.Helper()
	engines := map[string]*border.Engine{}
	w, err := world.Start(sc, world.Options{Seed: 1, Clock: clk, Gateway: func(b world.BorderSpec) (world.Gateway, error) {
		if pol == nil {
			return nil, nil
		}
		e, err := border.New(pol, border.Config{Border: b.Name(), Jurisdiction: b.Jurisdiction, Log: log, Clock: clk})
		if err != nil {
			return nil, err
		}
		engines[b.Name()] = e
		return e, nil
	}})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		w.Close()
		for _, e := range engines {
			e.Close()
		}
	})
	return w, engines
}
