package score

import (
	"cmp"
	"slices"
	"strings"

	"github.com/splinter-lab/splinter/border"
	"github.com/splinter-lab/splinter/probe"
)

// Declared is what a transparency log says one border enforces: the log
// index of the policy version the border cites, and that version's rule
// IDs and list items (as the log holds them, whatever the border really
// runs).
type Declared struct {
	Border  string   `json:"border"`
	Index   int64    `json:"index"`
	Policy  string   `json:"policy"`
	Version string   `json:"version"`
	Rules   []string `json:"rules"`
	// Items are the items of every list of the logged version.
	Items []string `json:"-"`
}

// UndeclaredReason says why a decision is not explained by the logged
// policy.
type UndeclaredReason string

// Reasons a decision is undeclared.
const (
	// NoLoggedVersion: the decision cites no log index, or its border
	// declared none.
	NoLoggedVersion UndeclaredReason = "no-logged-version"
	// OtherVersion: the decision cites an index that is not the version
	// its border declared.
	OtherVersion UndeclaredReason = "other-version"
	// RuleNotLogged: the logged version has no rule of the decision's ID.
	RuleNotLogged UndeclaredReason = "rule-not-logged"
	// ItemNotLogged: the list item the rule matched is in no list of the
	// logged version.
	ItemNotLogged UndeclaredReason = "list-item-not-logged"
)

// AuditResult is the audit of a run against the logged policies.
type AuditResult struct {
	// Declared lists each border's logged version (without its items).
	Declared []Declared `json:"declared"`
	// Undeclared is blocking no logged rule explains, grouped by border,
	// rule, reason and list item.
	Undeclared []Undeclared `json:"undeclared"`
	// NotSeen are logged rules that no measurement of the run observed.
	NotSeen []NotSeen `json:"declared_not_seen"`
	// Seen counts the logged rules some measurement observed.
	Seen int `json:"seen"`
}

// Undeclared is a group of decisions that the logged version their border
// cites does not explain.
type Undeclared struct {
	Border string           `json:"border"`
	Rule   string           `json:"rule"`
	Reason UndeclaredReason `json:"reason"`
	// Index is the log index the decisions cite (nil: none).
	Index *int64 `json:"index,omitempty"`
	// Item is the list item matched, for ItemNotLogged.
	Item      string `json:"item,omitempty"`
	Decisions int    `json:"decisions"`
	// Blocked are the measurements found blocked that these decisions
	// belong to.
	Blocked []Sighting `json:"blocked,omitempty"`
}

// Sighting is one measurement in an audit finding.
type Sighting struct {
	Domain  string        `json:"domain"`
	Vantage string        `json:"vantage"`
	CC      string        `json:"cc"`
	Verdict probe.Verdict `json:"verdict"`
}

// NotSeen is a logged rule of a border that no measurement observed: none
// of its decisions joined a measurement. Fired counts its decisions in the
// run all the same (on traffic the probes did not measure).
type NotSeen struct {
	Border string `json:"border"`
	Index  int64  `json:"index"`
	Rule   string `json:"rule"`
	Fired  int    `json:"fired"`
}

// Audit checks a run's decisions and measurements against the logged
// policies: every decision must come from a rule of the version its border
// declared (the index the decision cites), and the list item the rule
// matched must be in that version; a decision that is not is undeclared,
// with the blocked measurements it belongs to. Logged rules that no
// measurement observed are listed as declared, not seen. r must be
// Score(ms, decisions).
func Audit(r *Result, decisions []border.Decision, declared []Declared) *AuditResult {
	a := NewAuditor(declared)
	for i := range decisions {
		a.Decision(&decisions[i])
	}
	for _, it := range r.Items {
		a.Item(it)
	}
	return a.Result()
}

// Auditor is Audit as a run proceeds: it is told every decision and every
// scored item, and keeps counts, not the decisions. Of the blocked
// measurements behind an undeclared group it keeps one of each domain,
// vantage and verdict, at most MaxSightings. It is not safe for
// concurrent use.
type Auditor struct {
	declared []Declared
	byBorder map[string]*declaredView
	groups   map[auditKey]*Undeclared
	sighted  map[auditKey]map[Sighting]bool
	fired    map[[2]string]int
	seen     map[[2]string]bool
}

// MaxSightings bounds the blocked measurements an Auditor lists per group.
const MaxSightings = 200

type declaredView struct {
	Declared
	rules map[string]bool
	items map[string]bool
}

type auditKey struct {
	border, rule string
	reason       UndeclaredReason
	item         string
}

// NewAuditor returns an auditor of what declared says each border
// enforces.
func NewAuditor(declared []Declared) *Auditor {
	a := &Auditor{byBorder: map[string]*declaredView{}, groups: map[auditKey]*Undeclared{},
		sighted: map[auditKey]map[Sighting]bool{}, fired: map[[2]string]int{}, seen: map[[2]string]bool{}}
	for _, d := range declared {
		v := &declaredView{Declared: d, rules: map[string]bool{}, items: map[string]bool{}}
		for _, id := range d.Rules {
			v.rules[id] = true
		}
		for _, it := range d.Items {
			v.items[strings.ToLower(it)] = true
		}
		a.byBorder[d.Border] = v
		d.Items = nil
		a.declared = append(a.declared, d)
	}
	return a
}

// check says whether d is declared, and if not under which key.
func (a *Auditor) check(d *border.Decision) (auditKey, bool) {
	k := auditKey{border: d.Border, rule: d.Rule}
	v := a.byBorder[d.Border]
	switch {
	case d.PolicyIndex == nil || v == nil:
		k.reason = NoLoggedVersion
	case *d.PolicyIndex != v.Index:
		k.reason = OtherVersion
	case !v.rules[d.Rule]:
		k.reason = RuleNotLogged
	default:
		for _, ev := range d.Evidence {
			if ev.Kind == border.EvidenceListItem && !v.items[strings.ToLower(ev.Value)] {
				k.reason, k.item = ItemNotLogged, ev.Value
				return k, false
			}
		}
		return k, true
	}
	return k, false
}

// Decision counts a decision of the run.
func (a *Auditor) Decision(d *border.Decision) {
	k, ok := a.check(d)
	if ok {
		a.fired[[2]string{d.Border, d.Rule}]++
		return
	}
	g := a.groups[k]
	if g == nil {
		g = &Undeclared{Border: k.border, Rule: k.rule, Reason: k.reason, Item: k.item, Index: d.PolicyIndex}
		a.groups[k] = g
	}
	g.Decisions++
}

// Item counts a scored measurement: the rules it observed, and, if it was
// found blocked, the undeclared groups its decisions belong to.
func (a *Auditor) Item(it Item) {
	marked := map[auditKey]bool{}
	for i := range it.Decisions {
		d := &it.Decisions[i]
		k, ok := a.check(d)
		if ok {
			a.seen[[2]string{d.Border, d.Rule}] = true
			continue
		}
		g := a.groups[k]
		if g == nil || !it.Measured.Blocked() || marked[k] {
			continue
		}
		marked[k] = true
		s := Sighting{Domain: it.Domain, Vantage: it.Vantage, CC: it.CC, Verdict: it.Measured}
		if a.sighted[k] == nil {
			a.sighted[k] = map[Sighting]bool{}
		}
		if a.sighted[k][s] || len(g.Blocked) >= MaxSightings {
			continue
		}
		a.sighted[k][s] = true
		g.Blocked = append(g.Blocked, s)
	}
}

// Result is the audit of what was counted.
func (a *Auditor) Result() *AuditResult {
	r := &AuditResult{Declared: a.declared}
	for _, g := range a.groups {
		u := *g
		u.Blocked = slices.Clone(g.Blocked)
		r.Undeclared = append(r.Undeclared, u)
	}
	slices.SortFunc(r.Undeclared, func(x, y Undeclared) int {
		return cmp.Or(cmp.Compare(x.Border, y.Border), cmp.Compare(x.Rule, y.Rule), cmp.Compare(x.Reason, y.Reason), cmp.Compare(x.Item, y.Item))
	})
	for _, d := range a.declared {
		for _, id := range d.Rules {
			k := [2]string{d.Border, id}
			if a.seen[k] {
				r.Seen++
				continue
			}
			r.NotSeen = append(r.NotSeen, NotSeen{Border: d.Border, Index: d.Index, Rule: id, Fired: a.fired[k]})
		}
	}
	return r
}

// Clean reports whether the audit found no undeclared blocking.
func (a *AuditResult) Clean() bool { return len(a.Undeclared) == 0 }
