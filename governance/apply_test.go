package governance_test

import (
	"strings"
	"testing"

	"github.com/splinter-lab/splinter/governance"
	"github.com/splinter-lab/splinter/policylog"
)

// TestApply turns an adopted change into the next policy version and
// diffs the two: the lab's path from an outcome to a logged version.
func TestApply(t *testing.T) {
	pv, err := policylog.ReadPolicyVersion("testdata/policy/xl.yaml", "2024", policylog.Day{})
	if err != nil {
		t.Fatal(err)
	}
	eff, _ := policylog.ParseDay("2024-09-01")
	c := governance.PolicyChange{Proposal: "infosec-list", Jurisdiction: "XL", Effective: eff, Kind: governance.NameChange, List: "names",
		Add: []string{"www.open-dissent.org", "example-politics.org"}, Remove: []string{"blog.example.net"}}
	next, err := c.Apply(pv)
	if err != nil {
		t.Fatal(err)
	}
	if next.Version != "2024+infosec-list" || next.Cause != "infosec-list" || next.Effective != eff {
		t.Errorf("next version %s %s %s", next.Version, next.Cause, next.Effective)
	}
	d, err := policylog.Diff(pv, next)
	if err != nil {
		t.Fatal(err)
	}
	got := d.String()
	for _, want := range []string{"+ lists.names[]: www.open-dissent.org", "- lists.names[]: blog.example.net"} {
		if !strings.Contains(got, want) {
			t.Errorf("diff lacks %q:\n%s", want, got)
		}
	}
	if strings.Count(got, "lists.names[]") != 2 {
		t.Errorf("an item already listed was added again:\n%s", got)
	}
	c.List = "nope"
	if _, err := c.Apply(pv); err == nil || !strings.Contains(err.Error(), `has no list "nope"`) {
		t.Errorf("Apply to a missing list: %v", err)
	}
}
