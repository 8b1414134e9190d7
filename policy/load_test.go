package policy

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/")

// TestExamples loads every example policy in testdata/ and checks that
// together they use every registered matcher and action kind.
func TestExamples(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.yaml")
	if len(files) == 0 {
		t.Fatal("no examples")
	}
	used := map[string]bool{}
	for _, f := range files {
		p, err := LoadFile(f)
		if err != nil {
			t.Errorf("%s:\n%v", f, err)
			continue
		}
		for _, r := range p.Rules {
			for _, m := range r.Match {
				used["match "+m.Kind()] = true
			}
			for _, a := range r.Actions {
				used["action "+a.Kind()] = true
			}
		}
	}
	for _, k := range MatcherKinds() {
		if !used["match "+k.Name] {
			t.Errorf("no example uses matcher kind %q", k.Name)
		}
	}
	for _, k := range ActionKinds() {
		if !used["action "+k.Name] {
			t.Errorf("no example uses action kind %q", k.Name)
		}
	}
}

// TestBadPolicies loads each testdata/bad/*.yaml and compares the error
// text with the .golden file next to it (refresh with -update).
func TestBadPolicies(t *testing.T) {
	files, _ := filepath.Glob("testdata/bad/*.yaml")
	if len(files) == 0 {
		t.Fatal("no bad policies")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			p, err := Load(filepath.ToSlash(f), data, os.DirFS("testdata"), "bad")
			if err == nil {
				t.Fatalf("loaded %q without error", p.Name)
			}
			if _, ok := err.(*Error); !ok {
				t.Fatalf("error is %T, want *Error", err)
			}
			got := err.Error() + "\n"
			golden := strings.TrimSuffix(f, ".yaml") + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update)", err)
			}
			if got != string(want) {
				t.Errorf("errors differ from %s\ngot:\n%s\nwant:\n%s", golden, got, want)
			}
		})
	}
}

// TestREADME loads the example policy in README.md.
func TestREADME(t *testing.T) {
	data, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(data), "## Example")
	if !ok {
		t.Fatal("README.md has no Example section")
	}
	_, rest, _ = strings.Cut(rest, "```yaml\n")
	example, _, ok := strings.Cut(rest, "```")
	if !ok || example == "" {
		t.Fatal("README.md has no yaml example")
	}
	p, err := Load("README.md", []byte(example), os.DirFS("testdata"), ".")
	if err != nil {
		t.Fatal(err)
	}
	lists, err := p.CompileLists()
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := lists["names"].MatchDomain([]byte("www.Example-News.com"), ""); !ok {
		t.Error("names does not match www.example-news.com")
	}
	if _, ok := lists["dns-names"].MatchDomain([]byte("a.example-social.com."), ""); !ok {
		t.Error("dns-names does not match a.example-social.com.")
	}
}
