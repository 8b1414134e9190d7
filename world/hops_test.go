package world_test

import (
	"context"
	"io"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/splinter-lab/splinter/packet"
	"github.com/splinter-lab/splinter/scenario"
	"github.com/splinter-lab/splinter/world"
)

// hopsScenario hides routers in every kind of link: the backbone, both
// jurisdictions' uplinks, the networks' uplinks and a host's link.
const hopsScenario = `
name: hops
backbone: {hops: 3}
jurisdictions:
  - code: AA
    prefixes: [198.18.0.0/20, "2001:db8:a::/48"]
    border: {policy: pass, link: {hops: 2}}
    networks:
      - name: aa-net
        asn: 64500
        kind: access
        border: {link: {hops: 4}}
        hosts:
          - {name: aa-one, role: client, link: {hops: 1}}
          - {name: aa-two, role: client}
      - name: aa-hosting
        asn: 64501
        kind: hosting
        hosts:
          - {name: aa-vps, role: server, link: {hops: 2}}
  - code: BB
    prefixes: [198.18.16.0/20, "2001:db8:b::/48"]
    border: {link: {hops: 5}}
    public_resolver: true
    networks:
      - name: bb-hosting
        asn: 64502
        kind: hosting
        border: {link: {hops: 2}}
        hosts:
          - {name: bb-vps, role: server, link: {hops: 2}}
sites:
  - {domain: www.example.com, category: NEWS, network: bb-hosting}
`

func loadPlan(t testing.TB, name, yaml string) *scenario.Plan {
	t.Helper()
	var sc *scenario.Scenario
	var err error
	if yaml == "" {
		sc, err = scenario.Open(name)
	} else {
		sc, err = scenario.Load(name+".yaml", []byte(yaml))
	}
	if err != nil {
		t.Fatal(err)
	}
	p, err := sc.Plan()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// path lists, from the plan alone, the addresses a traceroute from host src
// to host dst should show, one per hop, ending with dst's address.
func path(p *scenario.Plan, src, dst string, fam int) []netip.Addr {
	pick := func(r scenario.RouterAddrs) netip.Addr {
		if fam == 4 {
			return r.V4
		}
		return r.V6
	}
	var out []netip.Addr
	add := func(rs []scenario.RouterAddrs, reverse bool) {
		rs = slices.Clone(rs)
		if reverse {
			slices.Reverse(rs)
		}
		for _, r := range rs {
			out = append(out, pick(r))
		}
	}
	s, d := p.Host(src), p.Host(dst)
	sn, dn := p.Network(s.Network), p.Network(d.Network)
	sj, dj := p.Jurisdiction(s.Jurisdiction), p.Jurisdiction(d.Jurisdiction)
	add(s.Hops, false)
	out = append(out, pick(sn.Router))
	if sn != dn {
		add(sn.Hops, false)
		out = append(out, pick(sj.Router))
		if sj != dj {
			add(sj.Hops, false)
			out = append(out, pick(p.Backbone))
			add(p.BackboneHops, false)
			add(dj.Hops, true)
			out = append(out, pick(dj.Router))
		}
		add(dn.Hops, true)
		out = append(out, pick(dn.Router))
	}
	add(d.Hops, true)
	for _, a := range d.Addrs {
		if a.Is4() == (fam == 4) {
			out = append(out, a)
		}
	}
	return out
}

func traceroute(t *testing.T, w *world.World, src, dst string, fam int) []world.Hop {
	t.Helper()
	hops, err := w.Host(src).Traceroute(context.Background(), w.Host(dst).Addr(fam), 40, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	return hops
}

func TestTracerouteListsHiddenRouters(t *testing.T) {
	p := loadPlan(t, "hops", hopsScenario)
	w := build(t, p, world.Options{})
	for _, tt := range []struct{ src, dst string }{
		{"aa-one", "bb-vps"}, // every kind of link, both ways
		{"bb-vps", "aa-one"},
		{"aa-one", "aa-vps"}, // domestic: turns at AA's router
		{"aa-two", "aa-one"}, // same network
	} {
		for _, fam := range []int{4, 6} {
			want := path(p, tt.src, tt.dst, fam)
			hops := traceroute(t, w, tt.src, tt.dst, fam)
			var got []netip.Addr
			for _, h := range hops {
				got = append(got, h.Addr)
			}
			if !slices.Equal(got, want) {
				t.Errorf("%s → %s IPv%d:\n got %v\nwant %v", tt.src, tt.dst, fam, got, want)
				continue
			}
			for i, h := range hops {
				if h.Unreachable || h.Reached != (i == len(hops)-1) {
					t.Errorf("%s → %s IPv%d hop %d: %+v", tt.src, tt.dst, fam, i+1, h)
				}
			}
		}
	}
	// Every hidden router has its own address, in the allowed ranges.
	seen := map[netip.Addr]bool{}
	for _, fam := range []int{4, 6} {
		for _, a := range path(p, "aa-one", "bb-vps", fam) {
			if seen[a] || !scenario.AllowedAddr(a) {
				t.Errorf("address %v repeated or outside the allowed ranges", a)
			}
			seen[a] = true
		}
	}
}

// TestPingTTLJustShort pings with a TTL one short of the destination, and
// with TTLs that run out inside links that hide routers: the answer is a
// time exceeded from the router of that hop, in both families.
func TestPingTTLJustShort(t *testing.T) {
	p := loadPlan(t, "hops", hopsScenario)
	w := build(t, p, world.Options{})
	ctx := context.Background()
	for _, fam := range []int{4, 6} {
		want := path(p, "aa-one", "bb-vps", fam)
		dst := w.Host("bb-vps").Addr(fam)
		for _, ttl := range []int{1, 2, 6, 8, 12, len(want) - 1, len(want)} {
			h, err := w.Host("aa-one").PingTTL(ctx, dst, ttl)
			if err != nil {
				t.Fatalf("IPv%d TTL %d: %v", fam, ttl, err)
			}
			last := ttl == len(want)
			if h.Addr != want[ttl-1] || h.Reached != last || h.Unreachable {
				t.Errorf("IPv%d TTL %d: answer %+v, want from %v (reached %v)", fam, ttl, h, want[ttl-1], last)
			}
		}
	}
	if _, err := w.Host("aa-one").PingTTL(ctx, w.Host("bb-vps").Addr(4), 0); err == nil {
		t.Error("TTL 0 accepted")
	}
}

// TestHiddenRoutersAnswerEcho pings the hidden routers themselves: the
// router beside each answers for it, and no packet loops.
func TestHiddenRoutersAnswerEcho(t *testing.T) {
	p := loadPlan(t, "hops", hopsScenario)
	w := build(t, p, world.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, fam := range []int{4, 6} {
		for _, a := range append(path(p, "aa-one", "bb-vps", fam), path(p, "aa-two", "aa-vps", fam)...) {
			h, err := w.Host("aa-two").PingTTL(ctx, a, 64)
			if err != nil {
				t.Fatalf("ping %v: %v", a, err)
			}
			if !h.Reached || h.Addr != a {
				t.Errorf("ping %v: %+v", a, h)
			}
		}
	}
}

// TestHiddenRouterRTT: on an impaired link, a hidden router answers after
// its share of the link's delay, there and back, not the whole link's.
func TestHiddenRouterRTT(t *testing.T) {
	p := loadPlan(t, "hops", hopsScenario)
	const delay = 400 * time.Millisecond
	for _, j := range p.Jurisdictions {
		if j.Code == "BB" {
			j.Border.Link.Delay = delay // 5 hidden routers: the first is 1/6 of the way
		}
	}
	w := build(t, p, world.Options{})
	ctx := context.Background()
	want := path(p, "aa-one", "bb-vps", 4)
	first := slices.Index(want, p.BackboneHops[2].V4) + 1 // BB's uplink, from the backbone
	h, err := w.Host("aa-one").PingTTL(ctx, w.Host("bb-vps").Addr(4), first+1)
	if err != nil {
		t.Fatal(err)
	}
	if h.Addr != want[first] {
		t.Fatalf("answer from %v, want %v", h.Addr, want[first])
	}
	// 2 × 1/6 × 400 ms = 133 ms; the link one way is 400 ms.
	if h.RTT < 2*delay/6 || h.RTT >= delay {
		t.Errorf("RTT of the first hidden router %v, want about %v (and < %v)", h.RTT, 2*delay/6, delay)
	}
	h, err = w.Host("aa-one").PingTTL(ctx, w.Host("bb-vps").Addr(4), first+6) // BB's router
	if err != nil {
		t.Fatal(err)
	}
	if h.Addr != p.Jurisdiction("BB").Router.V4 || h.RTT < 2*delay {
		t.Errorf("BB's router: %+v, want from %v after at least %v", h, p.Jurisdiction("BB").Router.V4, 2*delay)
	}
}

// borderLog is a gateway that records the TTL of the TCP segments to one
// port that it sees.
type borderLog struct {
	port uint16
	mu   sync.Mutex
	ttls []uint8
}

func (g *borderLog) Process(p *packet.IP, _ packet.Direction, _ func([]byte)) packet.Verdict {
	if p.Proto == packet.TCP && p.DstPort == g.port {
		g.mu.Lock()
		g.ttls = append(g.ttls, p.TTL)
		g.mu.Unlock()
	}
	return packet.Verdict{}
}

func (g *borderLog) seen() []uint8 {
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Clone(g.ttls)
}

// TestTTLReachesGFWNotServer is the hop budget of the default scenario's CN
// client: a TCP segment with TTL 8, 9 or 10 (what the Geneva strategies
// send) is seen by the CN border but expires before a server abroad, which
// answers with a time exceeded from the hop where it ran out; TTL 64 reaches
// the server. IPv4 and IPv6.
func TestTTLReachesGFWNotServer(t *testing.T) {
	p := loadPlan(t, scenario.Default, "")
	const port = 8080
	gw := &borderLog{port: port}
	w := build(t, p, world.Options{Gateway: func(b world.BorderSpec) (world.Gateway, error) {
		if b.Name() == "CN" {
			return gw, nil
		}
		return nil, nil
	}})
	client, server := w.Host("cn-client-1"), w.Host("us-vps-1")
	want := path(p, client.Name(), server.Name(), 4)
	if border := slices.Index(want, p.Jurisdiction("CN").Router.V4) + 1; border != 7 || len(want) != 24 {
		t.Fatalf("CN border router at hop %d and server at hop %d, want 7 and 24 (see splinternet.yaml)", border, len(want))
	}

	answers := make(chan []byte, 16)
	inject, restore := client.Divert(func(pkt []byte) { answers <- append([]byte(nil), pkt...) })
	defer restore()
	arrived := make(chan uint8, 16)
	server.Shim(nil, func(pkt []byte, emit func([]byte)) {
		var q packet.IP
		if packet.Parse(pkt, &q) == nil && q.Proto == packet.TCP && q.DstPort == port {
			arrived <- q.TTL
		}
		emit(pkt)
	})
	defer server.Shim(nil, nil)

	for _, fam := range []int{4, 6} {
		want := path(p, client.Name(), server.Name(), fam)
		for i, ttl := range []uint8{8, 9, 10, 64} {
			before := len(gw.seen())
			syn := packet.AppendTCP(nil, packet.TCPSegment{
				Src: netip.AddrPortFrom(client.Addr(fam), uint16(40000+10*fam+i)),
				Dst: netip.AddrPortFrom(server.Addr(fam), port),
				Seq: 1000, Flags: packet.SYN, Window: 65535,
				Shape: packet.Shape{TTL: ttl},
			})
			inject(syn)
			// The client hears from the hop where the segment ran out, or
			// from the server (a RST: nothing listens there).
			var from netip.Addr
			select {
			case b := <-answers:
				var q packet.IP
				if packet.Parse(b, &q) != nil {
					t.Fatalf("IPv%d TTL %d: answer does not parse", fam, ttl)
				}
				from = q.Src
			case <-time.After(5 * time.Second):
				t.Fatalf("IPv%d TTL %d: no answer", fam, ttl)
			}
			seen := gw.seen()[before:]
			if len(seen) != 1 || seen[0] != ttl-7 {
				t.Errorf("IPv%d TTL %d: the CN border saw TTLs %v, want [%d]", fam, ttl, seen, ttl-7)
			}
			if ttl < 64 {
				if from != want[ttl-1] {
					t.Errorf("IPv%d TTL %d: time exceeded from %v, want hop %d %v", fam, ttl, from, ttl, want[ttl-1])
				}
				select {
				case got := <-arrived:
					t.Errorf("IPv%d TTL %d reached the server (with TTL %d)", fam, ttl, got)
				default:
				}
				continue
			}
			select {
			case got := <-arrived:
				if got != ttl-23 {
					t.Errorf("IPv%d: the segment reached the server with TTL %d, want %d", fam, got, ttl-23)
				}
			case <-time.After(5 * time.Second):
				t.Errorf("IPv%d TTL 64 never reached the server", fam)
			}
			if from != server.Addr(fam) {
				t.Errorf("IPv%d TTL 64: answer from %v, want the server", fam, from)
			}
		}
	}
}

// BenchmarkBulkTCPHops measures one-way bulk TCP throughput from aa-one to
// bb-vps of hopsScenario (two borders, a pass-through gateway on AA's):
// with the scenario's 19 hidden routers on the path, and with none (the same
// plan with every hop removed), for the ratio.
func BenchmarkBulkTCPHops(b *testing.B) {
	for _, name := range []string{"no-hops", "hops"} {
		b.Run(name, func(b *testing.B) {
			p := loadPlan(b, "hops", hopsScenario)
			if name == "no-hops" {
				p.BackboneHops = nil
				for _, j := range p.Jurisdictions {
					j.Hops = nil
				}
				for _, n := range p.Networks {
					n.Hops = nil
				}
				for _, h := range p.Hosts {
					h.Hops = nil
				}
			}
			w := build(b, p, world.Options{Gateway: func(world.BorderSpec) (world.Gateway, error) { return passThrough{}, nil }})
			c, s := w.Host("aa-one"), w.Host("bb-vps")
			ln, err := s.Listen("tcp", ":80")
			if err != nil {
				b.Fatal(err)
			}
			defer ln.Close()
			go func() {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				io.Copy(io.Discard, c)
				c.Close()
			}()
			conn, err := c.DialAddr(context.Background(), "tcp", netip.AddrPortFrom(s.Addr(4), 80))
			if err != nil {
				b.Fatal(err)
			}
			defer conn.Close()
			buf := make([]byte, 64<<10)
			b.SetBytes(int64(len(buf)))
			b.ResetTimer()
			start := time.Now()
			for i := 0; i < b.N; i++ {
				if _, err := conn.Write(buf); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)*float64(len(buf))*8/time.Since(start).Seconds()/1e9, "Gbit/s")
		})
	}
}
