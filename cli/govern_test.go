package cli_test

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// governCases are the golden replays: both shipped governance scenarios
// under a multilateral and the multi-stakeholder forum, measured from a
// Russian, a Kazakh and an American client (the sites the proposals name
// and a control per category). The README's walk-through runs the first
// two (TestREADMEGovern).
var governCases = []struct {
	name string
	args []string
}{
	{"wuzhen-2014.wic-2014", []string{"govern", "wuzhen-2014", "--forum", "wic-2014", "--from", "ru-client-1,kz-client-1,us-client-1"}},
	{"wuzhen-2014.ms-council", []string{"govern", "wuzhen-2014", "--forum", "ms-council", "--from", "ru-client-1,kz-client-1,us-client-1"}},
	{"sco-infosec-list.sco-council", []string{"govern", "sco-infosec-list", "--forum", "sco-council", "--from", "ru-client-1,kz-client-1,us-client-1"}},
	{"sco-infosec-list.ms-council", []string{"govern", "sco-infosec-list", "--forum", "ms-council", "--from", "ru-client-1,kz-client-1,us-client-1"}},
}

// TestGovernGolden replays each case with `splinter govern ... --out DIR`
// and compares what it prints with testdata/govern/<case>.golden (DIR
// written as OUT): the steps and outcome under the forum, the log entries
// and policy versions, reachability before and after the effective date,
// the names whose verdict changed and each phase's audit. The multilateral
// forums adopt (and Russia and Kazakhstan then block names they did not),
// the multi-stakeholder council does not (and nothing changes). The log a
// replay leaves verifies. The cases run two at a time; each waits mostly on
// the probes' timeouts (about 25 s a phase under load).
func TestGovernGolden(t *testing.T) {
	if testing.Short() {
		t.Skip("measures six phases of the default world (about a minute and a half)")
	}
	for _, tc := range governCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			out := t.TempDir()
			code, stdout, stderr := run(append(tc.args, "--out", out)...)
			if code != 0 {
				t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
			}
			got := strings.ReplaceAll(stdout, out, "OUT")
			golden := filepath.Join("testdata", "govern", tc.name+".golden")
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if got != string(want) {
				t.Errorf("output differs from %s (rerun with -update to accept):\n%s", golden, lineDiff(string(want), got))
			}
			if code, vout, verr := run("log", "verify", filepath.Join(out, "log")); code != 0 {
				t.Errorf("log verify: exit %d\n%s%s", code, vout, verr)
			}
			if _, err := os.Stat(filepath.Join(out, "govern.json")); err != nil {
				t.Error(err)
			}
		})
	}
}

// lineDiff lists the lines of want and got that differ, by position.
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	for i := 0; i < max(len(w), len(g)); i++ {
		var a, c string
		if i < len(w) {
			a = w[i]
		}
		if i < len(g) {
			c = g[i]
		}
		if a != c {
			b.WriteString("- " + a + "\n+ " + c + "\n")
		}
	}
	return b.String()
}

// TestGovernBadInput: a bad governance file, an unknown forum, a missing
// file: exit 2 with the position or the choices, no stack trace.
func TestGovernBadInput(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("name: x\nforums:\n  - id: f\n    model: sovereign-ish\n"), 0o644)
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"unknown forum", []string{"govern", "wuzhen-2014", "--forum", "g20", "--no-measure"}, `no forum "g20" (declared: cn-host, ms-council, un-gge, wic-2014)`},
		{"bad file", []string{"govern", bad, "--no-measure"}, bad + ":4:12"},
		{"missing", []string{"govern", "atlantis-2030"}, `"atlantis-2030" is neither an embedded scenario`},
		{"no file", []string{"govern"}, "no governance file given (embedded: sco-infosec-list, wuzhen-2014)"},
		{"extra", []string{"govern", "wuzhen-2014", "more"}, `unexpected argument "more"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := run(tc.args...)
			if code != 2 || !strings.Contains(errOut, tc.want) || strings.Contains(errOut, "goroutine") {
				t.Errorf("exit %d, want 2 with %q\n%s%s", code, tc.want, out, errOut)
			}
		})
	}
}

// TestRunLogVerifies: `splinter run` keeps a transparency log in its output
// directory whose policy versions the decisions cite; `splinter log verify`
// passes on it, and fails with exit 1 naming the entry when one byte of
// the entry is changed.
func TestRunLogVerifies(t *testing.T) {
	if testing.Short() {
		t.Skip("a small run")
	}
	out := t.TempDir()
	if code, stdout, stderr := run("run", "--scenario", "../lab/testdata/lab.yaml", "--out", out); code != 0 {
		t.Fatalf("run: exit %d\n%s%s", code, stdout, stderr)
	} else if !strings.Contains(stdout, "transparency log: "+filepath.Join(out, "log")) || !strings.Contains(stdout, "Audit against the transparency log: 1 borders cite logged versions; 0 undeclared") {
		t.Errorf("run output:\n%s", stdout)
	}
	dec, _ := os.ReadFile(filepath.Join(out, "decisions.jsonl"))
	if !bytes.Contains(dec, []byte(`"policy_index":0,`)) {
		t.Errorf("decisions cite no log index:\n%.300s", dec)
	}
	dir := filepath.Join(out, "log")
	if code, stdout, stderr := run("log", "verify", dir); code != 0 || !strings.Contains(stdout, "ok  "+dir+": log log.splinter.test, 1 entries") {
		t.Fatalf("verify: exit %d\n%s%s", code, stdout, stderr)
	}
	bundle := filepath.Join(dir, "tile", "entries", "000.p", "1")
	b, err := os.ReadFile(bundle)
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(b, []byte(`"version":"2024"`)) + len(`"version":"202`)
	b[i] = '5'
	if err := os.WriteFile(bundle, b, 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := run("log", "verify", dir)
	if code != 1 || !strings.Contains(stderr, "entry 0 (in tile/entries/000.p/1)") {
		t.Errorf("verify after changing one byte of entry 0: exit %d, want 1 naming the entry\n%s%s", code, stdout, stderr)
	}
}

// TestREADMEGovern runs the README's walk-through for policy analysts: each
// `splinter govern` command there must be one of the golden cases, and
// every output line the README shows must be a line of its golden file;
// the commands that read the log it writes (log diff, log verify) are run
// on the log the same replay makes (with --no-measure: the log is the
// same) and must print what the README shows.
func TestREADMEGovern(t *testing.T) {
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	start := strings.Index(readme, "## Walk-through for policy analysts and teachers")
	if start < 0 {
		t.Fatal("README has no walk-through for policy analysts")
	}
	sec := readme[start:]
	if end := strings.Index(sec[3:], "\n## "); end >= 0 {
		sec = sec[:end+3]
	}
	type command struct {
		args []string
		want []string
	}
	var cmds []command
	for _, block := range strings.Split(sec, "```console\n")[1:] {
		block, _, _ = strings.Cut(block, "```")
		for _, line := range strings.Split(strings.TrimSuffix(block, "\n"), "\n") {
			if rest, ok := strings.CutPrefix(line, "$ splinter "); ok {
				cmds = append(cmds, command{args: strings.Fields(rest)})
			} else if len(cmds) > 0 {
				cmds[len(cmds)-1].want = append(cmds[len(cmds)-1].want, line)
			}
		}
	}
	if len(cmds) < 4 {
		t.Fatalf("%d commands in the walk-through", len(cmds))
	}
	outs := map[string]string{} // --out name in the README → a temporary directory
	for _, c := range cmds {
		if c.args[0] == "govern" {
			i := slices.Index(c.args, "--out")
			if i < 0 || i+1 >= len(c.args) {
				t.Fatalf("README: %v has no --out", c.args)
			}
			name := c.args[i+1]
			args := slices.Delete(slices.Clone(c.args), i, i+2)
			k := slices.IndexFunc(governCases, func(g struct {
				name string
				args []string
			}) bool {
				return slices.Equal(g.args, args)
			})
			if k < 0 {
				t.Errorf("README: %v is not a golden case of TestGovernGolden", c.args)
				continue
			}
			golden, err := os.ReadFile(filepath.Join("testdata", "govern", governCases[k].name+".golden"))
			if err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(string(golden), "\n")
			for _, w := range c.want {
				if !slices.Contains(lines, strings.ReplaceAll(w, name+"/", "OUT/")) {
					t.Errorf("README: the output of %v shows %q, not a line of %s.golden", c.args, w, governCases[k].name)
				}
			}
			dir := t.TempDir()
			outs[name] = dir
			if code, out, errOut := run(append(args, "--no-measure", "--out", dir)...); code != 0 {
				t.Fatalf("%v --no-measure: exit %d\n%s%s", args, code, out, errOut)
			}
			continue
		}
		args := slices.Clone(c.args)
		for i, a := range args {
			for name, dir := range outs {
				if rest, ok := strings.CutPrefix(a, name+"/"); ok {
					args[i] = filepath.Join(dir, rest)
				}
			}
		}
		code, out, errOut := run(args...)
		if code != 0 {
			t.Errorf("README: %v: exit %d\n%s%s", c.args, code, out, errOut)
			continue
		}
		lines := strings.Split(out, "\n")
		for _, w := range c.want {
			if !slices.Contains(lines, w) {
				t.Errorf("README: %v prints no line %q:\n%s", c.args, w, out)
			}
		}
	}
}
