//go:build linux

package cli_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/splinter-lab/splinter/portal"
)

// syncBuffer is an output buffer safe to read while a process writes it.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// up is a splinter up subprocess.
type up struct {
	cmd  *exec.Cmd
	out  *syncBuffer
	done chan struct{}
}

func startUp(t *testing.T, state string) *up {
	t.Helper()
	return startUpScenario(t, state, "two-lands")
}

// startUpScenario starts splinter up on a scenario ("" for the default).
func startUpScenario(t *testing.T, state, scen string) *up {
	t.Helper()
	if err := portal.Check(); err != nil {
		t.Skipf("splinter up needs root and /dev/net/tun: %v", err)
	}
	args := []string{"up", "--state", state}
	if scen != "" {
		args = append(args, "--scenario", scen)
	}
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "SPLINTER_AS_MAIN=1")
	u := &up{cmd: cmd, out: &syncBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = u.out, u.out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { cmd.Wait(); close(u.done) }()
	t.Cleanup(func() { u.stop(t) })
	return u
}

// running waits until the world is up, or the process has ended.
func (u *up) running(t *testing.T) bool {
	t.Helper()
	deadline := time.After(60 * time.Second)
	for {
		if strings.Contains(u.out.String(), "running until interrupted") {
			return true
		}
		select {
		case <-u.done:
			return false
		case <-deadline:
			t.Fatalf("splinter up neither ran nor ended in 60 s:\n%s", u.out)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// stop interrupts the process and waits for it.
func (u *up) stop(t *testing.T) int {
	select {
	case <-u.done:
	default:
		u.cmd.Process.Signal(syscall.SIGINT)
		select {
		case <-u.done:
		case <-time.After(30 * time.Second):
			u.cmd.Process.Kill()
			<-u.done
			t.Errorf("splinter up ignored SIGINT for 30 s")
		}
	}
	return u.cmd.ProcessState.ExitCode()
}

// TestUpRefusesPlantedState is issue 12's D1: splinter up, as root, took an
// existing --state directory of any owner and os.Create followed the
// decisions.jsonl link another user had planted there, truncating the
// file it pointed to. Up must refuse the directory and leave the file
// alone.
func TestUpRefusesPlantedState(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: splinter up runs as root, and the planted directory belongs to uid 65534")
	}
	top := t.TempDir()
	const victimText = "a root-owned file that must survive\n"
	victim := filepath.Join(top, "victim")
	if err := os.WriteFile(victim, []byte(victimText), 0o600); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(top, "lab")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(victim, filepath.Join(dir, "decisions.jsonl")); err != nil {
		t.Fatal(err)
	}
	os.Lchown(filepath.Join(dir, "decisions.jsonl"), 65534, 65534)
	if err := os.Chown(dir, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	u := startUp(t, dir)
	if u.running(t) {
		u.stop(t)
	}
	if b, err := os.ReadFile(victim); err != nil || string(b) != victimText {
		t.Errorf("the victim file was touched: %q, %v", b, err)
	}
	if code := u.cmd.ProcessState.ExitCode(); code != 2 || !strings.Contains(u.out.String(), "belongs to uid 65534") {
		t.Errorf("exit %d, output:\n%s\nwant exit 2 and a refusal naming the owner", code, u.out)
	}
}

// TestUpKeepsPreviousLog is issue 12's D8: restarting up on the same state
// directory truncated the previous decision log. It is now kept as
// decisions.1.jsonl; and a second up on a live state directory is refused.
func TestUpKeepsPreviousLog(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "lab")
	first := startUp(t, dir)
	if !first.running(t) {
		t.Fatalf("first up ended:\n%s", first.out)
	}
	if code := first.stop(t); code != 0 {
		t.Fatalf("first up: exit %d\n%s", code, first.out)
	}
	const marker = `{"marker":"the first world's decisions"}` + "\n"
	f, err := os.OpenFile(filepath.Join(dir, "decisions.jsonl"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(marker)
	f.Close()

	second := startUp(t, dir)
	if !second.running(t) {
		t.Fatalf("second up ended:\n%s", second.out)
	}
	third := startUp(t, dir)
	if third.running(t) {
		t.Errorf("a third up ran on a live state directory:\n%s", third.out)
	} else if code := third.cmd.ProcessState.ExitCode(); code != 2 || !strings.Contains(third.out.String(), "in use by another splinter up") {
		t.Errorf("third up: exit %d\n%s", code, third.out)
	}
	second.stop(t)
	if b, err := os.ReadFile(filepath.Join(dir, "decisions.1.jsonl")); err != nil || !strings.Contains(string(b), marker) {
		t.Errorf("decisions.1.jsonl = %q, %v: the first world's log was not kept", b, err)
	}
	if !strings.Contains(second.out.String(), "kept the previous decision log as "+filepath.Join(dir, "decisions.1.jsonl")) {
		t.Errorf("second up did not say where the old log went:\n%s", second.out)
	}
}
