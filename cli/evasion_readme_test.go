package cli_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestREADMEEvasion runs the commands of the README's walk-through "does
// my evasion work against the GFW?" (splinter evade, jq on the trials it
// wrote, splinter evolve) in a scratch folder, and checks that each prints
// what the README shows: the lines with any numbers, each success count
// within 10 points of the README's, and for a search the best strategies
// (which differ from run to run) by their rate and their species. The
// searches run for the generations the README gives them (about a minute
// each); their budgets are far enough that a search is never stopped by
// the clock instead, which would print another last line.
func TestREADMEEvasion(t *testing.T) {
	if testing.Short() {
		t.Skip("the searches take a minute each: skipped in -short")
	}
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	var steps []consoleStep
	for _, b := range consoleSteps(t, "../README.md") {
		if len(b) > 0 && (strings.HasPrefix(b[0].cmd, "splinter evade ") || strings.HasPrefix(b[0].cmd, "splinter evolve ")) {
			steps = append(steps, b...)
		}
	}
	t.Parallel()
	dir := t.TempDir() // evade --json writes where it is asked, jq reads it there
	ran := map[string]int{}
	for _, st := range steps {
		args := shellWords(st.cmd)
		switch args[0] {
		case "jq":
			jq := exec.Command("sh", "-c", st.cmd)
			jq.Dir = dir
			out, err := jq.CombinedOutput()
			if err != nil {
				t.Errorf("$ %s: %v\n%s", st.cmd, err, out)
			}
			checkShown(t, st.cmd, shownLines(st.out), string(out))
			ran["jq"]++
			continue
		case "splinter":
		default:
			t.Errorf("$ %s: not a command this test knows", st.cmd)
			continue
		}
		args = args[1:]
		for i, a := range args {
			// Files in the README are named from the repository's root.
			if strings.Contains(a, "/") && !strings.Contains(a, "://") {
				if _, err := os.Stat(filepath.Join(root, a)); err == nil {
					args[i] = filepath.Join(root, a)
				}
			}
		}
		code, stdout, stderr := runIn(t, dir, args...)
		t.Logf("$ %s\n%s%s", st.cmd, stderr, stdout)
		if code != 0 {
			t.Errorf("$ %s: exit %d", st.cmd, code)
			continue
		}
		if args[0] == "evolve" && shownBest(st.out) != nil && !findsBest(st.cmd, args, shownBest(st.out), stdout) {
			// A search that draws no working tree early can stay stuck
			// (the README says so): it is the search's chance, so one
			// more search is run before the README is held wrong.
			code, stdout, stderr = runIn(t, dir, args...)
			t.Logf("$ %s (once more: the first search found nothing as good)\n%s%s", st.cmd, stderr, stdout)
			if code != 0 {
				t.Errorf("$ %s: exit %d", st.cmd, code)
				continue
			}
		}
		var fixed, best []string
		for _, l := range st.out {
			switch {
			case bestLine.MatchString(l):
				best = append(best, l)
			case strings.HasPrefix(l, "generation ") && strings.Contains(l, ", best "):
				// The strategy a generation's best is differs from run to run.
				head, _, _ := strings.Cut(l, ", best ")
				checkPrefix(t, st.cmd, head, stderr)
			default:
				fixed = append(fixed, l)
			}
		}
		checkShown(t, st.cmd, shownLines(fixed), stderr+stdout)
		checkSuccess(t, st.cmd, st.out, stdout)
		if len(best) > 0 {
			disabled := ""
			if i := indexOf(args, "--disable-action"); i >= 0 && i+1 < len(args) {
				disabled = args[i+1]
			}
			checkBest(t, st.cmd, best, stdout, disabled)
		}
		ran[args[0]]++
	}
	if ran["evade"] < 2 || ran["evolve"] < 1 || ran["jq"] < 1 {
		t.Errorf("ran %v of the walk-through's commands, want 2 evade, 1 jq, 1 evolve at least", ran)
	}
}

// checkPrefix checks that a line of got starts as shown does, any number
// standing for any other, of either sign.
func checkPrefix(t *testing.T, what, shown, got string) {
	t.Helper()
	number := regexp.MustCompile(`-?[0-9]+(\.[0-9]+)?`)
	want := number.ReplaceAllString(shown, "#")
	for _, l := range strings.Split(got, "\n") {
		if strings.HasPrefix(number.ReplaceAllString(l, "#"), want) {
			return
		}
	}
	t.Errorf("%s: the README shows a line starting %q, the command printed none:\n%s", what, shown, got)
}

// successLine is evade's line per URL.
var successLine = regexp.MustCompile(`^(\S+): success ([0-9]+)/([0-9]+) \(`)

// checkSuccess checks each URL's success count against the README's,
// within 10 points of the trials.
func checkSuccess(t *testing.T, what string, shown []string, got string) {
	t.Helper()
	have := map[string][2]int{}
	for _, l := range strings.Split(got, "\n") {
		if m := successLine.FindStringSubmatch(l); m != nil {
			k, _ := strconv.Atoi(m[2])
			n, _ := strconv.Atoi(m[3])
			have[m[1]] = [2]int{k, n}
		}
	}
	for _, l := range shown {
		m := successLine.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		k, _ := strconv.Atoi(m[2])
		n, _ := strconv.Atoi(m[3])
		h, ok := have[m[1]]
		if !ok || h[1] != n || 10*abs(h[0]-k) > n {
			t.Errorf("%s: %s got success %d/%d, the README shows %d/%d", what, m[1], h[0], h[1], k, n)
		}
	}
}

// bestLine is one of evolve's best strategies: rate, tally, fitness, DNA.
var bestLine = regexp.MustCompile(`^ *([0-9]+)%  +[0-9]+/[0-9]+ +fitness +-?[0-9.]+  (.+)$`)

// shownBest returns the best-strategy lines of a command's shown output.
func shownBest(out []string) []string {
	var best []string
	for _, l := range out {
		if bestLine.MatchString(l) {
			best = append(best, l)
		}
	}
	return best
}

// findsBest reports whether checkBest would pass on got.
func findsBest(what string, args, shown []string, got string) bool {
	disabled := ""
	if i := indexOf(args, "--disable-action"); i >= 0 && i+1 < len(args) {
		disabled = args[i+1]
	}
	return len(bestProblems(what, shown, got, disabled)) == 0
}

// checkBest checks that the search found a strategy at a rate at most 20
// points below the lowest of the README's best ones (each is tried 10
// times), of a species among theirs. A search with --disable-action finds
// other species from run to run (a copy with a wrong ACK, a copy with a
// benign request, a SYN with a wrong sequence number...): of its best
// only the rate is checked, and that none holds a disabled action.
func checkBest(t *testing.T, what string, shown []string, got, disabled string) {
	t.Helper()
	for _, p := range bestProblems(what, shown, got, disabled) {
		t.Error(p)
	}
}

// bestProblems says what checkBest finds wrong with got.
func bestProblems(what string, shown []string, got, disabled string) []string {
	var probs []string
	want := map[string]bool{}
	rate := 100
	for _, l := range shown {
		m := bestLine.FindStringSubmatch(l)
		r, _ := strconv.Atoi(m[1])
		rate = min(rate, r)
		want[species(m[2])] = true
	}
	var found []string
	ok := false
	for _, l := range strings.Split(got, "\n") {
		g := bestLine.FindStringSubmatch(l)
		if g == nil {
			continue
		}
		for _, a := range strings.Split(disabled, ",") {
			if a != "" && strings.Contains(g[2], a) {
				probs = append(probs, fmt.Sprintf("%s: %s holds %s, which the search was not to draw", what, g[2], a))
			}
		}
		r, _ := strconv.Atoi(g[1])
		if (disabled != "" || want[species(g[2])]) && r >= rate-20 {
			ok = true
		}
		found = append(found, species(g[2])+": "+l)
	}
	if !ok {
		probs = append(probs, fmt.Sprintf("%s: no strategy at %d%% or so of the species %v, as the README's; found:\n%s", what, rate, want, strings.Join(found, "\n")))
	}
	return probs
}

// species sorts a strategy into the families of Geneva's papers by what
// its outbound trees do: splitting (the request cut into TCP segments,
// Geneva's Segmentation, or into IP fragments), teardown (a copy turned into
// a RST), insertion (a tampered copy sent beside the packet: the shape of
// TCB desynchronisation), or other.
func species(dna string) string {
	out, _, _ := strings.Cut(dna, `\/`)
	switch {
	case strings.Contains(out, "fragment{tcp"), strings.Contains(out, "fragment{ip"):
		return "splitting"
	case regexp.MustCompile(`duplicate\(.*TCP:flags:replace:[A-Z]*R`).MatchString(out):
		return "teardown"
	case regexp.MustCompile(`duplicate\(.*tamper\{`).MatchString(out):
		return "insertion"
	}
	return "other"
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}
