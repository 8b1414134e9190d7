// Package report turns a run (its measurements, the border decisions and
// their scoring) into what people look at: a summary table for the terminal
// and one self-contained report.html (inline CSS and SVG, no external
// fetches) with a jurisdiction × category heatmap of reachability, the
// blocking methods seen per jurisdiction, the confusion matrix against the
// ground truth, and for every blocked or disputed site the evidence chain
// (DNS answers, failed handshakes and fetches, and the decisions the borders
// recorded, injected packets included), each rule listed with its
// description, source and year (Cite), a glossary of verdicts and methods
// (NewGlossary, which the explorer prints too), and, when the run was
// audited against a transparency log, what each border declared and what it
// did. The page reads on a phone as on a desktop (400 px and up).
//
// It measures nothing and scores nothing itself (packages probe and score
// do).
package report

import (
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/splinter-lab/splinter/border"
	"github.com/splinter-lab/splinter/policy"
	"github.com/splinter-lab/splinter/probe"
	"github.com/splinter-lab/splinter/scenario"
	"github.com/splinter-lab/splinter/score"
)

// Report is a run, arranged for presentation. Build makes one; the zero
// value is an empty report.
type Report struct {
	Scenario    string
	Description string
	// At is the world's date the run measured (zero if not given), and
	// Policies what each border applied then.
	At       time.Time
	Policies []Policy
	// Timeline, if set, is reachability over several dates (a timeline
	// run); the rest of the report is its last date's.
	Timeline      *Timeline
	Elapsed       time.Duration
	Jurisdictions []Jurisdiction
	Categories    []scenario.Category
	// Cells[j][c] is jurisdiction j × category c.
	Cells    [][]Cell
	Score    *score.Result
	NDecided int
	// Blocked counts the measurements found blocked.
	Blocked int
	// Audit, if set, is the run checked against the logged policies.
	Audit *score.AuditResult
	// Interrupted says the run was stopped before it measured everything:
	// it made Score.Total of Planned measurements.
	Interrupted bool
	Planned     int
	// Health, if set, is how steady the run was (probe.NewHealth).
	Health *probe.Health
	// Citations are the rules of the run's policies (Cite sets them), so
	// that every rule the report lists comes with its description, source
	// and year.
	Citations []Citation
}

// Citation is one rule of a policy as the report cites it.
type Citation struct {
	Policy       string `json:"policy"`
	Rule         string `json:"rule"`
	Jurisdiction string `json:"jurisdiction"`
	Description  string `json:"description"`
	Source       string `json:"source"`
	Year         int    `json:"year,omitempty"`
}

// Cite adds the rules of ps to the report's citations (a policy cited
// twice is listed once).
func (r *Report) Cite(ps ...*policy.Policy) {
	for _, p := range ps {
		if p == nil {
			continue
		}
		for _, rule := range p.Rules {
			if _, dup := r.citation(p.Name, rule.ID); dup {
				continue
			}
			r.Citations = append(r.Citations, Citation{Policy: p.Name, Rule: rule.ID, Jurisdiction: p.Meta.Jurisdiction,
				Description: rule.Description, Source: rule.Source, Year: rule.Year})
		}
	}
}

// citation returns the citation of a policy's rule, if the report has it.
func (r *Report) citation(policy, rule string) (Citation, bool) {
	for _, c := range r.Citations {
		if c.Policy == policy && c.Rule == rule {
			return c, true
		}
	}
	return Citation{}, false
}

// Jurisdiction is one row of the heatmap.
type Jurisdiction struct {
	Code, Name string
	Vantages   []string
	Total      int
	Reachable  int
	// Methods counts measured verdicts; Behind counts the further methods
	// measurements found behind their verdict (SNI filtering behind DNS
	// poisoning); Truth counts true verdicts.
	Methods map[probe.Verdict]int
	Behind  map[probe.Verdict]int
	Truth   map[probe.Verdict]int
	// Rules counts the decisions of each border rule on this jurisdiction's
	// measurements.
	Rules map[RuleAction]int
}

// RuleAction is a rule of a border's policy and one action it took.
type RuleAction struct {
	Border, Policy, Rule string
	Action               border.ActionKind
}

// String is "border rule (action)", as the timeline names a rule whose
// decisions moved an index: "RU ru-tspu-sni (drop)".
func (ra RuleAction) String() string {
	return ra.Border + " " + ra.Rule + " (" + string(ra.Action) + ")"
}

// Cell is one jurisdiction × category square.
type Cell struct {
	Total, Reachable int
	// Blocked names the measurements found blocked, one entry per domain,
	// vantage and verdict ("www.x.com (cn-client-1: dns)"), at most
	// MaxBlocked; MoreBlocked counts the entries beyond.
	Blocked     []string
	MoreBlocked int
}

// MaxBlocked bounds Cell.Blocked.
const MaxBlocked = 60

// Share is the share reachable, or -1 for an empty cell.
func (c Cell) Share() float64 {
	if c.Total == 0 {
		return -1
	}
	return float64(c.Reachable) / float64(c.Total)
}

// Reachable reports whether a verdict leaves the site usable.
func Reachable(v probe.Verdict) bool { return v == probe.Accessible || v == probe.Throttled }

// Build arranges a run whose every item res holds (score.Score).
func Build(sc *scenario.Scenario, plan *scenario.Plan, decisions int, res *score.Result) *Report {
	b := NewBuilder(sc, plan)
	for _, it := range res.Items {
		b.Add(it)
	}
	return b.Report(decisions, res)
}

// Builder arranges a run as its items are scored: the heatmap and the
// methods per jurisdiction are counts, so a run of any size is arranged in
// memory that grows with the world (jurisdictions, categories, domains
// blocked), not with the run. It is not safe for concurrent use.
type Builder struct {
	r       *Report
	jidx    map[string]int
	cells   map[cellKey]*Cell
	blocked map[cellKey]map[string]bool
	used    map[string]bool
}

type cellKey struct {
	j        int
	category string
}

// NewBuilder starts arranging a run of sc.
func NewBuilder(sc *scenario.Scenario, plan *scenario.Plan) *Builder {
	b := &Builder{r: &Report{Scenario: sc.Name, Description: sc.Description}, jidx: map[string]int{},
		cells: map[cellKey]*Cell{}, blocked: map[cellKey]map[string]bool{}, used: map[string]bool{}}
	for _, j := range plan.Jurisdictions {
		b.jidx[j.Code] = len(b.r.Jurisdictions)
		b.r.Jurisdictions = append(b.r.Jurisdictions, Jurisdiction{Code: j.Code, Name: j.Name,
			Methods: map[probe.Verdict]int{}, Behind: map[probe.Verdict]int{}, Truth: map[probe.Verdict]int{}, Rules: map[RuleAction]int{}})
	}
	return b
}

// Add counts one scored item.
func (b *Builder) Add(it score.Item) {
	if it.Measured.Blocked() {
		b.r.Blocked++
	}
	b.used[it.Category] = true
	ji, ok := b.jidx[it.CC]
	if !ok {
		return
	}
	j := &b.r.Jurisdictions[ji]
	if !contains(j.Vantages, it.Vantage) {
		j.Vantages = append(j.Vantages, it.Vantage)
	}
	j.Total++
	j.Methods[it.Measured]++
	if m := it.Measurement; m != nil && m.TestKeys != nil {
		for _, v := range m.TestKeys.Methods {
			if v != it.Measured {
				j.Behind[v]++
			}
		}
	}
	j.Truth[it.Truth]++
	for _, d := range it.Decisions {
		j.Rules[RuleAction{Border: d.Border, Policy: d.Policy, Rule: d.Rule, Action: d.Action}]++
	}
	k := cellKey{ji, it.Category}
	c := b.cells[k]
	if c == nil {
		c = &Cell{}
		b.cells[k] = c
	}
	c.Total++
	if Reachable(it.Measured) {
		j.Reachable++
		c.Reachable++
		return
	}
	entry := it.Domain + " (" + it.Vantage + ": " + string(it.Measured) + ")"
	seen := b.blocked[k]
	if seen == nil {
		seen = map[string]bool{}
		b.blocked[k] = seen
	}
	switch {
	case seen[entry]:
	case len(c.Blocked) < MaxBlocked:
		seen[entry] = true
		c.Blocked = append(c.Blocked, entry)
	default:
		seen[entry] = true
		c.MoreBlocked++
	}
}

// Report is the run arranged: what was added, the number of border
// decisions and the scoring (whose Items are the evidence shown).
func (b *Builder) Report(decisions int, res *score.Result) *Report {
	r := *b.r
	r.Score, r.NDecided = res, decisions
	r.Jurisdictions = slices.Clone(b.r.Jurisdictions)
	r.Categories = nil
	cidx := map[string]int{}
	for _, c := range scenario.Categories {
		if b.used[c.Code] {
			cidx[c.Code] = len(r.Categories)
			r.Categories = append(r.Categories, c)
		}
	}
	if b.used[""] {
		cidx[""] = len(r.Categories)
		r.Categories = append(r.Categories, scenario.Category{Code: "—", Name: "uncategorised"})
	}
	r.Cells = make([][]Cell, len(r.Jurisdictions))
	for i := range r.Cells {
		r.Cells[i] = make([]Cell, len(r.Categories))
	}
	for k, c := range b.cells {
		if ci, ok := cidx[k.category]; ok {
			cell := *c
			cell.Blocked = slices.Clone(c.Blocked)
			r.Cells[k.j][ci] = cell
		}
	}
	return &r
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// WriteSummary prints the terminal summary: the world's date and the
// policies in force, reachability per category and jurisdiction, blocking
// methods per jurisdiction, accuracy, and the run's health (with its
// warning, last, where it is seen).
func (r *Report) WriteSummary(w io.Writer) {
	r.writeDate(w)
	if r.Interrupted && r.Score != nil {
		fmt.Fprintf(w, "\nInterrupted: %d of %d measurements were made; what follows covers those.\n", r.Score.Total, r.Planned)
	}
	fmt.Fprintf(w, "\nShare of sites reachable (%s), by category and jurisdiction:\n\n", r.Scenario)
	fmt.Fprintf(w, "%-6s", "")
	for _, j := range r.Jurisdictions {
		fmt.Fprintf(w, "%6s", j.Code)
	}
	fmt.Fprintln(w)
	for ci, c := range r.Categories {
		fmt.Fprintf(w, "%-6s", c.Code)
		for ji := range r.Jurisdictions {
			cell := r.Cells[ji][ci]
			if cell.Total == 0 {
				fmt.Fprintf(w, "%6s", "·")
				continue
			}
			fmt.Fprintf(w, "%5.0f%%", 100*cell.Share())
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "%-6s", "all")
	for _, j := range r.Jurisdictions {
		if j.Total == 0 {
			fmt.Fprintf(w, "%6s", "·")
			continue
		}
		fmt.Fprintf(w, "%5.0f%%", 100*float64(j.Reachable)/float64(j.Total))
	}
	fmt.Fprintln(w)

	fmt.Fprintf(w, "\nBlocking methods seen (measured verdicts):\n\n")
	for _, j := range r.Jurisdictions {
		if j.Total == 0 {
			continue
		}
		fmt.Fprintf(w, "  %-3s %-28s %s\n", j.Code, strings.Join(j.Vantages, ","), methods(j.Methods))
		if len(j.Behind) > 0 {
			fmt.Fprintf(w, "      %-28s behind them: %s\n", "", methods(j.Behind))
		}
	}

	s := r.Score
	fmt.Fprintf(w, "\nAccuracy against the borders' decisions: %d/%d = %.2f%%\n\n", s.Agree, s.Total, 100*s.Accuracy)
	fmt.Fprintf(w, "  %-13s %6s %6s %6s %9s %7s\n", "class", "true", "tp", "fp", "precision", "recall")
	for _, c := range s.PerClass {
		fmt.Fprintf(w, "  %-13s %6d %6d %6d %9.3f %7.3f\n", c.Class, c.Support, c.TP, c.FP, c.Precision, c.Recall)
	}
	if len(s.Disagree) > 0 {
		fmt.Fprintf(w, "\nDisagreements (%d):\n", len(s.Disagree)+s.DisagreeOmitted)
		for i, d := range s.Disagree {
			if i == 25 {
				fmt.Fprintf(w, "  … %d more in score.json\n", len(s.Disagree)-i)
				break
			}
			fmt.Fprintf(w, "  %s %s: %s\n", d.Vantage, d.Domain, d.Explanation)
		}
	}
	r.writeAudit(w)
	r.writeHealth(w)
}

// methods formats verdict counts, blocking ones first, by count.
func methods(m map[probe.Verdict]int) string {
	type kv struct {
		v probe.Verdict
		n int
	}
	var kvs []kv
	for v, n := range m {
		kvs = append(kvs, kv{v, n})
	}
	sort.Slice(kvs, func(i, j int) bool {
		if (kvs[i].v == probe.Accessible) != (kvs[j].v == probe.Accessible) {
			return kvs[j].v == probe.Accessible
		}
		if kvs[i].n != kvs[j].n {
			return kvs[i].n > kvs[j].n
		}
		return kvs[i].v < kvs[j].v
	})
	var parts []string
	for _, x := range kvs {
		parts = append(parts, fmt.Sprintf("%s %d", x.v, x.n))
	}
	return strings.Join(parts, ", ")
}
