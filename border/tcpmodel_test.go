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

// TestTCPStateModel drives an engine with crafted segments, as a Geneva
// strategy would, and checks what its TCP model makes of them.
func TestTCPStateModel(t *testing.T) {
	cli, srv := netip.MustParseAddrPort("198.18.0.66:40000"), netip.MustParseAddrPort("198.18.16.66:80")
	req := []byte("GET /forbidden HTTP/1.1\r\nHost: www.allowed.com\r\n\r\n")
	seg := func(from, to netip.AddrPort, seq, ack uint32, flags uint8, payload []byte) packet.TCPSegment {
		return packet.TCPSegment{Src: from, Dst: to, Seq: seq, Ack: ack, Flags: flags, Payload: payload}
	}
	handshake := []packet.TCPSegment{
		seg(cli, srv, 100, 0, packet.SYN, nil),
		seg(srv, cli, 900, 101, packet.SYN|packet.ACK, nil),
		seg(cli, srv, 101, 901, packet.ACK, nil),
	}
	for _, tc := range []struct {
		name     string
		tcp      string
		evasion  []packet.TCPSegment
		wantRSTs bool
	}{
		{"plain-request-is-reset", "", nil, true},
		{"client-rst-tears-down", "", []packet.TCPSegment{seg(cli, srv, 101, 901, packet.RST|packet.ACK, nil)}, false},
		{"server-payload-does-not-matter", "", []packet.TCPSegment{seg(srv, cli, 901, 101, packet.ACK|packet.PSH, []byte("hello"))}, true},
		{"resync-then-junk-seq-desynchronises", "tcp: {teardown-on-client-rst: 0, resync-on-client-rst: 1}", []packet.TCPSegment{
			seg(cli, srv, 101, 901, packet.RST, nil),
			seg(cli, srv, 50101, 901, packet.ACK|packet.PSH, []byte("junk")),
		}, false},
		{"resync-without-junk-still-caught", "tcp: {teardown-on-client-rst: 0, resync-on-client-rst: 1}", []packet.TCPSegment{
			seg(cli, srv, 101, 901, packet.RST, nil),
		}, true},
		{"fin-with-payload-resynchronises", "tcp: {resync-on-fin-payload: true}", []packet.TCPSegment{
			seg(cli, srv, 70000, 901, packet.FIN|packet.ACK, []byte("x")),
			seg(cli, srv, 90000, 901, packet.ACK|packet.PSH, []byte("junk")),
		}, false},
		{"rst-ignored-by-a-model-that-neither-tears-nor-resyncs", "tcp: {teardown-on-client-rst: 0}", []packet.TCPSegment{
			seg(cli, srv, 101, 901, packet.RST, nil),
		}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pol, err := policy.Load("tcp.yaml", []byte(header+tc.tcp+`
lists:
  words: {kind: keywords, items: [forbidden]}
rules:
  - id: http
    source: test
    year: 2024
    scope: {protocols: [tcp]}
    inspect: {reassemble-tcp: true, require-syn: true}
    match: [{http: {list: words, fields: [path]}}]
    actions: [{rst: {to: both}}]
`), nil, ".")
			if err != nil {
				t.Fatal(err)
			}
			e, err := border.New(pol, border.Config{Rand: rand.New(rand.NewPCG(1, 1)), Clock: clock.NewManual(t0)})
			if err != nil {
				t.Fatal(err)
			}
			injected := 0
			for _, s := range append(append(append([]packet.TCPSegment{}, handshake...), tc.evasion...), seg(cli, srv, 101, 901, packet.ACK|packet.PSH, req)) {
				dir := packet.Outbound
				if s.Src == srv {
					dir = packet.Inbound
				}
				e.ProcessBytes(packet.AppendTCP(nil, s), dir, func([]byte) { injected++ })
			}
			if got := injected > 0; got != tc.wantRSTs {
				t.Fatalf("censor reset the request: %v, want %v", got, tc.wantRSTs)
			}
		})
	}
}
