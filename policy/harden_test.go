package policy_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/splinter-lab/splinter/policy"
)

// TestUnterminatedQuoteCSV is issue 12's D3: a Citizen Lab CSV whose quote
// is never closed made ReadTestList panic ("out of range index passed to
// FieldPos"), as --list and as a policy list. It must be a positioned
// problem that does not quote the row.
func TestUnterminatedQuoteCSV(t *testing.T) {
	const in = "url,category_code\n\"x,NEWS\n"
	_, entries, err := policy.ReadTestList(strings.NewReader(in), "list.csv")
	var pe *policy.Error
	if !errors.As(err, &pe) || len(pe.Problems) != 1 {
		t.Fatalf("ReadTestList: %v, want one problem", err)
	}
	got := pe.Problems[0]
	if got.Pos.String() != "list.csv:2:9" || !strings.Contains(got.Msg, "quoted field is not closed") || strings.Contains(got.Msg, "NEWS") {
		t.Errorf("problem %s: %s; want list.csv:2:9 and no quote of the row", got.Pos, got.Msg)
	}
	if len(entries) != 0 {
		t.Errorf("entries %v from a broken file", entries)
	}

	// The same file as a policy's list.
	dir := t.TempDir()
	write(t, filepath.Join(dir, "list.csv"), "url,category_code,category_description,date_added,source,notes\n\"x,NEWS\n")
	write(t, filepath.Join(dir, "p.yaml"), policyWithList("list.csv", "citizenlab"))
	_, err = policy.LoadFile(filepath.Join(dir, "p.yaml"))
	if err == nil || !strings.Contains(err.Error(), "list.csv:2:9: citizenlab list: a quoted field is not closed") {
		t.Errorf("LoadFile: %v", err)
	}
}

func write(t *testing.T, name, data string) {
	t.Helper()
	if err := os.WriteFile(name, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

func policyWithList(file, format string) string {
	return `name: p
meta: {jurisdiction: CN, year: 2024}
lists:
  names: {kind: domains, from: [{file: "` + file + `", format: ` + format + `}]}
rules:
  - id: r
    source: test
    year: 2024
    match: [{dns: {list: names}}]
    actions: [drop]
`
}

// TestHostileListFiles covers issue 12's D2 and D4 for policies: list and
// body files are regular files inside the policy's folder, refused at once
// otherwise, and a refused file's content never reaches the error.
func TestHostileListFiles(t *testing.T) {
	top := t.TempDir()
	dir := filepath.Join(top, "policy")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	secret := filepath.Join(top, "shadow")
	write(t, secret, "root:SECRET-HASH:19000:0:99999:7:::\n")
	if err := syscall.Mkfifo(filepath.Join(dir, "fifo.txt"), 0o644); err != nil {
		t.Fatal(err)
	}
	for name, target := range map[string]string{"secret-link.txt": secret, "zero.html": "/dev/zero", "dir-link": top} {
		if err := os.Symlink(target, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name, policy, want string
	}{
		{"FIFO list", policyWithList("fifo.txt", "lines"), `cannot read list file "fifo.txt": a named pipe (FIFO), not a regular file`},
		{"symlink to a secret", policyWithList("secret-link.txt", "lines"), `cannot read list file "secret-link.txt": leads out of the folder`},
		{"absolute list", policyWithList(secret, "lines"), `it is an absolute path`},
		{"climbing list", policyWithList("../shadow", "lines"), `it climbs out of the folder`},
		{"climbing through a link", policyWithList("dir-link/shadow", "lines"), `leads out of the folder`},
		{"body file linked to /dev/zero", strings.Replace(policyWithList("fifo.txt", "lines"), "actions: [drop]", "actions: [{blockpage: {status: 403, body-file: zero.html}}]", 1), `cannot read body file "zero.html": leads out of the folder`},
		{"body file /dev/zero", strings.Replace(policyWithList("fifo.txt", "lines"), "actions: [drop]", "actions: [{blockpage: {status: 403, body-file: /dev/zero}}]", 1), `body file "/dev/zero" must lie in the policy's folder; it is an absolute path`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := filepath.Join(dir, "p.yaml")
			write(t, file, tt.policy)
			done := make(chan error, 1)
			go func() { _, err := policy.LoadFile(file); done <- err }()
			var err error
			select {
			case err = <-done:
			case <-time.After(5 * time.Second):
				t.Fatal("LoadFile hung for 5 s")
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("LoadFile: %v\nwant %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "SECRET") {
				t.Errorf("the error quotes the secret file: %v", err)
			}
			if !strings.Contains(err.Error(), file+":") {
				t.Errorf("the error has no position in %s: %v", file, err)
			}
		})
	}
}

// TestLoadFileIn: a scenario's policy is read inside the scenario's folder
// (issue 12, D2), and its lists inside its own folder.
func TestLoadFileIn(t *testing.T) {
	top := t.TempDir()
	lab := filepath.Join(top, "lab")
	if err := os.MkdirAll(filepath.Join(lab, "policies"), 0o755); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(top, "shadow"), "root:SECRET-HASH:19000:0:99999:7:::\n")
	write(t, filepath.Join(lab, "policies", "names.txt"), "example.com\n")
	write(t, filepath.Join(lab, "policies", "p.yaml"), policyWithList("names.txt", "lines"))
	if err := os.Symlink("../shadow", filepath.Join(lab, "shadow.yaml")); err != nil {
		t.Fatal(err)
	}
	p, err := policy.LoadFileIn(lab, "policies/p.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if p.Source != filepath.Join(lab, "policies", "p.yaml") || len(p.Lists["names"].Items) != 1 {
		t.Errorf("loaded %s with lists %v", p.Source, p.Lists)
	}
	for _, ref := range []string{"/etc/shadow", "../shadow", "shadow.yaml", "policies/../../shadow"} {
		_, err := policy.LoadFileIn(lab, ref)
		if err == nil || !strings.Contains(err.Error(), "folder") || strings.Contains(err.Error(), "SECRET") {
			t.Errorf("LoadFileIn(%q): %v", ref, err)
		}
	}
}
