package scenario

import (
	"encoding/binary"
	"net/netip"
)

// u128 is an address as a 128-bit number (IPv4 as its IPv4-mapped IPv6
// form), for the allocator's arithmetic.
type u128 struct{ hi, lo uint64 }

func u128From(a netip.Addr) u128 {
	b := a.As16()
	return u128{binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])}
}

func (u u128) addr(is4 bool) netip.Addr {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], u.hi)
	binary.BigEndian.PutUint64(b[8:], u.lo)
	a := netip.AddrFrom16(b)
	if is4 {
		return a.Unmap()
	}
	return a
}

func (u u128) add1() u128 {
	u.lo++
	if u.lo == 0 {
		u.hi++
	}
	return u
}

func (u u128) cmp(v u128) int {
	switch {
	case u.hi < v.hi || u.hi == v.hi && u.lo < v.lo:
		return -1
	case u == v:
		return 0
	}
	return 1
}

// mask returns 2^k - 1.
func mask(k int) u128 {
	switch {
	case k <= 0:
		return u128{}
	case k < 64:
		return u128{0, 1<<k - 1}
	case k < 128:
		return u128{1<<(k-64) - 1, ^uint64(0)}
	}
	return u128{^uint64(0), ^uint64(0)}
}

func (u u128) or(v u128) u128     { return u128{u.hi | v.hi, u.lo | v.lo} }
func (u u128) andNot(v u128) u128 { return u128{u.hi &^ v.hi, u.lo &^ v.lo} }

// alignUp rounds u up to a multiple of 2^k; ok is false on overflow.
func (u u128) alignUp(k int) (r u128, ok bool) {
	m := mask(k)
	if u.andNot(m) == u {
		return u, true
	}
	r = u.or(m).add1()
	return r, r != u128{}
}

// pool hands out aligned sub-prefixes of one family from a jurisdiction's
// prefixes, in address order, skipping the prefixes networks declared
// themselves (taken). It never goes back: a block too big for the space
// left before a taken prefix or the end of a range skips that space.
type pool struct {
	ranges  []netip.Prefix
	taken   []netip.Prefix
	cur     int
	next    u128
	started bool
}

func (p *pool) alloc(bits int) (netip.Prefix, bool) {
	for p.cur < len(p.ranges) {
		r := p.ranges[p.cur]
		if !p.started {
			p.next, p.started = u128From(r.Addr()), true
		}
		advance := func() { p.cur++; p.started = false }
		if bits < r.Bits() || bits > r.Addr().BitLen() {
			advance()
			continue
		}
		k := r.Addr().BitLen() - bits
		cand, ok := p.next.alignUp(k)
		last := cand.or(mask(k))
		if !ok || last.cmp(u128From(lastAddr(r))) > 0 {
			advance()
			continue
		}
		cp := netip.PrefixFrom(cand.addr(r.Addr().Is4()), bits)
		hit := false
		for _, t := range p.taken {
			if t.Overlaps(cp) {
				p.next, hit = u128From(lastAddr(t)).add1(), true
				break
			}
		}
		if hit {
			continue
		}
		p.next = last.add1()
		return cp, true
	}
	return netip.Prefix{}, false
}

// hostAddrs hands out the addresses of a network prefix after its router's:
// from the third address (network address and router come first) to the
// last (IPv6) or the one before the broadcast address (IPv4).
type hostAddrs struct {
	next, last u128
	is4        bool
	used       map[netip.Addr]bool
}

func newHostAddrs(p netip.Prefix, used map[netip.Addr]bool) *hostAddrs {
	h := &hostAddrs{
		next: u128From(p.Addr()).add1().add1(),
		last: u128From(lastAddr(p)),
		is4:  p.Addr().Is4(),
		used: used,
	}
	if h.is4 {
		h.last.lo-- // broadcast; a /31 or /32 simply has no room
	}
	return h
}

func (h *hostAddrs) alloc() (netip.Addr, bool) {
	for h.next.cmp(h.last) <= 0 {
		a := h.next.addr(h.is4)
		h.next = h.next.add1()
		if !h.used[a] {
			return a, true
		}
	}
	return netip.Addr{}, false
}
