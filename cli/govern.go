package cli

import (
	"fmt"
	"io"
	"strings"

	"github.com/splinter-lab/splinter/governance"
	"github.com/splinter-lab/splinter/lab"
	"github.com/splinter-lab/splinter/scenario"
)

func init() {
	register("govern", "replay a governance scenario on a world: each proposal's steps and outcome under a forum, logged, and its effect on reachability", runGovern)
}

func runGovern(e *env, args []string) error {
	fs := flags(e, "govern", "FILE|NAME [--forum F] [--scenario NAME|FILE] [--from CC|HOST,...] [--out DIR] [--no-measure]")
	forum := fs.String("forum", "", "replay every proposal under this forum of the file instead of its own (to compare models)")
	scen := fs.String("scenario", scenario.Default, "the world: embedded scenario name or file")
	from := fs.String("from", "", "comma-separated jurisdiction codes or hosts to measure from (default: a client in every access network of each jurisdiction a proposal would change, and of a jurisdiction without a border)")
	out := fs.String("out", "", "directory for the log (DIR/log), each phase's run outputs and govern.json (default: a temporary log, removed)")
	noMeasure := fs.Bool("no-measure", false, "replay and log only; do not measure reachability")
	seed := fs.Uint64("seed", 1, "seed of the censors' random choices and the links")
	// The file comes first; flags may follow it.
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return badInput("no governance file given (embedded: %s)", strings.Join(governance.Names(), ", "))
	}
	name := fs.Arg(0)
	if err := parse(fs, fs.Args()[1:]); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return badInput("unexpected argument %q", fs.Arg(0))
	}
	f, err := governance.Open(name)
	if err != nil {
		return inputError{err}
	}
	spec, err := lab.Load(*scen)
	if err != nil {
		return err
	}
	prog := newGovernProgress(e.stderr)
	res, err := lab.Govern(e.ctx, f, spec, lab.GovernOptions{Forum: *forum, From: splitList(*from), Out: *out, NoMeasure: *noMeasure, Seed: *seed, Progress: prog.update})
	prog.finish()
	if err != nil {
		return err
	}
	return writeGovern(e.stdout, res)
}

// writeGovern prints a governance replay for people.
func writeGovern(w io.Writer, res *lab.GovernResult) error {
	var b strings.Builder
	forum := "each proposal under its own forum"
	if res.Forum != "" {
		forum = "every proposal under forum " + res.Forum
	}
	fmt.Fprintf(&b, "governance %s on world %s, %s\n", res.File, res.Scenario, forum)
	if len(res.Base) > 0 {
		fmt.Fprintf(&b, "base policy versions, logged and in force from %s:\n", res.Base[0].Effective)
		for _, v := range res.Base {
			fmt.Fprintf(&b, "  %-22s log index %-3d %s %s\n", v.Border, v.Index, v.Policy, v.Version)
		}
	}
	if len(res.Vantages) > 0 {
		var named, controls []string
		for _, s := range res.Sites {
			if s.Named {
				named = append(named, s.Domain)
			} else {
				controls = append(controls, s.Domain)
			}
		}
		fmt.Fprintf(&b, "measured from %s\n  sites the proposals name: %s\n  controls: %s\n", strings.Join(res.Vantages, ", "), orNone(named), orNone(controls))
	}
	for _, pr := range res.Proposals {
		b.WriteString("\n")
		if err := governance.Format(&b, []governance.Outcome{pr.Outcome}); err != nil {
			return err
		}
		fmt.Fprintf(&b, "logged: the steps and the outcome are log entries %d-%d\n", pr.Entries[0], pr.Entries[1])
		for _, a := range pr.Applied {
			if a.NotApplied != "" {
				target := a.Border
				if target == "" {
					target = a.Change.Jurisdiction
				}
				if target == "" {
					target = "the root zone"
				}
				fmt.Fprintf(&b, "  not applied to %s: %s\n", target, a.NotApplied)
				continue
			}
			fmt.Fprintf(&b, "  new version of %s: %s, log index %d, in force from %s\n", a.Border, a.Version, a.Index, a.Change.Effective)
			for _, d := range a.Diff {
				fmt.Fprintf(&b, "      %s\n", d)
			}
		}
		writePhases(&b, pr)
	}
	if res.Log != "" {
		fmt.Fprintf(&b, "\ntransparency log: %s, %d entries (check it: splinter log verify %s)\n", res.Log, res.LogSize, res.Log)
	} else {
		fmt.Fprintf(&b, "\ntransparency log: %d entries, temporary (keep it with --out DIR)\n", res.LogSize)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// writePhases prints reachability before and after, per jurisdiction and
// category, the verdicts that changed, and each phase's audit.
func writePhases(b *strings.Builder, pr lab.ProposalResult) {
	if pr.Before == nil {
		return
	}
	day := func(p *lab.Phase) string { return p.Date.UTC().Format("2006-01-02") }
	after := map[[2]string]lab.Reach{}
	if pr.After != nil {
		for _, r := range pr.After.Reach {
			after[[2]string{r.Jurisdiction, r.Category}] = r
		}
		fmt.Fprintf(b, "reachability (sites reachable / measured), before %s and after %s:\n", day(pr.Before), day(pr.After))
	} else {
		fmt.Fprintf(b, "reachability (sites reachable / measured) on %s:\n", day(pr.Before))
	}
	for _, r := range pr.Before.Reach {
		cat := r.Category
		if cat == "" {
			cat = "all"
		}
		line := fmt.Sprintf("  %-3s %-5s %7s", r.Jurisdiction, cat, fmt.Sprintf("%d/%d", r.Reachable, r.Total))
		if pr.After != nil {
			a := after[[2]string{r.Jurisdiction, r.Category}]
			line += fmt.Sprintf("  → %5s", fmt.Sprintf("%d/%d", a.Reachable, a.Total))
			if a.Reachable != r.Reachable {
				line += fmt.Sprintf("  (%+d)", a.Reachable-r.Reachable)
			}
		}
		fmt.Fprintln(b, line)
	}
	if pr.After == nil {
		fmt.Fprintf(b, "  after: %s\n", pr.Unchanged)
	} else if len(pr.Changed) == 0 {
		fmt.Fprintf(b, "  no verdict changed\n")
	}
	for _, c := range pr.Changed {
		fmt.Fprintf(b, "  changed: %s from %s (%s): %s → %s\n", c.Domain, c.Vantage, c.CC, c.Before, c.After)
	}
	audit := func(p *lab.Phase) string {
		a := p.Run.Audit
		if a == nil {
			return "no log"
		}
		if a.Clean() {
			return "every decision is explained by the logged version its border cites"
		}
		return fmt.Sprintf("%d undeclared finding(s), see %s/report.html", len(a.Undeclared), p.Dir)
	}
	fmt.Fprintf(b, "  audit before: %s\n", audit(pr.Before))
	if pr.After != nil {
		fmt.Fprintf(b, "  audit after: %s\n", audit(pr.After))
	}
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}

// governProgress prints a line as each phase completes.
type governProgress struct {
	w    io.Writer
	last string
}

func newGovernProgress(w io.Writer) *governProgress { return &governProgress{w: w} }

func (p *governProgress) update(phase string, done, total int) {
	if done == total && phase != p.last {
		p.last = phase
		fmt.Fprintf(p.w, "measured %s: %d measurements\n", phase, total)
	}
}

func (p *governProgress) finish() {}
