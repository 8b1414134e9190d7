// Package packet reads and writes raw IPv4 and IPv6 packets as the emulated
// fabric and the border gateways handle them: header views, 5-tuple flow
// keys, checksums, and builders for the packets a router or a censor
// originates (ICMP errors, echo, TCP RST, UDP datagrams).
//
// It is written by hand rather than with gopacket because the forwarding
// path needs parsing that allocates nothing and never panics on junk, in the
// manner of Tailscale's net/packet; gopacket's layers allocate per packet.
// It does not own sending packets anywhere (package world does) nor
// application-layer formats (package dissect does).
package packet

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"time"
)

// IP protocol numbers.
const (
	ICMPv4 = 1
	TCP    = 6
	UDP    = 17
	ICMPv6 = 58
)

// TCP flags.
const (
	FIN = 1 << 0
	SYN = 1 << 1
	RST = 1 << 2
	PSH = 1 << 3
	ACK = 1 << 4
	URG = 1 << 5
	ECE = 1 << 6
	CWR = 1 << 7
)

// Errors returned by Parse.
var (
	ErrShort   = errors.New("packet: truncated")
	ErrVersion = errors.New("packet: not IPv4 or IPv6")
	ErrHeader  = errors.New("packet: bad header")
)

// Direction says which way a packet crosses a border.
type Direction uint8

const (
	// Outbound packets leave the inside of the border (the jurisdiction or
	// network the border encloses) toward the rest of the world.
	Outbound Direction = iota
	// Inbound packets come from the rest of the world toward the inside.
	Inbound
)

func (d Direction) String() string {
	if d == Inbound {
		return "inbound"
	}
	return "outbound"
}

// Reverse returns the other direction.
func (d Direction) Reverse() Direction { return 1 - d }

// IP is a parsed view of an IP packet's network and transport headers. It
// refers to the bytes it was parsed from. The zero value is an empty view.
type IP struct {
	Version  uint8
	Src, Dst netip.Addr
	Proto    uint8
	TTL      uint8 // hop limit for IPv6
	HdrLen   int   // IP header length (IPv6: fixed header only)
	ID       uint16
	DF       bool
	Fragment bool // a non-first fragment, or more fragments follow

	// Transport fields; set when Proto is TCP or UDP and the header fits.
	SrcPort, DstPort uint16
	// TCP only.
	Seq, Ack   uint32
	Flags      uint8
	Window     uint16
	TCPHdrLen  int
	Payload    []byte // transport payload (TCP or UDP), or the IP payload
	Transport  []byte // the transport header and payload
	ICMPType   uint8
	ICMPCode   uint8
	ICMPEchoID uint16

	// Raw is the whole packet the view was parsed from, cut at the IP
	// total length (IPv4) or payload length (IPv6), as a router forwards it.
	Raw []byte
}

// Parse fills p from pkt. It never panics; it returns an error if pkt is not
// a well-formed IP packet. Transport headers that are truncated leave the
// transport fields zero but are not an error, as a middlebox would see them.
func Parse(pkt []byte, p *IP) error {
	*p = IP{}
	if len(pkt) < 1 {
		return ErrShort
	}
	switch pkt[0] >> 4 {
	case 4:
		if len(pkt) < 20 {
			return ErrShort
		}
		ihl := int(pkt[0]&0x0f) * 4
		total := int(binary.BigEndian.Uint16(pkt[2:4]))
		if ihl < 20 || total < ihl || len(pkt) < total {
			return ErrHeader
		}
		pkt = pkt[:total]
		p.Raw = pkt
		p.Version = 4
		p.HdrLen = ihl
		p.ID = binary.BigEndian.Uint16(pkt[4:6])
		ff := binary.BigEndian.Uint16(pkt[6:8])
		p.DF = ff&0x4000 != 0
		p.Fragment = ff&0x2000 != 0 || ff&0x1fff != 0
		p.TTL = pkt[8]
		p.Proto = pkt[9]
		p.Src = netip.AddrFrom4([4]byte(pkt[12:16]))
		p.Dst = netip.AddrFrom4([4]byte(pkt[16:20]))
		if ff&0x1fff != 0 {
			p.Payload = pkt[ihl:]
			return nil
		}
	case 6:
		if len(pkt) < 40 {
			return ErrShort
		}
		plen := int(binary.BigEndian.Uint16(pkt[4:6]))
		if len(pkt) < 40+plen {
			return ErrHeader
		}
		pkt = pkt[:40+plen]
		p.Raw = pkt
		p.Version = 6
		p.HdrLen = 40
		p.Proto = pkt[6]
		p.TTL = pkt[7]
		p.Src = netip.AddrFrom16([16]byte(pkt[8:24]))
		p.Dst = netip.AddrFrom16([16]byte(pkt[24:40]))
		if p.Proto == 44 { // fragment header: not reassembled here
			p.Fragment = true
			p.Payload = pkt[40:]
			return nil
		}
	default:
		return ErrVersion
	}
	t := pkt[p.HdrLen:]
	p.Transport = t
	p.Payload = t
	switch p.Proto {
	case TCP:
		if len(t) < 20 {
			return nil
		}
		off := int(t[12]>>4) * 4
		if off < 20 || off > len(t) {
			return nil
		}
		p.SrcPort = binary.BigEndian.Uint16(t[0:2])
		p.DstPort = binary.BigEndian.Uint16(t[2:4])
		p.Seq = binary.BigEndian.Uint32(t[4:8])
		p.Ack = binary.BigEndian.Uint32(t[8:12])
		p.Flags = t[13]
		p.Window = binary.BigEndian.Uint16(t[14:16])
		p.TCPHdrLen = off
		p.Payload = t[off:]
	case UDP:
		if len(t) < 8 {
			return nil
		}
		p.SrcPort = binary.BigEndian.Uint16(t[0:2])
		p.DstPort = binary.BigEndian.Uint16(t[2:4])
		p.Payload = t[8:]
	case ICMPv4, ICMPv6:
		if len(t) < 8 {
			return nil
		}
		p.ICMPType, p.ICMPCode = t[0], t[1]
		p.ICMPEchoID = binary.BigEndian.Uint16(t[4:6])
		p.Payload = t[8:]
	}
	return nil
}

// Flow is a 5-tuple. It is comparable and usable as a map key.
type Flow struct {
	Src, Dst netip.AddrPort
	Proto    uint8
}

// Flow returns the packet's 5-tuple.
func (p *IP) Flow() Flow {
	return Flow{Src: netip.AddrPortFrom(p.Src, p.SrcPort), Dst: netip.AddrPortFrom(p.Dst, p.DstPort), Proto: p.Proto}
}

// Reverse returns the flow of the other direction.
func (f Flow) Reverse() Flow { return Flow{Src: f.Dst, Dst: f.Src, Proto: f.Proto} }

func (f Flow) String() string {
	name := "ip"
	switch f.Proto {
	case TCP:
		name = "tcp"
	case UDP:
		name = "udp"
	case ICMPv4, ICMPv6:
		name = "icmp"
	}
	return name + " " + f.Src.String() + " > " + f.Dst.String()
}

// DecTTL decrements the IP TTL (hop limit) of pkt in place, updating the IPv4
// header checksum incrementally (RFC 1624). It returns the new TTL. pkt must
// have been accepted by Parse.
func DecTTL(pkt []byte) uint8 {
	if pkt[0]>>4 == 6 {
		pkt[7]--
		return pkt[7]
	}
	old := binary.BigEndian.Uint16(pkt[8:10])
	pkt[8]--
	nw := binary.BigEndian.Uint16(pkt[8:10])
	sum := ^binary.BigEndian.Uint16(pkt[10:12])
	s := uint32(sum) + uint32(^old) + uint32(nw)
	s = (s & 0xffff) + (s >> 16)
	s = (s & 0xffff) + (s >> 16)
	binary.BigEndian.PutUint16(pkt[10:12], ^uint16(s))
	return pkt[8]
}

// Verdict is what a gateway on the forwarding path decides for one packet.
// The zero value passes the packet unchanged.
type Verdict struct {
	// Drop discards the packet.
	Drop bool
	// Delay holds the packet for this long before forwarding it.
	Delay time.Duration
}
