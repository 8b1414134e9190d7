package cli_test

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/splinter-lab/splinter/cli"
	"github.com/splinter-lab/splinter/policylog"
)

// logFixture appends two policy versions, each cosigned by two witnesses,
// through the CLI.
func logFixture(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "log")
	if code, out, errOut := run("log", "append", "--witness", "w1,w2", dir, "testdata/log/v1/xl.yaml"); code != 0 {
		t.Fatalf("append v1: exit %d\n%s%s", code, out, errOut)
	}
	if code, out, errOut := run("log", "append", "--witness", "w1,w2", "--version", "2024.2", dir, "testdata/log/v2/xl.yaml"); code != 0 || !strings.Contains(out, "1 policy XL-2024 (XL) version 2024.2 effective 2024-06-01") || !strings.Contains(out, "cosigned by w2 at size 2") {
		t.Fatalf("append v2: exit %d\n%s%s", code, out, errOut)
	}
	for _, k := range []string{"log.key", "witnesses/w1.key", "witnesses/w2.key"} {
		if fi, err := os.Stat(filepath.Join(dir, k)); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v %v", k, fi.Mode(), err)
		}
	}
	return dir
}

func TestLogVerifyAndTampering(t *testing.T) {
	dir := logFixture(t)
	code, out, errOut := run("log", "verify", dir)
	if code != 0 || !strings.Contains(out, "ok  "+dir+": log policylog.splinter.test, 2 entries") || !strings.Contains(out, "cosigned by [w1 w2]") {
		t.Fatalf("verify: exit %d\n%s%s", code, out, errOut)
	}
	sig := func(b []byte, name string, at int) int {
		i := bytes.Index(b, []byte("— "+name+" "))
		if i < 0 {
			t.Fatalf("no signature by %s", name)
		}
		return i + len("— "+name+" ") + at
	}
	for _, tc := range []struct {
		name string
		file string
		at   func(b []byte) int
		want string
	}{
		{"tile", "tile/0/000.p/2", func([]byte) int { return 40 }, "tile/0/000.p/2: hash 1 (entry 1) does not match the entries"},
		{"entry", "tile/entries/000.p/2", func(b []byte) int { return bytes.Index(b, []byte(`"version":"2024.2"`)) + 12 }, "entry 1 (in tile/entries/000.p/2): its leaf hash does not match tile/0/000.p/2"},
		{"checkpoint signature", "checkpoint", func(b []byte) int { return sig(b, "policylog.splinter.test", 30) }, "checkpoint: the log's signature does not verify"},
		{"cosignature", "checkpoint", func(b []byte) int { return sig(b, "w2", 50) }, "checkpoint: cosignature of witness w2 does not verify"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := filepath.Join(t.TempDir(), "copy")
			if err := os.CopyFS(d, os.DirFS(dir)); err != nil {
				t.Fatal(err)
			}
			p := filepath.Join(d, tc.file)
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			i := tc.at(b)
			if b[i] == 'A' {
				b[i] = 'B'
			} else {
				b[i] = 'A'
			}
			if err := os.WriteFile(p, b, 0o644); err != nil {
				t.Fatal(err)
			}
			code, out, errOut := run("log", "verify", d)
			if code != 1 || !strings.Contains(errOut, tc.want) {
				t.Errorf("verify after changing one byte of %s: exit %d, want 1 naming %q\n%s%s", tc.file, code, tc.want, out, errOut)
			}
		})
	}
}

func TestLogShowDiffProve(t *testing.T) {
	dir := logFixture(t)
	code, out, _ := run("log", "show", dir)
	if code != 0 || !strings.Contains(out, "policylog.splinter.test\n2\n") || !strings.Contains(out, "\n0 policy XL-2024 (XL) version 2024 effective 2024-01-01 sha256:") {
		t.Errorf("show: exit %d\n%s", code, out)
	}
	code, out, _ = run("log", "show", dir, "1")
	if code != 0 || !strings.Contains(out, `"type":"policy-version"`) || !strings.Contains(out, "--- lists/names.txt (35 bytes)") || !strings.Contains(out, "id: xl-sni") {
		t.Errorf("show 1: exit %d\n%s", code, out)
	}
	code, out, _ = run("log", "diff", dir, "0", "1")
	for _, want := range []string{"--- XL-2024 2024\n+++ XL-2024 2024.2\n", "- lists.names[]: blog.example.net", "+ lists.names[]: forum.example.net", "+ rules[xl-sni]: Resets for listed SNIs."} {
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("diff: exit %d, lacks %q\n%s", code, want, out)
		}
	}
	// A proof a border can check offline against the keys it trusts.
	code, proof, errOut := run("log", "prove", dir, "1")
	if code != 0 || !strings.HasPrefix(proof, "c2sp.org/tlog-proof@v1\nextra ") {
		t.Fatalf("prove: exit %d\n%s%s", code, proof, errOut)
	}
	keys, err := policylog.KeysFromDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	pv, err := policylog.ReadPolicyVersion("testdata/log/v2/xl.yaml", "2024.2", policylog.Day{})
	if err != nil {
		t.Fatal(err)
	}
	v, err := policylog.VerifyPolicy(pv.Canonical(), []byte(proof), policylog.Trust{Log: keys.Log, Witnesses: keys.Witnesses, Quorum: 2})
	if err != nil || v.Index != 1 {
		t.Errorf("VerifyPolicy(prove output) = %+v, %v", v, err)
	}
	code, proof, _ = run("log", "prove", "--size", "1", dir, "0")
	if code != 0 || !strings.Contains(proof, "index 0\n\npolicylog.splinter.test\n1\n") {
		t.Errorf("prove --size 1: exit %d\n%s", code, proof)
	}
}

func TestLogBadInput(t *testing.T) {
	dir := logFixture(t)
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no command", []string{"log"}, "no log command"},
		{"unknown command", []string{"log", "fly"}, `unknown log command "fly"`},
		{"not a log", []string{"log", "verify", t.TempDir()}, "is not a log"},
		{"bad policy", []string{"log", "append", filepath.Join(t.TempDir(), "x"), "testdata/log/bad.yaml"}, `testdata/log/bad.yaml:7:`},
		{"index", []string{"log", "show", dir, "7"}, "index 7 is beyond the log's 2 entries"},
		{"index syntax", []string{"log", "diff", dir, "0", "x"}, `index "x" is not`},
		{"bad date", []string{"log", "append", "--effective", "2024-13-01", dir, "testdata/log/v1/xl.yaml"}, `invalid date "2024-13-01"`},
		{"public address", []string{"log", "serve", "--addr", "0.0.0.0:0", dir}, "not a loopback address"},
		{"bad key", []string{"log", "verify", "--key", "nope", dir}, "log key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := run(tc.args...)
			if code != 2 || !strings.Contains(errOut, tc.want) || strings.Contains(errOut, "goroutine") {
				t.Errorf("exit %d, want 2 with %q\n%s%s", code, tc.want, out, errOut)
			}
		})
	}
}

func TestLogServe(t *testing.T) {
	dir := logFixture(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	done := make(chan int, 1)
	go func() {
		done <- cli.Run(ctx, []string{"log", "serve", "--addr", "127.0.0.1:0", dir}, pw, io.Discard)
		pw.Close()
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	go io.Copy(io.Discard, pr)
	_, rest, _ := strings.Cut(line, "http://")
	base, _, _ := strings.Cut(rest, "/ ")
	client := &http.Client{Timeout: 30 * time.Second}
	for _, p := range []string{"checkpoint", "tile/0/000.p/2", "tile/entries/000.p/2", "log.vkey"} {
		resp, err := client.Get("http://" + base + "/" + p)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		want, _ := os.ReadFile(filepath.Join(dir, p))
		if resp.StatusCode != 200 || !bytes.Equal(got, want) {
			t.Errorf("GET %s: %s, %d bytes, want the file's %d", p, resp.Status, len(got), len(want))
		}
	}
	resp, err := client.Get("http://" + base + "/log.key")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Errorf("GET log.key: %s", resp.Status)
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("serve exited %d", code)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop")
	}
}
