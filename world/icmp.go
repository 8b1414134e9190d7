package world

import (
	"context"
	"encoding/binary"
	"errors"
	"net/netip"
	"time"

	"github.com/splinter-lab/splinter/packet"
)

// Hop is one line of a traceroute.
type Hop struct {
	TTL  int
	Addr netip.Addr // who answered; invalid if nobody did
	RTT  time.Duration
	// Reached is true when Addr is the destination itself.
	Reached bool
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
func (h *Host) probe(ctx context.Context, dst netip.Addr, ttl uint8, id, seq uint16, ch chan []byte) (netip.Addr, bool, time.Duration, error) {
	src := h.Addr(4)
	typ := uint8(packet.ICMPv4Echo)
	if dst.Is6() {
		src = h.Addr(6)
		typ = packet.ICMPv6Echo
	}
	if !src.IsValid() {
		return netip.Addr{}, false, 0, errors.New("world: host has no address of the destination's family")
	}
	pkt := packet.AppendICMP(nil, src, dst, typ, 0, uint32(id)<<16|uint32(seq), []byte("splinter-probe"), packet.Shape{TTL: ttl})
	start := time.Now()
	h.send(pkt)
	for {
		select {
		case <-ctx.Done():
			return netip.Addr{}, false, 0, ctx.Err()
		case b := <-ch:
			var p packet.IP
			if packet.Parse(b, &p) != nil {
				continue
			}
			reached := p.ICMPType == packet.ICMPv4EchoReply && p.Version == 4 || p.ICMPType == packet.ICMPv6EchoReply && p.Version == 6
			if reached && uint16(binary.BigEndian.Uint16(p.Transport[6:])) != seq {
				continue
			}
			return p.Src, reached, time.Since(start), nil
		}
	}
}

// Ping sends one ICMP echo request to dst and returns the round-trip time.
func (h *Host) Ping(ctx context.Context, dst netip.Addr) (time.Duration, error) {
	id, ch := h.openTap()
	defer h.closeTap(id)
	from, reached, rtt, err := h.probe(ctx, dst, 64, id, 1, ch)
	if err != nil {
		return 0, err
	}
	if !reached {
		return 0, errors.New("world: ping: " + dst.String() + ": error from " + from.String())
	}
	return rtt, nil
}

// Traceroute sends echo requests with increasing TTL and lists who answers,
// stopping at the destination or at maxHops. Each probe waits at most
// perHop.
func (h *Host) Traceroute(ctx context.Context, dst netip.Addr, maxHops int, perHop time.Duration) ([]Hop, error) {
	id, ch := h.openTap()
	defer h.closeTap(id)
	var hops []Hop
	for ttl := 1; ttl <= maxHops; ttl++ {
		pctx, cancel := context.WithTimeout(ctx, perHop)
		from, reached, rtt, err := h.probe(pctx, dst, uint8(ttl), id, uint16(ttl), ch)
		cancel()
		if ctx.Err() != nil {
			return hops, ctx.Err()
		}
		if err != nil {
			hops = append(hops, Hop{TTL: ttl})
			continue
		}
		hops = append(hops, Hop{TTL: ttl, Addr: from, RTT: rtt, Reached: reached})
		if reached {
			break
		}
	}
	return hops, nil
}
