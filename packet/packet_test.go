package packet_test

import (
	"net/netip"
	"testing"

	"github.com/splinter-lab/splinter/packet"
)

func TestBuildParseRoundTrip(t *testing.T) {
	v4a, v4b := netip.MustParseAddrPort("198.18.0.1:40000"), netip.MustParseAddrPort("198.18.16.2:443")
	v6a, v6b := netip.MustParseAddrPort("[2001:db8::1]:5353"), netip.MustParseAddrPort("[2001:db8:1::2]:53")
	for _, tc := range []struct {
		name string
		pkt  []byte
		want packet.IP
	}{
		{"tcp4", packet.AppendTCP(nil, packet.TCPSegment{Src: v4a, Dst: v4b, Seq: 7, Ack: 9, Flags: packet.RST | packet.ACK, Window: 5, Payload: []byte("hi"), Shape: packet.Shape{TTL: 128, ID: 30000, DF: true}}),
			packet.IP{Version: 4, Src: v4a.Addr(), Dst: v4b.Addr(), Proto: packet.TCP, TTL: 128, ID: 30000, DF: true, SrcPort: 40000, DstPort: 443, Seq: 7, Ack: 9, Flags: packet.RST | packet.ACK, Window: 5, TCPHdrLen: 20}},
		{"udp6", packet.AppendUDP(nil, v6a, v6b, []byte("query"), packet.Shape{}),
			packet.IP{Version: 6, Src: v6a.Addr(), Dst: v6b.Addr(), Proto: packet.UDP, TTL: 64, SrcPort: 5353, DstPort: 53}},
		{"icmp4", packet.AppendICMP(nil, v4a.Addr(), v4b.Addr(), packet.ICMPv4Echo, 0, 0x12340001, []byte("ping"), packet.Shape{}),
			packet.IP{Version: 4, Src: v4a.Addr(), Dst: v4b.Addr(), Proto: packet.ICMPv4, TTL: 64, ICMPType: packet.ICMPv4Echo, ICMPEchoID: 0x1234}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var p packet.IP
			if err := packet.Parse(tc.pkt, &p); err != nil {
				t.Fatal(err)
			}
			if p.Src != tc.want.Src || p.Dst != tc.want.Dst || p.Proto != tc.want.Proto || p.TTL != tc.want.TTL ||
				p.ID != tc.want.ID || p.DF != tc.want.DF || p.SrcPort != tc.want.SrcPort || p.DstPort != tc.want.DstPort ||
				p.Seq != tc.want.Seq || p.Ack != tc.want.Ack || p.Flags != tc.want.Flags || p.Window != tc.want.Window ||
				p.ICMPType != tc.want.ICMPType || p.ICMPEchoID != tc.want.ICMPEchoID {
				t.Fatalf("parsed %+v\nwant   %+v", p, tc.want)
			}
			if p.Version == 4 && packet.Checksum(tc.pkt[:20]) != 0 {
				t.Error("bad IPv4 header checksum")
			}
			if !packet.VerifyTransport(&p) {
				t.Error("bad transport checksum")
			}
		})
	}
}

func TestTCPOptions(t *testing.T) {
	// A timestamp option (10 bytes) pads to 12: a 32-byte header.
	ts := []byte{8, 10, 0, 0, 0, 1, 0, 0, 0, 0}
	pkt := packet.AppendTCP(nil, packet.TCPSegment{Src: netip.MustParseAddrPort("198.18.0.1:1"), Dst: netip.MustParseAddrPort("198.18.0.2:2"), Options: ts, Payload: []byte("data")})
	var p packet.IP
	if err := packet.Parse(pkt, &p); err != nil || p.TCPHdrLen != 32 || string(p.Payload) != "data" || !packet.VerifyTransport(&p) {
		t.Fatalf("err %v, header %d, payload %q, checksum ok %v", err, p.TCPHdrLen, p.Payload, packet.VerifyTransport(&p))
	}
}

func TestDecTTLKeepsChecksum(t *testing.T) {
	pkt := packet.AppendUDP(nil, netip.MustParseAddrPort("198.18.0.1:1"), netip.MustParseAddrPort("198.18.0.2:2"), nil, packet.Shape{TTL: 2})
	if ttl := packet.DecTTL(pkt); ttl != 1 || packet.Checksum(pkt[:20]) != 0 {
		t.Fatalf("TTL %d, checksum %#x", ttl, packet.Checksum(pkt[:20]))
	}
}

func TestBadChecksumDetected(t *testing.T) {
	pkt := packet.AppendTCP(nil, packet.TCPSegment{Src: netip.MustParseAddrPort("198.18.0.1:1"), Dst: netip.MustParseAddrPort("198.18.0.2:2"), BadChecksum: true})
	var p packet.IP
	if err := packet.Parse(pkt, &p); err != nil || packet.VerifyTransport(&p) {
		t.Fatalf("err %v, verify %v", err, packet.VerifyTransport(&p))
	}
}

func FuzzParse(f *testing.F) {
	f.Add(packet.AppendTCP(nil, packet.TCPSegment{Src: netip.MustParseAddrPort("198.18.0.1:1"), Dst: netip.MustParseAddrPort("198.18.0.2:2"), Payload: []byte("x")}))
	f.Add(packet.AppendUDP(nil, netip.MustParseAddrPort("[2001:db8::1]:1"), netip.MustParseAddrPort("[2001:db8::2]:2"), []byte("y"), packet.Shape{}))
	f.Add([]byte{0x45, 0, 0, 20})
	f.Fuzz(func(t *testing.T, b []byte) {
		var p packet.IP
		if packet.Parse(b, &p) != nil {
			return
		}
		packet.VerifyTransport(&p)
		_ = p.Flow().String()
		if len(b) > 0 && (p.Version == 4 || p.Version == 6) {
			c := append([]byte(nil), b...)
			if p.TTL > 0 {
				packet.DecTTL(c)
			}
		}
	})
}

func BenchmarkParse(b *testing.B) {
	pkt := packet.AppendTCP(nil, packet.TCPSegment{Src: netip.MustParseAddrPort("198.18.0.1:1"), Dst: netip.MustParseAddrPort("198.18.0.2:2"), Payload: make([]byte, 1400)})
	var p packet.IP
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		packet.Parse(pkt, &p)
	}
}
