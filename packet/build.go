package packet

import (
	"encoding/binary"
	"net/netip"
)

// Shape is the IP-level fingerprint of an originated packet: what censors'
// injected packets are recognised by.
type Shape struct {
	TTL uint8 // 0 means 64
	ID  uint16
	DF  bool
	// TOS / traffic class.
	TOS uint8
}

func (s Shape) ttl() uint8 {
	if s.TTL == 0 {
		return 64
	}
	return s.TTL
}

// AppendIP appends an IP header for a packet from src to dst carrying
// payloadLen bytes of protocol proto, followed by nothing: the caller
// appends the transport bytes.
func AppendIP(b []byte, src, dst netip.Addr, proto uint8, payloadLen int, sh Shape) []byte {
	if src.Is4() {
		start := len(b)
		b = append(b, 0x45, sh.TOS, 0, 0, 0, 0, 0, 0, sh.ttl(), proto, 0, 0)
		binary.BigEndian.PutUint16(b[start+2:], uint16(20+payloadLen))
		binary.BigEndian.PutUint16(b[start+4:], sh.ID)
		if sh.DF {
			b[start+6] = 0x40
		}
		s4, d4 := src.As4(), dst.As4()
		b = append(b, s4[:]...)
		b = append(b, d4[:]...)
		binary.BigEndian.PutUint16(b[start+10:], Checksum(b[start:start+20]))
		return b
	}
	start := len(b)
	b = append(b, 0x60|sh.TOS>>4, sh.TOS<<4, 0, 0, 0, 0, proto, sh.ttl())
	binary.BigEndian.PutUint16(b[start+4:], uint16(payloadLen))
	s16, d16 := src.As16(), dst.As16()
	b = append(b, s16[:]...)
	b = append(b, d16[:]...)
	return b
}

// TCPSegment describes a TCP segment to build.
type TCPSegment struct {
	Src, Dst netip.AddrPort
	Seq, Ack uint32
	Flags    uint8
	Window   uint16
	Payload  []byte
	Shape    Shape
	// BadChecksum, when set, corrupts the TCP checksum (an evasion probe).
	BadChecksum bool
	// Options are raw TCP options, padded with zeros (end of options) to a
	// multiple of 4 bytes; at most 40 bytes.
	Options []byte
}

// AppendTCP appends a whole IP packet carrying seg.
func AppendTCP(b []byte, seg TCPSegment) []byte {
	opts := min((len(seg.Options)+3)/4*4, 40)
	n := 20 + opts + len(seg.Payload)
	b = AppendIP(b, seg.Src.Addr(), seg.Dst.Addr(), TCP, n, seg.Shape)
	t := len(b)
	b = append(b, make([]byte, 20+opts)...)
	copy(b[t+20:t+20+opts], seg.Options)
	binary.BigEndian.PutUint16(b[t:], seg.Src.Port())
	binary.BigEndian.PutUint16(b[t+2:], seg.Dst.Port())
	binary.BigEndian.PutUint32(b[t+4:], seg.Seq)
	binary.BigEndian.PutUint32(b[t+8:], seg.Ack)
	b[t+12] = byte(5+opts/4) << 4
	b[t+13] = seg.Flags
	binary.BigEndian.PutUint16(b[t+14:], seg.Window)
	b = append(b, seg.Payload...)
	c := TransportChecksum(seg.Src.Addr(), seg.Dst.Addr(), TCP, b[t:])
	if seg.BadChecksum {
		c ^= 0xffff
	}
	binary.BigEndian.PutUint16(b[t+16:], c)
	return b
}

// AppendUDP appends a whole IP packet carrying a UDP datagram.
func AppendUDP(b []byte, src, dst netip.AddrPort, payload []byte, sh Shape) []byte {
	n := 8 + len(payload)
	b = AppendIP(b, src.Addr(), dst.Addr(), UDP, n, sh)
	t := len(b)
	b = append(b, 0, 0, 0, 0, 0, 0, 0, 0)
	binary.BigEndian.PutUint16(b[t:], src.Port())
	binary.BigEndian.PutUint16(b[t+2:], dst.Port())
	binary.BigEndian.PutUint16(b[t+4:], uint16(n))
	b = append(b, payload...)
	c := TransportChecksum(src.Addr(), dst.Addr(), UDP, b[t:])
	if c == 0 {
		c = 0xffff
	}
	binary.BigEndian.PutUint16(b[t+6:], c)
	return b
}

// ICMP message types used by the fabric.
const (
	ICMPv4EchoReply    = 0
	ICMPv4Unreachable  = 3
	ICMPv4Echo         = 8
	ICMPv4TimeExceeded = 11
	ICMPv6Unreachable  = 1
	ICMPv6TimeExceeded = 3
	ICMPv6Echo         = 128
	ICMPv6EchoReply    = 129
)

// AppendICMP appends a whole IP packet carrying an ICMP (or ICMPv6) message
// of the given type and code, with the 4-byte rest-of-header word and body.
func AppendICMP(b []byte, src, dst netip.Addr, typ, code uint8, rest uint32, body []byte, sh Shape) []byte {
	proto := uint8(ICMPv4)
	if !src.Is4() {
		proto = ICMPv6
	}
	n := 8 + len(body)
	b = AppendIP(b, src, dst, proto, n, sh)
	t := len(b)
	b = append(b, typ, code, 0, 0, 0, 0, 0, 0)
	binary.BigEndian.PutUint32(b[t+4:], rest)
	b = append(b, body...)
	var c uint16
	if proto == ICMPv4 {
		c = Checksum(b[t:])
	} else {
		c = TransportChecksum(src, dst, ICMPv6, b[t:])
	}
	binary.BigEndian.PutUint16(b[t+2:], c)
	return b
}

// AppendICMPError appends an ICMP error (time exceeded, unreachable) from
// router address src about the offending packet orig, quoting as much of it
// as RFC 792 / RFC 4443 allow.
func AppendICMPError(b []byte, src netip.Addr, orig []byte, p *IP, v4type, v6type, code uint8) []byte {
	quote := orig
	if p.Version == 4 {
		if len(quote) > p.HdrLen+8 {
			quote = quote[:p.HdrLen+8]
		}
		return AppendICMP(b, src, p.Src, v4type, code, 0, quote, Shape{})
	}
	if len(quote) > 1232 {
		quote = quote[:1232]
	}
	return AppendICMP(b, src, p.Src, v6type, code, 0, quote, Shape{})
}
