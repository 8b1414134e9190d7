package policy

import (
	"os"
	"path/filepath"
	"testing"
	"testing/fstest"

	"gopkg.in/yaml.v3"
)

// maxFuzzSeed is the largest seed FuzzLoad takes. The fuzzing engine
// minimises every input that finds new coverage, and its minimiser tries to
// remove every range of bytes: its cost grows with the square of the
// input's length. Seeded with the whole profiles (up to 6 KB), FuzzLoad
// spent each minute minimising its first find (issue 12, D10). It is now
// seeded with one small policy per profile rule (fuzzSeeds), written in
// flow style, and the small bad policies.
const maxFuzzSeed = 450

// fuzzSeeds returns one small policy per rule of the testdata profiles:
// the profile's name and meta, the lists the rule names (at most three
// items each) and the rule without its description, in flow style.
func fuzzSeeds(tb testing.TB) [][]byte {
	files, _ := filepath.Glob("testdata/*.yaml")
	var seeds [][]byte
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			tb.Fatal(err)
		}
		var doc yaml.Node
		if err := yaml.Unmarshal(data, &doc); err != nil {
			tb.Fatal(err)
		}
		top := doc.Content[0]
		field := func(m *yaml.Node, key string) *yaml.Node {
			for i := 0; i+1 < len(m.Content); i += 2 {
				if m.Content[i].Value == key {
					return m.Content[i+1]
				}
			}
			return nil
		}
		lists, rules := field(top, "lists"), field(top, "rules")
		if rules == nil {
			continue
		}
		for _, rule := range rules.Content {
			pick := &yaml.Node{Kind: yaml.MappingNode}
			for i := 0; lists != nil && i+1 < len(lists.Content); i += 2 {
				if names(rule, lists.Content[i].Value) {
					l := *lists.Content[i+1]
					if items := field(&l, "items"); items != nil && len(items.Content) > 3 {
						items.Content = items.Content[:3]
					}
					pick.Content = append(pick.Content, lists.Content[i], &l)
				}
			}
			r := &yaml.Node{Kind: yaml.MappingNode}
			for i := 0; i+1 < len(rule.Content); i += 2 {
				if rule.Content[i].Value != "description" {
					r.Content = append(r.Content, rule.Content[i], rule.Content[i+1])
				}
			}
			seed := &yaml.Node{Kind: yaml.MappingNode, Content: []*yaml.Node{
				{Kind: yaml.ScalarNode, Value: "name"}, field(top, "name"),
				{Kind: yaml.ScalarNode, Value: "meta"}, meta(field(top, "meta")),
				{Kind: yaml.ScalarNode, Value: "lists"}, pick,
				{Kind: yaml.ScalarNode, Value: "rules"}, {Kind: yaml.SequenceNode, Content: []*yaml.Node{r}},
			}}
			for i := 1; i < len(seed.Content); i += 2 {
				flow(seed.Content[i])
			}
			b, err := yaml.Marshal(seed)
			if err != nil {
				tb.Fatal(err)
			}
			if len(b) <= maxFuzzSeed {
				seeds = append(seeds, b)
			}
		}
	}
	bad, _ := filepath.Glob("testdata/bad/*.yaml")
	for _, name := range bad {
		if data, err := os.ReadFile(name); err == nil && len(data) <= maxFuzzSeed {
			seeds = append(seeds, data)
		}
	}
	return seeds
}

// meta keeps the jurisdiction and year of a policy's meta.
func meta(m *yaml.Node) *yaml.Node {
	out := &yaml.Node{Kind: yaml.MappingNode}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if k := m.Content[i].Value; k == "jurisdiction" || k == "year" {
			out.Content = append(out.Content, m.Content[i], m.Content[i+1])
		}
	}
	return out
}

// names reports whether a scalar under n equals name.
func names(n *yaml.Node, name string) bool {
	if n.Kind == yaml.ScalarNode && n.Value == name {
		return true
	}
	for _, c := range n.Content {
		if names(c, name) {
			return true
		}
	}
	return false
}

func flow(n *yaml.Node) {
	if n == nil {
		return
	}
	if n.Kind == yaml.MappingNode || n.Kind == yaml.SequenceNode {
		n.Style = yaml.FlowStyle
	}
	n.HeadComment, n.LineComment, n.FootComment = "", "", ""
	for _, c := range n.Content {
		flow(c)
	}
}

func TestFuzzSeedsSmall(t *testing.T) {
	seeds := fuzzSeeds(t)
	if len(seeds) < 15 {
		t.Fatalf("%d seeds of at most %d bytes", len(seeds), maxFuzzSeed)
	}
	fsys := fstest.MapFS{"lists/l.txt": {Data: []byte("example.com\n")}}
	loaded := 0
	for _, s := range seeds {
		if len(s) > maxFuzzSeed {
			t.Errorf("seed of %d bytes:\n%s", len(s), s)
		}
		if _, err := Load("seed.yaml", s, fsys, "."); err == nil {
			loaded++
		}
	}
	t.Logf("%d seeds, %d load", len(seeds), loaded)
	if loaded < len(seeds)/3 {
		t.Errorf("only %d of %d seeds load", loaded, len(seeds))
	}
}

// FuzzLoad checks that Load never panics and that a policy it accepts
// validates again unchanged.
func FuzzLoad(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	fsys := fstest.MapFS{"lists/l.txt": {Data: []byte("example.com\n")}}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Load("fuzz.yaml", data, fsys, ".")
		if err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("error is %T, want *Error", err)
			}
			return
		}
		if err := p.Validate(); err != nil {
			t.Fatalf("loaded policy fails Validate: %v", err)
		}
		if _, err := p.CompileLists(); err != nil {
			t.Fatalf("valid policy's lists do not compile: %v", err)
		}
	})
}
