//go:build linux

package portal_test

import (
	"context"
	"net/netip"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/splinter-lab/splinter/portal"
	"github.com/splinter-lab/splinter/scenario"
	"github.com/splinter-lab/splinter/world"
)

// hopsWorld is the default scenario's fabric (no services: the programs
// below use addresses), bridged for real programs.
func hopsWorld(t *testing.T) (*world.World, *portal.Local) {
	t.Helper()
	needRoot(t)
	sc, err := scenario.Open(scenario.Default)
	if err != nil {
		t.Fatal(err)
	}
	p, err := sc.Plan()
	if err != nil {
		t.Fatal(err)
	}
	w, err := world.Build(p, world.Options{NoServices: true})
	if err != nil {
		t.Fatal(err)
	}
	l := portal.NewLocal(w)
	t.Cleanup(func() {
		l.Close()
		w.Close()
	})
	return w, l
}

var hopLine = regexp.MustCompile(`(?m)^\s*(\d+)\s+(\S+)`)

// TestRealTracerouteShowsHops runs the real traceroute (ICMP echo probes)
// on cn-client-1 to a server in the US: it lists every hop of the default
// scenario's path, hidden routers included, as the world's own
// Host.Traceroute does, in both families.
func TestRealTracerouteShowsHops(t *testing.T) {
	needProgram(t, "traceroute")
	w, l := hopsWorld(t)
	for _, fam := range []string{"4", "6"} {
		f := 4
		if fam == "6" {
			f = 6
		}
		dst := w.Host("us-vps-1").Addr(f)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		want, err := w.Host("cn-client-1").Traceroute(ctx, dst, 30, 5*time.Second)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		out, stderr, err := run(t, l, "cn-client-1", nil, "traceroute", "-"+fam, "-I", "-n", "-q", "1", "-w", "5", "-m", "30", dst.String())
		if err != nil {
			t.Fatalf("traceroute -%s: %v\n%s%s", fam, err, out, stderr)
		}
		t.Logf("traceroute -%s -I -n %s:\n%s", fam, dst, out)
		lines := hopLine.FindAllStringSubmatch(out, -1)
		if len(lines) != len(want) {
			t.Fatalf("IPv%s: traceroute shows %d hops, want %d", fam, len(lines), len(want))
		}
		for i, m := range lines {
			if m[2] != want[i].Addr.String() {
				t.Errorf("IPv%s hop %s: %s, want %v", fam, m[1], m[2], want[i].Addr)
			}
		}
	}
}

// TestRealPingTTL runs `ping -t 9` on cn-client-1 to a server in the US:
// the time exceeded comes from the ninth hop, a router hidden in CN's
// uplink, past the border.
func TestRealPingTTL(t *testing.T) {
	needProgram(t, "ping")
	w, l := hopsWorld(t)
	cn := w.Plan().Jurisdiction("CN")
	for _, tt := range []struct {
		fam  string
		dst  netip.Addr
		from netip.Addr
	}{
		{"4", w.Host("us-vps-1").Addr(4), cn.Hops[1].V4},
		{"6", w.Host("us-vps-1").Addr(6), cn.Hops[1].V6},
	} {
		out, _, _ := run(t, l, "cn-client-1", nil, "ping", "-"+tt.fam, "-n", "-c", "1", "-W", "5", "-t", "9", tt.dst.String())
		t.Logf("ping -%s -t 9 %s:\n%s", tt.fam, tt.dst, out)
		if !strings.Contains(out, "From "+tt.from.String()) || !strings.Contains(strings.ToLower(out), "exceeded") {
			t.Errorf("IPv%s: ping -t 9 does not show a time exceeded from %v", tt.fam, tt.from)
		}
		out, _, err := run(t, l, "cn-client-1", nil, "ping", "-"+tt.fam, "-n", "-c", "1", "-W", "5", "-t", "24", tt.dst.String())
		if err != nil || !strings.Contains(out, "1 received") {
			t.Errorf("IPv%s: ping -t 24 (the server's hop) did not get an answer: %v\n%s", tt.fam, err, out)
		}
	}
}
