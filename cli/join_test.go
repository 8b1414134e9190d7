//go:build linux

package cli_test

import (
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/splinter-lab/splinter/lab"
)

// TestJoinRunningWorld: splinter up writes the scenario CA and the
// services' addresses into its state directory; measure --state measures
// from a host of that world, with its test helper as the control, and its
// borders log the decisions; several programs run on one host at once; a
// host entered by a program is not measured from; and when up is killed,
// exec and measure say the world went away.
func TestJoinRunningWorld(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "lab")
	u := startUp(t, dir)
	if !u.running(t) {
		t.Fatalf("up ended:\n%s", u.out)
	}
	var doc lab.ServicesFile
	b, err := os.ReadFile(filepath.Join(dir, "services.json"))
	if err == nil {
		err = json.Unmarshal(b, &doc)
	}
	if err != nil || doc.Scenario != "two-lands" || doc.CA != "ca.pem" || doc.ControlHost != "us-control" || len(doc.ControlAddrs) != 2 ||
		doc.TestHelper != "http://"+doc.ControlAddrs[0].String()+"/" || doc.OONI.ProbeServices == "" || len(doc.OONI.TestHelpers["web-connectivity"]) == 0 {
		t.Fatalf("services.json: %v\n%s", err, b)
	}
	if !strings.Contains(u.out.String(), "test helper     "+doc.TestHelper+" on us-control") {
		t.Errorf("up did not print the test helper's URL %s:\n%s", doc.TestHelper, u.out)
	}
	pemBytes, _ := os.ReadFile(filepath.Join(dir, "ca.pem"))
	if blk, _ := pem.Decode(pemBytes); blk == nil || blk.Type != "CERTIFICATE" {
		t.Fatalf("ca.pem is no PEM certificate: %q", pemBytes)
	}

	t.Run("measure", func(t *testing.T) {
		code, out, errOut := run("measure", "--state", dir, "--from", "cn-client-1", "https://www.freepress-herald.com/", "http://www.people-daily.cn/")
		if code != 0 {
			t.Fatalf("exit %d\n%s%s", code, out, errOut)
		}
		for _, want := range []string{"https://www.freepress-herald.com/ from cn-client-1 (CN): dns", "http://www.people-daily.cn/ from cn-client-1 (CN): accessible"} {
			if !strings.Contains(errOut, want) {
				t.Errorf("stderr lacks %q:\n%s", want, errOut)
			}
		}
		if n := strings.Count(out, `"test_name":"web_connectivity"`); n != 2 {
			t.Errorf("%d measurements on stdout, want 2:\n%.500s", n, out)
		}
		if log, _ := os.ReadFile(filepath.Join(dir, "decisions.jsonl")); !strings.Contains(string(log), "www.freepress-herald.com") {
			t.Errorf("up's decisions.jsonl does not log the blocking of the measured site:\n%.500s", log)
		}
		code, _, errOut = run("measure", "--state", dir, "--from", "nowhere-1", "http://www.people-daily.cn/")
		if code != 2 || !strings.Contains(errOut, `"nowhere-1"`) {
			t.Errorf("measure from an unknown host: exit %d, %s", code, errOut)
		}
		code, _, errOut = run("measure", "--state", dir, "--scenario", "splinternet", "--from", "cn-client-1", "http://www.people-daily.cn/")
		if code != 2 || !strings.Contains(errOut, "runs scenario two-lands, not splinternet") {
			t.Errorf("measure naming another scenario: exit %d, %s", code, errOut)
		}
	})

	// A long program on cn-client-1, as a user's first terminal would run.
	first, firstOut := splinterCmd("exec", "--state", dir, "--host", "cn-client-1", "--", "sleep", "120")
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	firstDone := make(chan struct{})
	go func() { first.Wait(); close(firstDone) }()
	t.Cleanup(func() {
		first.Process.Kill()
		<-firstDone
	})
	// Until it has entered, a measurement from the host may still run.
	deadline := time.Now().Add(30 * time.Second)
	for {
		code, _, errOut := run("measure", "-q", "--state", dir, "--from", "cn-client-1", "http://www.people-daily.cn/")
		if code == 2 && strings.Contains(errOut, "host cn-client-1 is entered by a program") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("measure from a host a program has entered: exit %d, %s", code, errOut)
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Run("second-program", func(t *testing.T) {
		code, out, errOut := run("exec", "--state", dir, "--host", "cn-client-1", "--", "sh", "-c", "hostname; cat /proc/net/dev | grep -c splinter0")
		if code != 0 || out != "cn-client-1\n1\n" {
			t.Fatalf("a second program on the busy host: exit %d, %q %s", code, out, errOut)
		}
	})

	// Kill the world: the program that joined it ends, and says why.
	u.cmd.Process.Signal(syscall.SIGKILL)
	select {
	case <-firstDone:
	case <-time.After(20 * time.Second):
		t.Fatalf("exec outlived its world by 20 s:\n%s", firstOut)
	}
	if code := first.ProcessState.ExitCode(); code == 0 || !strings.Contains(firstOut.String(), "the world at "+dir+" went away") {
		t.Errorf("exec after its world was killed: exit %d, output %q", code, firstOut)
	}
	if code, _, errOut := run("measure", "--state", dir, "--from", "cn-client-1", "http://www.people-daily.cn/"); code != 2 || !strings.Contains(errOut, "no world is up at "+dir) {
		t.Errorf("measure after the world was killed: exit %d, %s", code, errOut)
	}
}
