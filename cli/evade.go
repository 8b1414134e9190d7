package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/splinter-lab/splinter/evade"
	"github.com/splinter-lab/splinter/lab"
	"github.com/splinter-lab/splinter/scenario"
	"github.com/splinter-lab/splinter/strategy"
)

func init() {
	register("evade", "run trials of URLs from a host with a Geneva strategy; print the success rate of each", runEvade)
}

func runEvade(e *env, args []string) error {
	fs := flags(e, "evade", "[--scenario NAME|FILE] --from HOST [--strategy DNA] [--server-strategy DNA] [--trials N] [--json FILE] [--at DATE] URL...")
	scen := fs.String("scenario", scenario.Default, "scenario: embedded name or file")
	from := fs.String("from", "", "the host the trials start at (see 'splinter scenarios --hosts')")
	client := fs.String("strategy", "", "a client-side strategy in Geneva's syntax, applied to the host's packets")
	server := fs.String("server-strategy", "", "a server-side strategy, applied to the packets of the web host that serves the URL")
	trials := fs.Int("trials", evade.DefaultTrials, "trials per URL")
	jsonOut := fs.String("json", "", "write every trial with the borders' decisions about it to this file")
	at := dateFlag(fs)
	seed := fs.Uint64("seed", 0, "seed of the censors' and the strategies' random choices (0: random)")
	timeout := fs.Duration("timeout", evade.DefaultTimeout, "how long one trial may take")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return badInput("no URL to try")
	}
	if *from == "" {
		return badInput("--from HOST is required")
	}
	if *trials <= 0 {
		return badInput("--trials %d: want at least 1", *trials)
	}
	cs, err := parseStrategy("--strategy", *client)
	if err != nil {
		return err
	}
	ss, err := parseStrategy("--server-strategy", *server)
	if err != nil {
		return err
	}
	var urls []string
	for _, u := range fs.Args() {
		if !strings.Contains(u, "://") {
			u = "http://" + u + "/"
		}
		urls = append(urls, u)
	}
	spec, err := lab.Load(*scen)
	if err != nil {
		return err
	}
	if err := evade.Check(spec, *from, urls); err != nil {
		return err
	}
	var jf *os.File
	if *jsonOut != "" {
		if jf, err = os.Create(*jsonOut); err != nil {
			return inputError{err}
		}
		defer jf.Close()
	}
	res, err := evade.Run(e.ctx, spec, evade.Options{From: *from, Seed: *seed, Timeout: *timeout, At: at.t,
		Strategy: cs, ServerStrategy: ss, Trials: *trials}, urls)
	if err != nil {
		return err
	}
	for _, t := range res.URLs {
		fmt.Fprintln(e.stdout, t)
	}
	for _, t := range res.URLs {
		fmt.Fprintf(e.stderr, "%s: %s\n", t.URL, t.Residual())
	}
	n := len(res.Trials)
	fmt.Fprintf(e.stderr, "%d trials from %s in %.1fs (%.0f/s)\n", n, res.From, res.Elapsed.Seconds(), float64(n)/res.Elapsed.Seconds())
	if jf != nil {
		enc := json.NewEncoder(jf)
		enc.SetIndent("", "  ")
		if err := enc.Encode(res); err != nil {
			return fmt.Errorf("writing %s: %w", *jsonOut, err)
		}
		if err := jf.Close(); err != nil {
			return fmt.Errorf("writing %s: %w", *jsonOut, err)
		}
		fmt.Fprintf(e.stderr, "wrote %s\n", *jsonOut)
	}
	return nil
}

// parseStrategy reads a strategy flag; a syntax error is shown under the
// DNA with a caret at its column.
func parseStrategy(flag, dna string) (*strategy.Strategy, error) {
	if dna == "" {
		return nil, nil
	}
	s, err := strategy.Parse(dna)
	var se *strategy.SyntaxError
	if errors.As(err, &se) {
		return nil, badInput("%s: %v\n  %s\n  %s^", flag, err, dna, strings.Repeat(" ", max(se.Column-1, 0)))
	}
	if err != nil {
		return nil, badInput("%s: %v", flag, err)
	}
	return s, nil
}
