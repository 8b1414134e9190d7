package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/splinter-lab/splinter/cli"
	"github.com/splinter-lab/splinter/probe"
	"github.com/splinter-lab/splinter/profiles"
)

func run(args ...string) (code int, stdout, stderr string) {
	var o, e bytes.Buffer
	code = cli.Run(context.Background(), args, &o, &e)
	return code, o.String(), e.String()
}

// runIn runs splinter as a subprocess in the folder dir, for a command
// that reads or writes the working directory (a test that changes its own
// cannot run in parallel with others).
func runIn(t *testing.T, dir string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	cmd, _ := splinterCmd(args...)
	cmd.Dir = dir
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	if err := cmd.Run(); err != nil {
		var exit *exec.ExitError
		if !errors.As(err, &exit) {
			t.Fatal(err)
		}
	}
	return cmd.ProcessState.ExitCode(), o.String(), e.String()
}

func TestExitCodesAndMessages(t *testing.T) {
	for _, tc := range []struct {
		name       string
		args       []string
		code       int
		out, err   []string // substrings expected
		notInError string
	}{
		{"no-args", nil, 2, nil, []string{"usage: splinter"}, ""},
		{"unknown-command", []string{"fly"}, 2, nil, []string{`unknown command "fly"`}, ""},
		{"bad-flag", []string{"scenarios", "--nope"}, 2, nil, []string{"flag provided but not defined"}, ""},
		{"scenarios", []string{"scenarios"}, 0, []string{"splinternet", "(default)", "two-lands"}, nil, ""},
		{"hosts", []string{"scenarios", "--hosts", "two-lands"}, 0, []string{"cn-client-1", "CN", "client", "198.18.0.66"}, nil, ""},
		{"hosts-unknown", []string{"scenarios", "--hosts", "atlantis"}, 2, nil, []string{`"atlantis" is neither an embedded scenario`}, ""},
		{"check-embedded", append([]string{"check", "splinternet", "two-lands"}, profiles.Names()...), 0, []string{"ok  splinternet", "ok  CN-henan", "ok  KZ-2019"}, nil, ""},
		{"check-bad-scenario", []string{"check", "testdata/bad-scenario.yaml"}, 2, nil, []string{
			`testdata/bad-scenario.yaml:3:11: jurisdiction code "cn"`,
			`testdata/bad-scenario.yaml:4:16:`, `"10.0.0.0/8" is outside the allowed ranges`,
			`"COMP"`, `"nowhere"`}, "goroutine"},
		{"check-bad-policy", []string{"check", "testdata/bad-policy.yaml"}, 2, nil, []string{
			`testdata/bad-policy.yaml:9:`, `no list named "nmaes"`, `testdata/bad-policy.yaml:10:`, `"everyone" is not one of client, server, both`}, "goroutine"},
		{"check-missing", []string{"check", "nope.yaml"}, 2, nil, []string{"nope.yaml: no such file"}, ""},
		{"run-repeat-zero", []string{"run", "--db", "off", "--repeat", "0"}, 2, nil, []string{"--repeat must be at least 1"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name == "check-embedded" && testing.Short() {
				t.Skip("checks every embedded history (33 s under the race detector): skipped in -short")
			}
			code, out, errOut := run(tc.args...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tc.code, out, errOut)
			}
			for _, s := range tc.out {
				if !strings.Contains(out, s) {
					t.Errorf("stdout lacks %q:\n%s", s, out)
				}
			}
			for _, s := range tc.err {
				if !strings.Contains(errOut, s) {
					t.Errorf("stderr lacks %q:\n%s", s, errOut)
				}
			}
			if tc.notInError != "" && strings.Contains(errOut, tc.notInError) {
				t.Errorf("stderr has %q:\n%s", tc.notInError, errOut)
			}
		})
	}
}

// TestREADMEExamples checks every YAML example of the top-level README with
// `splinter check`, and runs the scenarios with `splinter run`.
func TestREADMEExamples(t *testing.T) {
	data, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := strings.Split(string(data), "```yaml\n")[1:]
	if len(blocks) < 2 {
		t.Fatalf("README has %d YAML examples, want a scenario and a policy", len(blocks))
	}
	for i, b := range blocks {
		body, _, _ := strings.Cut(b, "```")
		path := filepath.Join(t.TempDir(), fmt.Sprintf("example-%d.yaml", i))
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		if code, out, errOut := run("check", path); code != 0 {
			t.Errorf("README example %d: exit %d\n%s%s\n%s", i, code, out, errOut, body)
			continue
		}
		// A scenario runs, too: the plan gives it a control.
		if strings.Contains(body, "\njurisdictions:") {
			out := filepath.Join(t.TempDir(), "out")
			if code, stdout, errOut := run("run", "--scenario", path, "--out", out); code != 0 {
				t.Errorf("README example %d: run: exit %d\n%s%s", i, code, stdout, errOut)
			} else if b, err := os.ReadFile(filepath.Join(out, "measurements.jsonl")); err != nil || len(b) == 0 {
				t.Errorf("README example %d: run measured nothing: %v", i, err)
			}
		}
	}
}

func TestRunWithCitizenLabList(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.csv")
	os.WriteFile(bad, []byte("url,category_code,category_description,date_added,source,notes\nhttps://www.people-daily.cn/,NEWS,News,2024-01-01,,\nftp://files.example.com/,FILE,File sharing,2024-01-01,,\n"), 0o644)
	if code, _, errOut := run("run", "--scenario", "two-lands", "--list", bad, "--out", dir); code != 2 || !strings.Contains(errOut, bad+`:3: not an http or https URL: "ftp://files.example.com/"`) {
		t.Fatalf("bad list: exit %d, %s", code, errOut)
	}
	good := filepath.Join(dir, "good.csv")
	os.WriteFile(good, []byte("\ufeffurl,category_code,category_description,date_added,source,notes\nhttp://www.people-daily.cn/,NEWS,News,2024-01-01,,\n"), 0o644)
	out := filepath.Join(dir, "out")
	if code, stdout, errOut := run("run", "--scenario", "two-lands", "--from", "CN", "--list", good, "--out", out); code != 0 {
		t.Fatalf("good list: exit %d\n%s%s", code, stdout, errOut)
	}
	b, err := os.ReadFile(filepath.Join(out, "measurements.jsonl"))
	if err != nil || strings.Count(string(b), "\n") != 1 || !strings.Contains(string(b), `"input":"http://www.people-daily.cn/"`) {
		t.Fatalf("measurements: %v\n%.300s", err, b)
	}
}

// TestRunRealList is issue 11's "real names": splinter run --list on a
// Citizen Lab CSV of real domains, from a client in CN and one in the US.
// The names the world does not know become its sites (said on stderr and
// stdout); the names the CN border's policy lists are blocked from CN and
// reachable from the US, and no name is "accessible" for not existing:
// every one not blocked is reached, from both.
func TestRunRealList(t *testing.T) {
	out := t.TempDir()
	code, stdout, errOut := run("run", "--scenario", "testdata/reallist/scenario.yaml", "--from", "CN,US",
		"--list", "testdata/reallist/cn-real.csv", "--out", out)
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, stdout, errOut)
	}
	if !strings.Contains(errOut, "7 names of the list are not sites of reallist: made them sites of this world") ||
		!strings.Contains(errOut, "1 in CN (cn-list-hosting), 6 in US (us-list-hosting)") {
		t.Errorf("stderr does not say which names became sites, and where:\n%s", errOut)
	}
	if !strings.Contains(stdout, "7 of the list's names were not sites of reallist and were made sites of this world") {
		t.Errorf("the summary does not say the names were made sites:\n%s", stdout)
	}
	b, err := os.ReadFile(filepath.Join(out, "measurements.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	blocked := map[string]bool{"https://twitter.com/": true, "https://www.facebook.com/": true, "http://www.youtube.com/": true,
		"https://www.torproject.org/": true, "http://www.nytimes.com/": true}
	n := 0
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var m probe.Measurement
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatal(err)
		}
		n++
		want := m.ProbeCC == "US" || !blocked[m.Input]
		if got := m.TestKeys.Verdict == probe.Accessible; got != want {
			t.Errorf("%s from %s: %s (%s); want accessible %v", m.Input, m.ProbeCC, m.TestKeys.Verdict, m.TestKeys.VerdictReason, want)
		}
		// Accessible because the site answered, not because no one could
		// reach a name that exists nowhere.
		if reqs := m.TestKeys.Requests; want && (len(reqs) == 0 || reqs[len(reqs)-1].Response.Code != 200 || !strings.Contains(reqs[len(reqs)-1].Response.Body, "<title>")) {
			t.Errorf("%s from %s: accessible without a page: %+v", m.Input, m.ProbeCC, reqs)
		}
	}
	if n != 16 {
		t.Errorf("%d measurements, want 8 inputs × 2 vantages", n)
	}
}
