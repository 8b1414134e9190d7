//go:build linux

package portal_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/splinter-lab/splinter/portal"
)

const victimText = "a root-owned file that must survive\n"

// plantedState makes, as another user (uid 65534) would, a state directory
// holding decisions.jsonl as a symbolic link to a victim file. It needs
// root to give the directory away.
func plantedState(t *testing.T, mode os.FileMode) (dir, victim string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to make a directory owned by another user (uid 65534)")
	}
	top := t.TempDir()
	victim = filepath.Join(top, "victim")
	if err := os.WriteFile(victim, []byte(victimText), 0o600); err != nil {
		t.Fatal(err)
	}
	dir = filepath.Join(top, "lab")
	if err := os.Mkdir(dir, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(victim, filepath.Join(dir, portal.LogName)); err != nil {
		t.Fatal(err)
	}
	if err := os.Lchown(filepath.Join(dir, portal.LogName), 65534, 65534); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(dir, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	return dir, victim
}

func victimIntact(t *testing.T, victim string) {
	t.Helper()
	if b, err := os.ReadFile(victim); err != nil || string(b) != victimText {
		t.Fatalf("the victim file was touched: %q, %v", b, err)
	}
}

// TestStateRefusesAnotherUsersDirectory is issue 12's D1 for the state
// directory itself; TestUpRefusesPlantedState in cli is the same through
// splinter up.
func TestStateRefusesAnotherUsersDirectory(t *testing.T) {
	for _, mode := range []os.FileMode{0o700, 0o777 | os.ModeSticky} {
		dir, victim := plantedState(t, mode)
		s, err := portal.OpenState(dir)
		if err == nil {
			s.Close()
			t.Fatalf("mode %v: OpenState accepted a directory of uid 65534", mode)
		}
		if !strings.Contains(err.Error(), "belongs to uid 65534") {
			t.Errorf("error %q does not say whose the directory is", err)
		}
		victimIntact(t, victim)
	}
}

func TestStateRefusesLooseOrLinkedDirectory(t *testing.T) {
	top := t.TempDir()
	loose := filepath.Join(top, "loose")
	if err := os.Mkdir(loose, 0o755); err != nil {
		t.Fatal(err)
	}
	os.Chmod(loose, 0o755)
	if _, err := portal.OpenState(loose); err == nil || !strings.Contains(err.Error(), "has mode 0755") {
		t.Errorf("a 0755 directory: %v", err)
	}
	own := filepath.Join(top, "own")
	if err := os.Mkdir(own, 0o700); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(top, "link")
	if err := os.Symlink(own, link); err != nil {
		t.Fatal(err)
	}
	if _, err := portal.OpenState(link); err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Errorf("a symbolic link to a directory: %v", err)
	}
}

func TestStateCreatesPrivateDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run", "splinter")
	s, err := portal.OpenState(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	fi, err := os.Lstat(dir)
	if err != nil || !fi.IsDir() || fi.Mode().Perm() != 0o700 {
		t.Fatalf("state directory %v, %v: want a 0700 directory", fi.Mode(), err)
	}
}

// TestStateLock: a second world on a live state directory is refused, and
// accepted once the first is gone.
func TestStateLock(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "lab")
	s, err := portal.OpenState(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := portal.OpenState(dir); err == nil || !strings.Contains(err.Error(), "in use by another splinter up") {
		t.Fatalf("second OpenState: %v", err)
	}
	s.Close()
	s, err = portal.OpenState(dir)
	if err != nil {
		t.Fatalf("after Close: %v", err)
	}
	s.Close()
}

// TestStateKeepsOldLogs is issue 12's D8: a restarted world kept nothing of
// the previous decision log (os.Create truncated it). Each restart now
// keeps it as decisions.N.jsonl. A link planted as the log is moved aside,
// not followed.
func TestStateKeepsOldLogs(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "lab")
	for run := 1; run <= 3; run++ {
		s, err := portal.OpenState(dir)
		if err != nil {
			t.Fatal(err)
		}
		f, kept, err := s.CreateLog()
		if err != nil {
			t.Fatal(err)
		}
		if want := map[int]string{1: "", 2: "decisions.1.jsonl", 3: "decisions.2.jsonl"}[run]; kept != want {
			t.Errorf("run %d kept the old log as %q, want %q", run, kept, want)
		}
		f.WriteString("run " + string(rune('0'+run)) + "\n")
		f.Close()
		s.Close()
	}
	for name, want := range map[string]string{"decisions.1.jsonl": "run 1\n", "decisions.2.jsonl": "run 2\n", "decisions.jsonl": "run 3\n"} {
		if b, err := os.ReadFile(filepath.Join(dir, name)); err != nil || string(b) != want {
			t.Errorf("%s = %q, %v; want %q", name, b, err, want)
		}
	}

	victim := filepath.Join(t.TempDir(), "victim")
	os.WriteFile(victim, []byte(victimText), 0o600)
	os.Remove(filepath.Join(dir, portal.LogName))
	if err := os.Symlink(victim, filepath.Join(dir, portal.LogName)); err != nil {
		t.Fatal(err)
	}
	s, err := portal.OpenState(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	f, _, err := s.CreateLog()
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("written\n")
	f.Close()
	victimIntact(t, victim)
	if fi, err := os.Lstat(filepath.Join(dir, portal.LogName)); err != nil || !fi.Mode().IsRegular() {
		t.Errorf("the new log is %v, %v: want a regular file", fi.Mode(), err)
	}
}

// TestStateWriteFile: WriteFile replaces a file whole, and replaces a link
// planted at its name instead of writing through it.
func TestStateWriteFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "lab")
	s, err := portal.OpenState(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, text := range []string{"first\n", "second\n"} {
		if err := s.WriteFile("services.json", []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		if b, err := os.ReadFile(filepath.Join(dir, "services.json")); err != nil || string(b) != text {
			t.Fatalf("services.json = %q, %v; want %q", b, err, text)
		}
	}
	victim := filepath.Join(t.TempDir(), "victim")
	os.WriteFile(victim, []byte(victimText), 0o600)
	if err := os.Symlink(victim, filepath.Join(dir, "ca.pem")); err != nil {
		t.Fatal(err)
	}
	if err := s.WriteFile("ca.pem", []byte("pem\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	victimIntact(t, victim)
	if fi, err := os.Lstat(filepath.Join(dir, "ca.pem")); err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm() != 0o644 {
		t.Errorf("ca.pem is %v, %v: want a regular file, mode 0644", fi.Mode(), err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 3 { // up.lock, services.json, ca.pem
		t.Errorf("the state directory holds %d files, want 3 (no leftover)", len(entries))
	}
}
