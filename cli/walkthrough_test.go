//go:build linux

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
	"time"
)

// TestREADMEWalkthrough runs the walk-throughs of real programs, the
// top-level README's and portal/README.md's, as root: splinter up, the
// programs each step runs with exec (a shell step's commands as one
// script), measure --state, and checks that each prints what the README
// shows. A walk-through starts at a console block that runs splinter up
// and lasts until the next one; each gets a world of its own. Steps whose
// programs are not installed (the Shadowsocks proxy, dig) are skipped, and
// the output they would have led to with them. The walk-through with
// Geneva's engine runs only when SPLINTER_GENEVA names the folder holding
// the checkouts its README step makes (/opt there).
func TestREADMEWalkthrough(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the default world: skipped in -short")
	}
	for name, readme := range map[string]string{"README": "../README.md", "portal-README": "../portal/README.md"} {
		t.Run(name, func(t *testing.T) {
			var walks [][]consoleStep
			for _, b := range consoleSteps(t, readme) {
				if len(b) > 0 && strings.Contains(b[0].cmd, "splinter up") {
					walks = append(walks, nil)
				}
				if len(walks) > 0 {
					walks[len(walks)-1] = append(walks[len(walks)-1], b...)
				}
			}
			if len(walks) == 0 {
				t.Fatal("no walk-through that starts with splinter up")
			}
			for i, steps := range walks {
				t.Run(fmt.Sprint(i+1), func(t *testing.T) {
					if usesGeneva(steps) {
						root := os.Getenv("SPLINTER_GENEVA")
						if root == "" {
							t.Skip("runs Geneva's engine: set SPLINTER_GENEVA to the folder holding the geneva, python-netfilterqueue and anytree checkouts (/opt in the README)")
						}
						root = strings.TrimSuffix(root, "/")
						check := exec.Command("python3", "-c", "import scapy.all, netifaces, netfilterqueue, anytree")
						check.Env = append(os.Environ(), "PYTHONPATH="+root+"/python-netfilterqueue:"+root+"/anytree/src")
						if out, err := check.CombinedOutput(); err != nil {
							t.Skipf("Geneva's engine needs Python 3 with scapy, netifaces, netfilterqueue and anytree: %v\n%s", err, out)
						}
						for i := range steps {
							steps[i].cmd = strings.ReplaceAll(steps[i].cmd, "/opt/", root+"/")
						}
					}
					walk(t, steps)
				})
			}
		})
	}
}

// usesGeneva reports whether a walk-through runs Geneva's engine.
func usesGeneva(steps []consoleStep) bool {
	for _, st := range steps {
		if strings.Contains(st.cmd, "geneva/engine.py") {
			return true
		}
	}
	return false
}

// shellWords splits a command line as sh does for what the READMEs use:
// words apart by blanks, single- or double-quoted strings kept whole.
func shellWords(s string) []string {
	var words []string
	var w strings.Builder
	in, quote := false, rune(0)
	for _, r := range s {
		switch {
		case quote != 0 && r == quote:
			quote = 0
		case quote != 0:
			w.WriteRune(r)
		case r == '\'' || r == '"':
			quote, in = r, true
		case r == ' ' || r == '\t':
			if in {
				words = append(words, w.String())
				w.Reset()
				in = false
			}
		default:
			w.WriteRune(r)
			in = true
		}
	}
	if in {
		words = append(words, w.String())
	}
	return words
}

func walk(t *testing.T, steps []consoleStep) {
	dir := filepath.Join(t.TempDir(), "lab")
	var shell []string  // args of the exec whose shell the # steps run in
	var script []string // its commands
	var shown []string  // what they print
	missing := map[string]bool{}
	flush := func() {
		if shell == nil || len(script) == 0 {
			return
		}
		args := append(shell, "sh", "-c", strings.Join(script, "\n"))
		_, stdout, stderr := run(args...)
		t.Logf("# %s\n%s%s", strings.Join(script, "\n# "), stderr, stdout)
		checkShown(t, strings.Join(script, "; "), shownLines(shown), stderr+stdout)
		checkCounts(t, strings.Join(script, "; "), shown, stdout)
		script, shown = nil, nil
	}
	for _, st := range steps {
		cmd := strings.ReplaceAll(st.cmd, "/tmp/lab", dir)
		for i, l := range st.out {
			st.out[i] = strings.ReplaceAll(l, "/tmp/lab", dir)
		}
		args := shellWords(cmd)
		if st.prompt == "#" {
			prog := args[0]
			if strings.Contains(prog, "=") { // real=$(getent ...)
				prog = "getent"
			}
			if shellKeyword[prog] {
				prog = "sh"
			}
			if _, err := exec.LookPath(prog); err != nil || missing[prog] || prog == "ss-local" && missing["ss-server"] {
				missing[prog] = true
				t.Logf("skipped (%s is not installed): # %s", prog, cmd)
				continue
			}
			if strings.Contains(cmd, "127.0.0.1:1080") && missing["ss-local"] {
				continue
			}
			script = append(script, cmd)
			if strings.HasSuffix(cmd, "&") {
				script = append(script, "sleep 1") // let it start
			}
			shown = append(shown, st.out...)
			continue
		}
		if args[0] == "jq" {
			// Reading the decision log: it must parse.
			flush()
			if out, err := exec.Command("sh", "-c", cmd).CombinedOutput(); err != nil || len(out) == 0 {
				t.Errorf("$ %s: %v\n%s", cmd, err, out)
			}
			continue
		}
		if len(args) < 3 || args[0] != "sudo" || args[1] != "splinter" {
			t.Logf("skipped (not splinter): $ %s", cmd)
			continue
		}
		flush()
		args = args[2:]
		switch args[0] {
		case "up":
			u := startUpArgs(t, dir, args[1:]...)
			if !u.running(t) {
				t.Fatalf("up ended:\n%s", u.out)
			}
			checkShownUp(t, u, st.out)
		case "exec":
			prog := args[len(args)-1]
			if i := indexOf(args, "--"); i >= 0 {
				prog = args[i+1]
			}
			if prog == "sh" {
				shell = args[:len(args)-1]
				continue
			}
			if _, err := exec.LookPath(prog); err != nil {
				missing[prog] = true
				t.Logf("skipped (%s is not installed): $ %s", prog, cmd)
				continue
			}
			// A server: it runs in the background until the test ends.
			for try := 1; ; try++ {
				c, out := splinterCmd(args...)
				if err := c.Start(); err != nil {
					t.Fatal(err)
				}
				done := make(chan struct{})
				go func() { c.Wait(); close(done) }()
				t.Cleanup(func() {
					// As Ctrl-C: Geneva's engine takes its iptables rules away.
					c.Process.Signal(os.Interrupt)
					select {
					case <-done:
					case <-time.After(10 * time.Second):
						c.Process.Kill()
						<-done
					}
				})
				select {
				case <-done:
					// Geneva's engine with Debian's scapy 2.5 (it pins
					// 2.4.3) fails to start about one time in fifty, as
					// the README says: start it again.
					if try < 3 && strings.Contains(out.String(), "AttributeError: _fix") {
						t.Logf("$ %s: the engine did not start (scapy's _fix), again", cmd)
						continue
					}
					t.Fatalf("$ %s ended: %s", cmd, out)
				case <-time.After(5 * time.Second):
				}
				break
			}
		default:
			code, stdout, stderr := run(args...)
			if code != 0 {
				t.Errorf("$ %s: exit %d\n%s%s", cmd, code, stdout, stderr)
			}
			checkShown(t, cmd, shownLines(st.out), stderr+stdout)
		}
	}
	flush()
}

// uniqCount is a line of uniq -c: a count, then the line counted.
var uniqCount = regexp.MustCompile(`^ *([0-9]+) (.+)$`)

// checkCounts checks the counts of the uniq -c lines the README shows
// against those printed, within a fifth of the shown count (at least 2):
// the outcomes of repeated tries vary from run to run, their proportions
// should not.
func checkCounts(t *testing.T, what string, shown []string, got string) {
	t.Helper()
	counts := map[string]int{}
	for _, l := range strings.Split(got, "\n") {
		if m := uniqCount.FindStringSubmatch(l); m != nil {
			counts[m[2]], _ = strconv.Atoi(m[1])
		}
	}
	for _, l := range shown {
		m := uniqCount.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		want, _ := strconv.Atoi(m[1])
		if n := counts[m[2]]; n < want-max(2, want/5) || n > want+max(2, want/5) {
			t.Errorf("%s: %d times %q, the README shows %d", what, n, m[2], want)
		}
	}
}

// shellKeyword are the words that start a compound command of sh.
var shellKeyword = map[string]bool{"for": true, "while": true, "if": true, "case": true}

// checkShownUp checks the lines up prints about its state directory.
func checkShownUp(t *testing.T, u *up, out []string) {
	t.Helper()
	var want []string
	for _, l := range shownLines(out) {
		if strings.HasPrefix(l, "  ") { // the paths; the hosts table is spaced otherwise
			want = append(want, l)
		}
	}
	checkShown(t, "splinter up", want, u.out.String())
}

func indexOf(s []string, v string) int {
	for i, x := range s {
		if x == v {
			return i
		}
	}
	return -1
}
