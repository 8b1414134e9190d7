package world

import (
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/gaissmai/bart"

	"github.com/splinter-lab/splinter/internal/netstack"
	"github.com/splinter-lab/splinter/packet"
	"github.com/splinter-lab/splinter/scenario"
)

// Gateway sees every packet that crosses a border, in both directions, on
// the forwarding path. Package border's engine is one; tests may write their
// own.
//
// Process receives the router's parsed view of the packet (p.Raw holds its
// bytes): the gateway parses nothing the router already parsed. It may
// rewrite p.Raw in place (keeping its length), and may originate packets
// with inject: the border router routes each by its destination at once,
// without passing it through the gateway again, and before the packet being
// processed moves on, so an injected answer toward the client always arrives
// before the real one. inject may also be called later (a delayed RST).
// Process must not keep p or p.Raw after it returns; it is called
// concurrently from many flows.
type Gateway interface {
	Process(p *packet.IP, dir packet.Direction, inject func(pkt []byte)) packet.Verdict
}

// Router forwards packets by longest-prefix match. Its uplink is its default
// route; when it has a border, packets that pass between the uplink and any
// other interface cross the border's gateway.
type Router struct {
	name     string
	addrs    []netip.Addr
	table    bart.Table[*iface]
	uplink   *iface
	gw       atomic.Pointer[gatewayBox]
	isolated atomic.Bool
	// jurisdiction is set on a jurisdiction's border router.
	jurisdiction bool
	// virtual are the addresses of the routers hidden in the links beside
	// it (see wireHops), within its connected prefixes: it answers their
	// echo requests. Set before the world carries traffic.
	virtual   map[netip.Addr]bool
	connected []netip.Prefix
	inject    func([]byte) // originate, bound once
	w         *World
}

type gatewayBox struct{ g Gateway }

// Name is the router's name.
func (r *Router) Name() string { return r.name }

// Addrs are the router's own addresses (the source of its ICMP errors).
func (r *Router) Addrs() []netip.Addr { return r.addrs }

// SetGateway installs g on the router's border (nil removes it).
func (r *Router) SetGateway(g Gateway) {
	if g == nil {
		r.gw.Store(nil)
		return
	}
	r.gw.Store(&gatewayBox{g})
}

func (r *Router) addr(v6 bool) netip.Addr {
	for _, a := range r.addrs {
		if a.Is6() == v6 {
			return a
		}
	}
	return netip.Addr{}
}

func (r *Router) isOwn(a netip.Addr) bool {
	for _, o := range r.addrs {
		if o == a {
			return true
		}
	}
	return false
}

// answerFor makes the router answer echo requests for the hidden routers
// hops, whose addresses lie in its connected prefixes.
func (r *Router) answerFor(connected []netip.Prefix, hops []scenario.RouterAddrs) {
	if len(hops) == 0 {
		return
	}
	if r.virtual == nil {
		r.virtual = make(map[netip.Addr]bool)
	}
	for _, c := range connected {
		if !slices.Contains(r.connected, c) {
			r.connected = append(r.connected, c)
		}
	}
	for _, h := range hops {
		r.virtual[h.V4] = true
		r.virtual[h.V6] = true
	}
}

// isVirtual reports whether dst is a hidden router the router answers for.
func (r *Router) isVirtual(dst netip.Addr) bool {
	for _, c := range r.connected {
		if c.Contains(dst) {
			return r.virtual[dst]
		}
	}
	return false
}

func (r *Router) route(dst netip.Addr) *iface {
	if out, ok := r.table.Lookup(dst); ok {
		return out
	}
	return r.uplink
}

// parsed holds the router's parsed views: a view handed to a gateway
// escapes, so it comes from a pool rather than the heap.
var parsed = sync.Pool{New: func() any { return new(packet.IP) }}

func (r *Router) receive(pkt []byte, own *netstack.Buf, in *iface) {
	p := parsed.Get().(*packet.IP)
	defer parsed.Put(p)
	if packet.Parse(pkt, p) != nil {
		r.w.stats.malformed.Add(1)
		return
	}
	// Bytes beyond the IP length go no further (Linux's ip_rcv trims them).
	pkt = p.Raw
	if r.isOwn(p.Dst) {
		r.local(pkt, p)
		return
	}
	if p.TTL <= 1 {
		r.icmpError(pkt, p, packet.ICMPv4TimeExceeded, packet.ICMPv6TimeExceeded, 0)
		return
	}
	out := r.route(p.Dst)
	if r.virtual != nil && (out == nil || out == r.uplink) && r.isVirtual(p.Dst) {
		r.local(pkt, p)
		return
	}
	if out == nil {
		r.icmpError(pkt, p, packet.ICMPv4Unreachable, packet.ICMPv6Unreachable, 0)
		return
	}
	p.TTL = packet.DecTTL(pkt)
	if in != nil && in.outside != out.outside {
		if r.isolated.Load() {
			return
		}
		if b := r.gw.Load(); b != nil {
			dir := packet.Inbound
			if out.outside {
				dir = packet.Outbound
			}
			v := b.g.Process(p, dir, r.inject)
			if v.Drop {
				return
			}
			if v.Delay > 0 {
				held := append([]byte(nil), pkt...)
				r.w.clk.AfterFunc(v.Delay, func() { out.sendBytes(held) })
				return
			}
		}
	}
	out.send(pkt, own)
}

// originate routes a packet the router itself sends.
func (r *Router) originate(pkt []byte) {
	var p packet.IP
	if packet.Parse(pkt, &p) != nil {
		return
	}
	if out := r.route(p.Dst); out != nil {
		out.sendBytes(pkt)
	}
}

// local answers packets addressed to the router, or to a hidden router it
// answers for: echo requests.
func (r *Router) local(pkt []byte, p *packet.IP) {
	if p.Version == 4 && p.Proto == packet.ICMPv4 && p.ICMPType == packet.ICMPv4Echo ||
		p.Version == 6 && p.Proto == packet.ICMPv6 && p.ICMPType == packet.ICMPv6Echo {
		typ := uint8(packet.ICMPv4EchoReply)
		if p.Version == 6 {
			typ = packet.ICMPv6EchoReply
		}
		t := p.Transport
		rest := uint32(t[4])<<24 | uint32(t[5])<<16 | uint32(t[6])<<8 | uint32(t[7])
		var buf [1600]byte
		reply := packet.AppendICMP(buf[:0], p.Dst, p.Src, typ, 0, rest, p.Payload, packet.Shape{})
		r.originate(reply)
	}
}

func (r *Router) icmpError(pkt []byte, p *packet.IP, v4, v6, code uint8) {
	var buf [1600]byte
	if e := icmpError(buf[:0], r.addr(p.Version == 6), pkt, p, v4, v6, code); e != nil {
		r.originate(e)
	}
}
