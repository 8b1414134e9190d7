package cli_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/splinter-lab/splinter/cli"
	"github.com/splinter-lab/splinter/policy"
)

// TestMain lets a test run this test binary as the splinter command (what
// cmd/splinter does), to send it signals: with SPLINTER_AS_MAIN=1 in its
// environment the binary runs cli.Run on its arguments and exits.
func TestMain(m *testing.M) {
	if os.Getenv("SPLINTER_AS_MAIN") == "1" {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		code := cli.Run(ctx, os.Args[1:], os.Stdout, os.Stderr)
		stop()
		os.Exit(code)
	}
	// No test writes into the user's own store: `splinter run` writes to
	// $SPLINTER_DB, else $XDG_DATA_HOME/splinter/splinter.db, by default.
	data, err := os.MkdirTemp("", "splinter-cli-test-")
	if err != nil {
		panic(err)
	}
	os.Setenv("XDG_DATA_HOME", data)
	os.Unsetenv("SPLINTER_DB")
	code := m.Run()
	os.RemoveAll(data)
	os.Exit(code)
}

// splinterCmd returns the splinter command line as a subprocess.
func splinterCmd(args ...string) (*exec.Cmd, *bytes.Buffer) {
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "SPLINTER_AS_MAIN=1")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	return cmd, &out
}

// bigScenario writes a valid scenario of n sites (about 65 bytes each).
func bigScenario(t *testing.T, name string, n int) {
	t.Helper()
	var b bytes.Buffer
	b.WriteString("name: big\njurisdictions:\n")
	b.WriteString("  - {code: CN, prefixes: [198.51.100.0/24, \"2001:db8:86::/48\"], border: {policy: CN}, networks: [{name: cn-isp, asn: 4134, kind: access, hosts: [{name: client, role: client}]}]}\n")
	b.WriteString("  - {code: US, prefixes: [198.18.0.0/15, \"2001:db8:1::/48\"], public_resolver: true, control: true, networks: [{name: cloud, asn: 16509, kind: hosting}]}\n")
	b.WriteString("sites:\n")
	for i := range n {
		fmt.Fprintf(&b, "  - {domain: www.site-%d.com, category: NEWS, network: cloud}\n", i)
	}
	if err := os.WriteFile(name, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestCheckStopsOnSignal is issue 12's D5: check never read its context,
// so SIGINT and SIGTERM did not stop it on a large scenario (a 50 MB one
// needed SIGKILL). It must exit within a second of the signal.
func TestCheckStopsOnSignal(t *testing.T) {
	if testing.Short() {
		t.Skip("writes a 20 MB scenario and runs splinter check on it")
	}
	file := filepath.Join(t.TempDir(), "big.yaml")
	bigScenario(t, file, 300000) // about 20 MB: well over 1 s to load
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			cmd, out := splinterCmd("check", file)
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			select {
			case err := <-done:
				t.Fatalf("check ended before the signal (%v): the input is not slow enough\n%s", err, out)
			case <-time.After(700 * time.Millisecond):
			}
			sent := time.Now()
			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			select {
			case err := <-done:
				took := time.Since(sent)
				t.Logf("exited %v after %v: %s", err, took, strings.TrimSpace(out.String()))
				if took > time.Second {
					t.Errorf("check took %v to stop after %v, want at most 1 s", took, sig)
				}
				if cmd.ProcessState.ExitCode() == 0 || !strings.Contains(out.String(), "interrupted") || strings.Contains(out.String(), "goroutine") {
					t.Errorf("exit %d, output %q: want a failure that says it was interrupted", cmd.ProcessState.ExitCode(), out)
				}
			case <-time.After(10 * time.Second):
				cmd.Process.Kill()
				<-done
				t.Fatalf("check still running 10 s after %v", sig)
			}
		})
	}
}

// hostile is a folder of hostile inputs: files that are not regular, a
// CSV whose quote never closes, YAML that is broken in each way, and
// references to a secret file outside the folder.
type hostile struct {
	dir, secret string
}

const secretText = "root:$6$SECRET-HASH-1234$:19000:0:99999:7:::"

func newHostile(t *testing.T) hostile {
	t.Helper()
	top := t.TempDir()
	h := hostile{dir: filepath.Join(top, "lab"), secret: filepath.Join(top, "shadow")}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	write := func(name, data string) { must(os.WriteFile(filepath.Join(h.dir, name), []byte(data), 0o644)) }
	must(os.MkdirAll(h.dir, 0o755))
	must(os.WriteFile(h.secret, []byte(secretText+"\n"), 0o600))
	must(syscall.Mkfifo(filepath.Join(h.dir, "fifo.yaml"), 0o644))
	must(syscall.Mkfifo(filepath.Join(h.dir, "fifo.txt"), 0o644))
	must(os.Symlink("/dev/zero", filepath.Join(h.dir, "zero.yaml")))
	must(os.Symlink(h.secret, filepath.Join(h.dir, "secret.txt")))
	must(os.Symlink(h.secret, filepath.Join(h.dir, "secret-policy.yaml")))
	write("unterminated.csv", "url,category_code\n\"x,NEWS\n")
	write("unterminated-list.csv", "url,category_code,category_description,date_added,source,notes\n\"https://x.example/,NEWS\n")
	write("syntax.yaml", "name: x\njurisdictions: [\n")
	write("dup.yaml", "name: a\njurisdictions: []\nname: b\n")
	write("dup-policy.yaml", "name: p\nrules: []\nrules: []\n")
	write("list-doc.yaml", "- jurisdictions\n- rules\n")
	write("scalar-doc.yaml", "just a line of text\n")
	scenario := func(policy string) string {
		return `name: hostile
jurisdictions:
  - code: CN
    prefixes: [198.18.0.0/20, "2001:db8:86::/48"]
    border: {policy: ` + policy + `}
    networks:
      - {name: cn-isp, asn: 4134, kind: access, hosts: [{name: client, role: client}]}
  - code: US
    prefixes: [198.18.96.0/20, "2001:db8:1::/48"]
    control: true
    networks:
      - {name: us-cloud, asn: 16509, kind: hosting}
sites:
  - {domain: www.example-news.com, category: NEWS, network: us-cloud}
`
	}
	policyWith := func(list, format, body string) string {
		return `name: p
meta: {jurisdiction: CN, year: 2024}
lists:
  names: {kind: domains, from: [{file: "` + list + `", format: ` + format + `}]}
rules:
  - {id: r, source: test, year: 2024, match: [{dns: {list: names}}], actions: [{blockpage: {status: 403, body-file: "` + body + `"}}]}
`
	}
	write("names.txt", "example-news.com\n")
	write("page.html", "<p>blocked</p>\n")
	write("abs-policy.yaml", scenario(h.secret))
	write("dotdot-policy.yaml", scenario("../shadow"))
	write("link-policy.yaml", scenario("secret-policy.yaml"))
	write("missing-policy.yaml", scenario("nope.yaml"))
	write("fifo-policy.yaml", scenario("fifo.yaml"))
	write("p-fifo-list.yaml", policyWith("fifo.txt", "lines", "page.html"))
	write("p-secret-list.yaml", policyWith("secret.txt", "lines", "page.html"))
	write("p-abs-list.yaml", policyWith(h.secret, "lines", "page.html"))
	write("p-dotdot-list.yaml", policyWith("../shadow", "lines", "page.html"))
	write("p-csv.yaml", policyWith("unterminated-list.csv", "citizenlab", "page.html"))
	write("p-zero-body.yaml", policyWith("names.txt", "lines", "zero.yaml"))
	write("p-secret-body.yaml", policyWith("names.txt", "lines", "secret.txt"))
	return h
}

func (h hostile) path(name string) string { return filepath.Join(h.dir, name) }

// TestHostileInputs feeds the corpus through every command that reads
// files (issue 12: D2, D3, D4, D9): each must fail quickly with exit 2, a
// message that names the file (with line and column where the input has
// them), no stack trace and nothing of the secret file.
func TestHostileInputs(t *testing.T) {
	h := newHostile(t)
	p := h.path
	tests := []struct {
		name string
		args []string
		want string // a substring of the output
	}{
		{"check FIFO", []string{"check", p("fifo.yaml")}, p("fifo.yaml") + ": a named pipe (FIFO), not a regular file"},
		{"check /dev/zero", []string{"check", "/dev/zero"}, "/dev/zero: a character device, not a regular file"},
		{"check a link to /dev/zero", []string{"check", p("zero.yaml")}, p("zero.yaml") + ": a character device, not a regular file"},
		{"check a folder", []string{"check", h.dir}, h.dir + ": a directory, not a regular file"},
		{"check YAML syntax error", []string{"check", p("syntax.yaml")}, p("syntax.yaml") + ":2: YAML: "},
		{"check duplicate scenario key", []string{"check", p("dup.yaml")}, p("dup.yaml") + `:3:1: key "name" is repeated`},
		{"check duplicate policy key", []string{"check", p("dup-policy.yaml")}, p("dup-policy.yaml") + `:3:1: rules: duplicate key "rules"`},
		{"check a list document", []string{"check", p("list-doc.yaml")}, p("list-doc.yaml") + ":1:1: neither a scenario nor a policy"},
		{"check a scalar document", []string{"check", p("scalar-doc.yaml")}, p("scalar-doc.yaml") + ":1:1: neither a scenario nor a policy"},
		{"check absolute policy", []string{"check", p("abs-policy.yaml")}, p("abs-policy.yaml") + `:5:22: jurisdiction "CN" border: policy "` + h.secret + `" must be an embedded profile or a file in the scenario's folder; it is an absolute path`},
		{"check climbing policy", []string{"check", p("dotdot-policy.yaml")}, p("dotdot-policy.yaml") + `:5:22: jurisdiction "CN" border: policy "../shadow" must be an embedded profile or a file in the scenario's folder; it climbs out`},
		{"check policy linked outside", []string{"check", p("link-policy.yaml")}, p("link-policy.yaml") + `:5:22: border of CN: policy "secret-policy.yaml": policy: ` + p("secret-policy.yaml") + `: leads out of the folder`},
		{"check missing policy", []string{"check", p("missing-policy.yaml")}, p("missing-policy.yaml") + `:5:22: border of CN: policy "nope.yaml": neither an embedded profile`},
		{"check FIFO policy", []string{"check", p("fifo-policy.yaml")}, p("fifo-policy.yaml") + `:5:22: border of CN: policy "fifo.yaml": policy: ` + p("fifo.yaml") + `: a named pipe (FIFO)`},
		{"check FIFO list", []string{"check", p("p-fifo-list.yaml")}, p("p-fifo-list.yaml") + `:4:40: lists.names.from[0].file: cannot read list file "fifo.txt": a named pipe (FIFO), not a regular file`},
		{"check list linked outside", []string{"check", p("p-secret-list.yaml")}, `cannot read list file "secret.txt": leads out of the folder`},
		{"check absolute list", []string{"check", p("p-abs-list.yaml")}, `list file "` + h.secret + `" must lie in the policy's folder; it is an absolute path`},
		{"check climbing list", []string{"check", p("p-dotdot-list.yaml")}, `list file "../shadow" must lie in the policy's folder; it climbs out`},
		{"check unterminated CSV list", []string{"check", p("p-csv.yaml")}, p("unterminated-list.csv") + `:2:`},
		{"check body linked to /dev/zero", []string{"check", p("p-zero-body.yaml")}, `cannot read body file "zero.yaml": leads out of the folder`},
		{"check body linked outside", []string{"check", p("p-secret-body.yaml")}, `cannot read body file "secret.txt": leads out of the folder`},
		{"scenarios --hosts FIFO", []string{"scenarios", "--hosts", p("fifo.yaml")}, "a named pipe (FIFO), not a regular file"},
		{"scenarios --hosts /dev/zero", []string{"scenarios", "--hosts", "/dev/zero"}, "/dev/zero: a character device"},
		{"scenarios --hosts syntax", []string{"scenarios", "--hosts", p("syntax.yaml")}, p("syntax.yaml") + ":2: YAML: "},
		{"scenarios --hosts duplicate", []string{"scenarios", "--hosts", p("dup.yaml")}, p("dup.yaml") + `:3:1: key "name" is repeated`},
		{"scenarios --hosts absolute policy", []string{"scenarios", "--hosts", p("abs-policy.yaml")}, p("abs-policy.yaml") + ":5:22: "},
		{"run --scenario FIFO", []string{"run", "--scenario", p("fifo.yaml"), "--list", p("fifo.txt")}, "a named pipe (FIFO), not a regular file"},
		{"run --scenario climbing policy", []string{"run", "--scenario", p("dotdot-policy.yaml"), "--list", p("unterminated.csv")}, p("dotdot-policy.yaml") + ":5:22: "},
		{"run --scenario /dev/zero", []string{"run", "--scenario", p("zero.yaml")}, "a character device, not a regular file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var code int
			var out string
			done := make(chan struct{})
			go func() {
				defer close(done)
				var stdout, stderr string
				code, stdout, stderr = run(tt.args...)
				out = stdout + stderr
			}()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("hung for 10 s")
			}
			if code != 2 {
				t.Errorf("exit %d, want 2", code)
			}
			if !strings.Contains(out, tt.want) {
				t.Errorf("output lacks %q:\n%s", tt.want, out)
			}
			for _, bad := range []string{"goroutine", "panic", "SECRET", "19000:0:99999"} {
				if strings.Contains(out, bad) {
					t.Errorf("output holds %q:\n%s", bad, out)
				}
			}
		})
	}

	// run --list reads its CSV with policy.ReadTestListFile.
	for _, tt := range []struct{ file, want string }{
		{p("fifo.txt"), "a named pipe (FIFO), not a regular file"},
		{"/dev/zero", "a character device, not a regular file"},
		{p("unterminated.csv"), p("unterminated.csv") + ":2:9: citizenlab list: a quoted field is not closed"},
	} {
		_, _, err := policy.ReadTestListFile(tt.file)
		if err == nil || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "NEWS") {
			t.Errorf("ReadTestListFile(%s): %v, want %q", tt.file, err, tt.want)
		}
	}
}
