package policy_test

import (
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/splinter-lab/splinter/border"
	"github.com/splinter-lab/splinter/policy"
)

func loadHistory(t *testing.T, file string) (*policy.History, error) {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	return policy.LoadHistory(filepath.ToSlash(file), data, os.DirFS(filepath.Dir(file)), ".")
}

func rule(p *policy.Policy, id string) *policy.Rule {
	for i := range p.Rules {
		if p.Rules[i].ID == id {
			return &p.Rules[i]
		}
	}
	return nil
}

func day(s string) time.Time {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return t
}

// TestHistory loads a small history with every kind of change and checks
// what each version enforces: rules added, changed (a set, a delete, an
// appended action), removed; a box set from an anchor of the first version;
// lists shared between versions; dates and edges.
func TestHistory(t *testing.T) {
	h, err := loadHistory(t, "testdata/history/censor.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, v := range h.Versions {
		names = append(names, v.Name)
	}
	if !slices.Equal(names, []string{"XX-2010", "XX-2017", "XX-2020"}) {
		t.Fatalf("versions %v", names)
	}
	for _, c := range []struct {
		at, want string
	}{{"2009-12-31", ""}, {"2010-01-01", "XX-2010"}, {"2016-12-31", "XX-2010"}, {"2017-01-01", "XX-2017"}, {"2020-07-29", "XX-2020"}, {"2026-01-01", "XX-2020"}} {
		got := ""
		if v := h.At(day(c.at)); v != nil {
			got = v.Name
		}
		if got != c.want {
			t.Errorf("At(%s) = %q, want %q", c.at, got, c.want)
		}
	}
	v10, v17, v20 := h.Versions[0].Policy, h.Versions[1].Policy, h.Versions[2].Policy
	for _, v := range h.Versions {
		p := v.Policy
		if p.Name != v.Name || p.History != "XX" || p.Meta.Jurisdiction != "XX" || p.Meta.Year != v.From.Time().Year() || p.Meta.Effective != v.From {
			t.Errorf("%s: name %q history %q meta %+v", v.Name, p.Name, p.History, p.Meta)
		}
		if _, err := border.New(p, border.Config{}); err != nil {
			t.Errorf("%s: %v", v.Name, err)
		}
	}
	residual := func(p *policy.Policy, id string) time.Duration {
		r := rule(p, id)
		if r == nil || len(r.Actions) < 2 {
			return 0
		}
		return r.Actions[1].(*border.ResidualAction).Duration
	}
	if got := [3]time.Duration{residual(v10, "xx-http"), residual(v17, "xx-http"), residual(v20, "xx-http")}; got != [3]time.Duration{90 * time.Second, 60 * time.Second, 0} {
		t.Errorf("xx-http residual per version %v, want 90s 60s none", got)
	}
	if rule(v10, "xx-sni") != nil || rule(v17, "xx-sni") == nil || residual(v17, "xx-sni") != 0 || residual(v20, "xx-sni") != 180*time.Second {
		t.Error("xx-sni: want absent in 2010, no residual in 2017, 180 s in 2020")
	}
	if rule(v17, "xx-throttle") == nil || rule(v20, "xx-throttle") != nil {
		t.Error("xx-throttle: want kept in 2017 and removed in 2020")
	}
	// A changed rule takes the change's year and adds its source.
	if r := rule(v17, "xx-http"); r.Year != 2017 || r.Source != "Example et al. (2011); Example et al. (2020)" {
		t.Errorf("changed rule: year %d source %q", r.Year, r.Source)
	}
	if r := rule(v10, "xx-http"); r.Year != 2010 || r.Source != "Example et al. (2011)" {
		t.Errorf("the 2010 rule changed with the 2017 version: year %d source %q", r.Year, r.Source)
	}
	// The box: the anchor as written, the HTTP box changed from 2017.
	if got := v10.TCP.Boxes["http"].CreateOn; !slices.Equal(got, []policy.TCBCreate{policy.CreateOnSYN}) {
		t.Errorf("2010 http box creates on %v", got)
	}
	if got := v17.TCP.Boxes["http"].CreateOn; !slices.Equal(got, []policy.TCBCreate{policy.CreateOnSYN, policy.CreateOnSYNACK}) {
		t.Errorf("2017 http box creates on %v", got)
	}
	if b := v17.TCP.Boxes["tls"]; b == nil || !slices.Equal(b.CreateOn, []policy.TCBCreate{policy.CreateOnSYN}) {
		t.Errorf("2017 tls box %+v", b)
	}
	if v10.Lists["names"] != v20.Lists["names"] || len(v20.Lists["names"].Items) != 2 {
		t.Error("the unchanged list is not shared between versions")
	}
	// The throttle's two periods.
	th := rule(v10, "xx-throttle").Scope.Active
	for d, want := range map[string]bool{"2011-11-29": false, "2011-11-30": true, "2012-08-15": true, "2012-08-16": false, "2012-10-04": true, "2012-11-23": false} {
		if th.Contains(day(d).Add(12*time.Hour)) != want {
			t.Errorf("throttle window at %s: want %v", d, want)
		}
	}
	var edges []string
	for _, e := range h.Edges() {
		edges = append(edges, e.Format(time.DateOnly))
	}
	if want := []string{"2010-01-01", "2011-11-30", "2012-08-16", "2012-10-04", "2012-11-23", "2017-01-01", "2020-07-29"}; !slices.Equal(edges, want) {
		t.Errorf("edges %v, want %v", edges, want)
	}
	var changes []string
	for _, c := range h.Versions[2].Changes {
		changes = append(changes, c.String())
	}
	want := []string{
		"removes rule xx-throttle [Example et al. (2020), 2020]",
		"changes rule xx-sni (actions[1]) [Example et al. (2021), 2020]",
		"changes rule xx-http (-actions[1]) [Example et al. (2021), 2020]",
	}
	if !slices.Equal(changes, want) {
		t.Errorf("changes:\n%s\nwant:\n%s", strings.Join(changes, "\n"), strings.Join(want, "\n"))
	}
	if c := h.Versions[1].Changes[0]; c.Kind != policy.AddRule || c.Rule != "xx-sni" || c.Source != "Example et al. (2020)" || c.Year != 2017 {
		t.Errorf("add-rule change %+v", c)
	}
	// A history is not a policy, and says so.
	data, _ := os.ReadFile("testdata/history/censor.yaml")
	if !policy.IsHistory(data) {
		t.Error("IsHistory: false")
	}
	if _, err := policy.Load("censor.yaml", data, nil, "."); err == nil || !strings.Contains(err.Error(), "LoadHistory") {
		t.Errorf("Load of a history: %v", err)
	}
}

// TestBadHistories loads each testdata/history/bad/*.yaml and compares the
// error with its .golden file (refresh with -update): a rule copied under
// another id, an uncited change, versions out of order, a path past the
// end, an unknown rule, values the language refuses.
func TestBadHistories(t *testing.T) {
	files, _ := filepath.Glob("testdata/history/bad/*.yaml")
	if len(files) < 6 {
		t.Fatalf("%d bad histories", len(files))
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			h, err := loadHistory(t, f)
			if err == nil {
				t.Fatalf("loaded %s without error", h.Name)
			}
			if _, ok := err.(*policy.Error); !ok {
				t.Fatalf("error is %T, want *policy.Error", err)
			}
			golden(t, strings.TrimSuffix(f, ".yaml")+".golden", err.Error()+"\n")
		})
	}
}

// TestRepeatedRules: two policy files of one censor that repeat a rule are
// found; a rule that differs in one value is not a repeat.
func TestRepeatedRules(t *testing.T) {
	h, err := loadHistory(t, "testdata/history/censor.yaml")
	if err != nil {
		t.Fatal(err)
	}
	a, b := h.Versions[0].Policy, h.Versions[1].Policy
	got := policy.RepeatedRules(a, b)
	if !slices.Contains(got, "XX-2017/xx-throttle = XX-2010/xx-throttle") || slices.Contains(got, "XX-2017/xx-http = XX-2010/xx-http") {
		t.Errorf("repeats %v", got)
	}
}

// golden compares got with the file (or rewrites it under -update, the
// flag the package's internal tests define).
func golden(t *testing.T, file, got string) {
	t.Helper()
	if f := flag.Lookup("update"); f != nil && f.Value.String() == "true" {
		if err := os.WriteFile(file, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if got != string(want) {
		t.Errorf("differs from %s\ngot:\n%s\nwant:\n%s", file, got, want)
	}
}

// TestREADMEHistory loads the history example of README.md.
func TestREADMEHistory(t *testing.T) {
	data, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(data), "## Histories")
	if !ok {
		t.Fatal("README.md has no Histories section")
	}
	_, rest, _ = strings.Cut(rest, "```yaml\n")
	example, _, ok := strings.Cut(rest, "```")
	if !ok || example == "" {
		t.Fatal("the Histories section has no yaml example")
	}
	h, err := policy.LoadHistory("README.md", []byte(example), os.DirFS("testdata"), ".")
	if err != nil {
		t.Fatal(err)
	}
	v := h.At(day("2021-04-01"))
	if v == nil || v.Name != "XX-2021" || len(v.Policy.Rules) != 2 || v.Policy.Rules[0].Actions[0].Kind() != "rst" {
		t.Errorf("version at 2021-04-01: %+v", v)
	}
	if got := h.At(day("2012-01-01")); got != nil {
		t.Errorf("a version before the first: %v", got.Name)
	}
}

// TestStandalone: a history version written as a policy of its own loads
// back to the same rules, lists and boxes.
func TestStandalone(t *testing.T) {
	h, err := loadHistory(t, "testdata/history/censor.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range h.Versions {
		doc, ok := v.Policy.Standalone()
		if !ok {
			t.Fatalf("%s: no standalone form", v.Name)
		}
		p, err := policy.Load(v.Name+".yaml", doc, os.DirFS("testdata/history"), ".")
		if err != nil {
			t.Fatalf("%s: %v\n%s", v.Name, err, doc)
		}
		if p.Name != v.Name || p.Meta.Effective != v.From || len(p.Rules) != len(v.Policy.Rules) {
			t.Errorf("%s: loaded back as %s (%s), %d rules", v.Name, p.Name, p.Meta.Effective, len(p.Rules))
		}
		if got := policy.RepeatedRules(p, v.Policy); len(got) != len(p.Rules) {
			t.Errorf("%s: the standalone rules differ from the version's: %v", v.Name, got)
		}
		if !reflect.DeepEqual(p.TCP.Boxes["http"].CreateOn, v.Policy.TCP.Boxes["http"].CreateOn) || len(p.Lists["names"].Items) != 2 {
			t.Errorf("%s: boxes or lists differ", v.Name)
		}
	}
	data, _ := os.ReadFile("testdata/history/censor.yaml")
	if p, err := policy.Load("censor.yaml", []byte(strings.Replace(string(data), "versions:", "rules: []\nversionz:", 1)), nil, "."); err == nil {
		if _, ok := p.Standalone(); ok {
			t.Error("a policy read from its own file has a standalone form")
		}
	}
}
