package cli

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/splinter-lab/splinter/lab"
	"github.com/splinter-lab/splinter/probe"
	"github.com/splinter-lab/splinter/scenario"
)

func init() {
	register("timeline", "measure the world at several dates; chart reachability per jurisdiction over time and what changed it", runTimeline)
}

func runTimeline(e *env, args []string) error {
	fs := flags(e, "timeline", "[--scenario NAME|FILE] (--from DATE --to DATE (--every STEP | --changes) | --changes | --dates DATE,...) [--vantages CC|HOST,...] [--out DIR]")
	scen := fs.String("scenario", scenario.Default, "scenario: embedded name or file")
	out := fs.String("out", "splinter-out", "directory for "+strings.Join(append(append([]string{}, lab.Outputs...), lab.TimelineOutputs...), ", "))
	from, to := &date{}, &date{}
	fs.Var(from, "from", "the first `DATE` (YYYY-MM-DD)")
	fs.Var(to, "to", "the last `DATE` (YYYY-MM-DD)")
	every := fs.String("every", "", "the `STEP` between dates from --from to --to: 1y, 6mo, 2w, 30d")
	changes := fs.Bool("changes", false, "measure at every date at which a border's policy changes (a history version or a rule's active window), within --from/--to if given")
	dates := fs.String("dates", "", "comma-separated `DATES` to measure at")
	vantages := fs.String("vantages", "", "comma-separated jurisdiction codes or host names to measure from (default: a client in every access network)")
	list := fs.String("list", "", "a Citizen Lab test-list CSV to measure instead of the scenario's sites")
	conc := fs.Int("concurrency", 384, "measurements in flight at once")
	perVantage := fs.Int("per-vantage", 32, "measurements in flight at once from one vantage")
	residual := fs.Duration("residual-wait", 0, "repeat residual checks after this long (0 skips)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return badInput("unexpected argument %q", fs.Arg(0))
	}
	if *conc <= 0 || *perVantage <= 0 {
		return badInput("--concurrency and --per-vantage must be positive")
	}
	var ds []time.Time
	for _, s := range splitList(*dates) {
		var d date
		if err := d.Set(s); err != nil {
			return badInput("--dates: %v", err)
		}
		ds = append(ds, d.t)
	}
	switch {
	case (from.t.IsZero() || to.t.IsZero()) && *every != "":
		return badInput("--every needs --from and --to")
	case !from.t.IsZero() && !to.t.IsZero() && *every == "" && !*changes:
		return badInput("--from and --to need --every STEP or --changes")
	case len(ds) == 0 && *every == "" && !*changes:
		return badInput("no dates: give --from, --to and --every, or --changes, or --dates")
	}
	if *every != "" {
		step, err := lab.ParseStep(*every)
		if err != nil {
			return err
		}
		r, err := lab.Dates(from.t, to.t, step, 400)
		if err != nil {
			return err
		}
		ds = append(ds, r...)
	}
	spec, err := lab.Load(*scen)
	if err != nil {
		return err
	}
	if *changes {
		cs := spec.ChangeDates(from.t, to.t)
		if !from.t.IsZero() {
			cs = append(cs, from.t)
		}
		if len(cs) == 0 {
			return badInput("--changes: no border of %s changes policy in that range", spec.Scenario.Name)
		}
		ds = append(ds, cs...)
	}
	slices.SortFunc(ds, func(a, b time.Time) int { return a.Compare(b) })
	ds = slices.CompactFunc(ds, func(a, b time.Time) bool { return a.Equal(b) })
	vs, err := lab.Vantages(spec.Plan, splitList(*vantages))
	if err != nil {
		return err
	}
	inputs, err := lab.Inputs(spec.Plan, *list)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stderr, "splinter timeline: %s, %d dates from %s to %s, %d vantages × %d inputs each\n",
		spec.Scenario.Name, len(ds), ds[0].Format(time.DateOnly), ds[len(ds)-1].Format(time.DateOnly), len(vs), len(inputs))
	var prog *progress
	res, err := lab.Timeline(e.ctx, spec, lab.TimelineOptions{
		Dates: ds,
		Run: lab.RunOptions{From: splitList(*vantages), List: *list, Out: *out,
			Concurrency: *conc, PerVantage: *perVantage, ResidualWait: *residual,
			Progress: func(done, total int, m *probe.Measurement) { prog.update(done, total, m) }},
		OnDate: func(i, n int, at time.Time, versions []lab.InForce) {
			if prog != nil {
				prog.finish()
			}
			fmt.Fprintf(e.stderr, "[%d/%d] ", i+1, n)
			printInForce(e.stderr, at, versions)
			prog = newProgress(e.stderr)
		},
	})
	if prog != nil {
		prog.finish()
	}
	if err != nil {
		return err
	}
	res.Timeline.WriteSummary(e.stdout)
	fmt.Fprintf(e.stdout, "\n%d dates in %.1fs; wrote %s/{%s}\n", len(res.Dates), res.Elapsed.Seconds(), *out, strings.Join(res.Files, ","))
	return nil
}
