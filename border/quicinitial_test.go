package border_test

import (
	"net"
	"net/netip"
	"testing"
	"time"
)

// TestQUICInitialNeedsAClientSizedDatagram: the quic-initial matcher takes
// a datagram for a client's Initial only at 1200 bytes or more (RFC 9000
// §14.1). A DNS query whose random ID starts with the long-header bits and
// a QUIC version once made Iran's 2025 QUIC rule drop resolvers' queries
// abroad, and the lookups that needed them timed out.
func TestQUICInitialNeedsAClientSizedDatagram(t *testing.T) {
	l := newLab(t, `rules:
  - id: quic-off
    source: test
    year: 2025
    scope: {protocols: [udp], direction: outbound}
    inspect: {packets: first}
    match: [{quic-initial: {}}]
    actions: [{drop: {flow: true, direction: both}}]
`, true)
	vps := l.w.Host("vps")
	ln, err := vps.ListenPacket("udp", ":53")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	for _, tc := range []struct {
		name string
		size int
		want bool
	}{
		{"a 40-byte DNS-sized datagram with a QUIC v1 long header", 40, true},
		{"a 512-byte datagram with a QUIC v2 long header", 512, true},
		{"a 1200-byte QUIC v1 Initial", 1200, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := make([]byte, tc.size)
			copy(d, []byte{0xc0, 0, 0, 0, 1, 8})
			if tc.size == 512 {
				copy(d, []byte{0xd0, 0x6b, 0x33, 0x43, 0xcf, 8})
			}
			pc, err := l.client.ListenPacket("udp", ":0")
			if err != nil {
				t.Fatal(err)
			}
			defer pc.Close()
			if _, err := pc.WriteTo(d, net.UDPAddrFromAddrPort(netip.AddrPortFrom(vps.Addr(4), 53))); err != nil {
				t.Fatal(err)
			}
			ln.SetReadDeadline(time.Now().Add(time.Second))
			n, _, err := ln.ReadFrom(make([]byte, 2048))
			if got := err == nil && n == tc.size; got != tc.want {
				t.Errorf("reached the server: %v, want %v (%v)", got, tc.want, err)
			}
		})
	}
}
