package lab_test

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/splinter-lab/splinter/governance"
	"github.com/splinter-lab/splinter/lab"
	"github.com/splinter-lab/splinter/policylog"
	"github.com/splinter-lab/splinter/probe"
)

// TestGovernAppliesChanges replays testdata/govern.yaml on the lab world
// whose border enforces testdata/honest.yaml: a names change becomes the
// next logged version and blocks the name from its effective date, as the
// probes measure; a technique change adds the profile rule on top of that
// version; a root-zone change is logged but not applied, and the world is
// not measured again. The log holds the base version, every step and
// outcome, and the new versions in that order, and verifies.
func TestGovernAppliesChanges(t *testing.T) {
	if testing.Short() {
		t.Skip("five small runs")
	}
	f, err := governance.Open("testdata/govern.yaml")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	out := t.TempDir()
	res, err := lab.Govern(ctx, f, honestSpec(t), lab.GovernOptions{Out: out, Rand: seeded(5)})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Base) != 1 || res.Base[0].Index != 0 || res.Base[0].Effective.String() != "2024-02-01" || len(res.Proposals) != 3 {
		t.Fatalf("base %+v, %d proposals", res.Base, len(res.Proposals))
	}
	if len(res.Vantages) != 1 || res.Vantages[0] != "client" {
		t.Errorf("vantages %v", res.Vantages)
	}

	names := res.Proposals[0]
	if names.Entries != [2]int64{1, 8} || len(names.Applied) != 1 {
		t.Fatalf("add-allowed: entries %v, applied %+v", names.Entries, names.Applied)
	}
	a := names.Applied[0]
	if a.Border != "XX" || a.Index != 9 || a.Version != "2024+add-allowed" || !slices.Contains(a.Diff, "+ lists.names[]: www.allowed.com") {
		t.Errorf("add-allowed applied %+v", a)
	}
	if names.Before == nil || names.After == nil || names.Before.Date != time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC) {
		t.Fatalf("add-allowed phases %+v %+v", names.Before, names.After)
	}
	if names.Before.Versions[0].Index != 0 || names.After.Versions[0].Index != 9 {
		t.Errorf("versions in force: before %+v, after %+v", names.Before.Versions, names.After.Versions)
	}
	if len(names.Changed) != 1 || names.Changed[0].Domain != "www.allowed.com" || names.Changed[0].Before != probe.Accessible || !names.Changed[0].After.Blocked() {
		t.Errorf("add-allowed changed %+v", names.Changed)
	}
	for _, ph := range []*lab.Phase{names.Before, names.After} {
		if !ph.Run.Audit.Clean() {
			t.Errorf("%s: audit %+v", ph.Date, ph.Run.Audit.Undeclared)
		}
		for _, it := range ph.Run.Score.Items {
			for _, d := range it.Decisions {
				if want := ph.Versions[0].Index; d.PolicyIndex == nil || *d.PolicyIndex != want {
					t.Errorf("%s: decision of %s cites %v, want %d", ph.Date, d.Rule, d.PolicyIndex, want)
				}
			}
		}
	}

	tech := res.Proposals[1]
	if len(tech.Applied) != 1 || tech.Applied[0].Index != 17 || tech.Applied[0].Version != "2024+add-allowed+esni" ||
		!slices.ContainsFunc(tech.Applied[0].Diff, func(d string) bool { return strings.HasPrefix(d, "+ rules[cn-esni]") }) {
		t.Errorf("esni applied %+v", tech.Applied)
	}
	if tech.After == nil || len(tech.Changed) != 0 {
		t.Errorf("esni: after %v, changed %+v (an ESNI rule changes nothing for web_connectivity)", tech.After, tech.Changed)
	}

	root := res.Proposals[2]
	if len(root.Applied) != 1 || root.Applied[0].Index != -1 || !strings.Contains(root.Applied[0].NotApplied, "does not edit the world's root zone") || root.After != nil || root.Unchanged == "" {
		t.Errorf("drop-tld: %+v, after %v, unchanged %q", root.Applied, root.After, root.Unchanged)
	}

	l, err := policylog.Open(filepath.Join(out, "log"), "")
	if err != nil {
		t.Fatal(err)
	}
	if l.Size() != 25 || res.LogSize != 25 {
		t.Errorf("log size %d (result says %d), want 25", l.Size(), res.LogSize)
	}
	for i, want := range map[int64]string{0: "policy hosts", 1: "add-allowed proposal-filed", 8: "add-allowed outcome", 9: "cause add-allowed", 17: "cause esni", 24: "drop-tld outcome"} {
		e, _, err := l.Entry(i)
		if err != nil || !strings.Contains(e.Summary(), want) {
			t.Errorf("entry %d: %s (%v), want %q", i, e.Summary(), err, want)
		}
	}
	keys, _ := policylog.KeysFromDir(filepath.Join(out, "log"))
	if _, err := policylog.VerifyDir(filepath.Join(out, "log"), keys); err != nil {
		t.Error(err)
	}
}
