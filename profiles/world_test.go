package profiles_test

import (
	"context"
	"crypto/tls"
	"math"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/splinter-lab/splinter/border"
	"github.com/splinter-lab/splinter/clock"
	splab "github.com/splinter-lab/splinter/lab"
	"github.com/splinter-lab/splinter/packet"
	"github.com/splinter-lab/splinter/policy"
	"github.com/splinter-lab/splinter/profiles"
	"github.com/splinter-lab/splinter/scenario"
	"github.com/splinter-lab/splinter/world"
)

// The tests in this package run the default scenario with real clients: Go's
// net/http, crypto/tls and quic-go on the hosts' own stacks, and, where the
// packets themselves are the point (flags, TTL, IP-ID, order), a raw client
// that takes over a host's interface (World.Divert) and speaks TCP by hand.
// The borders run on a manual clock: residual windows are stepped over with
// Advance, never slept through.

var t2024 = time.Date(2024, 6, 3, 10, 0, 0, 0, time.UTC)

// lab is a running default scenario, started through package lab as the
// command line starts it, on a manual clock (the links keep real time).
type lab struct {
	*splab.Lab
	w   *world.World
	clk *clock.Manual
}

// newLab starts the default scenario at now; override maps a border's
// policy name to another embedded profile ("CN" -> "CN-2023").
func newLab(t testing.TB, now time.Time, override map[string]string) *lab {
	t.Helper()
	var given map[string]*policy.Policy
	if override != nil {
		given = map[string]*policy.Policy{}
		for ref, o := range override {
			p, err := profiles.Load(o)
			if err != nil {
				t.Fatal(err)
			}
			given[ref] = p
		}
	}
	return startLab(t, now, given)
}

// startLab starts the default scenario at now with the policies given for
// some references. The tests that need it are the profiles' fidelity
// suite: they run in the full pass, not in -short, the race detector's
// pass (the engine and the world they drive run under it in border, world,
// lab and cli, which start the default world with every profile).
func startLab(t testing.TB, now time.Time, given map[string]*policy.Policy) *lab {
	t.Helper()
	if testing.Short() {
		t.Skip("starts the default world: the profiles' fidelity suite runs without -short")
	}
	sc, err := scenario.Embedded("splinternet")
	if err != nil {
		t.Fatal(err)
	}
	spec, err := splab.FromScenario(sc, splab.Resolve{Embedded: true, Policies: given})
	if err != nil {
		t.Fatal(err)
	}
	clk := clock.NewManual(now)
	l, err := spec.Start(context.Background(), splab.Options{Clock: clk, LinkClock: clock.System, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return &lab{Lab: l, w: l.World(), clk: clk}
}

// site returns the IPv4 address of a scenario site.
func (l *lab) site(t testing.TB, domain string) netip.Addr {
	t.Helper()
	for _, s := range l.w.Plan().Sites {
		if s.Domain == domain {
			for _, a := range s.Addrs {
				if a.Is4() {
					return a
				}
			}
		}
	}
	t.Fatalf("no site %s", domain)
	return netip.Addr{}
}

func (l *lab) addr(t testing.TB, host string) netip.Addr {
	t.Helper()
	h := l.w.Host(host)
	if h == nil {
		t.Fatalf("no host %s", host)
	}
	return h.Addr(4)
}

// decisions returns the log's decisions by rule, optionally only for flows
// from client port cport (0: any).
func (l *lab) decisions(rule string, cport uint16) []border.Decision {
	var out []border.Decision
	for _, d := range l.Log().Decisions() {
		if d.Rule == rule && (cport == 0 || d.Client.Port() == cport) {
			out = append(out, d)
		}
	}
	return out
}

func hasAction(ds []border.Decision, action string, enforced bool) bool {
	for _, d := range ds {
		if string(d.Action) == action && d.Enforced == enforced {
			return true
		}
	}
	return false
}

// drive advances the manual clock in step with real time until the
// returned stop is called, for tests whose clients wait on delayed censor
// actions (delayed RSTs, throttling).
func (l *lab) drive(step time.Duration) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tk := time.NewTicker(step)
		defer tk.Stop()
		for {
			select {
			case <-done:
				return
			case <-tk.C:
				l.clk.Advance(step)
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}

// pkt is one packet a raw client received.
type pkt struct {
	at time.Time
	p  packet.IP
}

func (p pkt) flags() uint8 { return p.p.Flags }

// rawHost is a host whose interface the test drives by hand.
type rawHost struct {
	t      testing.TB
	addr   netip.Addr
	inject func([]byte)
	mu     sync.Mutex
	byPort map[uint16]chan pkt
}

func (l *lab) raw(t testing.TB, host string) *rawHost {
	h := l.w.Host(host)
	r := &rawHost{t: t, addr: h.Addr(4), byPort: map[uint16]chan pkt{}}
	var restore func()
	r.inject, restore = h.Divert(func(b []byte) {
		c := append([]byte(nil), b...)
		var p packet.IP
		if packet.Parse(c, &p) != nil {
			return
		}
		r.mu.Lock()
		ch := r.byPort[p.DstPort]
		r.mu.Unlock()
		if ch != nil {
			select {
			case ch <- pkt{time.Now(), p}:
			default:
			}
		}
	})
	t.Cleanup(restore)
	return r
}

func (r *rawHost) port(p uint16) chan pkt {
	r.mu.Lock()
	defer r.mu.Unlock()
	ch := make(chan pkt, 512)
	r.byPort[p] = ch
	return ch
}

// rawTCP is one hand-driven TCP connection (20-byte headers, no options).
type rawTCP struct {
	r        *rawHost
	src, dst netip.AddrPort
	seq, ack uint32
	acked    uint32 // the highest acknowledgment the server sent (0: none yet)
	in       chan pkt
	synack   bool
}

var portMu sync.Mutex
var nextPort uint16 = 40000

func freshPort() uint16 {
	portMu.Lock()
	defer portMu.Unlock()
	nextPort++
	return nextPort
}

// dial opens a connection from a fresh source port (or sport if not 0) and
// waits up to wait for the handshake; ok reports whether it completed.
func (r *rawHost) dial(dst netip.AddrPort, sport uint16, wait time.Duration) (*rawTCP, bool) {
	if sport == 0 {
		sport = freshPort()
	}
	c := &rawTCP{r: r, src: netip.AddrPortFrom(r.addr, sport), dst: dst, seq: 1000000 + uint32(sport)*7, in: r.port(sport)}
	c.send(packet.SYN, nil)
	c.seq++
	deadline := time.After(wait)
	for {
		select {
		case p := <-c.in:
			if p.p.Flags&(packet.SYN|packet.ACK) == packet.SYN|packet.ACK {
				c.ack = p.p.Seq + 1
				c.synack = true
				c.send(packet.ACK, nil)
				return c, true
			}
		case <-deadline:
			return c, false
		}
	}
}

func (c *rawTCP) send(flags uint8, payload []byte) {
	c.sendSeg(packet.TCPSegment{Flags: flags, Payload: payload})
}

func (c *rawTCP) sendSeg(seg packet.TCPSegment) {
	seg.Src, seg.Dst = c.src, c.dst
	if seg.Seq == 0 {
		seg.Seq = c.seq
	}
	if seg.Ack == 0 && seg.Flags&packet.ACK != 0 {
		seg.Ack = c.ack
	}
	if seg.Window == 0 {
		seg.Window = 65535
	}
	c.r.inject(packet.AppendTCP(nil, seg))
	if seg.Flags&packet.RST == 0 {
		c.seq += uint32(len(seg.Payload))
	}
}

// write sends data with PSH+ACK.
func (c *rawTCP) write(b []byte) { c.send(packet.PSH|packet.ACK, b) }

// collect gathers what arrives for d, acknowledging server data.
func (c *rawTCP) collect(d time.Duration) []pkt {
	var out []pkt
	deadline := time.After(d)
	for {
		select {
		case p := <-c.in:
			out = append(out, p)
			if p.p.Flags&(packet.ACK|packet.RST) == packet.ACK && int32(p.p.Ack-c.acked) > 0 {
				c.acked = p.p.Ack
			}
			if n := len(p.p.Payload); n > 0 && p.p.Flags&packet.RST == 0 {
				c.ack = p.p.Seq + uint32(n)
				c.send(packet.ACK, nil)
			}
		case <-deadline:
			return out
		}
	}
}

func rsts(ps []pkt) []pkt {
	var out []pkt
	for _, p := range ps {
		if p.flags()&packet.RST != 0 {
			out = append(out, p)
		}
	}
	return out
}

func dataPkts(ps []pkt) []pkt {
	var out []pkt
	for _, p := range ps {
		if len(p.p.Payload) > 0 && p.flags()&packet.RST == 0 {
			out = append(out, p)
		}
	}
	return out
}

// clientHello returns the ClientHello record crypto/tls sends for sni.
func clientHello(t testing.TB, sni string) []byte {
	t.Helper()
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	go func() {
		c := tls.Client(a, &tls.Config{ServerName: sni, InsecureSkipVerify: true, NextProtos: []string{"h2", "http/1.1"}})
		c.Handshake()
	}()
	buf := make([]byte, 4096)
	b.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, err := b.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	return buf[:n]
}

func httpGet(host, path string) []byte {
	return []byte("GET " + path + " HTTP/1.1\r\nHost: " + host + "\r\nUser-Agent: splinter-test\r\nAccept: */*\r\n\r\n")
}

// listenAccept listens on host:port and accepts and reads connections
// until the test ends, echoing nothing; it returns the bound address.
func listenAccept(t testing.TB, l *lab, host string, port int, serve func(net.Conn)) netip.AddrPort {
	t.Helper()
	ln, err := l.w.Host(host).Listen("tcp", net.JoinHostPort("0.0.0.0", strconv.Itoa(port)))
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
			go func() {
				defer c.Close()
				if serve != nil {
					serve(c)
					return
				}
				buf := make([]byte, 4096)
				for {
					c.SetReadDeadline(time.Now().Add(10 * time.Second))
					if _, err := c.Read(buf); err != nil {
						return
					}
				}
			}()
		}
	}()
	return netip.AddrPortFrom(l.addr(t, host), uint16(port))
}

// binomialOK reports whether k successes in n trials are within 4.5
// standard deviations of p (a false failure about once in 150 000 runs).
func binomialOK(k, n int, p float64) bool {
	mean := float64(n) * p
	sd := math.Sqrt(float64(n) * p * (1 - p))
	return float64(k) >= mean-4.5*sd && float64(k) <= mean+4.5*sd
}

func tlsClient(c net.Conn, cfg *tls.Config) *tls.Conn { return tls.Client(c, cfg) }
