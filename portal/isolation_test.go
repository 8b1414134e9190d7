//go:build linux

package portal_test

import (
	"bufio"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/splinter-lab/splinter/portal"
)

// unassigned are addresses that no host of the lab world has, in
// 198.18.0.0/15 and the documentation ranges only: never a real public or
// private address.
var unassigned = []string{"198.19.255.77", "198.18.250.9", "192.0.2.250", "198.51.100.77", "203.0.113.77", "2001:db8:ffff::77", "2001:2:0:ffff::77"}

// counters reads the packet and byte counters of the machine's interfaces.
func counters(t *testing.T) map[string]uint64 {
	t.Helper()
	m := map[string]uint64{}
	files, _ := filepath.Glob("/sys/class/net/*/statistics/[rt]x_[pb]*")
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		n, _ := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
		m[strings.TrimPrefix(f, "/sys/class/net/")] = n
	}
	if len(m) == 0 {
		t.Skip("skipping: no interface counters in /sys/class/net")
	}
	return m
}

func changed(a, b map[string]uint64) map[string]uint64 {
	d := map[string]uint64{}
	for k, v := range b {
		if v != a[k] {
			d[k] = v - a[k]
		}
	}
	return d
}

func TestIsolation(t *testing.T) {
	w, l := lab(t)
	for _, h := range w.Hosts() {
		for _, a := range h.Addrs() {
			for _, u := range unassigned {
				if a == netip.MustParseAddr(u) {
					t.Fatalf("%s is %s's address", u, h.Name())
				}
			}
		}
	}
	self, _ := os.Executable()
	env := []string{testProbeEnv + "=" + strings.Join(unassigned, " ")}

	// Noise: how the counters move over the same time with nothing probing.
	start := time.Now()
	c0 := counters(t)
	if _, _, err := run(t, l, "cn-client-1", []string{testProbeEnv + "="}, "true"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	c1 := counters(t)
	noise := changed(c0, c1)
	quiet := time.Since(start)

	start = time.Now()
	out, errOut, err := run(t, l, "cn-client-1", env, self)
	if err != nil {
		t.Fatalf("probe: %v\n%s", err, errOut)
	}
	if d := quiet - time.Since(start); d > 0 {
		time.Sleep(d)
	}
	c2 := counters(t)
	during := changed(c1, c2)
	t.Logf("counters that moved while idle: %v; while probing: %v", noise, during)
	sent := uint64(100 * len(unassigned))
	for k, d := range during {
		// A counter that was still while idle must stay still; a noisy
		// one (the machine is shared) must not have moved by anything
		// like what the probe sent: packets compared with packets, as a
		// noisy byte counter moves by the bytes of whatever else runs.
		_, noisy := noise[k]
		if !noisy || strings.HasSuffix(k, "_packets") && d >= sent/2 {
			t.Errorf("%s moved by %d while the probe sent %d packets", k, d, sent)
		}
	}

	var ifs []string
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		switch f[0] {
		case "if":
			ifs = append(ifs, f[1])
		case "route":
			// The last field of a routing table line is its interface.
			if dev := f[len(f)-1]; dev != "lo" && dev != portal.IfName {
				t.Errorf("route through %s: %s", dev, sc.Text())
			}
		case "sent":
			// Each datagram left the program: into the TUN, the only route.
			if f[1] != strconv.FormatUint(sent, 10) {
				t.Errorf("the probe sent %s datagrams, want %d", f[1], sent)
			}
		case "connected":
			t.Errorf("the probe connected to %s", f[1])
		}
	}
	if strings.Join(ifs, " ") != "lo "+portal.IfName {
		t.Errorf("interfaces %v, want lo and %s only", ifs, portal.IfName)
	}
	if !strings.Contains(out, "route ipv6_route 00000000000000000000000000000000 "+portal.IfName) || !strings.Contains(out, "route route 00000000 "+portal.IfName) {
		t.Errorf("no IPv4 or IPv6 route through %s:\n%s", portal.IfName, out)
	}
}

// TestKilled kills the process that made a namespace with SIGKILL, and
// checks that the program in it and the namespace go away, with the world
// in process or served over a control socket.
func TestKilled(t *testing.T) {
	_, l := lab(t)
	sock := filepath.Join(t.TempDir(), "control.sock")
	srv, err := portal.Listen(sock, l, portal.ServerConfig{Scenario: "portal-lab"})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	netnsBefore, _ := exec.Command("ip", "netns", "list").Output()
	linksBefore, _ := exec.Command("ip", "-o", "link").Output()
	for _, mode := range []string{"local", sock} {
		name := "local"
		if mode != "local" {
			name = "remote"
		}
		t.Run(name, func(t *testing.T) {
			self, _ := os.Executable()
			d := exec.Command(self)
			d.Env = append(os.Environ(), testDriverEnv+"="+mode)
			d.Stderr = os.Stderr
			stdout, _ := d.StdoutPipe()
			if err := d.Start(); err != nil {
				t.Fatal(err)
			}
			line, err := bufio.NewReader(stdout).ReadString('\n')
			if err != nil {
				d.Process.Kill()
				d.Wait()
				t.Fatalf("driver: %v", err)
			}
			pid, _ := strconv.Atoi(strings.TrimSpace(line))
			ns, err := os.Readlink("/proc/" + strconv.Itoa(pid) + "/ns/net")
			if err != nil {
				t.Fatal(err)
			}
			if mine, _ := os.Readlink("/proc/self/ns/net"); ns == mine {
				t.Fatalf("the program runs in the machine's namespace %s", ns)
			}
			if name == "remote" && len(l.Attached()) != 1 {
				t.Fatalf("attached %v, want cn-client-1", l.Attached())
			}
			d.Process.Signal(syscall.SIGKILL)
			d.Wait()
			deadline := time.Now().Add(5 * time.Second)
			for alive(pid) || holders(ns) > 0 || len(l.Attached()) > 0 {
				if time.Now().After(deadline) {
					t.Fatalf("after SIGKILL: program alive %v, %d processes in %s, attached %v", alive(pid), holders(ns), ns, l.Attached())
				}
				time.Sleep(20 * time.Millisecond)
			}
		})
	}
	netnsAfter, _ := exec.Command("ip", "netns", "list").Output()
	linksAfter, _ := exec.Command("ip", "-o", "link").Output()
	if string(netnsAfter) != string(netnsBefore) {
		t.Errorf("ip netns list: before %q, after %q", netnsBefore, netnsAfter)
	}
	if strings.Count(string(linksAfter), "\n") != strings.Count(string(linksBefore), "\n") || strings.Contains(string(linksAfter), portal.IfName) {
		t.Errorf("ip link: before\n%s\nafter\n%s", linksBefore, linksAfter)
	}
}

// alive reports whether pid runs (a zombie does not).
func alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}

// holders counts the processes in network namespace ns.
func holders(ns string) int {
	n := 0
	links, _ := filepath.Glob("/proc/[0-9]*/ns/net")
	for _, l := range links {
		if v, err := os.Readlink(l); err == nil && v == ns {
			n++
		}
	}
	return n
}
