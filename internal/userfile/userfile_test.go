package userfile_test

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/splinter-lab/splinter/internal/userfile"
)

const secret = "root:$6$SECRET-HASH$:19000:0:99999:7:::"

// tree makes a folder "lab" holding a scenario, a policy folder with a list
// and hostile entries, and a secret file beside "lab" (outside it).
func tree(t *testing.T) (lab, secretFile string) {
	t.Helper()
	top := t.TempDir()
	lab = filepath.Join(top, "lab")
	secretFile = filepath.Join(top, "shadow")
	must(t, os.WriteFile(secretFile, []byte(secret+"\n"), 0o600))
	must(t, os.MkdirAll(filepath.Join(lab, "policies", "lists"), 0o755))
	must(t, os.WriteFile(filepath.Join(lab, "lab.yaml"), []byte("name: lab\n"), 0o644))
	must(t, os.WriteFile(filepath.Join(lab, "policies", "p.yaml"), []byte("name: p\n"), 0o644))
	must(t, os.WriteFile(filepath.Join(lab, "policies", "lists", "l.txt"), []byte("example.com\n"), 0o644))
	must(t, os.Symlink("lists/l.txt", filepath.Join(lab, "policies", "inside-link.txt")))
	must(t, os.Symlink(secretFile, filepath.Join(lab, "policies", "secret-link.txt")))
	must(t, os.Symlink("../../shadow", filepath.Join(lab, "policies", "relative-secret-link.txt")))
	must(t, os.Symlink("/dev/zero", filepath.Join(lab, "policies", "zero")))
	must(t, syscall.Mkfifo(filepath.Join(lab, "policies", "fifo"), 0o644))
	return lab, secretFile
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// within runs f and fails the test if it takes more than 5 s (a FIFO
// opened for reading without O_NONBLOCK waits for a writer for ever).
func within(t *testing.T, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() { defer close(done); f() }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("hung for 5 s")
	}
}

func TestOpenNamedFiles(t *testing.T) {
	lab, secretFile := tree(t)
	tests := []struct {
		name    string
		path    string
		wantErr error // nil: the read succeeds
		wantMsg string
	}{
		{"regular", filepath.Join(lab, "lab.yaml"), nil, ""},
		{"a symlink the user named is followed", filepath.Join(lab, "policies", "secret-link.txt"), nil, ""},
		{"missing", filepath.Join(lab, "nope.yaml"), fs.ErrNotExist, "no such file"},
		{"directory", lab, userfile.ErrNotRegular, "a directory, not a regular file"},
		{"FIFO", filepath.Join(lab, "policies", "fifo"), userfile.ErrNotRegular, "a named pipe (FIFO), not a regular file"},
		{"/dev/zero", "/dev/zero", userfile.ErrNotRegular, "a character device, not a regular file"},
		{"link to /dev/zero", filepath.Join(lab, "policies", "zero"), userfile.ErrNotRegular, "a character device"},
	}
	_ = secretFile
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			within(t, func() {
				data, err := userfile.ReadFile(tt.path)
				if tt.wantErr == nil {
					if err != nil || len(data) == 0 {
						t.Errorf("ReadFile = %d bytes, %v", len(data), err)
					}
					return
				}
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("ReadFile error = %v, want %v", err, tt.wantErr)
				}
				var ue *userfile.Error
				if !errors.As(err, &ue) || ue.Name != tt.path {
					t.Errorf("error %v is not an *Error naming %s", err, tt.path)
				}
				if !strings.Contains(err.Error(), tt.wantMsg) || !strings.HasPrefix(err.Error(), tt.path+": ") {
					t.Errorf("error %q, want %q after the name", err, tt.wantMsg)
				}
			})
		})
	}
}

func TestDirRefs(t *testing.T) {
	lab, _ := tree(t)
	d, err := userfile.OpenDir(lab)
	must(t, err)
	defer d.Close()
	pol, err := d.Sub("policies")
	must(t, err)
	defer pol.Close()
	tests := []struct {
		name    string
		dir     *userfile.Dir
		ref     string
		wantErr error // nil: read succeeds
	}{
		{"inside", d, "policies/p.yaml", nil},
		{"inside with a harmless ..", d, "policies/lists/../p.yaml", nil},
		{"a symlink that stays inside", pol, "inside-link.txt", nil},
		{"absolute", d, "/etc/passwd", userfile.ErrOutside},
		{"climbs out", pol, "../../shadow", userfile.ErrOutside},
		{"climbs out deep", d, "../../../../../../etc/passwd", userfile.ErrOutside},
		{"a symlink to an absolute path outside", pol, "secret-link.txt", userfile.ErrOutside},
		{"a relative symlink leading outside", pol, "relative-secret-link.txt", userfile.ErrOutside},
		{"a symlink to /dev/zero", pol, "zero", userfile.ErrOutside},
		{"FIFO", pol, "fifo", userfile.ErrNotRegular},
		{"folder", d, "policies", userfile.ErrNotRegular},
		{"missing", d, "nope.yaml", fs.ErrNotExist},
		{"empty", d, "", fs.ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			within(t, func() {
				data, err := tt.dir.ReadFile(tt.ref)
				if tt.wantErr == nil {
					if err != nil || len(data) == 0 {
						t.Errorf("ReadFile(%q) = %d bytes, %v", tt.ref, len(data), err)
					}
					return
				}
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("ReadFile(%q) error = %v, want %v", tt.ref, err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "SECRET") {
					t.Errorf("error quotes the secret: %v", err)
				}
				// The same through the fs.FS view.
				if _, err := fs.ReadFile(tt.dir.FS(), tt.ref); err == nil {
					t.Errorf("FS().ReadFile(%q) succeeded", tt.ref)
				}
			})
		})
	}
	if _, err := d.Sub("../.."); !errors.Is(err, userfile.ErrOutside) {
		t.Errorf("Sub(../..) = %v, want ErrOutside", err)
	}
}

// TestPathEscapesText pins the text of os.Root's error for a path that
// leads out of its root, which openError recognises.
func TestPathEscapesText(t *testing.T) {
	lab, _ := tree(t)
	r, err := os.OpenRoot(filepath.Join(lab, "policies"))
	must(t, err)
	defer r.Close()
	_, err = r.Open("secret-link.txt")
	var pe *fs.PathError
	if !errors.As(err, &pe) || pe.Err.Error() != "path escapes from parent" {
		t.Fatalf("os.Root's escape error is now %v: update errPathEscapes", err)
	}
}

func TestLimit(t *testing.T) {
	dir := t.TempDir()
	name := filepath.Join(dir, "big.txt")
	must(t, os.WriteFile(name, make([]byte, 2048), 0o644))
	defer userfile.SetLimit(0)

	userfile.SetLimit(2048)
	if data, err := userfile.ReadFile(name); err != nil || len(data) != 2048 {
		t.Fatalf("at the limit: %d bytes, %v", len(data), err)
	}
	userfile.SetLimit(1024)
	_, err := userfile.ReadFile(name)
	if !errors.Is(err, userfile.ErrTooLarge) || !strings.Contains(err.Error(), "2 KiB, over the 1 KiB size limit") {
		t.Fatalf("over the limit: %v", err)
	}

	// A file that grows past the limit after it was opened.
	userfile.SetLimit(4096)
	f, err := userfile.Open(name)
	must(t, err)
	defer f.Close()
	w, err := os.OpenFile(name, os.O_APPEND|os.O_WRONLY, 0)
	must(t, err)
	_, err = w.Write(make([]byte, 4096))
	w.Close()
	must(t, err)
	if _, err := io.ReadAll(f); !errors.Is(err, userfile.ErrTooLarge) {
		t.Fatalf("growing file: %v, want ErrTooLarge", err)
	}

	userfile.SetLimit(0)
	if userfile.Limit() != userfile.DefaultLimit {
		t.Errorf("SetLimit(0) left %d", userfile.Limit())
	}
}

func TestCheckRef(t *testing.T) {
	for _, ref := range []string{"p.yaml", "policies/p.yaml", "a/../b.txt", "./p.yaml"} {
		if err := userfile.CheckRef(ref); err != nil {
			t.Errorf("CheckRef(%q) = %v", ref, err)
		}
	}
	for _, ref := range []string{"/etc/shadow", "../p.yaml", "a/../../p.yaml", ".."} {
		if err := userfile.CheckRef(ref); !errors.Is(err, userfile.ErrOutside) {
			t.Errorf("CheckRef(%q) = %v, want ErrOutside", ref, err)
		}
	}
}
