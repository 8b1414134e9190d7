package world

import (
	"encoding/binary"
	"math/rand/v2"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/splinter-lab/splinter/clock"
	"github.com/splinter-lab/splinter/internal/netstack"
	"github.com/splinter-lab/splinter/packet"
	"github.com/splinter-lab/splinter/scenario"
)

// node is anything a link end attaches to: a host or a router.
//
// A packet crosses the fabric as bytes borrowed for the call (nodes read
// and rewrite them in place), and, when the stack that sent it put it in a
// buffer of its own, with that buffer (own, else nil): the host that
// receives the packet takes the buffer over instead of copying the bytes
// (see inbox.put). A node that keeps or reorders a packet copies it and
// passes no buffer on.
type node interface {
	receive(pkt []byte, own *netstack.Buf, in *iface)
}

// iface is one end of a link, attached to a node.
type iface struct {
	node    node
	link    *Link
	side    int
	outside bool // a router's uplink: packets leaving through it cross the border
}

// send puts pkt on the link toward the other end. pkt is only borrowed;
// own, when not nil, holds pkt's bytes, for the receiving host to take.
func (i *iface) send(pkt []byte, own *netstack.Buf) { i.link.send(i.side, pkt, own) }

// sendBytes puts pkt, which no buffer holds, on the link.
func (i *iface) sendBytes(pkt []byte) { i.link.send(i.side, pkt, nil) }

// Link is a point-to-point link between two nodes. An unimpaired link
// forwards on a fast path: a direct call into the next node, with no queue,
// no timer and no copy.
//
// A link may hide routers (scenario.Link.Hops): a packet crossing it loses
// one TTL per hidden router, in one step, and a packet whose TTL runs out at
// one of them is answered there with an ICMP time exceeded from that
// router's own address, as a real router answers a traceroute. They cost no
// goroutine, no queue and no copy: a link with hops only stays on the fast
// path.
type Link struct {
	name  string
	ends  [2]*iface
	pipes [2]*pipe // nil on the fast path
	taps  atomic.Pointer[[]*Capture]
	// hops[s] are the routers a packet sent from side s crosses, in
	// order; set once before the world carries traffic.
	hops [2][]hop
	// delay is the one-way delay of the link's model, which the answer of
	// a hidden router takes a share of.
	delay time.Duration
}

// hop is a router a link hides: its addresses.
type hop struct{ v4, v6 netip.Addr }

// Name is the link's name: the name of the host, network or jurisdiction
// whose uplink it is.
func (l *Link) Name() string { return l.name }

func newLink(name string, a, b node, cfg scenario.Link, aOutside bool, clk clock.Clock, seed uint64) *Link {
	l := &Link{name: name, delay: cfg.Delay}
	l.ends[0] = &iface{node: a, link: l, side: 0, outside: aOutside}
	l.ends[1] = &iface{node: b, link: l, side: 1}
	imp := cfg
	imp.Hops = 0 // hops alone keep the fast path
	if !imp.IsZero() {
		for s := 0; s < 2; s++ {
			to := l.ends[1-s]
			l.pipes[s] = newPipe(cfg, clk, rand.New(rand.NewPCG(seed, uint64(s))), func(pkt []byte) { to.node.receive(pkt, nil, to) })
		}
	}
	return l
}

func (l *Link) send(from int, pkt []byte, own *netstack.Buf) {
	l.tap(pkt)
	if hops := l.hops[from]; len(hops) > 0 && !l.cross(from, hops, pkt) {
		return
	}
	if p := l.pipes[from]; p != nil {
		p.enqueue(pkt)
		return
	}
	to := l.ends[1-from]
	to.node.receive(pkt, own, to)
}

func (l *Link) tap(pkt []byte) {
	if t := l.taps.Load(); t != nil {
		for _, c := range *t {
			c.write(pkt)
		}
	}
}

// setHops sets the routers the link hides: up are crossed in order by
// packets from side 0, down by packets from side 1.
func (l *Link) setHops(up, down []hop) {
	l.hops = [2][]hop{up, down}
}

// cross takes pkt, sent from side from, through the routers hops: it
// lowers the packet's TTL by their number, in place, and reports true; or,
// when the TTL runs out at one of them, has that router answer and reports
// false (the packet goes no further). A packet that is not IP goes on
// untouched, for the next router to drop.
func (l *Link) cross(from int, hops []hop, pkt []byte) bool {
	off := ttlOffset(pkt)
	if off < 0 {
		return true
	}
	ttl := int(pkt[off])
	if ttl > len(hops) {
		lowerTTL(pkt, off, uint8(len(hops)))
		return true
	}
	// A router receiving the packet with TTL 1 (or 0) lets it expire: the
	// first hidden router gets TTL ttl, the i-th ttl-i+1.
	l.expire(from, hops, max(ttl, 1)-1, pkt)
	return false
}

// expire answers pkt, sent from side from, with an ICMP time exceeded from
// the hidden router hops[i]. The answer takes the share of the link's delay
// that the way there and back covers, and crosses the i routers before
// hops[i] on its way back.
func (l *Link) expire(from int, hops []hop, i int, pkt []byte) {
	var p packet.IP
	if packet.Parse(pkt, &p) != nil {
		return
	}
	src := hops[i].v4
	if p.Version == 6 {
		src = hops[i].v6
	}
	var buf [1600]byte
	reply := icmpError(buf[:0], src, pkt, &p, packet.ICMPv4TimeExceeded, packet.ICMPv6TimeExceeded, 0)
	if reply == nil {
		return
	}
	lowerTTL(reply, ttlOffset(reply), uint8(i))
	l.tap(reply)
	if back := l.pipes[1-from]; back != nil {
		back.enqueueAfter(reply, l.delay*time.Duration(2*(i+1))/time.Duration(len(hops)+1))
		return
	}
	to := l.ends[from]
	to.node.receive(reply, nil, to)
}

// ttlOffset returns where pkt's TTL (hop limit) is, or -1 when pkt is too
// short to be an IPv4 or IPv6 packet.
func ttlOffset(pkt []byte) int {
	switch {
	case len(pkt) >= 20 && pkt[0]>>4 == 4:
		return 8
	case len(pkt) >= 40 && pkt[0]>>4 == 6:
		return 7
	}
	return -1
}

// lowerTTL lowers the TTL at off (see ttlOffset) by n, updating the IPv4
// header checksum incrementally (RFC 1624, eqn. 3): what n routers in a row
// would do.
func lowerTTL(pkt []byte, off int, n uint8) {
	if off == 7 {
		pkt[7] -= n
		return
	}
	old := binary.BigEndian.Uint16(pkt[8:10])
	pkt[8] -= n
	s := uint32(^binary.BigEndian.Uint16(pkt[10:12])) + uint32(^old) + uint32(binary.BigEndian.Uint16(pkt[8:10]))
	s = (s & 0xffff) + (s >> 16)
	s = (s & 0xffff) + (s >> 16)
	binary.BigEndian.PutUint16(pkt[10:12], ^uint16(s))
}

// wireHops gives each link the routers the plan says it hides, and each
// router the addresses of the hidden routers beside it, whose echo requests
// it answers (they would otherwise bounce between it and its uplink). The
// backbone's routers lie between the transit router and every
// jurisdiction's uplink, so packets from one jurisdiction to another cross
// them once, on their way down.
func (w *World) wireHops() {
	p := w.plan
	backbone := hopsOf(p.BackboneHops)
	w.backbone.answerFor(p.BackbonePrefixes, p.BackboneHops)
	for _, j := range p.Jurisdictions {
		up := hopsOf(j.Hops)
		down := append(slices.Clone(backbone), up...)
		slices.Reverse(down[len(backbone):])
		w.links[j.Code].setHops(up, down)
		w.routers[j.Code].answerFor(j.Core, j.Hops)
	}
	for _, n := range p.Networks {
		up := hopsOf(n.Hops)
		w.links[n.Name].setHops(up, reversed(up))
		w.routers[n.Name].answerFor(n.Prefixes, n.Hops)
	}
	for _, h := range p.Hosts {
		if len(h.Hops) > 0 {
			up := hopsOf(h.Hops)
			w.links[h.Name].setHops(up, reversed(up))
			w.routers[h.Network].answerFor(p.Network(h.Network).Prefixes, h.Hops)
		}
	}
}

func hopsOf(rs []scenario.RouterAddrs) []hop {
	if len(rs) == 0 {
		return nil
	}
	hs := make([]hop, len(rs))
	for i, r := range rs {
		hs[i] = hop{v4: r.V4, v6: r.V6}
	}
	return hs
}

func reversed(hs []hop) []hop {
	r := slices.Clone(hs)
	slices.Reverse(r)
	return r
}

func (l *Link) close() {
	for _, p := range l.pipes {
		if p != nil {
			p.close()
		}
	}
}

// pipe is one direction of an impaired link: loss, then a bandwidth
// serialiser with a drop-tail queue, then propagation delay and jitter. It
// never reorders packets.
type pipe struct {
	cfg     scenario.Link
	clk     clock.Clock
	deliver func([]byte)

	mu        sync.Mutex
	rng       *rand.Rand
	q         []timed
	busyUntil time.Time // when the serialiser is free
	last      time.Time // arrival time of the last packet queued
	maxQueue  int
	wake      chan struct{}
	done      chan struct{}
	closed    bool
}

type timed struct {
	at  time.Time
	pkt []byte
}

func newPipe(cfg scenario.Link, clk clock.Clock, rng *rand.Rand, deliver func([]byte)) *pipe {
	p := &pipe{cfg: cfg, clk: clk, rng: rng, deliver: deliver, wake: make(chan struct{}, 1), done: make(chan struct{})}
	if cfg.Bandwidth > 0 {
		// Queue up to 50 ms of traffic at the link rate, at least 64 KiB.
		p.maxQueue = max(int(cfg.Bandwidth/8/20), 64<<10)
	}
	go p.run()
	return p
}

func (p *pipe) enqueue(pkt []byte) { p.enqueueAfter(pkt, p.cfg.Delay) }

// enqueueAfter queues pkt with the given propagation delay instead of the
// link's.
func (p *pipe) enqueueAfter(pkt []byte, delay time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	if p.cfg.Loss > 0 && p.rng.Float64() < p.cfg.Loss {
		return
	}
	now := p.clk.Now()
	at := now
	if p.cfg.Bandwidth > 0 {
		start := p.busyUntil
		if start.Before(now) {
			start = now
		}
		// The backlog is what the serialiser still has to send.
		backlog := int64(start.Sub(now)) * p.cfg.Bandwidth / 8 / int64(time.Second)
		if backlog+int64(len(pkt)) > int64(p.maxQueue) {
			return // drop-tail
		}
		p.busyUntil = start.Add(time.Duration(int64(len(pkt)) * 8 * int64(time.Second) / p.cfg.Bandwidth))
		at = p.busyUntil
	}
	at = at.Add(delay)
	if p.cfg.Jitter > 0 {
		at = at.Add(time.Duration(p.rng.Int64N(int64(p.cfg.Jitter))))
	}
	if at.Before(p.last) {
		at = p.last
	}
	p.last = at
	p.q = append(p.q, timed{at: at, pkt: append([]byte(nil), pkt...)})
	if len(p.q) == 1 {
		select {
		case p.wake <- struct{}{}:
		default:
		}
	}
}

func (p *pipe) run() {
	var batch []timed
	for {
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			return
		}
		now := p.clk.Now()
		n := 0
		for n < len(p.q) && !p.q[n].at.After(now) {
			n++
		}
		batch = append(batch[:0], p.q[:n]...)
		p.q = p.q[n:]
		var wait time.Duration = -1
		if len(p.q) > 0 {
			wait = p.q[0].at.Sub(now)
		}
		p.mu.Unlock()
		for _, t := range batch {
			p.deliver(t.pkt)
		}
		if len(batch) > 0 {
			continue
		}
		if wait < 0 {
			select {
			case <-p.wake:
			case <-p.done:
				return
			}
			continue
		}
		tm := p.clk.NewTimer(wait)
		select {
		case <-tm.C():
		case <-p.wake:
			tm.Stop()
		case <-p.done:
			tm.Stop()
			return
		}
	}
}

func (p *pipe) close() {
	p.mu.Lock()
	if !p.closed {
		p.closed = true
		close(p.done)
	}
	p.mu.Unlock()
}
