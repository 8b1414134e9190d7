package lab_test

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/splinter-lab/splinter/clock"
	"github.com/splinter-lab/splinter/lab"
	"github.com/splinter-lab/splinter/probe"
)

// writeScenario copies testdata/lab.yaml into a fresh folder with its border
// naming ref, and returns the scenario's path.
func writeScenario(t *testing.T, ref string) string {
	t.Helper()
	data, err := os.ReadFile("testdata/lab.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "world.yaml")
	if err := os.WriteFile(path, []byte(strings.Replace(string(data), "policy: drop.yaml", "policy: "+ref, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	pol, err := os.ReadFile("testdata/drop.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "drop.yaml"), pol, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestLoadResolvesPolicies: a border's policy is an embedded profile or a
// policy file inside the scenario's folder; anything else is bad input that
// names where the scenario wrote the reference.
func TestLoadResolvesPolicies(t *testing.T) {
	for _, c := range []struct {
		ref, want string
	}{
		{"drop.yaml", ""},
		{"CN", ""},
		{"missing.yaml", `world.yaml:9:22: border of XX: policy "missing.yaml": `},
		{"../drop.yaml", `world.yaml:9:22: jurisdiction "XX" border: policy "../drop.yaml" must be an embedded profile or a file in the scenario's folder`},
		{"/etc/passwd", `world.yaml:9:22: jurisdiction "XX" border: policy "/etc/passwd" must be an embedded profile or a file in the scenario's folder`},
	} {
		t.Run(c.ref, func(t *testing.T) {
			spec, err := lab.Load(writeScenario(t, c.ref))
			if c.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if len(spec.Borders) != 1 || spec.Borders[0].Name != "XX" || spec.Borders[0].Policy == nil {
					t.Fatalf("borders %+v", spec.Borders)
				}
				return
			}
			if err == nil || !lab.IsInput(err) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v (input %v), want it to contain %q", err, lab.IsInput(err), c.want)
			}
		})
	}
}

// TestManualClockGovernsProbeTimeouts: with one manual clock for the lab, a
// probe's connect to a blackholed address times out when the clock passes
// the connect timeout, not before, however long real time runs.
func TestManualClockGovernsProbeTimeouts(t *testing.T) {
	clk := clock.NewManual(time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC))
	l, err := lab.Start(context.Background(), "testdata/lab.yaml", lab.Options{Clock: clk, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	p, err := l.Prober("client", func(c *probe.Config) { c.ConnectTimeout = 10 * time.Second })
	if err != nil {
		t.Fatal(err)
	}
	var site netip.Addr
	for _, s := range l.Spec().Plan.Sites {
		if s.Domain == "www.blocked.com" {
			site = s.Addrs[0]
		}
	}
	before := clk.Pending()
	done := make(chan probe.TCPConnect, 1)
	go func() {
		c, conn := p.Connect(context.Background(), netip.AddrPortFrom(site, 443))
		if conn != nil {
			conn.Close()
		}
		done <- c
	}()
	for clk.Pending() == before {
		time.Sleep(time.Millisecond)
	}
	select {
	case c := <-done:
		t.Fatalf("connect ended before the clock moved: %+v", c)
	case <-time.After(300 * time.Millisecond):
	}
	clk.Advance(9 * time.Second)
	select {
	case c := <-done:
		t.Fatalf("connect ended 9 s into a 10 s timeout: %+v", c)
	case <-time.After(100 * time.Millisecond):
	}
	clk.Advance(time.Second)
	select {
	case c := <-done:
		if c.Status.Failure == nil || *c.Status.Failure != probe.FailureTimeout {
			t.Fatalf("connect status %+v, want %s", c.Status, probe.FailureTimeout)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("connect did not end when the clock passed its timeout")
	}
	var ie *lab.InputError
	if _, err := l.Prober("nobody"); !errors.As(err, &ie) {
		t.Errorf("Prober of an unknown host: %v, want an input error", err)
	}
}
