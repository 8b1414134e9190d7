package strategy

import (
	"encoding/binary"
	"net/netip"

	"github.com/splinter-lab/splinter/packet"
)

// wire is a packet in flight through an action tree, modelled on what
// Geneva holds: a scapy packet dissected from the raw bytes, whose fields
// keep the values read off the wire unless an action deletes them, in
// which case scapy computes them when it builds the packet to send
// (layers/packet.py: Packet.set deletes the IP and TCP checksums before
// every tamper; layers/tcp_layer.py: set_options also deletes the TCP data
// offset and the IP length; layers/layer.py: set_load deletes the IP
// length). b holds the bytes with every explicit value written in; the
// del* flags say which fields build() must compute.
type wire struct {
	b      []byte
	v6     bool
	ipHdr  int   // bytes of IP header present (IPv6: the fixed header)
	l4     uint8 // packet.TCP or packet.UDP when scapy would see that layer, else 0
	tcpHdr int   // bytes of TCP header present: 20 and the options

	delIPLen, delIPSum, delTCPSum, delTCPOff bool

	// bad is a field holding a value scapy cannot pack (an add that
	// overflowed, an option it cannot encode): Geneva's engine fails to
	// build the packet and sends nothing (engine.py: mysend logs the
	// exception).
	bad Field
	// delay is what a sleep action asked for (actions/sleep.py).
	delay float64
	// touched says scapy's raw-bytes cache of the transport is gone, so
	// the TCP header is rebuilt from its fields (see touch).
	touched bool
	// opts is scapy's live option list once a tamper has set an option:
	// options Geneva set keep the names it gave them (an MD5 option it
	// added is named 19 and matches the next md5header tamper; one read off
	// the wire is named "MD5" and never does).
	opts     []tcpOpt
	optsLive bool
	// trail is the number of bytes at the end that scapy holds as padding
	// after the transport (see segment): outside the TCP payload and its
	// checksum, still sent.
	trail int
}

// load reads pkt (already accepted by packet.Parse) into w. w.b aliases
// pkt unless scapy would rebuild it differently; w must then only be
// cloned, never changed.
func (w *wire) load(pkt []byte, p *packet.IP) {
	*w = wire{}
	if p.Version == 4 {
		total := int(binary.BigEndian.Uint16(pkt[2:4]))
		w.b = pkt[:total:total]
		w.ipHdr = p.HdrLen
	} else {
		w.v6 = true
		n := 40 + int(binary.BigEndian.Uint16(pkt[4:6]))
		w.b = pkt[:n:n]
		w.ipHdr = 40
	}
	// scapy dissects the transport only in a packet that is not a later
	// fragment (scapy/layers/inet.py: IP.guess_payload_class).
	if p.Version == 4 && binary.BigEndian.Uint16(w.b[6:8])&0x1fff != 0 {
		return
	}
	if p.Version == 6 && p.Fragment {
		return
	}
	seg := w.b[w.ipHdr:]
	switch p.Proto {
	case packet.TCP:
		if len(seg) >= 20 {
			w.l4 = packet.TCP
			opts := (int(seg[12]>>4) - 5) * 4
			opts = max(0, min(opts, len(seg)-20))
			w.tcpHdr = 20 + opts
		}
	case packet.UDP:
		if len(seg) >= 8 {
			w.l4 = packet.UDP
		}
	}
}

// touch records that a tamper went ahead. scapy sends a dissected layer
// as the bytes it was read from until a field of it, or of a layer above,
// is set or deleted (scapy/packet.py: raw_packet_cache, cleared by
// setfieldval and, for the layers below, by delfieldval); every tamper
// deletes the IPv4 or TCP checksum, so from then on the TCP header is
// rebuilt from its parsed fields: its option list drops what follows an
// end-of-list option and is padded with zeros (TCPOptionsField.m2i, i2m),
// while the data offset keeps the value read off the wire.
func (w *wire) touch() {
	if w.touched || w.l4 != packet.TCP {
		w.touched = true
		return
	}
	w.touched = true
	opts := w.options()
	if len(opts) == 0 {
		return
	}
	ser, ok := serializeOptions(parseOptions(opts))
	if !ok || string(ser) == string(opts) {
		return
	}
	start := w.ipHdr + 20
	nb := make([]byte, 0, len(w.b)-len(opts)+len(ser))
	nb = append(nb, w.b[:start]...)
	nb = append(nb, ser...)
	nb = append(nb, w.b[w.ipHdr+w.tcpHdr:]...)
	w.b = nb
	w.tcpHdr = 20 + len(ser)
}

func (w *wire) clone() *wire {
	c := *w
	c.b = append([]byte(nil), w.b...)
	if w.opts != nil {
		c.opts = append([]tcpOpt(nil), w.opts...)
	}
	return &c
}

func (w *wire) t() []byte { return w.b[w.ipHdr:] }

// payload returns the transport payload, or the IP payload when scapy sees
// no transport layer.
func (w *wire) payload() []byte {
	end := len(w.b) - w.trail
	switch w.l4 {
	case packet.TCP:
		return w.b[w.ipHdr+w.tcpHdr : end]
	case packet.UDP:
		return w.b[w.ipHdr+8 : end]
	}
	return w.b[w.ipHdr:end]
}

// transport returns the transport header and payload, without padding.
func (w *wire) transport() []byte { return w.b[w.ipHdr : len(w.b)-w.trail] }

// isDNS reports whether scapy would dissect the UDP payload as DNS (it
// binds DNS to UDP ports 53 and 5353), leaving no raw load to read.
func (w *wire) isDNS() bool {
	if w.l4 != packet.UDP || len(w.payload()) < 12 {
		return false
	}
	t := w.t()
	sp, dp := binary.BigEndian.Uint16(t[0:2]), binary.BigEndian.Uint16(t[2:4])
	return sp == 53 || dp == 53 || sp == 5353 || dp == 5353
}

// has reports whether the layer a field belongs to is present. For IPv6
// packets the IP layer offers the fields IPv6 shares with IPv4 (see the
// package documentation).
func (w *wire) has(f Field) bool {
	switch f.Proto() {
	case IP:
		if !w.v6 {
			return true
		}
		switch f {
		case IPVersion, IPTOS, IPLen, IPTTL, IPProto, IPSrc, IPDst, IPLoad:
			return true
		}
		return false
	case TCP:
		return w.l4 == packet.TCP
	case UDP:
		return w.l4 == packet.UDP
	}
	return false
}

// gval is a field's value as Geneva's getters return it: an integer, a
// string, or something that compares equal to neither (raw option bytes).
type gval struct {
	num    int64
	isNum  bool
	str    string
	opaque bool
}

func (w *wire) numField(f Field) int64 {
	b := w.b
	if f.Proto() == IP && w.v6 {
		switch f {
		case IPVersion:
			return int64(b[0] >> 4)
		case IPTOS:
			return int64(b[0]&15)<<4 | int64(b[1]>>4)
		case IPLen:
			return int64(binary.BigEndian.Uint16(b[4:6])) + 40
		case IPTTL:
			return int64(b[7])
		case IPProto:
			return int64(b[6])
		}
		return 0
	}
	t := w.t()
	switch f {
	case IPVersion:
		return int64(b[0] >> 4)
	case IPIHL:
		return int64(b[0] & 15)
	case IPTOS:
		return int64(b[1])
	case IPLen:
		return int64(binary.BigEndian.Uint16(b[2:4]))
	case IPID:
		return int64(binary.BigEndian.Uint16(b[4:6]))
	case IPFlags:
		return int64(b[6] >> 5)
	case IPFrag:
		return int64(binary.BigEndian.Uint16(b[6:8]) & 0x1fff)
	case IPTTL:
		return int64(b[8])
	case IPProto:
		return int64(b[9])
	case IPChksum:
		return int64(binary.BigEndian.Uint16(b[10:12]))
	case TCPSport, UDPSport:
		return int64(binary.BigEndian.Uint16(t[0:2]))
	case TCPDport, UDPDport:
		return int64(binary.BigEndian.Uint16(t[2:4]))
	case TCPSeq:
		return int64(binary.BigEndian.Uint32(t[4:8]))
	case TCPAck:
		return int64(binary.BigEndian.Uint32(t[8:12]))
	case TCPDataofs:
		return int64(t[12] >> 4)
	case TCPReserved:
		return int64(t[12] >> 1 & 7)
	case TCPFlags:
		return int64(t[12]&1)<<8 | int64(t[13])
	case TCPWindow:
		return int64(binary.BigEndian.Uint16(t[14:16]))
	case TCPChksum:
		return int64(binary.BigEndian.Uint16(t[16:18]))
	case TCPUrgptr:
		return int64(binary.BigEndian.Uint16(t[18:20]))
	case UDPLen:
		return int64(binary.BigEndian.Uint16(t[4:6]))
	case UDPChksum:
		return int64(binary.BigEndian.Uint16(t[6:8]))
	}
	return 0
}

// get returns the field's value as Geneva's trigger sees it
// (layers/layer.py: Layer.get and the per-layer getters).
func (w *wire) get(f Field) gval {
	in := f.info()
	switch in.kind {
	case kindNum, kindTCPFlags:
		return gval{num: w.numField(f), isNum: true}
	case kindIPFlags:
		return gval{str: ipFlagsString(uint8(w.numField(f)))}
	case kindAddr:
		var a netip.Addr
		if w.v6 {
			off := 8
			if f == IPDst {
				off = 24
			}
			a = netip.AddrFrom16([16]byte(w.b[off : off+16]))
		} else {
			off := 12
			if f == IPDst {
				off = 16
			}
			a = netip.AddrFrom4([4]byte(w.b[off : off+4]))
		}
		return gval{str: a.String()}
	case kindLoad:
		if w.isDNS() {
			return gval{}
		}
		return gval{str: quoteLoad(w.payload())}
	case kindOption:
		return w.optionValue(in.opt)
	}
	return gval{}
}

// setNum writes an integer into a numeric field, as scapy would pack it:
// bit fields keep the low bits, byte-aligned fields that cannot hold the
// value make the packet unbuildable.
func (w *wire) setNum(f Field, v int64) {
	in := f.info()
	mask := int64(1)<<in.bits - 1
	if !in.masked && (v < 0 || v > mask) {
		w.bad = f
		return
	}
	if w.bad == f {
		w.bad = 0
	}
	v &= mask
	b := w.b
	if f.Proto() == IP && w.v6 {
		switch f {
		case IPVersion:
			b[0] = byte(v)<<4 | b[0]&15
		case IPTOS:
			b[0] = b[0]&0xf0 | byte(v>>4)
			b[1] = byte(v)<<4 | b[1]&15
		case IPLen:
			binary.BigEndian.PutUint16(b[4:6], uint16(max(v-40, 0)))
			w.delIPLen = false
		case IPTTL:
			b[7] = byte(v)
		case IPProto:
			b[6] = byte(v)
		}
		return
	}
	t := w.t()
	switch f {
	case IPVersion:
		b[0] = byte(v)<<4 | b[0]&15
	case IPIHL:
		b[0] = b[0]&0xf0 | byte(v)
	case IPTOS:
		b[1] = byte(v)
	case IPLen:
		binary.BigEndian.PutUint16(b[2:4], uint16(v))
		w.delIPLen = false
	case IPID:
		binary.BigEndian.PutUint16(b[4:6], uint16(v))
	case IPFlags:
		b[6] = b[6]&0x1f | byte(v)<<5
	case IPFrag:
		binary.BigEndian.PutUint16(b[6:8], binary.BigEndian.Uint16(b[6:8])&0xe000|uint16(v))
	case IPTTL:
		b[8] = byte(v)
	case IPProto:
		b[9] = byte(v)
	case IPChksum:
		binary.BigEndian.PutUint16(b[10:12], uint16(v))
		w.delIPSum = false
	case TCPSport, UDPSport:
		binary.BigEndian.PutUint16(t[0:2], uint16(v))
	case TCPDport, UDPDport:
		binary.BigEndian.PutUint16(t[2:4], uint16(v))
	case TCPSeq:
		binary.BigEndian.PutUint32(t[4:8], uint32(v))
	case TCPAck:
		binary.BigEndian.PutUint32(t[8:12], uint32(v))
	case TCPDataofs:
		t[12] = byte(v)<<4 | t[12]&15
		w.delTCPOff = false
	case TCPReserved:
		t[12] = t[12]&0xf1 | byte(v)<<1
	case TCPFlags:
		t[12] = t[12]&0xfe | byte(v>>8)
		t[13] = byte(v)
	case TCPWindow:
		binary.BigEndian.PutUint16(t[14:16], uint16(v))
	case TCPChksum:
		binary.BigEndian.PutUint16(t[16:18], uint16(v))
		w.delTCPSum = false
	case TCPUrgptr:
		binary.BigEndian.PutUint16(t[18:20], uint16(v))
	case UDPLen:
		binary.BigEndian.PutUint16(t[4:6], uint16(v))
	case UDPChksum:
		binary.BigEndian.PutUint16(t[6:8], uint16(v))
	}
}

// setAddr writes an IPv4 address into src or dst (IPv4 packets only).
func (w *wire) setAddr(f Field, a netip.Addr) {
	if w.v6 || !a.Is4() {
		return
	}
	off := 12
	if f == IPDst {
		off = 16
	}
	a4 := a.As4()
	copy(w.b[off:off+4], a4[:])
}

// setLoad replaces the payload of the field's layer: for IP the whole
// transport, which scapy then no longer sees as TCP or UDP
// (layers/layer.py: set_load sets the layer's payload to Raw(value) and
// deletes the IP length; UDP's length and checksum are left as they were).
func (w *wire) setLoad(f Field, v []byte) {
	var keep int
	switch f {
	case IPLoad:
		keep = w.ipHdr
		w.l4 = 0
		w.tcpHdr = 0
	case TCPLoad:
		keep = w.ipHdr + w.tcpHdr
	case UDPLoad:
		keep = w.ipHdr + 8
	}
	trail := w.b[len(w.b)-w.trail:]
	nb := make([]byte, 0, keep+len(v)+len(trail))
	nb = append(nb, w.b[:keep]...)
	nb = append(nb, v...)
	w.b = append(nb, trail...)
	w.delIPLen = true
}

// build returns the bytes Geneva would send: the deleted fields computed
// as scapy's post_build computes them, transport before IP
// (scapy/layers/inet.py: TCP.post_build, in4_pseudoheader, IP.post_build).
// It returns nil for a packet scapy cannot build.
func (w *wire) build() []byte {
	if w.bad != 0 {
		return nil
	}
	w.buildTransport()
	b := w.b
	if w.v6 {
		if w.delIPLen {
			binary.BigEndian.PutUint16(b[4:6], uint16(len(b)-w.trail-40))
		}
		return b
	}
	if w.delIPLen { // scapy's length leaves out padding it sends after
		binary.BigEndian.PutUint16(b[2:4], uint16(len(b)-w.trail))
	}
	if w.delIPSum {
		b[10], b[11] = 0, 0
		binary.BigEndian.PutUint16(b[10:12], packet.Checksum(b[:w.ipHdr]))
	}
	return b
}

// transportSum is scapy's in4_chksum: the pseudo-header takes its length
// from the IP header's total length and header length fields when the
// total length is set (so a tampered IP:len changes it), from the segment
// otherwise, and the sum covers every byte of the segment as built.
func (w *wire) transportSum(proto uint8, seg []byte) uint16 {
	b := w.b
	var s uint32
	var length int
	if w.v6 {
		s = sumBytes(s, b[8:40])
		length = len(seg)
	} else {
		s = sumBytes(s, b[12:20])
		length = len(seg)
		if !w.delIPLen {
			length = max(int(binary.BigEndian.Uint16(b[2:4]))-4*int(b[0]&15), 0)
		}
	}
	s += uint32(proto) + uint32(length&0xffff)
	s = sumBytes(s, seg)
	for s>>16 != 0 {
		s = s&0xffff + s>>16
	}
	return ^uint16(s)
}

func sumBytes(s uint32, b []byte) uint32 {
	for len(b) >= 2 {
		s += uint32(b[0])<<8 | uint32(b[1])
		b = b[2:]
	}
	if len(b) == 1 {
		s += uint32(b[0]) << 8
	}
	return s
}
