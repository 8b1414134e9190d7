package cli_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// consoleStep is one command of a README console block, with the output
// the README shows after it.
type consoleStep struct {
	prompt string // "$" (a terminal) or "#" (a shell inside exec)
	cmd    string // continuation lines joined, comment removed
	out    []string
}

// consoleSteps reads the console blocks of a README.
func consoleSteps(t *testing.T, path string) [][]consoleStep {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var blocks [][]consoleStep
	for _, b := range strings.Split(string(data), "```console\n")[1:] {
		body, _, _ := strings.Cut(b, "```")
		var steps []consoleStep
		lines := strings.Split(strings.TrimRight(body, "\n"), "\n")
		for i := 0; i < len(lines); i++ {
			line := lines[i]
			prompt := ""
			switch {
			case strings.HasPrefix(line, "$ "):
				prompt = "$"
			case strings.HasPrefix(line, "# "):
				prompt = "#"
			}
			if prompt == "" {
				if len(steps) > 0 {
					steps[len(steps)-1].out = append(steps[len(steps)-1].out, line)
				}
				continue
			}
			cmd := line[2:]
			for strings.HasSuffix(cmd, "\\") && i+1 < len(lines) {
				i++
				cmd = strings.TrimSuffix(cmd, "\\") + strings.TrimSpace(lines[i])
			}
			// A comment after the command ("run      # the main job").
			if k := strings.Index(cmd, "  #"); k >= 0 {
				cmd = cmd[:k]
			}
			steps = append(steps, consoleStep{prompt: prompt, cmd: strings.TrimSpace(cmd)})
		}
		blocks = append(blocks, steps)
	}
	return blocks
}

var digits = regexp.MustCompile(`[0-9]+(\.[0-9]+)?`)

// shownLines are the output lines a README shows that a run must print:
// digits stand for any number (timings, counts, addresses), a line with
// "..." or "…" stands for anything, and a "  <- note" is the README's.
func shownLines(out []string) []string {
	var want []string
	for _, l := range out {
		if k := strings.Index(l, "  <-"); k >= 0 {
			l = l[:k]
		}
		l = strings.TrimRight(l, " ")
		if l == "" || strings.Contains(l, "...") || strings.Contains(l, "…") {
			continue
		}
		want = append(want, digits.ReplaceAllString(l, "#"))
	}
	return want
}

// checkShown reports the shown lines that got is missing.
func checkShown(t *testing.T, what string, shown []string, got string) {
	t.Helper()
	have := map[string]bool{}
	for _, l := range strings.Split(got, "\n") {
		have[digits.ReplaceAllString(strings.TrimRight(l, " "), "#")] = true
	}
	for _, w := range shown {
		if !have[w] {
			t.Errorf("%s: the README shows %q, the command did not print it:\n%s", what, w, got)
		}
	}
}

// TestREADMEConsole runs every splinter command of the top-level README's
// console blocks that needs neither root nor the network (the up, exec and
// measure --state ones are TestREADMEWalkthrough's), and checks that it
// prints what the README shows. The default run is skipped in -short.
func TestREADMEConsole(t *testing.T) {
	const prefix = "go run ./cmd/splinter "
	ran := 0
	for _, steps := range consoleSteps(t, "../README.md") {
		for _, st := range steps {
			if st.prompt != "$" || !strings.HasPrefix(st.cmd, prefix) {
				continue
			}
			t.Run(st.cmd, func(t *testing.T) {
				line := strings.TrimPrefix(st.cmd, prefix)
				head := -1
				if l, n, ok := strings.Cut(line, "| head -"); ok {
					line = l
					head, _ = strconv.Atoi(strings.TrimSpace(n))
				}
				args := strings.Fields(line)
				for i, a := range args {
					// Paths in the README are from the repository's root.
					if rel, ok := strings.CutPrefix(a, "cli/"); ok {
						abs, err := filepath.Abs(rel)
						if err != nil {
							t.Fatal(err)
						}
						args[i] = abs
					}
				}
				if args[0] == "run" {
					if len(args) == 1 && testing.Short() {
						t.Skip("the default run takes a minute: skipped in -short")
					}
					// It writes splinter-out/ in the working directory.
					t.Chdir(t.TempDir())
				}
				code, stdout, stderr := run(args...)
				if code != 0 {
					t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
				}
				got := stderr + stdout
				if head >= 0 {
					got = strings.Join(strings.SplitN(stdout, "\n", head+1)[:head], "\n")
				}
				checkShown(t, st.cmd, shownLines(st.out), got)
			})
			ran++
		}
	}
	if ran < 5 {
		t.Errorf("ran %d README commands, want the tour's and the walk-throughs' (at least 5)", ran)
	}
}
