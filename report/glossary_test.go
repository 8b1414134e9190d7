package report

import (
	"testing"

	"github.com/splinter-lab/splinter/policy"
	"github.com/splinter-lab/splinter/probe"
)

// TestGlossaryCoversEverything: every verdict probe can reach, every action
// kind a policy can name and every layer a rule can look at has a meaning.
func TestGlossaryCoversEverything(t *testing.T) {
	g := NewGlossary()
	has := func(terms []Term) map[string]Term {
		m := map[string]Term{}
		for _, x := range terms {
			if x.Meaning == "" {
				t.Errorf("%s has no meaning", x.Name)
			}
			m[x.Name] = x
		}
		return m
	}
	vs := has(g.Verdicts)
	for _, v := range append(append([]probe.Verdict{}, probe.Verdicts...), probe.Unknown) {
		x, ok := vs[string(v)]
		if !ok {
			t.Errorf("glossary lacks verdict %s", v)
		}
		if x.Color == "" || x.Blocked != v.Blocked() {
			t.Errorf("verdict %s: colour %q, blocked %v", v, x.Color, x.Blocked)
		}
	}
	ms := has(g.Methods)
	kinds := policy.ActionKinds()
	if len(kinds) < 10 {
		t.Fatalf("%d action kinds registered", len(kinds))
	}
	for _, k := range kinds {
		if _, ok := ms[k.Name]; !ok {
			t.Errorf("glossary lacks method %s", k.Name)
		}
	}
	if len(has(g.Layers)) != 6 || len(has(g.Words)) == 0 {
		t.Errorf("layers %d, words %d", len(g.Layers), len(g.Words))
	}
}
