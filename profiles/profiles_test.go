package profiles_test

import (
	"testing"

	"github.com/splinter-lab/splinter/border"
	"github.com/splinter-lab/splinter/profiles"
)

// TestEveryProfile loads and validates every shipped profile (what
// `splinter check` does), requires a source and a year on each rule and a
// jurisdiction and year in the meta, and compiles it into an engine.
func TestEveryProfile(t *testing.T) {
	names := profiles.Names()
	for _, want := range []string{"CN", "CN-2019", "CN-2023", "CN-henan", "IR", "RU", "TM", "KZ", "KZ-2019", "IN-airtel", "IN-jio"} {
		if !profiles.Has(want) {
			t.Errorf("profile %s is missing (have %v)", want, names)
		}
	}
	for _, n := range names {
		t.Run(n, func(t *testing.T) {
			t.Parallel()
			p, err := profiles.Load(n)
			if err != nil {
				t.Fatal(err)
			}
			if p.Name != n {
				t.Errorf("name %q in file %s.yaml", p.Name, n)
			}
			if p.Meta.Jurisdiction == "" || p.Meta.Year == 0 {
				t.Errorf("meta needs a jurisdiction and a year: %+v", p.Meta)
			}
			if len(p.Rules) == 0 {
				t.Error("no rules")
			}
			for _, r := range p.Rules {
				if r.Source == "" {
					t.Errorf("rule %s has no source", r.ID)
				}
				if r.Year == 0 {
					t.Errorf("rule %s has no year", r.ID)
				}
				if r.Description == "" {
					t.Errorf("rule %s has no description", r.ID)
				}
			}
			e, err := border.New(p, border.Config{})
			if err != nil {
				t.Fatal(err)
			}
			e.Close()
		})
	}
}
