package nameserver

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
	"go.uber.org/goleak"

	"github.com/splinter-lab/splinter/clock"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var (
	rootAddr    = netip.MustParseAddr("198.41.0.4")
	tldAddr     = netip.MustParseAddr("192.5.6.30")
	exampleAddr = netip.MustParseAddr("10.0.0.53")
	exampleV6   = netip.MustParseAddr("2001:db8:53::53")
	wwwV4       = netip.MustParseAddr("192.0.2.10")
	wwwV6       = netip.MustParseAddr("2001:db8::10")
	otherV4     = netip.MustParseAddr("192.0.2.20")
)

// bigTXT is larger than a 1232-byte UDP answer.
var bigTXT = strings.Repeat("x", 250)

// hierarchy is root → com/org → example.com, other.org (glueless: its name
// server is in example.com).
func hierarchy() (root, com, org, example, other *Zone) {
	root = &Zone{
		Origin:      ".",
		NameServers: []NameServer{{Name: "a.root-servers.test.", Addrs: []netip.Addr{rootAddr}}},
		Delegations: []Delegation{
			{Name: "com.", NameServers: []NameServer{{Name: "a.gtld-servers.com.", Addrs: []netip.Addr{tldAddr}}}},
			{Name: "org.", NameServers: []NameServer{{Name: "a.gtld-servers.com.", Addrs: []netip.Addr{tldAddr}}}},
		},
	}
	com = &Zone{
		Origin:      "com.",
		NameServers: []NameServer{{Name: "a.gtld-servers.com.", Addrs: []netip.Addr{tldAddr}}},
		Delegations: []Delegation{
			{Name: "example.com.", NameServers: []NameServer{{Name: "ns1.example.com.", Addrs: []netip.Addr{exampleAddr, exampleV6}}}},
		},
	}
	org = &Zone{
		Origin:      "org.",
		NameServers: []NameServer{{Name: "a.gtld-servers.com."}},
		Delegations: []Delegation{
			{Name: "other.org.", NameServers: []NameServer{{Name: "ns1.example.com."}}},
		},
	}
	example = &Zone{
		Origin:      "example.com.",
		TTL:         60,
		NegativeTTL: 30,
		NameServers: []NameServer{{Name: "ns1.example.com.", Addrs: []netip.Addr{exampleAddr, exampleV6}}},
	}
	example.AddAddr("www.example.com.", wwwV4, wwwV6)
	example.AddCNAME("alias.example.com.", "www.example.com.")
	example.AddCNAME("ext.example.com.", "www.other.org.")
	example.AddCNAME("dangling.example.com.", "gone.example.com.")
	example.AddAddr("a.b.example.com.", wwwV4)
	example.AddTXT("big.example.com.", bigTXT, bigTXT, bigTXT, bigTXT, bigTXT, bigTXT)
	other = &Zone{
		Origin:      "other.org.",
		NameServers: []NameServer{{Name: "ns1.example.com."}},
	}
	other.AddAddr("www.other.org", otherV4)
	return
}

func mustAuth(t *testing.T, zones ...*Zone) *Authoritative {
	t.Helper()
	a, err := NewAuthoritative(zones...)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func query(name string, qtype uint16) *dns.Msg {
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	return m
}

func TestAuthoritativeAnswer(t *testing.T) {
	root, com, org, example, other := hierarchy()
	tld := mustAuth(t, com, org)
	site := mustAuth(t, example, other)
	rootSrv := mustAuth(t, root)
	tests := []struct {
		name       string
		server     *Authoritative
		qname      string
		qtype      uint16
		rcode      int
		aa         bool
		answer     int // records in the answer section
		nsType     uint16
		extra      int
		answerType uint16
	}{
		{name: "A", server: site, qname: "www.example.com.", qtype: dns.TypeA, aa: true, answer: 1, answerType: dns.TypeA},
		{name: "AAAA, mixed case", server: site, qname: "WWW.Example.com.", qtype: dns.TypeAAAA, aa: true, answer: 1, answerType: dns.TypeAAAA},
		{name: "CNAME chased in zone", server: site, qname: "alias.example.com.", qtype: dns.TypeA, aa: true, answer: 2, answerType: dns.TypeCNAME},
		{name: "CNAME to another served zone", server: site, qname: "ext.example.com.", qtype: dns.TypeA, aa: true, answer: 2, answerType: dns.TypeCNAME},
		{name: "CNAME to nothing", server: site, qname: "dangling.example.com.", qtype: dns.TypeA, rcode: dns.RcodeNameError, aa: true, answer: 1, nsType: dns.TypeSOA},
		{name: "NXDOMAIN", server: site, qname: "nope.example.com.", qtype: dns.TypeA, rcode: dns.RcodeNameError, aa: true, nsType: dns.TypeSOA},
		{name: "NODATA", server: site, qname: "www.example.com.", qtype: dns.TypeMX, aa: true, nsType: dns.TypeSOA},
		{name: "empty non-terminal", server: site, qname: "b.example.com.", qtype: dns.TypeA, aa: true, nsType: dns.TypeSOA},
		{name: "unknown type", server: site, qname: "www.example.com.", qtype: 65280, aa: true, nsType: dns.TypeSOA},
		{name: "ANY", server: site, qname: "www.example.com.", qtype: dns.TypeANY, aa: true, answer: 2},
		{name: "apex NS with addresses", server: site, qname: "example.com.", qtype: dns.TypeNS, aa: true, answer: 1, answerType: dns.TypeNS, extra: 2},
		{name: "referral", server: tld, qname: "www.example.com.", qtype: dns.TypeA, nsType: dns.TypeNS, extra: 2},
		{name: "referral at the cut", server: tld, qname: "example.com.", qtype: dns.TypeNS, nsType: dns.TypeNS, extra: 2},
		{name: "glueless referral", server: tld, qname: "www.other.org.", qtype: dns.TypeA, nsType: dns.TypeNS},
		{name: "root referral", server: rootSrv, qname: "www.example.com.", qtype: dns.TypeA, nsType: dns.TypeNS, extra: 1},
		{name: "root SOA", server: rootSrv, qname: ".", qtype: dns.TypeSOA, aa: true, answer: 1, answerType: dns.TypeSOA},
		{name: "not our zone", server: site, qname: "www.example.net.", qtype: dns.TypeA, rcode: dns.RcodeRefused},
		{name: "AXFR", server: site, qname: "example.com.", qtype: dns.TypeAXFR, rcode: dns.RcodeRefused},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := tt.server.Answer(query(tt.qname, tt.qtype))
			if resp.Rcode != tt.rcode || resp.Authoritative != tt.aa || len(resp.Answer) != tt.answer || len(resp.Extra) != tt.extra {
				t.Fatalf("got rcode %s aa %v answer %d extra %d, want %s %v %d %d\n%v",
					dns.RcodeToString[resp.Rcode], resp.Authoritative, len(resp.Answer), len(resp.Extra),
					dns.RcodeToString[tt.rcode], tt.aa, tt.answer, tt.extra, resp)
			}
			if tt.answerType != 0 && resp.Answer[0].Header().Rrtype != tt.answerType {
				t.Errorf("answer[0] = %v", resp.Answer[0])
			}
			if tt.nsType != 0 && (len(resp.Ns) == 0 || resp.Ns[0].Header().Rrtype != tt.nsType) {
				t.Errorf("authority = %v, want %s", resp.Ns, dns.TypeToString[tt.nsType])
			}
			if tt.nsType == dns.TypeSOA && resp.Ns[0].Header().Ttl != 30 {
				t.Errorf("negative SOA TTL = %d, want the zone's negative TTL 30", resp.Ns[0].Header().Ttl)
			}
		})
	}
}

func TestZoneValidate(t *testing.T) {
	tests := []struct {
		name string
		zone Zone
		want string
	}{
		{name: "no origin", zone: Zone{NameServers: []NameServer{{Name: "ns.x."}}}, want: "no origin"},
		{name: "no name servers", zone: Zone{Origin: "x."}, want: "no name servers"},
		{name: "glue missing", zone: Zone{Origin: "x.", NameServers: []NameServer{{Name: "ns.x."}}}, want: "has no addresses"},
		{name: "out of zone", zone: Zone{Origin: "x.", NameServers: []NameServer{{Name: "ns.y."}},
			Records: []dns.RR{&dns.A{Hdr: dns.RR_Header{Name: "a.y.", Rrtype: dns.TypeA}}}}, want: "outside the zone"},
		{name: "delegation outside", zone: Zone{Origin: "x.", NameServers: []NameServer{{Name: "ns.y."}},
			Delegations: []Delegation{{Name: "z.", NameServers: []NameServer{{Name: "ns.y."}}}}}, want: "not below the zone"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.zone.Validate()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Validate() = %v, want an error containing %q", err, tt.want)
			}
		})
	}
	root, com, org, example, other := hierarchy()
	for _, z := range []*Zone{root, com, org, example, other} {
		if err := z.Validate(); err != nil {
			t.Errorf("zone %s: %v", z.Origin, err)
		}
	}
}

// world runs authoritative servers on loopback and maps the world's server
// addresses (port 53) onto them.
type world struct {
	t      *testing.T
	mu     sync.Mutex
	routes map[string]string // "udp 198.41.0.4:53" → "127.0.0.1:40000"
	counts map[netip.Addr]*counter
}

type counter struct{ udp, tcp atomic.Int64 }

func (c *counter) total() int64 { return c.udp.Load() + c.tcp.Load() }

type countingHandler struct {
	dns.Handler
	c *counter
}

func (h countingHandler) ServeDNS(w dns.ResponseWriter, m *dns.Msg) {
	if isUDP(w) {
		h.c.udp.Add(1)
	} else {
		h.c.tcp.Add(1)
	}
	h.Handler.ServeDNS(w, m)
}

func newWorld(t *testing.T) *world {
	return &world{t: t, routes: map[string]string{}, counts: map[netip.Addr]*counter{}}
}

// serve runs h at the world address addr:53.
func (w *world) serve(addr netip.Addr, h dns.Handler) *counter {
	w.t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		w.t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		w.t.Fatal(err)
	}
	c := &counter{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, countingHandler{h, c}, pc, ln) }()
	w.t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			w.t.Error(err)
		}
	})
	w.mu.Lock()
	defer w.mu.Unlock()
	ap := netip.AddrPortFrom(addr, 53).String()
	w.routes["udp "+ap] = pc.LocalAddr().String()
	w.routes["tcp "+ap] = ln.Addr().String()
	w.counts[addr] = c
	return c
}

func (w *world) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	w.mu.Lock()
	real, ok := w.routes[network+" "+address]
	w.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("no route to %s %s", network, address)
	}
	var d net.Dialer
	return d.DialContext(ctx, network, real)
}

func (w *world) total() int64 {
	var n int64
	for _, c := range w.counts {
		n += c.total()
	}
	return n
}

// startHierarchy serves the test hierarchy and returns a resolver using it.
func startHierarchy(t *testing.T) (*world, *Resolver, *clock.Manual) {
	root, com, org, example, other := hierarchy()
	w := newWorld(t)
	w.serve(rootAddr, mustAuth(t, root))
	w.serve(tldAddr, mustAuth(t, com, org))
	w.serve(exampleAddr, mustAuth(t, example, other))
	clk := clock.NewManual(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	r := &Resolver{Dialer: w, Roots: []netip.Addr{rootAddr}, Clock: clk, Timeout: time.Second}
	return w, r, clk
}

func TestResolver(t *testing.T) {
	_, r, _ := startHierarchy(t)
	tests := []struct {
		name  string
		qname string
		qtype uint16
		rcode int
		addrs []netip.Addr
		chain int // CNAME records before the addresses
	}{
		{name: "A", qname: "www.example.com", qtype: dns.TypeA, addrs: []netip.Addr{wwwV4}},
		{name: "AAAA", qname: "www.example.com.", qtype: dns.TypeAAAA, addrs: []netip.Addr{wwwV6}},
		{name: "CNAME", qname: "alias.example.com.", qtype: dns.TypeA, addrs: []netip.Addr{wwwV4}, chain: 1},
		{name: "CNAME across zones, glueless", qname: "ext.example.com.", qtype: dns.TypeA, addrs: []netip.Addr{otherV4}, chain: 1},
		{name: "glueless", qname: "www.other.org.", qtype: dns.TypeA, addrs: []netip.Addr{otherV4}},
		{name: "NXDOMAIN", qname: "nope.example.com.", qtype: dns.TypeA, rcode: dns.RcodeNameError},
		{name: "NXDOMAIN in TLD", qname: "nope.com.", qtype: dns.TypeA, rcode: dns.RcodeNameError},
		{name: "NODATA", qname: "www.example.com.", qtype: dns.TypeMX},
		{name: "NXDOMAIN at a CNAME target", qname: "dangling.example.com.", qtype: dns.TypeA, rcode: dns.RcodeNameError, chain: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, pass := range []string{"cold", "cached"} {
				resp, err := r.Resolve(context.Background(), tt.qname, tt.qtype)
				if err != nil {
					t.Fatalf("%s: %v", pass, err)
				}
				if resp.Rcode != tt.rcode {
					t.Fatalf("%s: rcode %s, want %s", pass, dns.RcodeToString[resp.Rcode], dns.RcodeToString[tt.rcode])
				}
				got := answerAddrs(dns.Fqdn(tt.qname), tt.qtype, resp.Answer)
				if fmt.Sprint(got) != fmt.Sprint(tt.addrs) {
					t.Errorf("%s: addresses %v, want %v", pass, got, tt.addrs)
				}
				if len(resp.Answer) != len(tt.addrs)+tt.chain {
					t.Errorf("%s: answer %v", pass, resp.Answer)
				}
				if len(tt.addrs) == 0 && (len(resp.Ns) != 1 || resp.Ns[0].Header().Rrtype != dns.TypeSOA) {
					t.Errorf("%s: negative answer without SOA: %v", pass, resp)
				}
			}
		})
	}
}

func TestResolverCacheAndTTL(t *testing.T) {
	w, r, clk := startHierarchy(t)
	ctx := context.Background()
	resolve := func(name string, qtype uint16) *dns.Msg {
		t.Helper()
		m, err := r.Resolve(ctx, name, qtype)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	resolve("www.example.com.", dns.TypeA)
	if n := w.total(); n != 3 {
		t.Errorf("cold resolution: %d upstream queries, want 3 (root, com, example.com)", n)
	}
	clk.Advance(10 * time.Second)
	m := resolve("www.example.com.", dns.TypeA)
	if n := w.total(); n != 3 {
		t.Errorf("cache hit still asked upstream: %d queries", n)
	}
	if ttl := m.Answer[0].Header().Ttl; ttl != 50 {
		t.Errorf("cached TTL = %d, want 60-10 = 50", ttl)
	}
	// Another name in a known zone goes straight to its server.
	resolve("alias.example.com.", dns.TypeA)
	if n := w.counts[exampleAddr].total(); n != 2 {
		t.Errorf("example.com server got %d queries, want 2", n)
	}
	if n := w.counts[rootAddr].total(); n != 1 {
		t.Errorf("root got %d queries, want 1 (delegations are cached)", n)
	}
	// Expiry: the answer's TTL is 60 s (refreshed by the CNAME answer above,
	// which carried it too).
	clk.Advance(61 * time.Second)
	resolve("www.example.com.", dns.TypeA)
	if n := w.counts[exampleAddr].total(); n != 3 {
		t.Errorf("after expiry, example.com server got %d queries, want 3", n)
	}
	// Negative caching for the zone's negative TTL (30 s).
	resolve("nope.example.com.", dns.TypeA)
	resolve("nope.example.com.", dns.TypeAAAA) // NXDOMAIN covers every type
	if n := w.counts[exampleAddr].total(); n != 4 {
		t.Errorf("negative answer not cached: example.com server got %d queries, want 4", n)
	}
	clk.Advance(31 * time.Second)
	resolve("nope.example.com.", dns.TypeA)
	if n := w.counts[exampleAddr].total(); n != 5 {
		t.Errorf("negative answer outlived its TTL: example.com server got %d queries, want 5", n)
	}
}

func TestResolverTruncatedRetriesOverTCP(t *testing.T) {
	w, r, _ := startHierarchy(t)
	m, err := r.Resolve(context.Background(), "big.example.com.", dns.TypeTXT)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Answer) != 1 || strings.Join(m.Answer[0].(*dns.TXT).Txt, "") != strings.Repeat(bigTXT, 6) {
		t.Fatalf("answer = %v", m.Answer)
	}
	c := w.counts[exampleAddr]
	if c.udp.Load() != 1 || c.tcp.Load() != 1 {
		t.Errorf("example.com server: %d UDP, %d TCP queries, want 1 and 1", c.udp.Load(), c.tcp.Load())
	}
}

func TestResolverLocalRoot(t *testing.T) {
	root, com, org, example, other := hierarchy()
	w := newWorld(t)
	// The root servers are unreachable: no route to them.
	w.serve(tldAddr, mustAuth(t, com, org))
	w.serve(exampleAddr, mustAuth(t, example, other))
	r := &Resolver{Dialer: w, Roots: []netip.Addr{rootAddr}, LocalRoot: root, Timeout: time.Second}
	for _, name := range []string{"www.example.com.", "www.other.org."} {
		m, err := r.Resolve(context.Background(), name, dns.TypeA)
		if err != nil {
			t.Fatal(err)
		}
		if len(answerAddrs(name, dns.TypeA, m.Answer)) != 1 {
			t.Errorf("%s: %v", name, m)
		}
	}
	m, err := r.Resolve(context.Background(), "nope.", dns.TypeA)
	if err != nil || m.Rcode != dns.RcodeNameError {
		t.Errorf("nope.: %v %v", m, err)
	}
	// Without the local root the same resolver fails.
	r2 := &Resolver{Dialer: w, Roots: []netip.Addr{rootAddr}, Timeout: time.Second}
	if _, err := r2.Resolve(context.Background(), "www.example.com.", dns.TypeA); err == nil {
		t.Error("resolved with no root reachable and no local root")
	}
}

// racer answers each UDP query with a datagram of another ID, a forged
// answer, then the genuine one.
func racer(t *testing.T, genuine, forged netip.Addr) (*world, func()) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		buf := make([]byte, 4096)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			q := new(dns.Msg)
			if q.Unpack(buf[:n]) != nil {
				continue
			}
			reply := func(id uint16, a netip.Addr, qname string) {
				m := new(dns.Msg)
				m.SetReply(q)
				m.Id = id
				m.Question[0].Name = qname
				m.Answer = []dns.RR{addrRR(q.Question[0].Name, 300, a)}
				b, _ := m.Pack()
				_, _ = pc.WriteTo(b, from)
			}
			_, _ = pc.WriteTo([]byte("junk"), from)
			reply(q.Id+1, forged, q.Question[0].Name)        // wrong ID
			reply(q.Id, forged, "other."+q.Question[0].Name) // wrong question
			reply(q.Id, forged, q.Question[0].Name)          // first matching: wins
			reply(q.Id, genuine, q.Question[0].Name)
		}
	})
	w := newWorld(t)
	w.routes["udp "+netip.AddrPortFrom(rootAddr, 53).String()] = pc.LocalAddr().String()
	return w, func() { pc.Close(); wg.Wait() }
}

func TestFirstAnswerWins(t *testing.T) {
	forged := netip.MustParseAddr("10.10.34.34")
	w, stop := racer(t, wwwV4, forged)
	defer stop()
	server := netip.AddrPortFrom(rootAddr, 53)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()

	addrs, _, err := Lookup(ctx, w, server, "www.example.com", dns.TypeA)
	if err != nil {
		t.Fatal(err)
	}
	if len(addrs) != 1 || addrs[0] != forged {
		t.Errorf("Lookup = %v, want the first matching answer %v", addrs, forged)
	}

	r := &Resolver{Dialer: w, Roots: []netip.Addr{rootAddr}, Timeout: time.Second}
	m, err := r.Resolve(ctx, "www.example.com.", dns.TypeA)
	if err != nil {
		t.Fatal(err)
	}
	if got := answerAddrs("www.example.com.", dns.TypeA, m.Answer); len(got) != 1 || got[0] != forged {
		t.Errorf("Resolver = %v, want the first matching answer %v", got, forged)
	}
}

func TestServeResolverOverLoopback(t *testing.T) {
	w, r, _ := startHierarchy(t)
	resolverAddr := netip.MustParseAddr("10.1.1.1")
	w.serve(resolverAddr, r)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	server := netip.AddrPortFrom(resolverAddr, 53)
	addrs, m, err := Lookup(ctx, w, server, "alias.example.com", dns.TypeAAAA)
	if err != nil {
		t.Fatal(err)
	}
	if len(addrs) != 1 || addrs[0] != wwwV6 || !m.RecursionAvailable {
		t.Errorf("Lookup = %v, %v", addrs, m)
	}
	_, m, err = Lookup(ctx, w, server, "nope.example.com", dns.TypeA)
	if rc, ok := err.(*RcodeError); !ok || rc.Rcode != dns.RcodeNameError || m == nil {
		t.Errorf("NXDOMAIN lookup: %v", err)
	}
	// Through the resolver, the big TXT comes truncated over UDP, whole over TCP.
	_, m, err = Lookup(ctx, w, server, "big.example.com", dns.TypeTXT)
	if err != nil || len(m.Answer) != 1 {
		t.Errorf("big TXT through the resolver: %v %v", m, err)
	}
}

func TestAuthoritativeTruncation(t *testing.T) {
	_, _, _, example, _ := hierarchy()
	w := newWorld(t)
	w.serve(exampleAddr, mustAuth(t, example))
	server := netip.AddrPortFrom(exampleAddr, 53)
	ctx := context.Background()
	for _, tt := range []struct {
		name    string
		network string
		edns    uint16
		tc      bool
	}{
		{name: "UDP without EDNS", network: "udp", tc: true},
		{name: "UDP with EDNS 4096 (capped to 1232)", network: "udp", edns: 4096, tc: true},
		{name: "TCP", network: "tcp"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			q := query("big.example.com.", dns.TypeTXT)
			if tt.edns != 0 {
				q.SetEdns0(tt.edns, true)
			}
			m, err := Exchange(ctx, w, tt.network, server, q)
			if err != nil {
				t.Fatal(err)
			}
			if m.Truncated != tt.tc {
				t.Errorf("TC = %v, want %v", m.Truncated, tt.tc)
			}
			if tt.edns != 0 {
				opt := m.IsEdns0()
				if opt == nil || !opt.Do() || opt.UDPSize() != maxUDPSize {
					t.Errorf("OPT = %v", opt)
				}
			}
		})
	}
}

func TestServeNeedsSomething(t *testing.T) {
	if err := Serve(context.Background(), dns.HandlerFunc(func(dns.ResponseWriter, *dns.Msg) {}), nil, nil); err == nil {
		t.Error("Serve(nil, nil) succeeded")
	}
}

// TestAuthoritativeWhoami: a Whoami name is answered with the address of
// whoever asks (over a real socket: the loopback address), with TTL 0, for
// the asker's family only; without an asker it exists but holds nothing; a
// Whoami name outside the zone is an error.
func TestAuthoritativeWhoami(t *testing.T) {
	_, _, _, example, _ := hierarchy()
	example.Whoami = []string{"whoami.example.com"}
	auth := mustAuth(t, example)
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, auth, pc, nil) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	c := &dns.Client{Net: "udp", Timeout: 5 * time.Second}
	for _, tc := range []struct {
		qtype  uint16
		answer string
	}{{dns.TypeA, "127.0.0.1"}, {dns.TypeAAAA, ""}, {dns.TypeTXT, ""}} {
		resp, _, err := c.Exchange(query("whoami.example.com.", tc.qtype), pc.LocalAddr().String())
		if err != nil {
			t.Fatal(err)
		}
		got := ""
		if len(resp.Answer) == 1 {
			if a, ok := resp.Answer[0].(*dns.A); ok && resp.Answer[0].Header().Ttl == 0 {
				got = a.A.String()
			}
		}
		if resp.Rcode != dns.RcodeSuccess || got != tc.answer || len(resp.Answer) > 1 {
			t.Errorf("%s: rcode %d answer %v, want %q", dns.TypeToString[tc.qtype], resp.Rcode, resp.Answer, tc.answer)
		}
	}
	if resp := auth.Answer(query("whoami.example.com.", dns.TypeA)); resp.Rcode != dns.RcodeSuccess || len(resp.Answer) != 0 {
		t.Errorf("no asker: rcode %d answer %v, want NODATA", resp.Rcode, resp.Answer)
	}
	bad := &Zone{Origin: "example.com.", NameServers: []NameServer{{Name: "ns1.example.com.", Addrs: []netip.Addr{exampleAddr}}}, Whoami: []string{"whoami.example.net."}}
	if err := bad.Validate(); err == nil || !strings.Contains(err.Error(), "whoami") {
		t.Errorf("a whoami name outside the zone: %v", err)
	}
}
