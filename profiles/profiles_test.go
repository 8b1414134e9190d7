package profiles_test

import (
	"io/fs"
	"path"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/splinter-lab/splinter/border"
	"github.com/splinter-lab/splinter/policy"
	"github.com/splinter-lab/splinter/profiles"
)

// TestEveryProfile loads every shipped history and version (what `splinter
// check` does), requires a source and a year on each rule, a jurisdiction
// in the meta, a summary on each version and a citation on each change,
// and compiles every version into an engine.
func TestEveryProfile(t *testing.T) {
	names := profiles.Names()
	for _, want := range []string{"CN", "CN-2019", "CN-2023", "CN-henan", "IR", "RU", "TM", "KZ", "KZ-2019", "IN-airtel", "IN-jio"} {
		if !profiles.Has(want) {
			t.Errorf("profile %s is missing (have %v)", want, names)
		}
	}
	for _, n := range profiles.Histories() {
		t.Run(n, func(t *testing.T) {
			t.Parallel()
			h, err := profiles.History(n)
			if err != nil {
				t.Fatal(err)
			}
			if h.Name != n {
				t.Errorf("history named %q in file %s.yaml", h.Name, n)
			}
			if h.Meta.Jurisdiction == "" || len(h.Meta.Sources) == 0 {
				t.Errorf("meta needs a jurisdiction and sources: %+v", h.Meta)
			}
			if got, want := profiles.Versions(n), versionNames(h.Versions); !slices.Equal(got, want) {
				t.Errorf("Versions(%s) = %v, want %v", n, got, want)
			}
			for _, v := range h.Versions {
				p := v.Policy
				if p.Name != v.Name || v.Summary == "" || !strings.HasPrefix(v.Name, n+"-") {
					t.Errorf("version %q (policy %q): want a summary and a name starting %s-", v.Name, p.Name, n)
				}
				for _, c := range v.Changes {
					if c.Source == "" || c.Year == 0 {
						t.Errorf("%s: change %s is not cited", v.Name, c)
					}
				}
				for _, r := range p.Rules {
					if r.Source == "" || r.Year == 0 || r.Description == "" {
						t.Errorf("%s: rule %s needs a source, a year and a description", v.Name, r.ID)
					}
				}
				e, err := border.New(p, border.Config{})
				if err != nil {
					t.Fatalf("%s: %v", v.Name, err)
				}
				e.Close()
			}
			// A version name loads that version; the history loads the
			// latest, or the one in force at a date.
			if p, err := profiles.Load(n); err != nil || p.Name != h.Latest().Name {
				t.Errorf("Load(%s) = %v, %v; want the latest version", n, p, err)
			}
			for _, v := range h.Versions {
				if got := h.At(v.From.Time().Add(time.Hour)); got != v {
					t.Errorf("At(%s) = %v, want %s", v.From, got, v.Name)
				}
			}
			first := h.Versions[0]
			if p, err := profiles.Load(first.Name); err != nil || p.Name != first.Name {
				t.Errorf("Load(%s): %v", first.Name, err)
			}
			if p, err := profiles.LoadAt(n, first.From.Time().Add(time.Hour)); err != nil || p.Name != first.Name {
				t.Errorf("LoadAt(%s, %s) = %v, %v", n, first.From, p, err)
			}
			if p, err := profiles.LoadAt(n, h.Versions[0].From.Time().Add(-time.Second)); p != nil || err != nil {
				t.Errorf("LoadAt before the first version: %v, %v", p, err)
			}
		})
	}
	if _, err := profiles.Load("CN-1999"); err == nil {
		t.Error("Load of an unknown name succeeded")
	}
}

func versionNames(vs []*policy.Version) []string {
	var out []string
	for _, v := range vs {
		out = append(out, v.Name)
	}
	return out
}

// TestNoCopiedRules: no rule is written twice with the same behaviour in
// the shipped files, within a history or across them: a version inherits
// a rule or changes what changed. Every mapping with an id, a match and
// actions is a rule as written; its behaviour is everything but id,
// description, source and year.
func TestNoCopiedRules(t *testing.T) {
	type written struct {
		where string
		body  any
	}
	var rules []written
	files, _ := fs.Glob(profiles.FS(), "*.yaml")
	for _, f := range files {
		data, err := fs.ReadFile(profiles.FS(), f)
		if err != nil {
			t.Fatal(err)
		}
		var doc yaml.Node
		if err := yaml.Unmarshal(data, &doc); err != nil {
			t.Fatal(err)
		}
		var walk func(n *yaml.Node)
		walk = func(n *yaml.Node) {
			if n.Kind == yaml.MappingNode && hasKeys(n, "id", "match", "actions") {
				var body map[string]any
				if err := n.Decode(&body); err != nil {
					t.Fatal(err)
				}
				for _, k := range []string{"id", "description", "source", "year"} {
					delete(body, k)
				}
				rules = append(rules, written{path.Base(f) + ":" + strconv.Itoa(n.Line), body})
				return
			}
			for _, c := range n.Content {
				walk(c)
			}
		}
		walk(&doc)
	}
	if len(rules) < 30 {
		t.Fatalf("found %d rules in the profiles; the walk is broken", len(rules))
	}
	for i, a := range rules {
		for _, b := range rules[:i] {
			if reflect.DeepEqual(a.body, b.body) {
				t.Errorf("rule at %s repeats the rule at %s", a.where, b.where)
			}
		}
	}
}

func hasKeys(n *yaml.Node, keys ...string) bool {
	for _, k := range keys {
		found := false
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == k {
				found = true
			}
		}
		if !found {
			return false
		}
	}
	return true
}
