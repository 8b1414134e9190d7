package strategy_test

import (
	"encoding/binary"
	"math/rand/v2"
	"net/netip"
	"testing"

	"github.com/splinter-lab/splinter/packet"
	"github.com/splinter-lab/splinter/strategy"
)

var (
	client4 = netip.MustParseAddrPort("198.18.0.66:40000")
	server4 = netip.MustParseAddrPort("198.18.96.135:80")
	client6 = netip.MustParseAddrPort("[2001:db8:86:1::2]:40000")
	server6 = netip.MustParseAddrPort("[2001:db8:1:2::7]:80")
)

const getRequest = "GET /?q=ultrasurf HTTP/1.1\r\nHost: x\r\n\r\n"

// Options a Linux client sends: a SYN's MSS, SACK permitted, timestamp,
// NOP, window scale; a later segment's NOP, NOP, timestamp.
var (
	synOptions = []byte{2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0, 0, 111, 0, 0, 0, 0, 1, 3, 3, 7}
	tsOptions  = []byte{1, 1, 8, 10, 0, 0, 0, 112, 0, 0, 0, 222}
)

func seg(src, dst netip.AddrPort, flags uint8, seq, ack uint32, opts []byte, payload string) []byte {
	return packet.AppendTCP(nil, packet.TCPSegment{Src: src, Dst: dst, Seq: seq, Ack: ack, Flags: flags, Window: 502,
		Options: opts, Payload: []byte(payload), Shape: packet.Shape{TTL: 64, ID: 7, DF: true}})
}

// The client's packets of an HTTP request: SYN, the handshake's ACK, and
// the request (with or without the timestamp option).
func syn() []byte { return seg(client4, server4, packet.SYN, 1000, 0, synOptions, "") }
func ack() []byte { return seg(client4, server4, packet.ACK, 1001, 5001, tsOptions, "") }
func get() []byte { return seg(client4, server4, packet.PSH|packet.ACK, 1001, 5001, nil, getRequest) }
func getO() []byte {
	return seg(client4, server4, packet.PSH|packet.ACK, 1001, 5001, tsOptions, getRequest)
}
func get6() []byte { return seg(client6, server6, packet.PSH|packet.ACK, 1001, 5001, nil, getRequest) }
func udp4() []byte {
	return packet.AppendUDP(nil, netip.MustParseAddrPort("198.18.0.66:5353"), netip.MustParseAddrPort("198.18.0.67:53"),
		[]byte("\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x01x\x00\x00\x01\x00\x01"), packet.Shape{TTL: 64})
}

// view is a parsed emitted packet.
type view struct {
	b []byte
	p packet.IP
}

func parseView(t *testing.T, b []byte) view {
	t.Helper()
	v := view{b: b}
	pb := b
	if len(b) > 0 && b[0]>>4 != 4 && b[0]>>4 != 6 { // a tampered version: read it as IPv4
		pb = append([]byte{b[0]&15 | 0x40}, b[1:]...)
	}
	if err := packet.Parse(pb, &v.p); err != nil {
		t.Fatalf("emitted packet does not parse: %v\n%x", err, b)
	}
	return v
}

func (v view) tcp() []byte       { return v.b[v.p.HdrLen:] }
func (v view) ipLen() int        { return int(binary.BigEndian.Uint16(v.b[2:4])) }
func (v view) dataofs() int      { return int(v.tcp()[12] >> 4) }
func (v view) flags9() int       { return int(v.tcp()[12]&1)<<8 | int(v.tcp()[13]) }
func (v view) ipSumOK() bool     { return v.p.Version == 6 || packet.Checksum(v.b[:v.p.HdrLen]) == 0 }
func (v view) transportOK() bool { return packet.VerifyTransport(&v.p) }

// options returns the TCP options as (kind, data) pairs, stopping at EOL.
func (v view) options() [][2][]byte {
	t := v.tcp()
	x := t[20:min(len(t), v.p.TCPHdrLen)]
	var out [][2][]byte
	for len(x) > 0 {
		switch x[0] {
		case 0:
			return append(out, [2][]byte{{0}, nil})
		case 1:
			out = append(out, [2][]byte{{1}, nil})
			x = x[1:]
			continue
		}
		if len(x) < 2 || int(x[1]) < 2 || int(x[1]) > len(x) {
			return out
		}
		out = append(out, [2][]byte{{x[0]}, x[2:x[1]]})
		x = x[x[1]:]
	}
	return out
}

func (v view) option(kind byte) ([]byte, bool) {
	for _, o := range v.options() {
		if o[0][0] == kind {
			return o[1], true
		}
	}
	return nil, false
}

// apply runs pkt through a fresh engine for dna, outbound (or inbound) and
// returns the packets emitted, copied.
func apply(t *testing.T, dna string, inbound bool, pkts ...[]byte) [][]byte {
	t.Helper()
	e := strategy.New(strategy.MustParse(dna), strategy.Options{Rand: rand.New(rand.NewPCG(7, 7))})
	return run(e, inbound, pkts...)
}

func run(e *strategy.Engine, inbound bool, pkts ...[]byte) [][]byte {
	var out [][]byte
	emit := func(b []byte) { out = append(out, append([]byte(nil), b...)) }
	for _, p := range pkts {
		if inbound {
			e.Inbound(p, emit)
		} else {
			e.Outbound(p, emit)
		}
	}
	return out
}

func applyOne(t *testing.T, dna string, pkt []byte, want int) []view {
	t.Helper()
	out := apply(t, dna, false, pkt)
	if len(out) != want {
		t.Fatalf("%s: emitted %d packets, want %d", dna, len(out), want)
	}
	vs := make([]view, len(out))
	for i, b := range out {
		vs[i] = parseView(t, b)
	}
	return vs
}
