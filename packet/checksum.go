package packet

import (
	"encoding/binary"
	"net/netip"
)

// sum adds b to a ones'-complement running sum.
func sum(s uint32, b []byte) uint32 {
	for len(b) >= 2 {
		s += uint32(binary.BigEndian.Uint16(b))
		b = b[2:]
	}
	if len(b) == 1 {
		s += uint32(b[0]) << 8
	}
	return s
}

func fold(s uint32) uint16 {
	for s>>16 != 0 {
		s = (s & 0xffff) + (s >> 16)
	}
	return ^uint16(s)
}

// Checksum is the Internet checksum (RFC 1071) of b.
func Checksum(b []byte) uint16 { return fold(sum(0, b)) }

// pseudo returns the pseudo-header sum for a transport checksum.
func pseudo(src, dst netip.Addr, proto uint8, length int) uint32 {
	var s uint32
	if src.Is4() {
		a, b := src.As4(), dst.As4()
		s = sum(s, a[:])
		s = sum(s, b[:])
	} else {
		a, b := src.As16(), dst.As16()
		s = sum(s, a[:])
		s = sum(s, b[:])
	}
	s += uint32(proto) + uint32(length)
	return s
}

// TransportChecksum computes the TCP, UDP or ICMPv6 checksum of seg (whose
// checksum field must be zero) between src and dst.
func TransportChecksum(src, dst netip.Addr, proto uint8, seg []byte) uint16 {
	return fold(sum(pseudo(src, dst, proto, len(seg)), seg))
}

// VerifyTransport reports whether the TCP or UDP checksum of the parsed
// packet is correct. Censors differ in whether they check it.
func VerifyTransport(p *IP) bool {
	if p.Transport == nil {
		return false
	}
	switch p.Proto {
	case TCP, UDP, ICMPv6:
	default:
		return true
	}
	if p.Proto == UDP && p.Version == 4 && len(p.Transport) >= 8 && p.Transport[6] == 0 && p.Transport[7] == 0 {
		return true // no checksum
	}
	return fold(sum(pseudo(p.Src, p.Dst, p.Proto, len(p.Transport)), p.Transport)) == 0
}
