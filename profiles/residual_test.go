package profiles_test

import (
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/splinter-lab/splinter/packet"
)

// synProbe sends a SYN from sport to dst and reports whether anything
// comes back (a SYN/ACK, or the challenge ACK of a server that still holds
// an old connection on the 4-tuple): whether the 4-tuple is open both ways.
func (r *rawHost) synProbe(dst netip.AddrPort, sport uint16, isn uint32) bool {
	c := &rawTCP{r: r, src: netip.AddrPortFrom(r.addr, sport), dst: dst, seq: isn, in: r.port(sport)}
	c.send(packet.SYN, nil)
	return len(c.collect(300*time.Millisecond)) > 0
}

// abort resets the server's side of c, whether or not its last n bytes
// reached the server (one of the two RSTs is exact).
func (c *rawTCP) abort(n int) {
	c.sendSeg(packet.TCPSegment{Seq: c.seq - uint32(n), Flags: packet.RST})
	c.sendSeg(packet.TCPSegment{Seq: c.seq, Flags: packet.RST})
	time.Sleep(20 * time.Millisecond)
}

// TestKZResidual: after the block page the 4-tuple stays dropped for 120 s,
// and every new packet on it restarts the timer; other source ports pass
// (WOOT 2021).
func TestKZResidual(t *testing.T) {
	t.Parallel()
	l := newLab(t, t2024, nil)
	r := l.raw(t, "kz-client-1")
	srv := netip.AddrPortFrom(l.site(t, "www.steppe-truth.org"), 80)
	c := r.dialRetry(t, srv)
	sport := c.src.Port()
	c.write(httpGet("www.steppe-truth.org", "/"))
	c.collect(100 * time.Millisecond)
	l.clk.Advance(15 * time.Second)
	if got := c.collect(300 * time.Millisecond); len(got) != 1 || got[0].flags() != packet.FIN|packet.PSH|packet.ACK {
		t.Fatalf("after the hold: %d packets, want the block page", len(got))
	}
	// The client acknowledged the block page at 15 s: the timer runs from
	// there, to 135 s unless restarted.
	steps := []struct {
		at   time.Duration // after the request
		open bool
	}{
		{115 * time.Second, false}, // restarts: to 235 s
		{230 * time.Second, false}, // past 135 s, so restarted; again to 350 s
		{349 * time.Second, false},
		{470 * time.Second, true}, // 121 s of silence
	}
	elapsed := 15 * time.Second
	for i, s := range steps {
		l.clk.Advance(s.at - elapsed)
		elapsed = s.at
		if open := r.synProbe(srv, sport, 7000000+uint32(i)*100000); open != s.open {
			t.Errorf("%v after the request: the 4-tuple open %v, want %v", s.at, open, s.open)
		}
		if i == 0 {
			if _, ok := r.dial(srv, 0, 2*time.Second); !ok {
				t.Error("another source port is blocked too: the block is wider than the 4-tuple")
			}
		}
	}
	if !hasAction(l.decisions("kz-http", sport), "residual", false) {
		t.Error("no kz-http residual decision")
	}
}

// TestTMDelayedBlock: the 4-tuple is armed by the triggering packet and
// blocked from 5-29 s after it: a new connection on the same 4-tuple 4.9 s
// later passes, one 29.1 s later has its data reset with TM's fingerprint
// (IP-ID 30000, window 0); other source ports pass (WWW 2023).
func TestTMDelayedBlock(t *testing.T) {
	t.Parallel()
	l := newLab(t, t2024, nil)
	r := l.raw(t, "tm-client-1")
	srv := echoServer(t, l, "us-vps-1", 8300)
	const n = 6
	ports := make([]uint16, n)
	for i := range n {
		c := r.dialRetry(t, srv)
		ports[i] = c.src.Port()
		req := httpGet("www.turkmen-chronicle.org", "/")
		c.write(req)
		c.collect(200 * time.Millisecond)
		if !hasAction(l.decisions("tm-http", ports[i]), "residual", false) {
			t.Fatalf("flow %d: no tm-http residual decision", i)
		}
		c.abort(len(req)) // the RST reached only the client: free the server's side
	}
	// probe reconnects from port and sends data: blocked is a reset by the
	// censor, open is the server's echo (one retry, for the link's loss).
	probe := func(port uint16) (blocked, open bool) {
		c, ok := r.dialTries(srv, port)
		if !ok {
			t.Errorf("no handshake from port %d", port) // called from goroutines: no Fatal
			return false, false
		}
		for range 2 {
			c.write([]byte("ping"))
			got := c.collect(400 * time.Millisecond)
			for _, p := range rsts(got) {
				if p.p.ID == 30000 && p.p.Window == 0 {
					blocked = true
				}
			}
			open = echoed(got, []byte("ping"))
			if blocked || open {
				break
			}
			c.seq -= 4
		}
		c.abort(4)
		return blocked, open
	}
	check := func(at time.Duration, wantBlocked bool) {
		var wg sync.WaitGroup
		for _, p := range ports {
			wg.Add(1)
			go func() {
				defer wg.Done()
				blocked, open := probe(p)
				if blocked != wantBlocked || open == wantBlocked {
					t.Errorf("port %d, %v after the trigger: reset %v, echoed %v; want blocked %v", p, at, blocked, open, wantBlocked)
				}
			}()
		}
		wg.Wait()
	}
	l.clk.Advance(4900 * time.Millisecond)
	check(4900*time.Millisecond, false)
	l.clk.Advance(24200 * time.Millisecond)
	check(29100*time.Millisecond, true)
	if blocked, _ := probe(0); blocked {
		t.Error("a fresh source port is blocked: the block is wider than the 4-tuple")
	}
}
