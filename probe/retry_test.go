package probe_test

import (
	"context"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/splinter-lab/splinter/probe"
)

// flakyNet loses the first dials that lose says to lose: a TCP connect then
// times out, a UDP socket swallows what is written to it.
type flakyNet struct {
	probe.Network
	mu   sync.Mutex
	seen map[string]int
	lose func(network, addr string, n int) bool
}

func (f *flakyNet) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	f.mu.Lock()
	if f.seen == nil {
		f.seen = map[string]int{}
	}
	f.seen[network+" "+addr]++
	n := f.seen[network+" "+addr]
	f.mu.Unlock()
	if !f.lose(network, addr, n) {
		return f.Network.DialContext(ctx, network, addr)
	}
	if network == "tcp" {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	c, err := f.Network.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	return blackhole{c}, nil
}

// blackhole is a UDP socket whose datagrams are lost on the way out.
type blackhole struct{ net.Conn }

func (b blackhole) Write(p []byte) (int, error) { return len(p), nil }

func siteAddrs(t *testing.T, l *testLab) []netip.Addr {
	t.Helper()
	plan, err := l.sc.Plan()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range plan.Sites {
		if s.Domain == target {
			return s.Addrs
		}
	}
	t.Fatalf("no site %s", target)
	return nil
}

// TestTransientConnectTimeout: every connect to the site's port 80 times
// out once; tried again, they go through, and the site is accessible, not
// tcp_ip.
func TestTransientConnectTimeout(t *testing.T) {
	t.Parallel()
	l := startLab(t, "")
	sites := siteAddrs(t, l)
	fn := &flakyNet{Network: l.World().Host("xx-client-1"), lose: func(network, addr string, n int) bool {
		for _, a := range sites {
			if network == "tcp" && addr == netip.AddrPortFrom(a, 80).String() {
				return n == 1
			}
		}
		return false
	}}
	p := probe.New(fn, l.p.Config())
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	tk := p.WebConnectivity(ctx, "http://"+target+"/", "test").TestKeys
	if tk.Verdict != probe.Accessible {
		t.Errorf("verdict %s (%s), want accessible", tk.Verdict, tk.VerdictReason)
	}
	for _, c := range tk.TCPConnect {
		if !c.Retried || !c.Status.Success {
			t.Errorf("tcp_connect %v: retried %v success %v", c.IP, c.Retried, c.Status.Success)
		}
	}
}

// TestTransientDNSTimeout: the first queries to the vantage's resolver are
// lost; asked again, they are answered, and the site is accessible, not
// dns.
func TestTransientDNSTimeout(t *testing.T) {
	t.Parallel()
	l := startLab(t, "")
	resolver := netip.AddrPortFrom(l.p.Config().Vantage.Resolver, 53).String()
	fn := &flakyNet{Network: l.World().Host("xx-client-1"), lose: func(network, addr string, n int) bool {
		return network == "udp" && addr == resolver && n <= 2
	}}
	p := probe.New(fn, l.p.Config())
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	tk := p.WebConnectivity(ctx, "http://"+target+"/", "test").TestKeys
	if tk.Verdict != probe.Accessible {
		t.Errorf("verdict %s (%s), want accessible", tk.Verdict, tk.VerdictReason)
	}
	for _, q := range tk.Queries[:2] {
		if !q.Retried || q.Failure != nil {
			t.Errorf("query %s: retried %v failure %s", q.QueryType, q.Retried, deref(q.Failure))
		}
	}
}
