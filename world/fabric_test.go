package world_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/splinter-lab/splinter/packet"
	"github.com/splinter-lab/splinter/scenario"
	"github.com/splinter-lab/splinter/world"
)

var mp = netip.MustParsePrefix
var ma = netip.MustParseAddr

// twoLands is a hand-made plan: jurisdictions AA and BB, one network and two
// hosts in each.
func twoLands(hostLink, borderLink scenario.Link) *scenario.Plan {
	sc := &scenario.Scenario{Name: "fabric"}
	p := &scenario.Plan{Scenario: sc, Backbone: scenario.RouterAddrs{V4: ma("192.0.2.1"), V6: ma("2001:2::1")}}
	for i, code := range []string{"AA", "BB"} {
		v4 := netip.PrefixFrom(netip.AddrFrom4([4]byte{198, 18, byte(i), 0}), 24)
		v6 := mp("2001:db8:" + []string{"a", "b"}[i] + "::/48")
		j := &scenario.PlannedJurisdiction{Code: code, Prefixes: []netip.Prefix{v4, v6},
			Border: scenario.Border{Link: borderLink},
			Router: scenario.RouterAddrs{V4: v4.Addr().Next(), V6: v6.Addr().Next()}}
		p.Jurisdictions = append(p.Jurisdictions, j)
		n := &scenario.PlannedNetwork{Name: code + "-net", Jurisdiction: code, Kind: scenario.Access,
			Prefixes: []netip.Prefix{v4, v6}, Router: scenario.RouterAddrs{V4: v4.Addr().Next().Next(), V6: v6.Addr().Next().Next()}}
		p.Networks = append(p.Networks, n)
		a4, a6 := v4.Addr().Next().Next(), v6.Addr().Next().Next()
		for k := 0; k < 2; k++ {
			a4, a6 = a4.Next(), a6.Next()
			p.Hosts = append(p.Hosts, &scenario.PlannedHost{
				Name: code + []string{"-one", "-two"}[k], Jurisdiction: code, Network: n.Name,
				Role: scenario.RoleClient, Addrs: []netip.Addr{a4, a6}, Link: hostLink})
		}
	}
	return p
}

func build(t testing.TB, p *scenario.Plan, opts world.Options) *world.World {
	t.Helper()
	opts.NoServices = true
	w, err := world.Build(p, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	return w
}

// echo serves an echo server on h:port until the test ends.
func echo(t testing.TB, h *world.Host, port string) {
	t.Helper()
	ln, err := h.Listen("tcp", ":"+port)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(c, c); c.Close() }()
		}
	}()
}

func TestTCPAcrossBorders(t *testing.T) {
	w := build(t, twoLands(scenario.Link{}, scenario.Link{}), world.Options{})
	a, b := w.Host("AA-one"), w.Host("BB-one")
	echo(t, b, "7")
	for _, fam := range []int{4, 6} {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		c, err := a.DialAddr(ctx, "tcp", netip.AddrPortFrom(b.Addr(fam), 7))
		cancel()
		if err != nil {
			t.Fatalf("IPv%d dial: %v", fam, err)
		}
		msg := bytes.Repeat([]byte("splinter"), 10000)
		go c.Write(msg)
		got := make([]byte, len(msg))
		if _, err := io.ReadFull(c, got); err != nil {
			t.Fatalf("IPv%d read: %v", fam, err)
		}
		if !bytes.Equal(got, msg) {
			t.Fatalf("IPv%d: echo differs", fam)
		}
		if ra := c.RemoteAddr().(*net.TCPAddr).AddrPort().Addr(); ra != b.Addr(fam) {
			t.Errorf("remote addr %v, want %v", ra, b.Addr(fam))
		}
		c.Close()
	}
}

func TestConnectionRefusedIsErrno(t *testing.T) {
	w := build(t, twoLands(scenario.Link{}, scenario.Link{}), world.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := w.Host("AA-one").DialAddr(ctx, "tcp", netip.AddrPortFrom(w.Host("BB-one").Addr(4), 9))
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("dial closed port: %v, want ECONNREFUSED", err)
	}
}

func TestUDPAcrossBorders(t *testing.T) {
	w := build(t, twoLands(scenario.Link{}, scenario.Link{}), world.Options{})
	a, b := w.Host("AA-two"), w.Host("BB-two")
	pc, err := b.ListenPacket("udp", ":5353")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			pc.WriteTo(bytes.ToUpper(buf[:n]), from)
		}
	}()
	for _, fam := range []int{4, 6} {
		c, err := a.DialAddr(context.Background(), "udp", netip.AddrPortFrom(b.Addr(fam), 5353))
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(3 * time.Second))
		c.Write([]byte("hello"))
		buf := make([]byte, 100)
		n, err := c.Read(buf)
		if err != nil || string(buf[:n]) != "HELLO" {
			t.Fatalf("IPv%d: got %q, %v", fam, buf[:n], err)
		}
		c.Close()
	}
}

func TestDelayShowsAsRTT(t *testing.T) {
	// 50 ms one way on the AA border link: ≈100 ms round trip.
	p := twoLands(scenario.Link{}, scenario.Link{})
	p.Jurisdictions[0].Border.Link = scenario.Link{Delay: 50 * time.Millisecond}
	w := build(t, p, world.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	rtt, err := w.Host("AA-one").Ping(ctx, w.Host("BB-one").Addr(4))
	if err != nil {
		t.Fatal(err)
	}
	if rtt < 100*time.Millisecond || rtt > 130*time.Millisecond {
		t.Fatalf("RTT %v, want ≈100ms", rtt)
	}
	// Domestic traffic does not cross the delayed link.
	rtt, err = w.Host("AA-one").Ping(ctx, w.Host("AA-two").Addr(6))
	if err != nil {
		t.Fatal(err)
	}
	if rtt > 20*time.Millisecond {
		t.Fatalf("domestic RTT %v, want ≪ 100ms", rtt)
	}
}

func TestTracerouteListsRouters(t *testing.T) {
	w := build(t, twoLands(scenario.Link{}, scenario.Link{}), world.Options{})
	for _, fam := range []int{4, 6} {
		dst := w.Host("BB-one").Addr(fam)
		hops, err := w.Host("AA-one").Traceroute(context.Background(), dst, 10, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		var got []netip.Addr
		for _, h := range hops {
			got = append(got, h.Addr)
		}
		want := []netip.Addr{}
		for _, r := range []string{"AA-net", "AA", "backbone", "BB", "BB-net"} {
			for _, a := range w.Router(r).Addrs() {
				if a.Is4() == (fam == 4) {
					want = append(want, a)
				}
			}
		}
		want = append(want, dst)
		if len(got) != len(want) {
			t.Fatalf("IPv%d hops %v, want %v", fam, got, want)
		}
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("IPv%d hop %d = %v, want %v (all: %v)", fam, i+1, got[i], want[i], got)
			}
		}
		if !hops[len(hops)-1].Reached {
			t.Fatalf("last hop not marked reached")
		}
	}
}

func TestBandwidthCapsDownload(t *testing.T) {
	const rate = 8_000_000 // 8 Mbit/s = 1 MB/s
	p := twoLands(scenario.Link{Bandwidth: rate}, scenario.Link{})
	w := build(t, p, world.Options{})
	a, b := w.Host("AA-one"), w.Host("BB-one")
	ln, err := b.Listen("tcp", ":80")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		buf := make([]byte, 32<<10)
		for {
			if _, err := c.Write(buf); err != nil {
				return
			}
		}
	}()
	c, err := a.DialAddr(context.Background(), "tcp", netip.AddrPortFrom(b.Addr(4), 80))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// Skip slow start, then measure 1.5 s.
	io.CopyN(io.Discard, c, 256<<10)
	start := time.Now()
	n, _ := io.CopyN(io.Discard, c, 1500<<10)
	got := float64(n*8) / time.Since(start).Seconds()
	if got > rate*1.15 || got < rate*0.7 {
		t.Fatalf("download at %.2f Mbit/s through an 8 Mbit/s link", got/1e6)
	}
}

// hook drops every packet to one address and answers each with an injected
// UDP datagram toward its sender, counting what it sees per direction.
type hook struct {
	victim netip.Addr
	seen   [2]atomic.Int64
}

func (h *hook) Process(p *packet.IP, dir packet.Direction, inject func([]byte)) packet.Verdict {
	h.seen[dir].Add(1)
	if p.Dst == h.victim && p.Proto == packet.UDP {
		inject(packet.AppendUDP(nil, netip.AddrPortFrom(p.Dst, p.DstPort), netip.AddrPortFrom(p.Src, p.SrcPort), []byte("forged"), packet.Shape{TTL: 33}))
		return packet.Verdict{Drop: true}
	}
	return packet.Verdict{}
}

func TestBorderHookDropsAndInjects(t *testing.T) {
	p := twoLands(scenario.Link{}, scenario.Link{})
	p.Jurisdictions[0].Border.Policy = "test"
	var hk *hook
	w := build(t, p, world.Options{Gateway: func(b world.BorderSpec) (world.Gateway, error) {
		hk = &hook{}
		return hk, nil
	}})
	a, b := w.Host("AA-one"), w.Host("BB-one")
	hk.victim = b.Addr(4)
	// Outbound: AA-one → BB-one is dropped and answered by the border.
	pc, err := b.ListenPacket("udp", ":9999")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	got := make(chan string, 4)
	go func() {
		buf := make([]byte, 100)
		for {
			n, _, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			got <- string(buf[:n])
		}
	}()
	c, _ := a.DialAddr(context.Background(), "udp", netip.AddrPortFrom(b.Addr(4), 9999))
	c.SetDeadline(time.Now().Add(2 * time.Second))
	c.Write([]byte("hi"))
	buf := make([]byte, 100)
	n, err := c.Read(buf)
	if err != nil || string(buf[:n]) != "forged" {
		t.Fatalf("client got %q, %v; want the injected answer", buf[:n], err)
	}
	select {
	case s := <-got:
		t.Fatalf("server received %q through a dropping border", s)
	case <-time.After(100 * time.Millisecond):
	}
	// Inbound: BB-two → AA-one (IPv6) passes, and the hook saw it inbound.
	b2 := w.Host("BB-two")
	pa, _ := a.ListenPacket("udp", ":9998")
	defer pa.Close()
	c2, _ := b2.DialAddr(context.Background(), "udp", netip.AddrPortFrom(a.Addr(6), 9998))
	c2.Write([]byte("in"))
	pa.SetDeadline(time.Now().Add(2 * time.Second))
	if n, _, err := pa.ReadFrom(buf); err != nil || string(buf[:n]) != "in" {
		t.Fatalf("inbound datagram: %q %v", buf[:n], err)
	}
	if hk.seen[packet.Outbound].Load() == 0 || hk.seen[packet.Inbound].Load() == 0 {
		t.Fatalf("hook saw outbound %d, inbound %d", hk.seen[0].Load(), hk.seen[1].Load())
	}
	// Domestic traffic never reaches the hook.
	before := hk.seen[0].Load() + hk.seen[1].Load()
	if _, err := a.Ping(context.Background(), w.Host("AA-two").Addr(4)); err != nil {
		t.Fatal(err)
	}
	if after := hk.seen[0].Load() + hk.seen[1].Load(); after != before {
		t.Fatalf("domestic ping crossed the border hook")
	}
}

func TestIsolation(t *testing.T) {
	w := build(t, twoLands(scenario.Link{}, scenario.Link{}), world.Options{})
	a := w.Host("AA-one")
	if err := w.Isolate("AA", true); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	if _, err := a.Ping(ctx, w.Host("BB-one").Addr(4)); err == nil {
		t.Fatal("ping abroad succeeded from an isolated jurisdiction")
	}
	cancel()
	if _, err := a.Ping(context.Background(), w.Host("AA-two").Addr(4)); err != nil {
		t.Fatalf("domestic ping in isolation: %v", err)
	}
	w.Isolate("AA", false)
	if _, err := a.Ping(context.Background(), w.Host("BB-one").Addr(4)); err != nil {
		t.Fatalf("ping after reconnecting: %v", err)
	}
	if err := w.Isolate("ZZ", true); err == nil {
		t.Fatal("isolating an unknown jurisdiction succeeded")
	}
}

func TestCapturePcap(t *testing.T) {
	w := build(t, twoLands(scenario.Link{}, scenario.Link{}), world.Options{})
	var buf bytes.Buffer
	c, err := w.Capture("AA", &buf)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Host("AA-one").Ping(context.Background(), w.Host("BB-one").Addr(4)); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if c.Packets() != 2 {
		t.Fatalf("captured %d packets, want echo request and reply", c.Packets())
	}
	b := buf.Bytes()
	if len(b) < 24 || !bytes.Equal(b[:4], []byte{0xd4, 0xc3, 0xb2, 0xa1}) || b[20] != 101 {
		t.Fatalf("bad pcap header % x", b[:24])
	}
}

func errorsAs(err error, target any) bool { return errors.As(err, target) }

func TestDivert(t *testing.T) {
	w := build(t, twoLands(scenario.Link{}, scenario.Link{}), world.Options{})
	a, b := w.Host("AA-one"), w.Host("BB-one")
	got := make(chan []byte, 4)
	inject, restore := b.Divert(func(pkt []byte) { got <- append([]byte(nil), pkt...) })
	c, err := a.DialAddr(context.Background(), "udp", netip.AddrPortFrom(b.Addr(4), 4242))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte("to the outside"))
	var p packet.IP
	select {
	case pkt := <-got:
		if packet.Parse(pkt, &p) != nil || string(p.Payload) != "to the outside" {
			t.Fatalf("diverted packet %x", pkt)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("nothing diverted")
	}
	// Answer from "outside", as the host.
	inject(packet.AppendUDP(nil, netip.AddrPortFrom(b.Addr(4), 4242), netip.AddrPortFrom(p.Src, p.SrcPort), []byte("from the outside"), packet.Shape{}))
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	buf := make([]byte, 100)
	n, err := c.Read(buf)
	if err != nil || string(buf[:n]) != "from the outside" {
		t.Fatalf("read %q %v", buf[:n], err)
	}
	restore()
	echo(t, b, "7")
	if _, err := a.DialAddr(context.Background(), "tcp", netip.AddrPortFrom(b.Addr(4), 7)); err != nil {
		t.Fatalf("after restore: %v", err)
	}
}
