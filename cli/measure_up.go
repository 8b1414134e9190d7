//go:build linux

package cli

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/splinter-lab/splinter/portal"
	"github.com/splinter-lab/splinter/probe"
)

// measureUp measures urls from a host of the world a splinter up runs at
// state: up measures, through its control socket, exactly as `splinter
// measure` does in a world of its own (the same prober, on the host's own
// stack, with the world's test helper as the control), and its borders log
// the decisions in up's decisions.jsonl. scen, if given, must be up's.
func measureUp(e *env, scen, state, from string, urls []string, quiet bool) error {
	r, dir, err := upWorld(scen, state)
	if err != nil {
		return err
	}
	for _, u := range urls {
		raw, err := r.Measure(e.ctx, from, u)
		var re *portal.RequestError
		switch {
		case errors.As(err, &re) && re.BadInput:
			return inputError{err}
		case err != nil && e.ctx.Err() == nil && !errors.As(err, &re):
			// The connection failed: up went away.
			return fmt.Errorf("the world at %s went away (splinter up stopped or was killed): %v", dir, err)
		case err != nil:
			return err
		}
		var m probe.Measurement
		if err := json.Unmarshal(raw, &m); err != nil {
			return fmt.Errorf("the measurement the world at %s sent: %w", dir, err)
		}
		if !quiet {
			if _, err := fmt.Fprintf(e.stdout, "%s\n", raw); err != nil {
				return err
			}
		}
		printVerdict(e, u, from, &m)
	}
	return nil
}
