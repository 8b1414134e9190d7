package cli

import (
	"encoding/json"
	"flag"
	"fmt"
	"strings"

	"github.com/splinter-lab/splinter/lab"
	"github.com/splinter-lab/splinter/probe"
	"github.com/splinter-lab/splinter/scenario"
)

func init() {
	register("measure", "measure URLs from one host with web_connectivity; print OONI JSON and a verdict", runMeasure)
}

func runMeasure(e *env, args []string) error {
	fs := flags(e, "measure", "[--scenario NAME|FILE] [--at DATE] [--state DIR] --from HOST [-q] URL... | --real [-q] URL...")
	at := dateFlag(fs)
	scen := fs.String("scenario", scenario.Default, "scenario: embedded name or file")
	state := fs.String("state", "", "measure in the world a splinter up runs with this state directory (root), instead of a world of its own")
	from := fs.String("from", "", "the host to measure from (see 'splinter scenarios --hosts')")
	quiet := fs.Bool("q", false, "print only the verdict lines, not the OONI JSON")
	real := fs.Bool("real", false, "measure through this machine's own network instead of a world (sends traffic off the machine; no control, so no verdict)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return badInput("no URL to measure")
	}
	var urls []string
	for _, u := range fs.Args() {
		if !strings.Contains(u, "://") {
			u = "http://" + u + "/"
		}
		if err := lab.CheckURL(u); err != nil {
			return err
		}
		urls = append(urls, u)
	}
	var p *probe.Prober
	name := *from
	switch {
	case *real && *from != "":
		return badInput("--real measures from this machine: drop --from")
	case *real && !at.t.IsZero():
		return badInput("--real measures this machine's network today: drop --at")
	case *real && *state != "":
		return badInput("--real measures from this machine, --state in a running world: choose one")
	case *state != "" && !at.t.IsZero():
		return badInput("--state measures in the running world at its own date: drop --at")
	case *real:
		p = probe.New(probe.OS{}, probe.Config{})
		name = "this machine"
	case *from == "":
		return badInput("--from HOST is required (or --real)")
	case *state != "":
		given := ""
		fs.Visit(func(f *flag.Flag) {
			if f.Name == "scenario" {
				given = *scen
			}
		})
		return measureUp(e, given, *state, *from, urls, *quiet)
	default:
		l, err := lab.Start(e.ctx, *scen, lab.Options{At: at.t})
		if err != nil {
			return err
		}
		defer l.Close()
		if !at.t.IsZero() || !l.Spec().Scenario.At.IsZero() {
			printInForce(e.stderr, l.Date(), l.Versions())
		}
		if p, err = l.Prober(*from); err != nil {
			return err
		}
	}
	enc := json.NewEncoder(e.stdout)
	for _, u := range urls {
		m := p.WebConnectivity(e.ctx, u, probe.ReportID(p.Config().Clock.Now(), p.Config().Vantage, "0000"))
		if !*quiet {
			if err := enc.Encode(m); err != nil {
				return err
			}
		}
		printVerdict(e, u, name, m)
	}
	return nil
}

// printVerdict prints the one-line verdict of a measurement.
func printVerdict(e *env, url, from string, m *probe.Measurement) {
	fmt.Fprintf(e.stderr, "%s from %s (%s): %s — %s\n", url, from, m.ProbeCC, m.TestKeys.Verdict, m.TestKeys.VerdictReason)
}
