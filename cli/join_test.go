//go:build linux

package cli_test

import (
	"encoding/json"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
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
	// What OONI Probe needs besides: the names it asks its address of
	// (answered by the control host), where its reports land, and the
	// world's GeoIP database, which places each client as the plan does.
	if want := []string{"geoip.ubuntu.com", "stun.ekiga.net", "stun.l.google.com", "www.cloudflare.com"}; !slices.Equal(doc.Names, want) ||
		doc.Reports != "reports" || doc.GeoIP != "geoip.mmdb" {
		t.Errorf("services.json: names %v (want %v), reports %q, geoip %q", doc.Names, want, doc.Reports, doc.GeoIP)
	}
	for _, want := range []string{"  GeoIP database  " + filepath.Join(dir, "geoip.mmdb"), "  OONI reports    " + filepath.Join(dir, "reports"), "  OONI services   " + doc.OONI.ProbeServices} {
		if !strings.Contains(u.out.String(), want) {
			t.Errorf("up did not print %q:\n%s", want, u.out)
		}
	}
	spec, err := lab.Load("two-lands")
	if err != nil {
		t.Fatal(err)
	}
	checkGeoIP(t, filepath.Join(dir, "geoip.mmdb"), spec)

	// The probe services, from a real program in China, as OONI Probe
	// calls them: by the names services.json gives, over HTTPS with the
	// scenario CA exec installs.
	t.Run("ooni-services", func(t *testing.T) {
		if _, err := exec.LookPath("curl"); err != nil {
			t.Skip("curl is not installed")
		}
		curl := func(args ...string) string {
			t.Helper()
			code, out, errOut := run(append([]string{"exec", "--state", dir, "--host", "cn-client-1", "--", "curl", "-sS", "--max-time", "30"}, args...)...)
			if code != 0 {
				t.Fatalf("curl %v: exit %d, %s%s", args, code, out, errOut)
			}
			return out
		}
		ps := doc.OONI.ProbeServices
		var ths map[string][]struct{ Address, Type string }
		if out := curl(ps + "/api/v1/test-helpers"); json.Unmarshal([]byte(out), &ths) != nil ||
			len(ths["web-connectivity"]) == 0 || ths["web-connectivity"][0].Address != ps || ths["web-connectivity"][0].Type != "https" {
			t.Errorf("test-helpers: %s", out)
		}
		var ci struct {
			V     int `json:"v"`
			Tests struct {
				WebConnectivity struct {
					ReportID string `json:"report_id"`
				} `json:"web_connectivity"`
			} `json:"tests"`
		}
		if out := curl("-H", "Content-Type: application/json", "-d", `{"probe_cc":"CN","probe_asn":"AS4134","software_name":"miniooni","run_type":"manual"}`, ps+"/api/v1/check-in"); json.Unmarshal([]byte(out), &ci) != nil ||
			ci.V != 1 || ci.Tests.WebConnectivity.ReportID == "" {
			t.Errorf("check-in: %s", out)
		}
		// Where am I: Cloudflare's trace and Ubuntu's lookup, by the real
		// services' names, say the client's own address.
		addr := spec.Plan.Host("cn-client-1").Addrs[0].String()
		if out := curl("-4", "https://www.cloudflare.com/cdn-cgi/trace"); !strings.Contains(out, "ip="+addr+"\n") {
			t.Errorf("www.cloudflare.com/cdn-cgi/trace from %s: %q", addr, out)
		}
		if out := curl("-4", "https://geoip.ubuntu.com/lookup"); !strings.Contains(out, "<Ip>"+addr+"</Ip>") {
			t.Errorf("geoip.ubuntu.com/lookup from %s: %q", addr, out)
		}
		// A measurement submitted as probe-cli submits since July 2026 (no
		// report opened) lands in the reports folder.
		m := `{"test_name":"web_connectivity","input":"http://www.people-daily.cn/","probe_cc":"CN","probe_asn":"AS4134","software_name":"miniooni"}`
		body, _ := json.Marshal(map[string]any{"format": "json", "content": m})
		curl("-H", "Content-Type: application/json", "-d", string(body), ps+"/api/v1/submit_measurement")
		files, _ := filepath.Glob(filepath.Join(dir, "reports", "*.jsonl"))
		found := false
		for _, f := range files {
			if b, _ := os.ReadFile(f); strings.Contains(string(b), `"input":"http://www.people-daily.cn/"`) {
				found = true
			}
		}
		if !found {
			t.Errorf("the submitted measurement is in none of %v", files)
		}
	})

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
	first, firstOut := splinterCmd("exec", "--state", dir, "--host", "cn-client-1", "--", "sleep", "300")
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	firstDone := make(chan struct{})
	go func() { first.Wait(); close(firstDone) }()
	t.Cleanup(func() {
		first.Process.Kill()
		<-firstDone
	})
	// Until it has entered, a measurement from the host may still run (a
	// blocked site's measurement takes its timeouts, longer on a busy
	// machine).
	deadline := time.Now().Add(2 * time.Minute)
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
