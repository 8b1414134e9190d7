package lab

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/splinter-lab/splinter/clock"
	"github.com/splinter-lab/splinter/governance"
	"github.com/splinter-lab/splinter/policy"
	"github.com/splinter-lab/splinter/policylog"
	"github.com/splinter-lab/splinter/probe"
	"github.com/splinter-lab/splinter/profiles"
	"github.com/splinter-lab/splinter/report"
	"github.com/splinter-lab/splinter/scenario"
)

// GovernOptions say how Govern replays a governance file on a world. The
// zero value replays every proposal under its own forum, measures from
// the default vantages and keeps the log in a temporary directory.
type GovernOptions struct {
	// Forum, if set, replaces every proposal's forum, to compare models.
	Forum string
	// From lists the vantages (jurisdiction codes or hosts). Empty means
	// a client in every access network of every jurisdiction of the world
	// that a proposal would change, and of the first jurisdiction without
	// a border (a control).
	From []string
	// Out, if set, is where the log (Out/log), each phase's run outputs
	// (Out/<proposal>/before, Out/<proposal>/after) and govern.json are
	// written; "" keeps the log in a temporary directory removed at the
	// end. A log already in Out/log is appended to: the base versions are
	// found there, the replay is recorded again.
	Out string
	// NoMeasure replays and logs only: no reachability is measured.
	NoMeasure bool
	// Seed makes the runs reproducible; 0 means 1.
	Seed uint64
	// Rand draws the log's and witnesses' keys; nil is crypto/rand.
	Rand io.Reader
	// Concurrency and PerVantage bound each campaign (see RunOptions).
	Concurrency, PerVantage int
	// Progress is called after each measurement of each phase.
	Progress func(phase string, done, total int)
}

// GovernResult is the replay of a governance file on a world: every
// proposal's outcome, where the log holds it, the policy versions it made
// and what they did to reachability.
type GovernResult struct {
	File     string `json:"file"`
	Scenario string `json:"scenario"`
	// Forum is the override, or "" when each proposal went to its own.
	Forum string `json:"forum,omitempty"`
	// Log is the log's directory ("" when it was temporary); LogSize its
	// number of entries at the end.
	Log     string `json:"log,omitempty"`
	LogSize int64  `json:"log_size"`
	// Base are the versions every border enforced before any proposal.
	Base      []LoggedVersion  `json:"base"`
	Vantages  []string         `json:"vantages,omitempty"`
	Sites     []GovernSite     `json:"sites,omitempty"`
	Proposals []ProposalResult `json:"proposals"`
}

// GovernSite is a site measured, and why.
type GovernSite struct {
	Domain   string `json:"domain"`
	Category string `json:"category"`
	// Named is true for a site a proposal names, false for a control.
	Named bool `json:"named"`
}

// LoggedVersion is a border's policy version in the log.
type LoggedVersion struct {
	Border    string        `json:"border"`
	Index     int64         `json:"index"`
	Policy    string        `json:"policy"`
	Version   string        `json:"version"`
	Effective policylog.Day `json:"effective"`
}

// ProposalResult is one proposal: its outcome, the log entries that record
// it, the versions it made, and reachability before and after.
type ProposalResult struct {
	Outcome governance.Outcome `json:"outcome"`
	// Entries are the first and last log index of its steps and outcome.
	Entries [2]int64 `json:"entries"`
	// Applied says what became of each policy change of an adopted
	// proposal.
	Applied []AppliedChange `json:"applied,omitempty"`
	// Before is measured the day before the (proposed) effective date with
	// the versions then in force; After on the effective date with the
	// versions the proposal made. After is nil when no version changed
	// (Unchanged says why).
	Before    *Phase `json:"before,omitempty"`
	After     *Phase `json:"after,omitempty"`
	Unchanged string `json:"unchanged,omitempty"`
	// Changed lists the measurements whose verdict changed.
	Changed []VerdictChange `json:"changed,omitempty"`
}

// AppliedChange is one policy change at one border: the version it made
// and how it differs, or why it was not applied.
type AppliedChange struct {
	Change governance.PolicyChange `json:"change"`
	// Border, Version and Index name the new version (empty, -1 when
	// not applied); Diff lists what changed, rule by rule and item by item.
	Border     string   `json:"border,omitempty"`
	Version    string   `json:"version,omitempty"`
	Index      int64    `json:"index"`
	Diff       []string `json:"diff,omitempty"`
	NotApplied string   `json:"not_applied,omitempty"`
}

// Phase is one measurement of the world at a date.
type Phase struct {
	Date time.Time `json:"date"`
	// Versions are the versions in force, as the borders cited them.
	Versions []LoggedVersion `json:"versions"`
	Reach    []Reach         `json:"reach"`
	Dir      string          `json:"dir,omitempty"`
	// Run is the run itself (measurements, decisions, score, audit).
	Run *RunResult `json:"-"`
}

// Reach is the reachability of the sites measured from one jurisdiction,
// over all categories (Category "") or one.
type Reach struct {
	Jurisdiction string `json:"jurisdiction"`
	Category     string `json:"category,omitempty"`
	Reachable    int    `json:"reachable"`
	Total        int    `json:"total"`
}

// VerdictChange is a measurement whose verdict differs after.
type VerdictChange struct {
	Domain  string        `json:"domain"`
	Vantage string        `json:"vantage"`
	CC      string        `json:"cc"`
	Before  probe.Verdict `json:"before"`
	After   probe.Verdict `json:"after"`
}

// version is a logged policy version in a border's history.
type version struct {
	pv    *policylog.PolicyVersion
	index int64
	pol   *policy.Policy
}

func (v *version) logged(border string) LoggedVersion {
	return LoggedVersion{Border: border, Index: v.index, Policy: v.pv.Name, Version: v.pv.Version, Effective: v.pv.Effective}
}

// Govern replays a governance file on the world of s (governance.Replay,
// under opts.Forum if set) and measures what each proposal did. The log
// receives, in order: the base version of every border (effective on the
// first filing day), then for each proposal its dated steps and outcome
// (Outcome.Entries) and the policy versions an adopted proposal makes
// (PolicyChange.Apply on the version then in force, labelled, dated and
// caused by the proposal), cosigned by the lab's witnesses. Each proposal is
// measured the day before its (proposed) effective date and, if it changed
// a version, on that date, each time in a lab whose clock starts at the
// date (a clock.Offset, so rule windows follow it) and whose borders enforce
// the logged versions then in force, proved as Start proves them.
//
// A names change is applied to every border of the jurisdiction whose
// policy has the list (PolicyChange.Apply); a technique change adds the
// rule of that ID, copied from the first embedded profile that has it, to
// every border of the jurisdiction (PolicyChange.ApplyTechnique); a
// root-zone change is logged as an outcome but not applied to the world.
// Applied says what became of each.
func Govern(ctx context.Context, f *governance.File, s *Spec, opts GovernOptions) (*GovernResult, error) {
	outcomes, err := governance.Replay(f, opts.Forum)
	if err != nil {
		return nil, badInput(err)
	}
	if opts.Seed == 0 {
		opts.Seed = 1
	}
	res := &GovernResult{File: f.Name, Scenario: s.Scenario.Name, Forum: opts.Forum}

	// What the proposals are about, whatever the forum decides.
	props := map[string]*governance.Proposal{}
	var first time.Time
	var would []governance.PolicyChange
	for i := range f.Proposals {
		p := &f.Proposals[i]
		props[p.ID] = p
		if first.IsZero() || p.Filed.Before(first) {
			first = p.Filed
		}
		cs, err := f.WouldChange(p.ID, p.Effective)
		if err != nil {
			return nil, err
		}
		would = append(would, cs...)
	}
	baseDay := policylog.DayOf(first)
	for _, o := range outcomes {
		if d := policylog.DayOf(beforeDate(o, props[o.Proposal])); d.Time().Before(baseDay.Time()) {
			baseDay = d
		}
	}

	// The log.
	dir := filepath.Join(opts.Out, "log")
	if opts.Out == "" {
		if dir, err = os.MkdirTemp("", "splinter-govern-log-"); err != nil {
			return nil, fmt.Errorf("lab: %w", err)
		}
		defer os.RemoveAll(dir)
	} else {
		res.Log = dir
	}
	stamp := clock.NewManual(baseDay.Time())
	tr, err := OpenTransparency(dir, stamp, opts.Rand)
	if err != nil {
		return nil, err
	}
	tr.Effective = baseDay
	base, err := tr.admit(s, baseDay.Time())
	if err != nil {
		return nil, err
	}
	history := map[string][]*version{}
	for _, b := range s.Borders {
		a := base[b.Name]
		history[b.Name] = []*version{{pv: a.Version, index: a.Index(), pol: b.Policy}}
		res.Base = append(res.Base, history[b.Name][0].logged(b.Name))
	}

	// Outcomes, and the versions adopted proposals make.
	for _, o := range outcomes {
		pr := ProposalResult{Outcome: o}
		es := o.Entries()
		i, err := tr.Log.Append(es...)
		if err != nil {
			return nil, fmt.Errorf("lab: logging %s: %w", o.Proposal, err)
		}
		pr.Entries = [2]int64{i, i + int64(len(es)) - 1}
		stamp.Set(es[len(es)-1].Governance.Time) // witnesses cosign as the outcome is logged
		for _, c := range o.Changes {
			pr.Applied = append(pr.Applied, apply(tr, s, history, c)...)
		}
		if err := tr.cosign(true); err != nil {
			return nil, err
		}
		res.Proposals = append(res.Proposals, pr)
	}
	res.LogSize = tr.Log.Size()
	if opts.NoMeasure {
		return res, writeGovern(opts.Out, res)
	}

	// Measurements.
	vantages, inputs, sites, err := governScope(s, would, opts.From)
	if err != nil {
		return nil, err
	}
	res.Vantages, res.Sites = vantages, sites
	for k := range res.Proposals {
		pr := &res.Proposals[k]
		p := props[pr.Outcome.Proposal]
		before := beforeDate(pr.Outcome, p)
		after := before.Add(24 * time.Hour)
		if pr.Before, err = measurePhase(ctx, s, tr, history, before, vantages, inputs, phaseDir(opts.Out, p.ID, "before"), opts, p.ID+" before"); err != nil {
			return nil, err
		}
		changed := false
		for _, b := range s.Borders {
			if inForce(history[b.Name], before) != inForce(history[b.Name], after) {
				changed = true
			}
		}
		if !changed {
			pr.Unchanged = fmt.Sprintf("no border enforces a new version on %s: the world after is the world before (not measured again)", after.Format(time.DateOnly))
			if pr.Outcome.Decision == governance.Adopted && len(pr.Outcome.Changes) > 0 {
				pr.Unchanged = fmt.Sprintf("adopted, but no change applied to a border of this world on %s (see above): the world after is the world before (not measured again)", after.Format(time.DateOnly))
			}
			continue
		}
		if pr.After, err = measurePhase(ctx, s, tr, history, after, vantages, inputs, phaseDir(opts.Out, p.ID, "after"), opts, p.ID+" after"); err != nil {
			return nil, err
		}
		pr.Changed = verdictChanges(pr.Before.Run, pr.After.Run)
	}
	res.LogSize = tr.Log.Size()
	return res, writeGovern(opts.Out, res)
}

// beforeDate is midnight (UTC) of the day before the proposal takes, or
// would have taken, effect.
func beforeDate(o governance.Outcome, p *governance.Proposal) time.Time {
	eff := o.Effective
	if eff.IsZero() {
		eff = p.Effective
	}
	if eff.IsZero() {
		eff = policylog.DayOf(p.Filed.Add(24 * time.Hour))
	}
	return eff.Time().Add(-24 * time.Hour)
}

func phaseDir(out, proposal, phase string) string {
	if out == "" {
		return ""
	}
	return filepath.Join(out, proposal, phase)
}

// apply turns one adopted change into new versions of the borders of its
// jurisdiction and appends them, or says why it is not applied.
func apply(tr *Transparency, s *Spec, history map[string][]*version, c governance.PolicyChange) []AppliedChange {
	none := func(why string) []AppliedChange {
		return []AppliedChange{{Change: c, Index: -1, NotApplied: why}}
	}
	edit := c.Apply
	switch {
	case c.RootZone:
		return none("a root-zone change: the lab does not edit the world's root zone; logged as an outcome, not applied")
	case c.Kind == governance.Technique:
		tmpl, err := techniqueTemplate(c.Technique, c.Effective)
		if err != nil {
			return none(err.Error())
		}
		edit = func(pv *policylog.PolicyVersion) (*policylog.PolicyVersion, error) { return c.ApplyTechnique(pv, tmpl) }
	case c.Kind != governance.NameChange:
		return none(fmt.Sprintf("a %s change: the lab does not apply it; logged as an outcome, not applied", c.Kind))
	}
	var out []AppliedChange
	for _, b := range s.Borders {
		if b.Jurisdiction != c.Jurisdiction {
			continue
		}
		h := history[b.Name]
		cur := inForce(h, c.Effective.Time())
		if c.Kind == governance.NameChange && cur.pol.Lists[c.List] == nil {
			out = append(out, AppliedChange{Change: c, Border: b.Name, Index: -1,
				NotApplied: fmt.Sprintf("policy %s of %s has no list %q", cur.pv.Name, b.Name, c.List)})
			continue
		}
		v, diff, err := logVersion(tr, cur, edit)
		if err != nil {
			out = append(out, AppliedChange{Change: c, Border: b.Name, Index: -1, NotApplied: err.Error()})
			continue
		}
		history[b.Name] = slices.SortedStableFunc(slices.Values(append(h, v)), func(a, b *version) int {
			return a.pv.Effective.Time().Compare(b.pv.Effective.Time())
		})
		out = append(out, AppliedChange{Change: c, Border: b.Name, Version: v.pv.Version, Index: v.index, Diff: diff})
	}
	if len(out) == 0 {
		return none(fmt.Sprintf("no border of %s in this world", c.Jurisdiction))
	}
	return out
}

// logVersion makes the next version from cur, appends it to the log and
// says what changed, one line per change.
func logVersion(tr *Transparency, cur *version, edit func(*policylog.PolicyVersion) (*policylog.PolicyVersion, error)) (*version, []string, error) {
	next, err := edit(cur.pv)
	if err != nil {
		return nil, nil, err
	}
	pol, err := next.Policy()
	if err != nil {
		return nil, nil, err
	}
	d, err := policylog.Diff(cur.pv, next)
	if err != nil {
		return nil, nil, err
	}
	i, err := tr.Log.AppendPolicy(next)
	if err != nil {
		return nil, nil, err
	}
	var diff []string
	for _, ch := range d.Changes {
		diff = append(diff, strings.ReplaceAll(strings.TrimSpace(ch.String()), "\n", " "))
	}
	return &version{pv: next, index: i, pol: pol}, diff, nil
}

// techniqueTemplate bundles the first embedded profile that has a rule
// of that ID: the template a technique change copies the rule from.
func techniqueTemplate(id string, day policylog.Day) (*policylog.PolicyVersion, error) {
	for _, name := range profiles.Histories() {
		data, err := fs.ReadFile(profiles.FS(), name+".yaml")
		if err != nil || !bytes.Contains(data, []byte("id: "+id)) {
			continue
		}
		// The latest version of the history that has the rule, written as
		// a policy of its own.
		h, err := profiles.History(name)
		if err != nil {
			return nil, err
		}
		var doc []byte
		var version string
		for _, v := range slices.Backward(h.Versions) {
			if slices.ContainsFunc(v.Policy.Rules, func(r policy.Rule) bool { return r.ID == id }) {
				doc, _ = v.Policy.Standalone()
				version = v.Name
				break
			}
		}
		if doc == nil {
			continue
		}
		pv, err := policylog.NewPolicyVersion(version+".yaml", doc, profiles.FS(), "", day)
		if err != nil {
			return nil, err
		}
		p, err := pv.Policy()
		if err != nil {
			return nil, err
		}
		if slices.ContainsFunc(p.Rules, func(r policy.Rule) bool { return r.ID == id }) {
			return pv, nil
		}
	}
	return nil, fmt.Errorf("a technique change: no embedded profile has a rule %q to copy; logged as an outcome, not applied", id)
}

// inForce is the last version of a history in force at t.
func inForce(h []*version, t time.Time) *version {
	cur := h[0]
	for _, v := range h {
		if !v.pv.Effective.Time().After(t) {
			cur = v
		}
	}
	return cur
}

// governScope chooses the vantages and the sites: those the changes name
// (a site whose domain is a name or under it) and, per category of those,
// the first other site of the world as a control.
func governScope(s *Spec, changes []governance.PolicyChange, from []string) ([]string, []probe.Input, []GovernSite, error) {
	var names []string
	jurs := map[string]bool{}
	for _, c := range changes {
		names = append(names, c.Add...)
		names = append(names, c.Remove...)
		jurs[c.Jurisdiction] = true
	}
	if len(from) == 0 {
		bordered := map[string]bool{}
		for _, b := range s.Borders {
			bordered[b.Jurisdiction] = true
		}
		control := ""
		for _, j := range s.Plan.Jurisdictions {
			if jurs[j.Code] {
				from = append(from, j.Code)
			} else if control == "" && !bordered[j.Code] && hasClient(s.Plan, j.Code) {
				control = j.Code
			}
		}
		if control != "" {
			from = append(from, control)
		}
	}
	vantages, err := Vantages(s.Plan, from)
	if err != nil {
		return nil, nil, nil, err
	}
	named := func(domain string) bool {
		return slices.ContainsFunc(names, func(n string) bool {
			n = strings.ToLower(n)
			return domain == n || strings.HasSuffix(domain, "."+n)
		})
	}
	var sites []GovernSite
	var cats []string
	for _, site := range s.Plan.Sites {
		if named(site.Domain) {
			sites = append(sites, GovernSite{Domain: site.Domain, Category: site.Category, Named: true})
			if !slices.Contains(cats, site.Category) {
				cats = append(cats, site.Category)
			}
		}
	}
	for _, c := range cats {
		for _, site := range s.Plan.Sites {
			if site.Category == c && !named(site.Domain) {
				sites = append(sites, GovernSite{Domain: site.Domain, Category: site.Category})
				break
			}
		}
	}
	if len(sites) == 0 {
		for _, site := range s.Plan.Sites[:min(3, len(s.Plan.Sites))] {
			sites = append(sites, GovernSite{Domain: site.Domain, Category: site.Category})
		}
	}
	var inputs []probe.Input
	for _, site := range sites {
		inputs = append(inputs, probe.Input{URL: "http://" + site.Domain + "/", Category: site.Category})
	}
	return vantages, inputs, sites, nil
}

func hasClient(plan *scenario.Plan, code string) bool {
	return slices.ContainsFunc(plan.Hosts, func(h *scenario.PlannedHost) bool {
		return h.Jurisdiction == code && h.Role == scenario.RoleClient
	})
}

// measurePhase runs the campaign at date t with the versions in force
// then: every border presents its logged version, which Start proves.
func measurePhase(ctx context.Context, s *Spec, tr *Transparency, history map[string][]*version, t time.Time,
	vantages []string, inputs []probe.Input, out string, opts GovernOptions, name string) (*Phase, error) {
	ph := &Phase{Date: t, Dir: out}
	sp := s.clone()
	ptr := *tr
	ptr.Append = false
	ptr.Versions = map[string]*policylog.PolicyVersion{}
	ptr.parsed = map[*policylog.PolicyVersion]*policy.Policy{}
	for i, b := range sp.Borders {
		v := inForce(history[b.Name], t)
		sp.Borders[i].Policy = v.pol
		ptr.Versions[b.Name] = v.pv
		ptr.parsed[v.pv] = v.pol
		ph.Versions = append(ph.Versions, v.logged(b.Name))
	}
	ro := RunOptions{From: vantages, Inputs: inputs, Out: out, Concurrency: opts.Concurrency, PerVantage: opts.PerVantage, Keep: true,
		Lab: Options{Clock: clock.NewOffset(t), Seed: opts.Seed, Transparency: &ptr}}
	if opts.Progress != nil {
		ro.Progress = func(done, total int, _ *probe.Measurement) { opts.Progress(name, done, total) }
	}
	run, err := Run(ctx, sp, ro)
	if err != nil {
		return nil, fmt.Errorf("measuring %s (%s): %w", name, t.Format(time.DateOnly), err)
	}
	ph.Run = run
	for _, d := range run.Audit.Declared {
		if want := inForce(history[d.Border], t).index; d.Index != want {
			return nil, fmt.Errorf("lab: %s: border %s cites log index %d, want %d", name, d.Border, d.Index, want)
		}
	}
	ph.Reach = reach(run.Report)
	return ph, nil
}

// reach reads reachability per jurisdiction, over all and per category.
func reach(r *report.Report) []Reach {
	var out []Reach
	for ji, j := range r.Jurisdictions {
		if j.Total == 0 {
			continue
		}
		out = append(out, Reach{Jurisdiction: j.Code, Reachable: j.Reachable, Total: j.Total})
		for ci, c := range r.Categories {
			if cell := r.Cells[ji][ci]; cell.Total > 0 {
				out = append(out, Reach{Jurisdiction: j.Code, Category: c.Code, Reachable: cell.Reachable, Total: cell.Total})
			}
		}
	}
	return out
}

// verdictChanges lists the measurements whose verdict differs.
func verdictChanges(before, after *RunResult) []VerdictChange {
	type key struct{ vantage, input string }
	was := map[key]probe.Verdict{}
	for _, it := range before.Score.Items {
		was[key{it.Vantage, it.Input}] = it.Measured
	}
	var out []VerdictChange
	for _, it := range after.Score.Items {
		if b, ok := was[key{it.Vantage, it.Input}]; ok && b != it.Measured {
			out = append(out, VerdictChange{Domain: it.Domain, Vantage: it.Vantage, CC: it.CC, Before: b, After: it.Measured})
		}
	}
	// A run's items come in the order its measurements ended; the changes
	// are listed in a stable one.
	slices.SortFunc(out, func(a, b VerdictChange) int {
		return cmp.Or(cmp.Compare(a.CC, b.CC), cmp.Compare(a.Vantage, b.Vantage), cmp.Compare(a.Domain, b.Domain))
	})
	return out
}

// writeGovern writes govern.json into out, if set.
func writeGovern(out string, res *GovernResult) error {
	if out == "" {
		return nil
	}
	b, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return fmt.Errorf("lab: %w", err)
	}
	if err := os.WriteFile(filepath.Join(out, "govern.json"), append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("lab: %w", err)
	}
	return nil
}
