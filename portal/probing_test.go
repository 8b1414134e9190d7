//go:build linux

package portal_test

import (
	"context"
	"crypto/rand"
	"net/netip"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/splinter-lab/splinter/border"
	"github.com/splinter-lab/splinter/clock"
	splab "github.com/splinter-lab/splinter/lab"
	"github.com/splinter-lab/splinter/policy"
	"github.com/splinter-lab/splinter/portal"
	"github.com/splinter-lab/splinter/scenario"
)

// TestActiveProbingRealShadowsocks: a real shadowsocks-libev server
// (Debian's, 3.3.x) exec'd on us-vps-1, sent a fully encrypted first packet
// from China, draws the GFW's probes from the probers' /28, and reacts to
// them as IMC 2020 (Table 3, §5.2) found shadowsocks-libev from 3.3.1 on
// react: it waits on every probe, replays included (its replay filter),
// until the prober gives up; so it fits no proxy's threshold and is not
// blocked, as the paper's libev servers were not. border's
// TestActiveProbing holds the same judgement against modelled servers of
// every version; this is the real program's side of it.
func TestActiveProbingRealShadowsocks(t *testing.T) {
	needRoot(t)
	needProgram(t, "ss-server")
	sdata, err := os.ReadFile("testdata/lab.yaml")
	if err != nil {
		t.Fatal(err)
	}
	sc, err := scenario.Load("testdata/lab.yaml", sdata)
	if err != nil {
		t.Fatal(err)
	}
	pdata, err := os.ReadFile("testdata/cn-probing.yaml")
	if err != nil {
		t.Fatal(err)
	}
	pol, err := policy.Load("cn-probing.yaml", pdata, os.DirFS("testdata"), ".")
	if err != nil {
		t.Fatal(err)
	}
	spec, err := splab.FromScenario(sc, splab.Resolve{Policies: map[string]*policy.Policy{"lab-cn.yaml": pol}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	l, err := spec.Start(ctx, splab.Options{Clock: clock.NewOffset(time.Date(2020, 1, 10, 4, 0, 0, 0, time.UTC))})
	if err != nil {
		t.Fatal(err)
	}
	w := l.World()
	pl := portal.NewLocal(w)
	t.Cleanup(func() {
		pl.Close()
		l.Close()
	})
	c := portal.Command(pl, "us-vps-1", "ss-server", "-s", "0.0.0.0", "-p", "8388", "-k", "correct-horse", "-m", "chacha20-ietf-poly1305", "-t", "60")
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.Process.Signal(syscall.SIGTERM)
		c.Wait()
	})
	server := netip.AddrPortFrom(w.Host("us-vps-1").Addr(4), 8388)
	client := w.Host("cn-client-1")
	// The first data packet: 300 random bytes, as a Shadowsocks client's
	// salt and first encrypted chunk look to the censor.
	var conn interface{ Close() error }
	for deadline := time.Now().Add(10 * time.Second); ; {
		dctx, dcancel := context.WithTimeout(ctx, time.Second)
		cn, err := client.DialAddr(dctx, "tcp", server)
		dcancel()
		if err == nil {
			first := make([]byte, 300)
			rand.Read(first)
			if _, err := cn.Write(first); err != nil {
				t.Fatal(err)
			}
			conn = cn
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("ss-server never listened on %v: %v", server, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	defer conn.Close()

	var verdict *border.Decision
	var probes []border.Decision
	for deadline := time.Now().Add(60 * time.Second); verdict == nil; {
		probes = probes[:0]
		for _, d := range l.Log().Decisions() {
			if d.Rule != "cn-ss-active-probing" || d.Server != server {
				continue
			}
			if evidence(d, border.EvidenceVerdict) != "" {
				verdict = &d
			} else if evidence(d, border.EvidenceReaction) != "" {
				probes = append(probes, d)
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no verdict on the real server after 60 s; %d probes so far", len(probes))
		}
		time.Sleep(200 * time.Millisecond)
	}
	prober := netip.MustParsePrefix("198.18.0.112/28")
	reactions := map[string]int{}
	for _, d := range probes {
		if !prober.Contains(d.Client.Addr()) {
			t.Errorf("a probe from %v, outside the probers' /28", d.Client)
		}
		typ, _, _ := strings.Cut(evidence(d, border.EvidenceProbe), " ")
		reactions[typ+":"+evidence(d, border.EvidenceReaction)]++
	}
	t.Logf("%d probes: %v; verdict: %s", len(probes), reactions, evidence(*verdict, border.EvidenceVerdict))
	// The first stage: 2 identical replays, 2 with byte 0 changed, 6 random
	// 221-byte probes; libev waits on them all, so no later stage opens.
	if want := map[string]int{"r1:timeout": 2, "r2:timeout": 2, "nr2:timeout": 6}; !equalCounts(reactions, want) {
		t.Errorf("reactions %v, want %v (shadowsocks-libev 3.3.x waits on every probe)", reactions, want)
	}
	if verdict.Effect == border.EffectBlock {
		t.Errorf("the real shadowsocks-libev server was judged a proxy and blocked: %s", verdict.Detail)
	}
}

// evidence returns the value of d's first evidence of kind k.
func evidence(d border.Decision, k border.EvidenceKind) string {
	for _, e := range d.Evidence {
		if e.Kind == k {
			return e.Value
		}
	}
	return ""
}

func equalCounts(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}
