package lab

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/splinter-lab/splinter/border"
	"github.com/splinter-lab/splinter/policy"
	"github.com/splinter-lab/splinter/probe"
	"github.com/splinter-lab/splinter/report"
	"github.com/splinter-lab/splinter/score"
)

// A timeline measures one world at several dates: one lab is built and
// started at the first date, and for each later date its clock jumps there
// (an Offset clock) and the borders that follow a history change engine
// where the version changed (Lab.SetDate); the world, its hosts, sites and
// test helper stay. Each date's campaign is scored against the decisions
// taken during it.

// TimelineOptions say which dates a timeline measures and how.
type TimelineOptions struct {
	// Dates are measured in order (sorted; duplicates dropped); at least
	// one.
	Dates []time.Time
	// Run says what each date measures (From, List, Concurrency,
	// PerVantage, ResidualWait, Progress) and where the outputs go (Out).
	// Run.Lab tunes the one lab; its At is the first date (leave it zero),
	// and a Clock given there (a Manual one, in tests) must read the first
	// date.
	Run RunOptions
	// OnDate, if set, is called as each date's campaign starts.
	OnDate func(i, n int, at time.Time, versions []InForce)
}

// TimelineResult is what a timeline found.
type TimelineResult struct {
	Scenario string
	Dates    []DateResult
	// Timeline is the index series and what moved them; Report is the
	// last date's report with the timeline in it.
	Timeline *report.Timeline
	Report   *report.Report
	Elapsed  time.Duration
	// Files are the outputs written, by name.
	Files []string
}

// DateResult is one date of a timeline.
type DateResult struct {
	At       time.Time
	Versions []InForce
	// Changes took effect since the date before.
	Changes      []report.Change
	Measurements []*probe.Measurement
	Score        *score.Result
	Report       *report.Report
}

// TimelineOutputs are the files a timeline writes besides Outputs:
// timeline.json (dates, index series per jurisdiction and category, the
// changes and what moved the index) and timeline.csv (one row per date,
// jurisdiction and category).
var TimelineOutputs = []string{"timeline.json", "timeline.csv"}

// Timeline is `splinter timeline`: it measures s at every date of opts,
// sharing one world, and writes the usual outputs (measurements and
// decisions of every date; score.json and report.html of the last, the
// report with the timeline chart) and TimelineOutputs.
func Timeline(ctx context.Context, s *Spec, opts TimelineOptions) (*TimelineResult, error) {
	dates := slices.Clone(opts.Dates)
	slices.SortFunc(dates, func(a, b time.Time) int { return a.Compare(b) })
	dates = slices.CompactFunc(dates, func(a, b time.Time) bool { return a.Equal(b) })
	if len(dates) == 0 {
		return nil, badInput(errors.New("timeline: no dates to measure"))
	}
	run := opts.Run
	vantages, err := Vantages(s.Plan, run.From)
	if err != nil {
		return nil, err
	}
	inputs, err := Inputs(s.Plan, run.List)
	if err != nil {
		return nil, err
	}
	if run.ResidualWait < 0 {
		return nil, badInput(fmt.Errorf("residual wait %v is negative", run.ResidualWait))
	}
	if run.Concurrency == 0 {
		run.Concurrency = 384
	}
	if run.PerVantage == 0 {
		run.PerVantage = 32
	}
	if run.Concurrency < 0 || run.PerVantage < 0 {
		return nil, badInput(fmt.Errorf("concurrency and per-vantage bounds must be positive"))
	}
	if !run.Lab.At.IsZero() {
		return nil, badInput(errors.New("timeline: the dates say when; leave Lab.At zero"))
	}
	var out *outputs
	if run.Out != "" {
		if out, err = newOutputs(run.Out); err != nil {
			return nil, err
		}
		defer out.abort()
		run.Lab.Decisions = out.decisions
	}
	labOpts := run.Lab
	if labOpts.Clock == nil {
		labOpts.At = dates[0]
	} else if now := labOpts.Clock.Now(); !now.Equal(dates[0]) {
		return nil, fmt.Errorf("timeline: the lab's clock reads %s, not the first date %s", now.Format(time.RFC3339), dates[0].Format(time.RFC3339))
	}
	start := time.Now()
	l, err := s.Start(ctx, labOpts)
	if err != nil {
		return nil, err
	}
	defer l.Close()
	if l.control == nil {
		return nil, badInput(fmt.Errorf("scenario %s has no control host (a jurisdiction with control: true)", s.Scenario.Name))
	}
	var probers []*probe.Prober
	for _, v := range vantages {
		p, err := l.Prober(v, func(c *probe.Config) { c.ResidualWait = run.ResidualWait })
		if err != nil {
			return nil, err
		}
		probers = append(probers, p)
	}
	res := &TimelineResult{Scenario: s.Scenario.Name}
	var all []*probe.Measurement
	var points []report.Point
	for i, at := range dates {
		if i > 0 {
			if err := l.SetDate(at); err != nil {
				return nil, fmt.Errorf("timeline: %s: %w", at.Format(time.DateOnly), err)
			}
		}
		dr := DateResult{At: at, Versions: l.Versions()}
		if i > 0 {
			dr.Changes = s.Changes(dates[i-1], at)
		}
		if opts.OnDate != nil {
			opts.OnDate(i, len(dates), at, dr.Versions)
		}
		ms := probe.Campaign(ctx, probers, inputs, probe.CampaignOptions{Concurrency: run.Concurrency, PerVantage: run.PerVantage, Progress: run.Progress})
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("interrupted: %w", err)
		}
		// The date's decisions: from its start to the next date (or now).
		var ds []border.Decision
		for _, d := range l.log.Decisions() {
			if !d.Time.Before(at) && (i == len(dates)-1 || d.Time.Before(dates[i+1])) {
				ds = append(ds, d)
			}
		}
		dr.Measurements = ms
		dr.Score = score.Score(ms, ds)
		dr.Report = report.Build(s.Scenario, s.Plan, len(ds), dr.Score)
		dr.Report.At, dr.Report.Policies = at, reportPolicies(dr.Versions)
		res.Dates = append(res.Dates, dr)
		points = append(points, report.Point{Date: at, Report: dr.Report, Changes: dr.Changes})
		all = append(all, ms...)
	}
	l.Close()
	if err := l.log.Err(); err != nil {
		return nil, fmt.Errorf("decisions.jsonl: %w", err)
	}
	res.Elapsed = time.Since(start)
	res.Timeline = report.BuildTimeline(points)
	last := res.Dates[len(res.Dates)-1]
	res.Report = last.Report
	res.Report.Timeline = res.Timeline
	res.Report.Elapsed = res.Elapsed
	if out != nil {
		rr := &RunResult{Scenario: s.Scenario.Name, At: last.At, Versions: last.Versions, Measurements: all, Score: last.Score, Report: res.Report}
		if err := out.finish(all, rr,
			extraFile{"timeline.json", func(w io.Writer) error {
				enc := json.NewEncoder(w)
				enc.SetIndent("", "  ")
				return enc.Encode(res.Timeline)
			}},
			extraFile{"timeline.csv", res.writeCSV}); err != nil {
			return nil, err
		}
		res.Files = append(slices.Clone(Outputs), TimelineOutputs...)
	}
	return res, nil
}

// writeCSV writes timeline.csv: date, jurisdiction, category ("all" for
// the overall index), index (empty where nothing was measured), the
// policies in force.
func (r *TimelineResult) writeCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	cw.Write([]string{"date", "jurisdiction", "category", "index", "policies"})
	tl := r.Timeline
	f := func(v float64) string {
		if v < 0 {
			return ""
		}
		return strconv.FormatFloat(v, 'f', 4, 64)
	}
	for di, d := range tl.Dates {
		for _, s := range tl.Series {
			pol := strings.Join(s.Policies[di], " ")
			cw.Write([]string{d.UTC().Format(time.RFC3339), s.Jurisdiction, "all", f(s.Index[di]), pol})
			for _, c := range tl.Categories {
				if v := s.ByCategory[c][di]; v >= 0 {
					cw.Write([]string{d.UTC().Format(time.RFC3339), s.Jurisdiction, c, f(v), pol})
				}
			}
		}
	}
	cw.Flush()
	return cw.Error()
}

// Changes lists what changed at s's borders after from, up to and
// including to: each history version that came into force (and the cited
// changes it made), and each rule whose active window opened or closed, in
// date order.
func (s *Spec) Changes(from, to time.Time) []report.Change {
	var out []report.Change
	for _, b := range s.Borders {
		if b.History == nil {
			continue
		}
		for _, v := range b.History.Versions {
			d := v.From.Time()
			if !d.After(from) || d.After(to) {
				continue
			}
			if len(v.Changes) == 0 {
				var ids, sources []string
				for _, r := range v.Policy.Rules {
					ids = append(ids, r.ID)
					if !slices.Contains(sources, r.Source) {
						sources = append(sources, r.Source)
					}
				}
				if len(sources) > 2 {
					sources = append(sources[:2], "…")
				}
				out = append(out, report.Change{Date: d, Jurisdiction: b.Jurisdiction, Border: b.Name, Version: v.Name,
					What: "comes into force (" + strings.Join(ids, ", ") + "): " + brief(v.Summary), Source: strings.Join(sources, "; "), Year: d.Year()})
			}
			for _, c := range v.Changes {
				what := changeWhat(c)
				if c.Kind == policy.AddRule {
					if r := rule(v.Policy, c.Rule); r != nil {
						what += ": " + brief(r.Description)
					}
				}
				out = append(out, report.Change{Date: d, Jurisdiction: b.Jurisdiction, Border: b.Name, Version: v.Name,
					Rule: c.Rule, What: what, Source: c.Source, Year: c.Year})
			}
		}
		// Rule windows, in whichever version is in force at the edge.
		seen := map[string]bool{}
		for _, v := range b.History.Versions {
			for _, r := range v.Policy.Rules {
				for _, e := range r.Scope.Active.Edges() {
					if !e.After(from) || e.After(to) {
						continue
					}
					in := b.History.At(e)
					if in == nil || rule(in.Policy, r.ID) == nil {
						continue
					}
					if in.From.Time().Equal(e) && (in == b.History.Versions[0] || rule(b.History.At(e.Add(-time.Nanosecond)).Policy, r.ID) == nil) {
						continue // the version that adds the rule says so
					}
					key := r.ID + e.String()
					if seen[key] {
						continue
					}
					seen[key] = true
					what := "rule " + r.ID + " comes into force"
					if !r.Scope.Active.Contains(e) {
						what = "rule " + r.ID + " goes out of force"
					}
					out = append(out, report.Change{Date: e, Jurisdiction: b.Jurisdiction, Border: b.Name, Rule: r.ID,
						What: what + ": " + brief(r.Description), Source: r.Source, Year: r.Year})
				}
			}
		}
	}
	slices.SortStableFunc(out, func(a, b report.Change) int { return a.Date.Compare(b.Date) })
	return out
}

func rule(p *policy.Policy, id string) *policy.Rule {
	for i := range p.Rules {
		if p.Rules[i].ID == id {
			return &p.Rules[i]
		}
	}
	return nil
}

// brief is the first sentence of s, on one line, at most about 100 bytes.
func brief(s string) string {
	s = oneLine(s)
	if i := strings.Index(s, ". "); i > 0 {
		s = s[:i]
	}
	s = strings.TrimSuffix(s, ".")
	if len(s) > 100 {
		cut := strings.LastIndexByte(s[:100], ' ')
		if cut < 60 {
			cut = 100
		}
		s = s[:cut] + " …"
	}
	return s
}

func changeWhat(c policy.Change) string {
	var what string
	switch c.Kind {
	case policy.AddRule:
		what = "adds rule " + c.Rule
	case policy.RemoveRule:
		what = "removes rule " + c.Rule
	case policy.ChangeRule:
		what = "changes rule " + c.Rule
	default:
		what = "sets " + strings.Join(c.Set, ", ")
	}
	if c.Description != "" {
		what += ": " + oneLine(c.Description)
	}
	return what
}

var spaces = regexp.MustCompile(`\s+`)

func oneLine(s string) string { return strings.TrimSpace(spaces.ReplaceAllString(s, " ")) }

// ChangeDates lists the dates at which what s's borders enforce may change
// (history versions and rule windows; Edges), within [from, to] where
// those are set.
func (s *Spec) ChangeDates(from, to time.Time) []time.Time {
	var out []time.Time
	for _, b := range s.Borders {
		if b.History == nil {
			continue
		}
		for _, e := range b.History.Edges() {
			if (from.IsZero() || !e.Before(from)) && (to.IsZero() || !e.After(to)) {
				out = append(out, e)
			}
		}
	}
	slices.SortFunc(out, func(a, b time.Time) int { return a.Compare(b) })
	return slices.CompactFunc(out, func(a, b time.Time) bool { return a.Equal(b) })
}

// Step is a calendar step between a timeline's dates: years, months and
// days added together (time.Time.AddDate).
type Step struct{ Years, Months, Days int }

var stepRE = regexp.MustCompile(`^(\d+)(y|mo|w|d)$`)

// ParseStep reads a step: "1y", "6mo", "2w", "30d".
func ParseStep(s string) (Step, error) {
	m := stepRE.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return Step{}, badInput(fmt.Errorf("step %q: want a number and a unit: y, mo, w or d (6mo, 1y, 2w, 30d)", s))
	}
	n, err := strconv.Atoi(m[1])
	if err != nil || n <= 0 || n > 10000 {
		return Step{}, badInput(fmt.Errorf("step %q: want a positive number", s))
	}
	switch m[2] {
	case "y":
		return Step{Years: n}, nil
	case "mo":
		return Step{Months: n}, nil
	case "w":
		return Step{Days: 7 * n}, nil
	}
	return Step{Days: n}, nil
}

// Dates lists from, from+step, ... up to to (included when a step lands
// on it). At most max dates (0: 1000); more is an input error.
func Dates(from, to time.Time, step Step, max int) ([]time.Time, error) {
	if max <= 0 {
		max = 1000
	}
	if to.Before(from) {
		return nil, badInput(fmt.Errorf("--to %s is before --from %s", to.Format(time.DateOnly), from.Format(time.DateOnly)))
	}
	if step == (Step{}) {
		return nil, badInput(errors.New("a step of zero"))
	}
	var out []time.Time
	for i := 0; ; i++ {
		d := from.AddDate(i*step.Years, i*step.Months, i*step.Days)
		if d.After(to) {
			break
		}
		if len(out) == max {
			return nil, badInput(fmt.Errorf("more than %d dates from %s to %s", max, from.Format(time.DateOnly), to.Format(time.DateOnly)))
		}
		out = append(out, d)
	}
	return out, nil
}
