package governance_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/splinter-lab/splinter/governance"
	"github.com/splinter-lab/splinter/policy"
	"github.com/splinter-lab/splinter/policylog"
	"github.com/splinter-lab/splinter/profiles"
)

// profile bundles an embedded profile as a technique template.
func profile(t *testing.T, name string) *policylog.PolicyVersion {
	t.Helper()
	// The profile's latest version, written as a policy of its own.
	p, err := profiles.Load(name)
	if err != nil {
		t.Fatal(err)
	}
	data, ok := p.Standalone()
	if !ok {
		t.Fatalf("%s is not a history's version", name)
	}
	pv, err := policylog.NewPolicyVersion(p.Name+".yaml", data, profiles.FS(), "", policylog.Day{})
	if err != nil {
		t.Fatal(err)
	}
	return pv
}

// TestApplyTechnique adopts profile rules into a small policy: a rule with
// a list the policy lacks brings the list (items inline); a rule whose
// list the policy has uses the policy's own; a rule with a block page
// brings its body file; the result loads and diffs as one added rule.
func TestApplyTechnique(t *testing.T) {
	pv, err := policylog.ReadPolicyVersion("testdata/policy/xl.yaml", "2024", policylog.Day{})
	if err != nil {
		t.Fatal(err)
	}
	eff, _ := policylog.ParseDay("2024-09-01")
	c := governance.PolicyChange{Proposal: "p", Jurisdiction: "XL", Effective: eff, Kind: governance.Technique}
	for _, tc := range []struct {
		template, rule string
		list           string // a list the new version must have
		items          int    // its item count: -1 the policy's own
		file           string // a file the bundle must hold
	}{
		{"CN", "cn-quic", "quic-names", 0, ""},
		{"IR", "ir-sni", "names", -1, ""},
		{"IR", "ir-http-blockpage", "names", -1, "iran-blockpage.html"},
		{"CN", "cn-esni", "", 0, ""},
	} {
		t.Run(tc.rule, func(t *testing.T) {
			tmpl := profile(t, tc.template)
			c.Technique = tc.rule
			next, err := c.ApplyTechnique(pv, tmpl)
			if err != nil {
				t.Fatal(err)
			}
			if next.Version != "2024+p" || next.Cause != "p" || next.Effective != eff {
				t.Errorf("version %s cause %s effective %s", next.Version, next.Cause, next.Effective)
			}
			p, err := next.Policy()
			if err != nil {
				t.Fatal(err)
			}
			if !slices.ContainsFunc(p.Rules, func(r policy.Rule) bool { return r.ID == tc.rule }) {
				t.Fatalf("no rule %s in %v", tc.rule, p.Rules)
			}
			if tc.list != "" {
				tp, _ := tmpl.Policy()
				l := p.Lists[tc.list]
				switch {
				case l == nil:
					t.Errorf("no list %s", tc.list)
				case tc.items == -1 && !slices.Contains(l.Items, "example-politics.org"):
					t.Errorf("list %s is not the policy's own: %d items", tc.list, len(l.Items))
				case tc.items == 0 && len(l.Items) != len(tp.Lists[tc.list].Items):
					t.Errorf("list %s has %d items, the template's %d", tc.list, len(l.Items), len(tp.Lists[tc.list].Items))
				}
			}
			if tc.file != "" && !slices.ContainsFunc(next.Files, func(f policylog.File) bool { return f.Path == tc.file && len(f.Data) > 0 }) {
				t.Errorf("bundle lacks %s", tc.file)
			}
			d, err := policylog.Diff(pv, next)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(d.String(), "+ rules["+tc.rule+"]") {
				t.Errorf("diff:\n%s", d)
			}
		})
	}
	c.Technique = "xl-dns"
	if _, err := c.ApplyTechnique(pv, pv); err == nil || !strings.Contains(err.Error(), `already has rule "xl-dns"`) {
		t.Errorf("adopting a rule the policy has: %v", err)
	}
	c.Technique = "nope"
	cn := profile(t, "CN")
	if _, err := c.ApplyTechnique(pv, cn); err == nil || !strings.Contains(err.Error(), "template "+cn.Name+` has no rule "nope"`) {
		t.Errorf("adopting a rule the template lacks: %v", err)
	}
}

// TestWouldChange: what a proposal would change if adopted, whatever the
// forum decides: every bloc member without a reservation, or every state
// that supported it.
func TestWouldChange(t *testing.T) {
	for _, tc := range []struct {
		file, proposal string
		want           []string
	}{
		{"sco-infosec-list", "infosec-list", []string{"CN", "RU", "KZ", "KG", "TJ", "UZ", "IR", "PK"}},
		{"wuzhen-2014", "wuzhen-declaration", []string{"CN", "RU", "KZ", "IR"}},
	} {
		f, err := governance.Open(tc.file)
		if err != nil {
			t.Fatal(err)
		}
		cs, err := f.WouldChange(tc.proposal, policylog.Day{})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, c := range cs {
			got = append(got, c.Jurisdiction)
			if c.Kind != governance.NameChange || len(c.Add) == 0 || (c.Jurisdiction == "RU") != (c.List == "tspu-names") {
				t.Errorf("%s: change %+v", tc.file, c)
			}
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: jurisdictions %v, want %v", tc.file, got, tc.want)
		}
		if _, err := f.WouldChange("nope", policylog.Day{}); err == nil {
			t.Errorf("%s: no error for an unknown proposal", tc.file)
		}
	}
}
