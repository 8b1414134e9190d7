//go:build linux

package cli_test

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestREADMEWalkthrough runs the walk-throughs of real programs, the
// top-level README's and portal/README.md's, as root: splinter up, the
// programs each step runs with exec (a shell step's commands as one
// script), measure --state, and checks that each prints what the README
// shows. Steps whose programs are not installed (the Shadowsocks proxy,
// dig) are skipped, and the output they would have led to with them.
func TestREADMEWalkthrough(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the default world: skipped in -short")
	}
	for name, readme := range map[string]string{"README": "../README.md", "portal-README": "../portal/README.md"} {
		t.Run(name, func(t *testing.T) {
			var steps []consoleStep
			for _, b := range consoleSteps(t, readme) {
				if len(b) > 0 && (strings.Contains(b[0].cmd, "splinter up") || len(steps) > 0) {
					steps = append(steps, b...)
				}
			}
			if len(steps) == 0 {
				t.Fatal("no walk-through that starts with splinter up")
			}
			walk(t, steps)
		})
	}
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
		checkShown(t, strings.Join(script, "; "), shown, stderr+stdout)
		script, shown = nil, nil
	}
	for _, st := range steps {
		cmd := strings.ReplaceAll(st.cmd, "/tmp/lab", dir)
		for i, l := range st.out {
			st.out[i] = strings.ReplaceAll(l, "/tmp/lab", dir)
		}
		args := strings.Fields(cmd)
		if st.prompt == "#" {
			prog := args[0]
			if strings.Contains(prog, "=") { // real=$(getent ...)
				prog = "getent"
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
			shown = append(shown, shownLines(st.out)...)
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
			u := startUpScenario(t, dir, "")
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
			c, out := splinterCmd(args...)
			if err := c.Start(); err != nil {
				t.Fatal(err)
			}
			done := make(chan struct{})
			go func() { c.Wait(); close(done) }()
			t.Cleanup(func() { c.Process.Kill(); <-done })
			select {
			case <-done:
				t.Fatalf("$ %s ended: %s", cmd, out)
			case <-time.After(2 * time.Second):
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
