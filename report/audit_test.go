package report

import (
	"bytes"
	"strings"
	"testing"

	"github.com/splinter-lab/splinter/probe"
	"github.com/splinter-lab/splinter/score"
)

// TestAuditSection: with an audit, the summary and report.html show each
// border's logged version, its undeclared findings (with the blocked
// measurements) and its declared rules not seen; without one, neither
// mentions an audit.
func TestAuditSection(t *testing.T) {
	i := int64(7)
	r := &Report{Scenario: "s", Score: &score.Result{}, Audit: &score.AuditResult{
		Declared: []score.Declared{{Border: "XX", Index: 7, Policy: "xx", Version: "2024", Rules: []string{"a", "b"}}},
		Undeclared: []score.Undeclared{{Border: "XX", Rule: "<secret>", Reason: score.RuleNotLogged, Index: &i, Decisions: 2,
			Blocked: []score.Sighting{{Domain: "www.x.com", Vantage: "c1", CC: "XX", Verdict: probe.DNS}}}},
		NotSeen: []score.NotSeen{{Border: "XX", Index: 7, Rule: "b", Fired: 3}},
		Seen:    1,
	}}
	var s bytes.Buffer
	r.WriteSummary(&s)
	for _, want := range []string{
		"Audit against the transparency log: 1 borders cite logged versions; 1 undeclared, 1 logged rules seen, 1 declared but not seen",
		"XX                     index 7    xx 2024",
		"UNDECLARED rule <secret> is not in the logged version (index 7): 2 decisions, 1 blocked measurements (www.x.com from c1: dns)",
		"declared, not seen: b (fired 3, on nothing measured)",
	} {
		if !strings.Contains(s.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, s.String())
		}
	}
	var h bytes.Buffer
	if err := r.WriteHTML(&h); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"What the borders declared, and what they did", "1 undeclared finding(s)", "undeclared: rule &lt;secret&gt; is not in the logged version", "declared, not seen: b (fired 3"} {
		if !strings.Contains(h.String(), want) {
			t.Errorf("report.html lacks %q", want)
		}
	}
	r.Audit = nil
	s.Reset()
	h.Reset()
	r.WriteSummary(&s)
	if err := r.WriteHTML(&h); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(s.String(), "Audit") || strings.Contains(h.String(), "What the borders declared") {
		t.Error("an audit shown without one")
	}
}
