package probe_test

import (
	"context"
	"encoding/json"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/splinter-lab/splinter/clock"
	"github.com/splinter-lab/splinter/probe"
	"github.com/splinter-lab/splinter/score"
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

// refusingNet refuses the first TCP dials to one address at once (a
// helper that is not there yet).
type refusingNet struct {
	probe.Network
	addr   string
	refuse int
	mu     sync.Mutex
	n      int
}

func (r *refusingNet) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	r.mu.Lock()
	if addr == r.addr {
		r.n++
	}
	refused := addr == r.addr && r.n <= r.refuse
	r.mu.Unlock()
	if refused {
		return nil, &net.OpError{Op: "dial", Net: network, Err: syscall.ECONNREFUSED}
	}
	return r.Network.DialContext(ctx, network, addr)
}

// fastRetry keeps the retry path's tests short: short timeouts for the
// steps the tests lose (lookups, connects) and short pauses, no throughput
// test.
func fastRetry(c *probe.Config) {
	c.DNSTimeout, c.ConnectTimeout = 300*time.Millisecond, 300*time.Millisecond
	c.ConnectRetryPause, c.RetryPause = 50*time.Millisecond, 100*time.Millisecond
	c.ThroughputBytes = -1
}

// retried checks that a measurement was made twice, the first attempt
// with verdict first resting on timeout basis, and that it was reported
// as want, resting on no timeout; and that the decisions of the borders
// (none) agree with the report.
func retried(t *testing.T, l *testLab, m *probe.Measurement, first probe.Verdict, basis probe.TimeoutBasis, want probe.Verdict) {
	t.Helper()
	tk := m.TestKeys
	if tk.Verdict != want || tk.Timeout != "" {
		t.Errorf("verdict %s (%s), x_timeout %q; want %s on no timeout", tk.Verdict, tk.VerdictReason, tk.Timeout, want)
	}
	if len(tk.Attempts) != 1 {
		t.Fatalf("x_attempts = %+v, want one earlier attempt", tk.Attempts)
	}
	a := tk.Attempts[0]
	if a.Verdict != first || a.Timeout != basis || a.Pause <= 0 || a.Runtime <= 0 || !a.Start.Before(tk.Start) {
		t.Errorf("first attempt %+v: want verdict %s on %s, a pause, before the second (%v)", a, first, basis, tk.Start)
	}
	line, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if err := ValidateOONI(line); err != nil {
		t.Errorf("OONI format: %v", err)
	}
	if !strings.Contains(string(line), `"x_attempts":[{"start":`) {
		t.Errorf("x_attempts not in the measurement's JSON")
	}
	res := score.Score([]*probe.Measurement{m}, l.Log().Decisions())
	if res.Items[0].Truth != want {
		t.Errorf("truth %s, want %s", res.Items[0].Truth, want)
	}
}

// TestRetryDNSTimeout: every query of the first attempt to the vantage's
// resolver is lost, its second try included: the lookup times out while
// the control resolves, a dns verdict resting on a timeout. Measured again
// after a pause, the queries are answered and the site is accessible; the
// test keys say what the first attempt saw.
func TestRetryDNSTimeout(t *testing.T) {
	t.Parallel()
	l := startLab(t, "")
	resolver := netip.AddrPortFrom(l.p.Config().Vantage.Resolver, 53).String()
	fn := &flakyNet{Network: l.World().Host("xx-client-1"), lose: func(network, addr string, n int) bool {
		return network == "udp" && addr == resolver && n <= 4
	}}
	cfg := l.p.Config()
	fastRetry(&cfg)
	p := probe.New(fn, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	m := p.WebConnectivity(ctx, "http://"+target+"/", "test")
	retried(t, l, m, probe.DNS, probe.TimeoutDNS, probe.Accessible)
}

// TestRetryConnectTimeout: the connects of the first attempt time out, and
// so does their second try within it: tcp_ip resting on a timeout.
// Measured again, they go through.
func TestRetryConnectTimeout(t *testing.T) {
	t.Parallel()
	l := startLab(t, "")
	sites := siteAddrs(t, l)
	fn := &flakyNet{Network: l.World().Host("xx-client-1"), lose: func(network, addr string, n int) bool {
		for _, a := range sites {
			if network == "tcp" && addr == netip.AddrPortFrom(a, 80).String() {
				return n <= 2
			}
		}
		return false
	}}
	cfg := l.p.Config()
	fastRetry(&cfg)
	p := probe.New(fn, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	m := p.WebConnectivity(ctx, "http://"+target+"/", "test")
	retried(t, l, m, probe.TCPIP, probe.TimeoutTCPConnect, probe.Accessible)
}

// TestRetryControlFailure: the first request to the test helper fails:
// no control, unknown. Measured again, the helper answers.
func TestRetryControlFailure(t *testing.T) {
	t.Parallel()
	l := startLab(t, "")
	vantage := l.World().Host("xx-client-1")
	cfg := l.p.Config()
	fastRetry(&cfg)
	cfg.Control = probe.NewControlClient(&refusingNet{Network: vantage, addr: l.ControlAddr().String(), refuse: 1}, l.ControlAddr())
	p := probe.New(vantage, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	m := p.WebConnectivity(ctx, "http://"+target+"/", "test")
	retried(t, l, m, probe.Unknown, probe.TimeoutControl, probe.Accessible)
}

// TestRetryKeepsCensorship: a censor that drops a site's packets does it
// again: the tcp_ip verdict is measured twice, reported, and still rests
// on its timeout. With retries off it is reported at once.
func TestRetryKeepsCensorship(t *testing.T) {
	t.Parallel()
	g := goldens[slices.IndexFunc(goldens, func(g golden) bool { return g.name == "tcp_ip" })]
	for _, retries := range []int{0, -1} {
		l := startLab(t, policyFor(t, g), fastRetry, func(c *probe.Config) { c.Retries = retries })
		ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
		m := l.p.WebConnectivity(ctx, inputFor(t, g), "test")
		cancel()
		tk := m.TestKeys
		want := 1
		if retries < 0 {
			want = 0
		}
		if tk.Verdict != probe.TCPIP || tk.Timeout != probe.TimeoutTCPConnect || len(tk.Attempts) != want {
			t.Errorf("retries %d: verdict %s, x_timeout %q, %d earlier attempts; want tcp_ip on tcp_connect, %d", retries, tk.Verdict, tk.Timeout, len(tk.Attempts), want)
		}
		if want == 1 && tk.Attempts[0].Verdict != probe.TCPIP {
			t.Errorf("first attempt %+v", tk.Attempts[0])
		}
		res := score.Score([]*probe.Measurement{m}, l.Log().Decisions())
		if res.Items[0].Truth != probe.TCPIP {
			t.Errorf("truth %s", res.Items[0].Truth)
		}
	}
}

// TestThroughputCannotJudge: a site a censor throttles by SNI, measured
// where every download, the baselines beside them included, runs under the
// threshold (here a threshold no path reaches, as a path or a machine too
// slow for the test has): the test cannot tell throttling from slowness.
// It is measured again and then reported unknown, "cannot judge
// throttling", resting on the throughput test: never accessible.
func TestThroughputCannotJudge(t *testing.T) {
	if testing.Short() {
		t.Skip("waits out slow downloads (22 s under the race detector): skipped in -short")
	}
	t.Parallel()
	g := goldens[slices.IndexFunc(goldens, func(g golden) bool { return g.name == "throttled" })]
	l := startLab(t, policyFor(t, g), func(c *probe.Config) {
		c.ThrottledBelow = 1e12 // 1 Tbit/s
		c.RetryPause = 100 * time.Millisecond
	})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	m := l.p.WebConnectivity(ctx, inputFor(t, g), "test")
	tk := m.TestKeys
	if tk.Verdict != probe.Unknown || tk.Accessible != nil || tk.Blocking != probe.BlockingUnknown || !strings.HasPrefix(tk.VerdictReason, "cannot judge throttling") {
		t.Errorf("verdict %s, accessible %v, blocking %v (%s); want unknown, null, null, cannot judge throttling", tk.Verdict, tk.Accessible, tk.Blocking, tk.VerdictReason)
	}
	if tk.Timeout != probe.TimeoutThroughput || len(tk.Attempts) != 1 || tk.Attempts[0].Timeout != probe.TimeoutThroughput {
		t.Errorf("x_timeout %q, x_attempts %+v: want throughput, one earlier attempt on it", tk.Timeout, tk.Attempts)
	}
	if th := tk.Throughput; th == nil || !th.Inconclusive || th.Throttled || len(th.Baselines) == 0 {
		t.Errorf("x_throughput %+v: want inconclusive after baselines", th)
	}
	line, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if err := ValidateOONI(line); err != nil {
		t.Errorf("OONI format: %v", err)
	}
	if res := score.Score([]*probe.Measurement{m}, l.Log().Decisions()); res.Items[0].Truth != probe.Throttled {
		t.Errorf("truth %s, want throttled", res.Items[0].Truth)
	}
}

// TestRetryStopsWhenConfirmed: on a quiet machine a prober stops measuring
// again for a timeout its retries have confirmed ConfirmedRetries times
// (a censor that drops a site's packets does it every time); on a busy one
// (its pacer's factor at QuietFactor or above) it measures every such
// verdict again. The verdict is tcp_ip on its timeout either way.
func TestRetryStopsWhenConfirmed(t *testing.T) {
	if testing.Short() {
		t.Skip("waits out repeated timeouts (24 s under the race detector): skipped in -short")
	}
	t.Parallel()
	g := goldens[slices.IndexFunc(goldens, func(g golden) bool { return g.name == "tcp_ip" })]
	clk := clock.NewManual(t0)
	busy := probe.NewPacer(probe.PacerConfig{Clock: clk, MaxFactor: 2})
	for range 10 {
		busy.ObserveDelay(time.Second)
	}
	clk.Advance(time.Second)
	if f := busy.Factor(); f < probe.QuietFactor {
		t.Fatalf("busy pacer's factor %.2f", f)
	}
	for _, c := range []struct {
		name  string
		pacer *probe.Pacer
		want  []int // earlier attempts of each measurement, in order
	}{
		{"quiet", nil, []int{1, 1, 1, 1, 0}},
		{"busy", busy, []int{1, 1, 1, 1, 1}},
	} {
		l := startLab(t, policyFor(t, g), fastRetry, func(cfg *probe.Config) {
			cfg.Pacer = c.pacer
			cfg.HandshakeTimeout, cfg.HTTPTimeout, cfg.QUIC = 300*time.Millisecond, 300*time.Millisecond, new(bool)
		})
		var got []int
		for range c.want {
			ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
			m := l.p.WebConnectivity(ctx, inputFor(t, g), "test")
			cancel()
			tk := m.TestKeys
			if tk.Verdict != probe.TCPIP || tk.Timeout != probe.TimeoutTCPConnect {
				t.Errorf("%s: verdict %s on %q, want tcp_ip on tcp_connect", c.name, tk.Verdict, tk.Timeout)
			}
			got = append(got, len(tk.Attempts))
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("%s: earlier attempts %v, want %v", c.name, got, c.want)
		}
	}
}
