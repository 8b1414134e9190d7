package cli_test

import (
	"regexp"
	"strings"
	"testing"

	"github.com/splinter-lab/splinter/strategy"
)

// TestEvolve runs a tiny search against the 2019 GFW (the evasion lab's
// own small scenario) and checks what it prints: a line per generation,
// then the best strategies with their success rates, each a strategy that
// parses.
func TestEvolve(t *testing.T) {
	code, stdout, stderr := run("evolve", "--scenario", "../evade/testdata/lab.yaml", "--from", "cn-client-1",
		"--population", "4", "--generations", "2", "--trials", "2", "--top", "3", "--budget", "2m",
		"http://www.plain-control-page.com/?q=ultrasurf")
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
	}
	t.Logf("%s%s", stdout, stderr)
	if n := len(regexp.MustCompile(`(?m)^generation \d+: `).FindAllString(stderr, -1)); n != 2 {
		t.Errorf("%d generation lines, want 2:\n%s", n, stderr)
	}
	if !strings.HasPrefix(stdout, "best strategies for http://www.plain-control-page.com/?q=ultrasurf from cn-client-1:\n") {
		t.Errorf("stdout:\n%s", stdout)
	}
	line := regexp.MustCompile(`^ *(\d+)%  +(\d+)/(\d+) +fitness +(-?[\d.]+)  (.+)$`)
	lines := strings.Split(strings.TrimSpace(stdout), "\n")[1:]
	if len(lines) == 0 || len(lines) > 3 {
		t.Fatalf("%d strategies printed, want 1-3", len(lines))
	}
	for _, l := range lines {
		m := line.FindStringSubmatch(l)
		if m == nil {
			t.Errorf("line %q", l)
			continue
		}
		if m[3] != "2" {
			t.Errorf("%q: want 2 trials", l)
		}
		if _, err := strategy.Parse(m[5]); err != nil {
			t.Errorf("%q: %v", l, err)
		}
	}
}

func TestEvolveBadInput(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		err  string
	}{
		{"no-url", []string{"--from", "cn-client-1"}, "want one URL, got 0"},
		{"two-urls", []string{"--from", "cn-client-1", "a", "b"}, "want one URL, got 2"},
		{"no-from", []string{"x"}, "--from HOST is required"},
		{"population", []string{"--from", "cn-client-1", "--population", "1", "x"}, "--population (at least 2)"},
		{"bad-seed", []string{"--from", "cn-client-1", "--seed-strategy", "[TCP:flags:PA]-nope-|", "x"}, "--seed-strategy: strategy: column 16"},
		{"bad-action", []string{"--from", "cn-client-1", "--disable-action", "fragment,split", "x"}, `--disable-action: unknown action "split"`},
		{"unknown-host", []string{"--from", "nowhere", "--scenario", "../evade/testdata/lab.yaml", "http://www.plain-control-page.com/"}, `no host "nowhere"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := run(append([]string{"evolve"}, tc.args...)...)
			if code != 2 || !strings.Contains(stderr, tc.err) {
				t.Errorf("exit %d, stderr %q; want 2 and %q", code, stderr, tc.err)
			}
		})
	}
}
