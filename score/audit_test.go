package score_test

import (
	"slices"
	"testing"

	"github.com/splinter-lab/splinter/border"
	"github.com/splinter-lab/splinter/probe"
	"github.com/splinter-lab/splinter/score"
)

// TestAudit classifies decisions against what the log declares: a rule
// and list item of the cited version are declared (and seen when a
// measurement joined them); a rule the version lacks, a list item none of
// its lists holds, an index that is not the border's version and a
// decision citing no index are undeclared, each with the blocked
// measurements it belongs to; logged rules no measurement saw are listed
// with how often they fired.
func TestAudit(t *testing.T) {
	idx := func(i int64) *int64 { return &i }
	item := func(v string) []border.Evidence {
		return []border.Evidence{{Kind: border.EvidenceQName, Value: "www." + v}, {Kind: border.EvidenceListItem, Value: v}}
	}
	d := func(b, rule string, i *int64, ev []border.Evidence) border.Decision {
		return border.Decision{Border: b, Rule: rule, PolicyIndex: i, Evidence: ev}
	}
	declared := []score.Declared{
		{Border: "XX", Index: 3, Policy: "xx", Version: "2024", Rules: []string{"dns", "sni", "quic"}, Items: []string{"Listed.com"}},
		{Border: "ZZ", Index: 4, Policy: "zz", Version: "1", Rules: []string{"z"}},
	}
	var (
		ok        = d("XX", "dns", idx(3), item("listed.com"))
		secret    = d("XX", "secret", idx(3), nil)
		unlisted  = d("XX", "dns", idx(3), item("unlisted.com"))
		stale     = d("XX", "sni", idx(2), nil)
		unlogged  = d("YY", "y", nil, nil)
		unwatched = d("XX", "sni", idx(3), nil) // declared, fired, joined to nothing
	)
	r := &score.Result{Items: []score.Item{
		{Domain: "www.listed.com", Vantage: "c1", CC: "XX", Measured: probe.DNS, Decisions: []border.Decision{ok}},
		{Domain: "www.unlisted.com", Vantage: "c1", CC: "XX", Measured: probe.DNS, Decisions: []border.Decision{unlisted, secret, secret}},
		{Domain: "www.other.com", Vantage: "c1", CC: "XX", Measured: probe.Accessible, Decisions: []border.Decision{secret}},
		{Domain: "www.y.com", Vantage: "c2", CC: "YY", Measured: probe.TCPIP, Decisions: []border.Decision{unlogged, stale}},
	}}
	all := []border.Decision{ok, unlisted, secret, secret, secret, unlogged, stale, unwatched}
	a := score.Audit(r, all, declared)

	type row struct {
		border, rule string
		reason       score.UndeclaredReason
		item         string
		decisions    int
		blocked      []string
	}
	var got []row
	for _, u := range a.Undeclared {
		var bs []string
		for _, s := range u.Blocked {
			bs = append(bs, s.Domain+"/"+s.Vantage+"/"+string(s.Verdict))
		}
		got = append(got, row{u.Border, u.Rule, u.Reason, u.Item, u.Decisions, bs})
	}
	want := []row{
		{"XX", "dns", score.ItemNotLogged, "unlisted.com", 1, []string{"www.unlisted.com/c1/dns"}},
		{"XX", "secret", score.RuleNotLogged, "", 3, []string{"www.unlisted.com/c1/dns"}},
		{"XX", "sni", score.OtherVersion, "", 1, []string{"www.y.com/c2/tcp_ip"}},
		{"YY", "y", score.NoLoggedVersion, "", 1, []string{"www.y.com/c2/tcp_ip"}},
	}
	if !slices.EqualFunc(got, want, func(a, b row) bool {
		return a.border == b.border && a.rule == b.rule && a.reason == b.reason && a.item == b.item && a.decisions == b.decisions && slices.Equal(a.blocked, b.blocked)
	}) {
		t.Errorf("undeclared:\n got %+v\nwant %+v", got, want)
	}
	if a.Seen != 1 || !slices.Equal(a.NotSeen, []score.NotSeen{{Border: "XX", Index: 3, Rule: "sni", Fired: 1}, {Border: "XX", Index: 3, Rule: "quic"}, {Border: "ZZ", Index: 4, Rule: "z"}}) {
		t.Errorf("seen %d, not seen %+v", a.Seen, a.NotSeen)
	}
	if a.Clean() || len(a.Declared) != 2 || a.Declared[0].Items != nil {
		t.Errorf("clean %v, declared %+v", a.Clean(), a.Declared)
	}
	if clean := score.Audit(&score.Result{Items: r.Items[:1]}, []border.Decision{ok}, declared); !clean.Clean() || clean.Seen != 1 {
		t.Errorf("an honest run: %+v", clean)
	}
}
