package world

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/splinter-lab/splinter/packet"
)

// Hop is one line of a traceroute, or the outcome of one PingTTL.
type Hop struct {
	TTL  int
	Addr netip.Addr // who answered; invalid if nobody did
	RTT  time.Duration
	// Reached is true when Addr is the destination itself (an echo
	// reply). Otherwise Addr is a router: the one where the TTL ran out
	// (ICMP time exceeded), unless Unreachable.
	Reached bool
	// Unreachable is true when Addr answered destination unreachable.
	Unreachable bool
}

// icmpError appends to buf the ICMP error (time exceeded, unreachable) that
// a router at src sends about pkt, parsed as p, and returns it; or returns
// nil when none is due: src is not of pkt's family, or pkt is itself an ICMP
// error or other non-echo ICMP message (never answer an error with an
// error: RFC 1812 section 4.3.2.7, RFC 4443 section 2.4).
func icmpError(buf []byte, src netip.Addr, pkt []byte, p *packet.IP, v4, v6, code uint8) []byte {
	if p.Proto == packet.ICMPv4 && p.ICMPType != packet.ICMPv4Echo || p.Proto == packet.ICMPv6 && p.ICMPType < 128 {
		return nil
	}
	if !src.IsValid() || src.Is6() != (p.Version == 6) {
		return nil
	}
	return packet.AppendICMPError(buf, src, pkt, p, v4, v6, code)
}

// tapICMP hands an ICMP packet to a waiting Ping or Traceroute; it reports
// whether one took it.
func (h *Host) tapICMP(pkt []byte) bool {
	var p packet.IP
	if packet.Parse(pkt, &p) != nil {
		return false
	}
	id := p.ICMPEchoID
	switch {
	case p.Version == 4 && p.ICMPType == packet.ICMPv4EchoReply, p.Version == 6 && p.ICMPType == packet.ICMPv6EchoReply:
	case p.Version == 4 && (p.ICMPType == packet.ICMPv4TimeExceeded || p.ICMPType == packet.ICMPv4Unreachable):
		// The quoted packet follows the 8-byte ICMP header.
		if len(p.Payload) < 28 {
			return false
		}
		ihl := int(p.Payload[0]&0x0f) * 4
		if len(p.Payload) < ihl+8 {
			return false
		}
		id = binary.BigEndian.Uint16(p.Payload[ihl+4:])
	case p.Version == 6 && (p.ICMPType == packet.ICMPv6TimeExceeded || p.ICMPType == packet.ICMPv6Unreachable):
		if len(p.Payload) < 48 {
			return false
		}
		id = binary.BigEndian.Uint16(p.Payload[44:])
	default:
		return false
	}
	h.tapMu.Lock()
	ch := h.taps[id]
	h.tapMu.Unlock()
	if ch == nil {
		return false
	}
	select {
	case ch <- append([]byte(nil), pkt...):
	default:
	}
	return true
}

func (h *Host) openTap() (uint16, chan []byte) {
	id := uint16(h.nextID.Add(1)) | 0x8000
	ch := make(chan []byte, 16)
	h.tapMu.Lock()
	if h.taps == nil {
		h.taps = make(map[uint16]chan []byte)
	}
	h.taps[id] = ch
	h.tapMu.Unlock()
	return id, ch
}

func (h *Host) closeTap(id uint16) {
	h.tapMu.Lock()
	delete(h.taps, id)
	h.tapMu.Unlock()
}

// probe sends one echo request with the given TTL and waits for whatever ICMP
// answer comes back.
func (h *Host) probe(ctx context.Context, dst netip.Addr, ttl uint8, id, seq uint16, ch chan []byte) (Hop, error) {
	src := h.Addr(4)
	typ := uint8(packet.ICMPv4Echo)
	if dst.Is6() {
		src = h.Addr(6)
		typ = packet.ICMPv6Echo
	}
	if !src.IsValid() {
		return Hop{}, errors.New("world: host has no address of the destination's family")
	}
	pkt := packet.AppendICMP(nil, src, dst, typ, 0, uint32(id)<<16|uint32(seq), []byte("splinter-probe"), packet.Shape{TTL: ttl})
	start := time.Now()
	h.send(pkt)
	for {
		select {
		case <-ctx.Done():
			return Hop{}, ctx.Err()
		case b := <-ch:
			var p packet.IP
			if packet.Parse(b, &p) != nil {
				continue
			}
			reached := p.ICMPType == packet.ICMPv4EchoReply && p.Version == 4 || p.ICMPType == packet.ICMPv6EchoReply && p.Version == 6
			if got, ok := echoSeq(&p, reached); !ok || got != seq {
				continue // an answer to an earlier probe
			}
			unreachable := p.ICMPType == packet.ICMPv4Unreachable && p.Version == 4 || p.ICMPType == packet.ICMPv6Unreachable && p.Version == 6
			return Hop{TTL: int(ttl), Addr: p.Src, RTT: time.Since(start), Reached: reached, Unreachable: unreachable}, nil
		}
	}
}

// echoSeq returns the sequence number of the echo request an ICMP answer
// is about: the reply's own, or the one in the request an error quotes.
func echoSeq(p *packet.IP, reply bool) (uint16, bool) {
	if reply {
		if len(p.Transport) < 8 {
			return 0, false
		}
		return binary.BigEndian.Uint16(p.Transport[6:]), true
	}
	off := 40 + 6 // the quoted IPv6 header, then the echo header
	if p.Version == 4 {
		if len(p.Payload) < 1 {
			return 0, false
		}
		off = int(p.Payload[0]&0x0f)*4 + 6
	}
	if len(p.Payload) < off+2 {
		return 0, false
	}
	return binary.BigEndian.Uint16(p.Payload[off:]), true
}

// Ping sends one ICMP echo request to dst and returns the round-trip time.
func (h *Host) Ping(ctx context.Context, dst netip.Addr) (time.Duration, error) {
	id, ch := h.openTap()
	defer h.closeTap(id)
	hop, err := h.probe(ctx, dst, 64, id, 1, ch)
	if err != nil {
		return 0, err
	}
	if !hop.Reached {
		return 0, errors.New("world: ping: " + dst.String() + ": error from " + hop.Addr.String())
	}
	return hop.RTT, nil
}

// PingTTL sends one ICMP echo request to dst with the given IP TTL (IPv6
// hop limit, 1 to 255), as `ping -c 1 -t TTL` does, and reports who
// answered: the destination (Hop.Reached), or the router where the TTL ran
// out, with an ICMP time exceeded from its own address. It waits for an
// answer until ctx is done.
func (h *Host) PingTTL(ctx context.Context, dst netip.Addr, ttl int) (Hop, error) {
	if ttl < 1 || ttl > 255 {
		return Hop{TTL: ttl}, fmt.Errorf("world: ping: TTL %d is not in [1, 255]", ttl)
	}
	id, ch := h.openTap()
	defer h.closeTap(id)
	return h.probe(ctx, dst, uint8(ttl), id, 1, ch)
}

// Traceroute sends echo requests with increasing TTL and lists who answers,
// stopping at the destination, at a router that answers unreachable, or at
// maxHops. Each probe waits at most perHop.
func (h *Host) Traceroute(ctx context.Context, dst netip.Addr, maxHops int, perHop time.Duration) ([]Hop, error) {
	id, ch := h.openTap()
	defer h.closeTap(id)
	var hops []Hop
	for ttl := 1; ttl <= maxHops; ttl++ {
		pctx, cancel := context.WithTimeout(ctx, perHop)
		hop, err := h.probe(pctx, dst, uint8(ttl), id, uint16(ttl), ch)
		cancel()
		if ctx.Err() != nil {
			return hops, ctx.Err()
		}
		if err != nil {
			hops = append(hops, Hop{TTL: ttl})
			continue
		}
		hops = append(hops, hop)
		if hop.Reached || hop.Unreachable {
			break
		}
	}
	return hops, nil
}
