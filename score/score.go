// Package score judges measurements against the ground truth: it joins each
// web_connectivity measurement (package probe) to the decisions the borders
// recorded while it ran (package border's Log), derives from those decisions
// the verdict a perfect measurement would have reached, and counts per
// verdict class the precision and recall, a confusion matrix, and every
// disagreement with its evidence.
//
// Audit checks the decisions and measurements against the policy versions
// a transparency log says each border enforces: undeclared blocking, and
// declared rules no measurement saw.
//
// It does not measure (package probe does) or render (package report does).
//
// The join: a decision belongs to a measurement when its client is the
// vantage (one of its addresses) during the measurement and either its
// evidence names the measured domain (a query, SNI or Host) or it names no
// domain at all and its server is an address the measurement connected to; or when its client is the vantage's own resolver and its evidence
// is a query for the domain (a poisoned or dropped recursion, at any time:
// the resolver's cache carries it). A border names the DNS query in every
// decision that dropped one, whatever its rule looked at, so a lookup
// dropped by an address rule joins by its name too: by the name, not by
// the resolver's address, since a vantage's measurements in flight share
// its resolvers. The truth class of a decision follows from what it did
// and what its rule looked at (Class); a dropped DNS query is dns; a
// measurement's truth is the first class in probe.Verdicts order among
// its decisions, or accessible.
package score

import (
	"net/netip"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/splinter-lab/splinter/border"
	"github.com/splinter-lab/splinter/probe"
)

// Classes are the verdict classes scored, in probe.Verdicts order.
var Classes = probe.Verdicts

// Result is a scoring of a set of measurements.
type Result struct {
	Total    int     `json:"total"`
	Agree    int     `json:"agree"`
	Accuracy float64 `json:"accuracy"`
	// PerClass lists every class that occurs, measured or true.
	PerClass  []ClassScore   `json:"per_class"`
	Confusion Confusion      `json:"confusion"`
	Disagree  []Disagreement `json:"disagreements"`
	// DisagreeOmitted counts the disagreements beyond a Tally's bound,
	// counted in Agree and Confusion but not listed.
	DisagreeOmitted int `json:"disagreements_omitted,omitempty"`
	// Items are the measurements scored, with their verdicts and joined
	// decisions, in the order scored: every one (Score, ScoreWith, a Tally
	// without limits), or the few a report shows (a run's Stream: the
	// blocked or disputed ones, the first of each vantage, domain and pair
	// of verdicts, up to Limits.Items).
	Items []Item `json:"items"`
	// ItemsOmitted counts the blocked or disputed measurements not kept in
	// Items (alike to one kept, or beyond the bound).
	ItemsOmitted int `json:"items_omitted,omitempty"`
}

// ClassScore is one class's precision and recall. With no measurement of
// the class, precision is 1; with no true instance, recall is 1.
type ClassScore struct {
	Class     probe.Verdict `json:"class"`
	TP        int           `json:"tp"`
	FP        int           `json:"fp"`
	FN        int           `json:"fn"`
	Support   int           `json:"support"` // true instances
	Precision float64       `json:"precision"`
	Recall    float64       `json:"recall"`
}

// Confusion is the confusion matrix: Counts[i][j] is how many measurements
// of true class Labels[i] were measured as Labels[j].
type Confusion struct {
	Labels []probe.Verdict `json:"labels"`
	Counts [][]int         `json:"counts"`
}

// Item is one measurement, scored.
type Item struct {
	Index     int               `json:"index"`
	Input     string            `json:"input"`
	Domain    string            `json:"domain"`
	Category  string            `json:"category,omitempty"`
	Vantage   string            `json:"vantage"`
	CC        string            `json:"cc"`
	Measured  probe.Verdict     `json:"measured"`
	Reason    string            `json:"reason"`
	Truth     probe.Verdict     `json:"truth"`
	Decisions []border.Decision `json:"decisions,omitempty"`
	// Measurement is the measurement scored (not written with the score).
	Measurement *probe.Measurement `json:"-"`
}

// Disagreement is an item whose verdicts differ, with an explanation.
type Disagreement struct {
	Item
	Explanation string `json:"explanation"`
}

// slack widens a measurement's time window for decisions recorded just after
// its last packet (a delayed RST).
const slack = 500 * time.Millisecond

// Options add what scoring knows of the world besides its decisions. The
// zero value knows nothing more.
type Options struct {
	// Exists reports whether a domain exists in the world (a site or a host
	// name); nil means every domain does. A measurement of a name that
	// exists nowhere, with no border decision behind it, is truly
	// nonexistent.
	Exists func(domain string) bool
}

// Score joins ms to ds and scores them.
func Score(ms []*probe.Measurement, ds []border.Decision) *Result {
	return ScoreWith(ms, ds, Options{})
}

// ScoreWith is Score with what opts add. It keeps every item.
func ScoreWith(ms []*probe.Measurement, ds []border.Decision, opts Options) *Result {
	x := NewIndex(ds)
	t := NewTally(Limits{Items: -1, Disagreements: -1})
	for _, m := range ms {
		t.Add(x.Item(m, opts))
	}
	return t.Result()
}

// NewItem is the scoring of m, given the decisions joined to it.
func NewItem(m *probe.Measurement, ds []border.Decision, opts Options) Item {
	it := Item{Input: m.Input, Domain: host(m.Input), Category: m.Annotations["category_code"], CC: m.ProbeCC, Measurement: m}
	if tk := m.TestKeys; tk != nil {
		it.Vantage = tk.Vantage.Host
		it.Measured = tk.Verdict
		it.Reason = tk.VerdictReason
		it.Decisions = ds
	}
	it.Truth = Truth(it.Decisions)
	if len(it.Decisions) == 0 && opts.Exists != nil && !opts.Exists(it.Domain) {
		it.Truth = probe.NonExistent
	}
	return it
}

// Class is the verdict a decision, alone, implies for a measurement it
// belongs to. It reads only the decision's typed facts: the Effect of the
// action (what it did to the traffic), the Layer of the rule (what it looked
// at), whether it enforced an earlier block, and the transport. A new
// matcher or action kind is scored by the layer and effect it declares.
func Class(d border.Decision) probe.Verdict {
	switch {
	case d.Effect == border.EffectForgedAnswer || d.Layer == border.LayerDNS || droppedQuery(d):
		return probe.DNS
	case d.Enforced:
		return probe.Residual
	case d.Effect == border.EffectThrottle:
		return probe.Throttled
	case d.Layer == border.LayerQUIC || d.Proto == "udp" && d.Server.Port() == 443:
		return probe.QUIC
	case d.Layer == border.LayerTLS:
		return probe.TLS
	case d.Layer == border.LayerHTTP:
		// A page the client can read is a different answer; a page that
		// rode in a RST segment is dropped by the client's stack.
		if d.Effect == border.EffectPage && (d.Blockpage == nil || !d.Blockpage.InRST) {
			return probe.HTTPDiff
		}
		return probe.HTTPFailure
	case d.Layer != border.LayerNone:
		return probe.TCPIP
	}
	return probe.Accessible
}

// droppedQuery reports whether d discarded a DNS query: a border names
// the query in a decision that dropped it whatever its rule looked at
// (border's EvidenceQName), so an IP rule that dropped a lookup (the
// vantage's query to a resolver, or its resolver's recursion for the name)
// made the lookup fail: the name was not resolved, whatever else the rule
// blocks.
func droppedQuery(d border.Decision) bool {
	if d.Effect != border.EffectDrop {
		return false
	}
	for _, e := range d.Evidence {
		if e.Kind == border.EvidenceQName {
			return true
		}
	}
	return false
}

// Truth is the verdict implied by a measurement's decisions: the first class
// in Classes order among them, or accessible.
func Truth(ds []border.Decision) probe.Verdict {
	seen := map[probe.Verdict]bool{}
	for _, d := range ds {
		seen[Class(d)] = true
	}
	for _, c := range Classes {
		if seen[c] {
			return c
		}
	}
	return probe.Accessible
}

// Index holds a set of decisions for joining, by client address: the
// decisions of a whole run (Score), or of one vantage of one process (a
// run scored again from a store).
type Index struct {
	byClient map[netip.Addr][]border.Decision
}

// NewIndex indexes ds.
func NewIndex(ds []border.Decision) *Index {
	x := &Index{byClient: map[netip.Addr][]border.Decision{}}
	for _, d := range ds {
		a := d.Client.Addr().Unmap()
		x.byClient[a] = append(x.byClient[a], d)
	}
	return x
}

// Item joins m to the decisions indexed and scores it.
func (x *Index) Item(m *probe.Measurement, opts Options) Item {
	var ds []border.Decision
	if m.TestKeys != nil {
		ds = x.join(m)
	}
	return NewItem(m, ds, opts)
}

func (x *Index) join(m *probe.Measurement) []border.Decision {
	tk := m.TestKeys
	domain := host(m.Input)
	out := vantageDecisions(m, func(a netip.Addr) []border.Decision { return x.byClient[a] })
	if r := tk.Vantage.Resolver; r.IsValid() {
		for _, d := range x.byClient[r.Unmap()] {
			if qnames(d, domain) {
				out = append(out, d)
			}
		}
	}
	sort.SliceStable(out, func(a, b int) bool { return out[a].Time.Before(out[b].Time) })
	return out
}

// vantageDecisions are the decisions about m's vantage (byClient gives
// those of each of its addresses) that belong to m: taken in its window,
// naming its domain, or naming none and about a server it connected to.
func vantageDecisions(m *probe.Measurement, byClient func(netip.Addr) []border.Decision) []border.Decision {
	tk := m.TestKeys
	domain := host(m.Input)
	start, end := window(m)
	servers := servers(tk)
	var out []border.Decision
	for _, a := range tk.Vantage.Addrs {
		for _, d := range byClient(a.Unmap()) {
			if d.Time.Before(start) || d.Time.After(end) {
				continue
			}
			if named, match := names(d, domain); match || !named && servers[d.Server.Addr().Unmap()] {
				out = append(out, d)
			}
		}
	}
	return out
}

// window is the span in which a decision belongs to m: its start to its
// end and the slack.
func window(m *probe.Measurement) (start, end time.Time) {
	tk := m.TestKeys
	return tk.Start, tk.Start.Add(time.Duration(m.TestRuntime*float64(time.Second)) + slack)
}

// servers are the addresses a measurement's own flows went to.
func servers(tk *probe.TestKeys) map[netip.Addr]bool {
	s := map[netip.Addr]bool{}
	for _, c := range tk.TCPConnect {
		s[c.IP.Unmap()] = true
	}
	for _, h := range tk.TLSHandshakes {
		s[h.Address.Addr().Unmap()] = true
	}
	for _, h := range tk.QUICHandshakes {
		s[h.Address.Addr().Unmap()] = true
	}
	for _, r := range tk.Requests {
		if r.Address.IsValid() {
			s[r.Address.Addr().Unmap()] = true
		}
	}
	if t := tk.Throughput; t != nil {
		s[t.Address.Addr().Unmap()] = true
	}
	if r := tk.Residual; r != nil {
		s[r.Address.Addr().Unmap()] = true
	}
	return s
}

// names reports whether d's evidence names a domain (a query, SNI or Host)
// and whether that is domain.
func names(d border.Decision, domain string) (named, match bool) {
	for _, e := range d.Evidence {
		if e.Kind.NamesDomain() {
			named = true
			if sameName(e.Value, domain) {
				return true, true
			}
		}
	}
	return named, false
}

func qnames(d border.Decision, domain string) bool {
	for _, e := range d.Evidence {
		if e.Kind == border.EvidenceQName && sameName(e.Value, domain) {
			return true
		}
	}
	return false
}

func sameName(a, b string) bool {
	return strings.EqualFold(strings.TrimSuffix(a, "."), strings.TrimSuffix(b, "."))
}

func host(input string) string {
	u, err := url.Parse(input)
	if err != nil {
		return input
	}
	return u.Hostname()
}

// Explain says, for people, why an item's two verdicts differ (the
// explanation of its Disagreement).
func Explain(it Item) string { return explain(it) }

// explain says, for people, why two verdicts differ.
func explain(it Item) string {
	var b strings.Builder
	b.WriteString("measured " + string(it.Measured) + " (" + it.Reason + "), truth " + string(it.Truth))
	if len(it.Decisions) == 0 {
		b.WriteString(": no border decision touched this measurement")
		return b.String()
	}
	b.WriteString(" from ")
	for i, d := range it.Decisions {
		if i > 0 {
			b.WriteString("; ")
		}
		if i == 4 {
			b.WriteString("…")
			break
		}
		b.WriteString(Describe(d))
	}
	return b.String()
}

// Describe is one line about a decision for people.
func Describe(d border.Decision) string {
	var ev []string
	for _, e := range d.Evidence {
		ev = append(ev, string(e.Kind)+"="+e.Value)
	}
	s := d.Border + " " + d.Rule + ": " + string(d.Action)
	if d.Enforced {
		s += " (enforced)"
	}
	s += " " + d.Proto + " " + d.Client.String() + "→" + d.Server.String()
	if len(ev) > 0 {
		s += " [" + strings.Join(ev, " ") + "]"
	}
	if d.Detail != "" {
		s += " " + d.Detail
	}
	return s
}
