package border_test

import (
	"math/rand/v2"
	"net/netip"
	"testing"

	"github.com/splinter-lab/splinter/border"
	"github.com/splinter-lab/splinter/clock"
	"github.com/splinter-lab/splinter/packet"
	"github.com/splinter-lab/splinter/policy"
)

// fullPolicy loads a policy that uses every matcher kind, so that junk meets
// every parser.
func fullPolicy(t testing.TB) *policy.Policy {
	t.Helper()
	p, err := policy.Load("full.yaml", []byte(header+`
lists:
  names: {kind: domains, items: [blocked.com]}
  re: {kind: regexes, items: ['(^|\.)blocked\.com$']}
  words: {kind: keywords, items: [forbidden]}
  nets: {kind: prefixes, items: [198.18.200.0/24]}
rules:
  - {id: dns, source: t, year: 2024, match: [{dns: {list: re}}], actions: [{dns-inject: {injectors: [{name: a, answer: {addrs: [198.18.99.1]}}]}}]}
  - {id: sni, source: t, year: 2024, inspect: {reassemble-tcp: true}, match: [{tls-sni: {list: names}}], actions: [{rst: {to: both}}, {residual: {tuple: 3, duration: 90s}}]}
  - {id: esni, source: t, year: 2024, inspect: {reassemble-tcp: true, reassemble-tls: true}, match: [esni], actions: [{drop: {}}]}
  - {id: ech, source: t, year: 2024, match: [{ech: {outer-list: names}}], actions: [{drop: {}}]}
  - {id: http, source: t, year: 2024, inspect: {reassemble-tcp: true}, match: [{http: {list: words, fields: [path, request]}}], actions: [{blockpage: {status: 403, body: x}}]}
  - {id: quic, source: t, year: 2024, inspect: {packets: first}, match: [{quic-sni: {list: names}}], actions: [{residual: {tuple: 4, duration: 60s, enforce: drop}}]}
  - {id: fet, source: t, year: 2024, inspect: {packets: first}, match: [fully-encrypted], actions: [{throttle: {rate: 1Mbit}}]}
  - {id: allow, source: t, year: 2024, inspect: {packets: first-n, n: 2}, match: [{protocol-allowlist: {packets: 2, allow: [dns, http, tls]}}], actions: [{null-route: {duration: 10s, key: 4-tuple}}]}
  - {id: ip, source: t, year: 2024, match: [{ip: {list: nets}}], actions: [{drop: {flow: true}}]}
`), nil, ".")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// junk returns a packet that is mostly well-formed IP with hostile
// contents, or plain garbage.
func junk(r *rand.Rand, buf []byte) []byte {
	src := netip.AddrPortFrom(netip.AddrFrom4([4]byte{198, 18, 0, byte(r.IntN(256))}), uint16(r.IntN(65536)))
	dst := netip.AddrPortFrom(netip.AddrFrom4([4]byte{198, 18, 16, byte(r.IntN(256))}), []uint16{53, 80, 443, uint16(r.IntN(65536))}[r.IntN(4)])
	payload := make([]byte, r.IntN(300))
	for i := range payload {
		payload[i] = byte(r.Uint32())
	}
	switch r.IntN(6) {
	case 0: // garbage
		n := r.IntN(80)
		for i := 0; i < n; i++ {
			buf = append(buf, byte(r.Uint32()))
		}
		return buf
	case 1: // a TLS-looking record with random body
		payload = append([]byte{0x16, 3, 1, byte(r.IntN(2)), byte(r.Uint32()), 1, 0, 0, byte(r.Uint32())}, payload...)
	case 2: // a QUIC-looking long header
		payload = append([]byte{0xc0 | byte(r.IntN(64)), 0, 0, 0, 1, 8}, payload...)
		return packet.AppendUDP(buf, src, dst, payload, packet.Shape{})
	case 3: // DNS-looking
		return packet.AppendUDP(buf, src, dst, append([]byte{1, 2, 1, 0, 0, byte(r.IntN(3))}, payload...), packet.Shape{})
	case 4: // HTTP-looking
		payload = append([]byte("GET /forbidden"), payload...)
	}
	b := packet.AppendTCP(buf, packet.TCPSegment{Src: src, Dst: dst, Seq: r.Uint32(), Ack: r.Uint32(), Flags: uint8(r.IntN(64)), Payload: payload, BadChecksum: r.IntN(2) == 0})
	if r.IntN(4) == 0 { // corrupt a header byte
		b[r.IntN(min(len(b), 60))] ^= byte(r.Uint32())
	}
	return b
}

func TestMillionMalformedPackets(t *testing.T) {
	n := 1_000_000
	if testing.Short() {
		n = 50_000
	}
	l := newLab(t, sniPolicy, false)
	e, err := border.New(fullPolicy(t), border.Config{Rand: rand.New(rand.NewPCG(1, 2)), Clock: clock.NewManual(t0), MaxFlows: 1 << 14})
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(7, 7))
	var buf []byte
	for i := 0; i < n; i++ {
		buf = junk(r, buf[:0])
		e.ProcessBytes(buf, packet.Direction(i&1), func([]byte) {})
	}
	if e.Flows() > 1<<14 {
		t.Fatalf("flow table holds %d flows, over its cap", e.Flows())
	}
	// The lab's border, fed the same junk, still serves allowed traffic.
	xx := l.engines["XX"]
	for i := 0; i < n/10; i++ {
		buf = junk(r, buf[:0])
		xx.ProcessBytes(buf, packet.Direction(i&1), func([]byte) {})
	}
	if status, _, err := httpGet(l.client, "https://www.allowed.com/"); err != nil || status != 200 {
		t.Fatalf("allowed traffic after junk: %d %v", status, err)
	}
	if err := l.tlsDial(l.client, netip.AddrPortFrom(l.site("www.blocked.com").Addr(4), 443), "www.blocked.com", nil); err == nil {
		t.Fatal("blocked SNI passes after junk")
	}
}

func TestHalfOpenFloodStaysUnderCap(t *testing.T) {
	const maxFlows = 1 << 16
	e, err := border.New(fullPolicy(t), border.Config{MaxFlows: maxFlows, Clock: clock.NewManual(t0)})
	if err != nil {
		t.Fatal(err)
	}
	n := 1_000_000
	if testing.Short() {
		n = 100_000
	}
	var buf []byte
	dst := netip.MustParseAddrPort("198.18.16.66:443")
	for i := 0; i < n; i++ {
		src := netip.AddrPortFrom(netip.AddrFrom4([4]byte{198, 18, byte(i >> 16), byte(i >> 8)}), uint16(i))
		buf = packet.AppendTCP(buf[:0], packet.TCPSegment{Src: src, Dst: dst, Seq: uint32(i), Flags: packet.SYN})
		e.ProcessBytes(buf, packet.Outbound, func([]byte) {})
	}
	if e.Flows() > maxFlows {
		t.Fatalf("%d flows after a SYN flood, cap %d", e.Flows(), maxFlows)
	}
	// A new flow is still tracked and censored.
	var injected int
	src := netip.MustParseAddrPort("198.18.0.66:40000")
	for _, seg := range []packet.TCPSegment{
		{Src: src, Dst: dst, Seq: 100, Flags: packet.SYN},
		{Src: dst, Dst: src, Seq: 500, Ack: 101, Flags: packet.SYN | packet.ACK},
		{Src: src, Dst: dst, Seq: 101, Ack: 501, Flags: packet.ACK | packet.PSH, Payload: helloBytes("www.blocked.com")},
	} {
		dir := packet.Outbound
		if seg.Src == dst {
			dir = packet.Inbound
		}
		e.ProcessBytes(packet.AppendTCP(nil, seg), dir, func([]byte) { injected++ })
	}
	if injected != 2 {
		t.Fatalf("%d packets injected for a blocked SNI after the flood, want 2 RSTs", injected)
	}
}

func helloBytes(sni string) []byte { return hello(sni) }
