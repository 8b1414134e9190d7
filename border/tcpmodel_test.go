package border_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"

	"github.com/splinter-lab/splinter/border"
	"github.com/splinter-lab/splinter/clock"
	"github.com/splinter-lab/splinter/packet"
	"github.com/splinter-lab/splinter/policy"
)

// The tests in this file drive an engine with crafted segments, as a Geneva
// strategy would, and check what each box's TCP model (policy.TCPBox) makes
// of them: whether a request with a forbidden path keyword that follows is
// still reset.

var tcbReq = []byte("GET /?search=ultrasurf HTTP/1.1\r\nHost: www.example.com\r\nAccept: */*\r\n\r\n")

// tcbConn is one connection between a client and a server, with relative
// sequence numbers: the client's SYN is at 0, its data starts at 1.
type tcbConn struct {
	cli, srv   netip.AddrPort
	cisn, sisn uint32
}

func newTCBConn(i int) tcbConn {
	return tcbConn{
		cli:  netip.AddrPortFrom(netip.MustParseAddr("198.18.0.66"), uint16(20000+i)),
		srv:  netip.MustParseAddrPort("198.18.16.66:80"),
		cisn: 1_000_000 + uint32(i)*7919, sisn: 3_000_000_000 + uint32(i)*104729,
	}
}

// c returns a client segment at relative sequence number seq.
func (c tcbConn) c(seq uint32, flags uint8, payload []byte) packet.TCPSegment {
	ack := c.sisn + 1
	if flags&packet.ACK == 0 {
		ack = 0
	}
	return packet.TCPSegment{Src: c.cli, Dst: c.srv, Seq: c.cisn + seq, Ack: ack, Flags: flags, Window: 65535, Payload: payload}
}

// s returns a server segment at relative sequence number seq.
func (c tcbConn) s(seq uint32, flags uint8, payload []byte) packet.TCPSegment {
	return packet.TCPSegment{Src: c.srv, Dst: c.cli, Seq: c.sisn + seq, Ack: c.cisn + 1, Flags: flags, Window: 65535, Payload: payload}
}

const (
	pa = packet.PSH | packet.ACK
	sa = packet.SYN | packet.ACK
	ra = packet.RST | packet.ACK
)

func (c tcbConn) syn() packet.TCPSegment    { return c.c(0, packet.SYN, nil) }
func (c tcbConn) synack() packet.TCPSegment { return c.s(0, sa, nil) }
func (c tcbConn) ack() packet.TCPSegment    { return c.c(1, packet.ACK, nil) }
func (c tcbConn) req() packet.TCPSegment    { return c.c(1, pa, tcbReq) }

// handshake returns the three handshake segments.
func (c tcbConn) handshake() []packet.TCPSegment {
	return []packet.TCPSegment{c.syn(), c.synack(), c.ack()}
}

// process hands one packet to the engine: the one place that knows how
// Engine.Process is called.
func process(e *border.Engine, pkt []byte, dir packet.Direction, inject func([]byte)) {
	e.ProcessBytes(pkt, dir, inject)
}

// tcbPolicy is a policy whose one rule resets a request with "ultrasurf" in
// its path, running on the box "b" described by the YAML flow mapping box;
// inspect adds to the rule's inspect settings.
func tcbPolicy(t testing.TB, box, inspect string) *policy.Policy {
	t.Helper()
	return tcbPolicyTop(t, "", box, inspect)
}

// tcbPolicyTop is tcbPolicy with top, when not "", as more top-level
// YAML of the policy (an ip: section).
func tcbPolicyTop(t testing.TB, top, box, inspect string) *policy.Policy {
	t.Helper()
	if inspect == "" {
		inspect = "reassemble-tcp: true"
	}
	if top != "" {
		top += "\n"
	}
	pol, err := policy.Load("tcb.yaml", []byte(header+top+`
tcp:
  default: b
  boxes:
    b: `+box+`
lists:
  words: {kind: keywords, items: [ultrasurf]}
rules:
  - id: http
    source: test
    year: 2024
    scope: {protocols: [tcp]}
    inspect: {`+inspect+`}
    match: [{http: {list: words, fields: [path], strict-request-line: true}}]
    actions: [{rst: {to: both}}]
`), nil, ".")
	if err != nil {
		t.Fatal(err)
	}
	return pol
}

func tcbEngine(t testing.TB, pol *policy.Policy, seed uint64) (*border.Engine, *border.Log) {
	t.Helper()
	log := border.NewLog(nil, 1<<20)
	e, err := border.New(pol, border.Config{Border: "XX", Log: log, Rand: rand.New(rand.NewPCG(seed, 7)), Clock: clock.NewManual(t0)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	return e, log
}

// drive sends the segments of c through e and reports whether the censor
// injected anything (its RSTs).
func drive(e *border.Engine, c tcbConn, segs []packet.TCPSegment) bool {
	injected := false
	for _, s := range segs {
		dir := packet.Outbound
		if s.Src == c.srv {
			dir = packet.Inbound
		}
		process(e, packet.AppendTCP(nil, s), dir, func([]byte) { injected = true })
	}
	return injected
}

func cat(parts ...[]packet.TCPSegment) []packet.TCPSegment {
	var out []packet.TCPSegment
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func segs(s ...packet.TCPSegment) []packet.TCPSegment { return s }

// A box in the manner of the GFW's HTTP box of 2019, with certain outcomes
// where the tests want them.
const gfwBox = `{source: test, roles: syn, create-on: [syn, syn-ack], syn-payload: ignore}`

func withEvents(events string) string {
	return `{source: test, roles: syn, create-on: [syn, syn-ack], syn-payload: ignore, events: {` + events + `}}`
}

// TestTCBMechanisms checks each mechanism of the box model with certain
// outcomes (probabilities 0 or 1).
func TestTCBMechanisms(t *testing.T) {
	c := newTCBConn(1)
	hs := c.handshake()
	junk := []byte("junk, not a request")
	short := tcbReq[:24]
	// decoy is the request with an innocent word in place of the keyword,
	// its head not yet complete: a box that keeps it waits for more.
	decoy := []byte(strings.Replace(string(tcbReq[:len(tcbReq)-4]), "ultrasurf", "xxxxxxxxx", 1))
	frapuen := uint8(packet.FIN | packet.RST | packet.ACK | packet.PSH | packet.URG | 0x40)
	for _, tc := range []struct {
		name, box, inspect string
		segs               []packet.TCPSegment
		caught             bool
	}{
		{"plain-request-is-reset", gfwBox, "", cat(hs, segs(c.req())), true},

		// Who the client is.
		{"turnaround-does-not-fool-syn-roles", `{source: test, roles: syn}`,
			"", segs(c.c(0, sa, nil), c.syn(), c.synack(), c.ack(), c.req()), true},
		{"turnaround-fools-first-packet-roles", `{source: test, roles: first-packet}`,
			"", segs(c.c(0, sa, nil), c.syn(), c.synack(), c.ack(), c.req()), false},
		{"syn-ack-creates-a-tcb", `{source: test, create-on: [syn-ack]}`, "", segs(c.synack(), c.ack(), c.req()), true},
		{"syn-only-box-misses-a-flow-whose-syn-it-missed", `{source: test, create-on: [syn]}`, "", segs(c.synack(), c.ack(), c.req()), false},
		{"no-pick-up-mid-stream", gfwBox, "", segs(c.req()), false},
		{"pick-up-mid-stream", `{source: test, create-on: [data]}`, "", segs(c.req()), true},

		// SYN payloads.
		{"syn-payload-ignored", gfwBox, "", cat(segs(c.syn(), c.c(0, packet.SYN, junk)), hs[1:], segs(c.req())), true},
		{"syn-payload-inspected-is-the-stream-start", `{source: test, syn-payload: inspect}`, "",
			cat(segs(c.syn(), c.c(0, packet.SYN, junk)), hs[1:], segs(c.req())), false},

		// Teardown and resynchronisation.
		{"rst-after-ack-tears-down", withEvents(`rst: {after-ack: {teardown: 1}, source: t}`), "", cat(hs, segs(c.c(1, packet.RST, nil), c.req())), false},
		{"rst-before-ack-uses-its-own-odds", withEvents(`rst: {after-ack: {teardown: 1}, source: t}`), "",
			segs(c.syn(), c.synack(), c.c(1, packet.RST, nil), c.ack(), c.req()), true},
		{"rst-before-ack-tears-down", withEvents(`rst: {before-ack: {teardown: 1}, source: t}`), "",
			segs(c.syn(), c.synack(), c.c(1, packet.RST, nil), c.ack(), c.req()), false},
		{"rst-ack-is-its-own-event", withEvents(`rst: {after-ack: {teardown: 1}, source: t}`), "", cat(hs, segs(c.c(1, ra, nil), c.req())), true},
		{"invalid-flags-tear-down", withEvents(`invalid-flags: {after-ack: {teardown: 1}, source: t}`), "", cat(hs, segs(c.c(1, frapuen, nil), c.req())), false},
		{"invalid-flags-are-not-a-plain-rst", withEvents(`rst-ack: {after-ack: {teardown: 1}, source: t}`), "", cat(hs, segs(c.c(1, frapuen, nil), c.req())), true},
		{"resync-adopts-the-next-client-data", withEvents(`rst: {after-ack: {resync: 1}, source: t}`), "",
			cat(hs, segs(c.c(1, packet.RST, nil), c.c(50_001, pa, junk), c.req())), false},
		{"resync-onto-the-request-still-catches-it", withEvents(`rst: {after-ack: {resync: 1}, source: t}`), "",
			cat(hs, segs(c.c(1, packet.RST, nil), c.req())), true},
		{"resync-adopts-a-client-ack", withEvents(`rst: {after-ack: {resync: 1}, source: t}`), "",
			cat(hs, segs(c.c(1, packet.RST, nil), c.c(90_001, packet.ACK, nil), c.req())), false},
		{"resync-on-client-data-only-ignores-an-ack", `{source: test, create-on: [syn], resync-on: [client-data], events: {rst: {after-ack: {resync: 1}, source: t}}}`, "",
			cat(hs, segs(c.c(1, packet.RST, nil), c.c(90_001, packet.ACK, nil), c.req())), true},
		{"resync-adopts-a-server-syn-ack", withEvents(`server-rst: {after-ack: {resync: 1}, source: t}`), "",
			cat(hs, segs(c.s(1, ra, nil), packet.TCPSegment{Src: c.srv, Dst: c.cli, Seq: c.sisn, Ack: c.cisn + 70_001, Flags: sa}, c.req())), false},
		{"simultaneous-open-leaves-the-box-one-byte-off", withEvents(`server-rst: {before-ack: {resync: 1}, source: t}`), "",
			segs(c.syn(), c.s(0, packet.RST, nil), c.s(0, packet.SYN, nil), c.c(0, sa, nil), c.s(1, packet.ACK, nil), c.req()), false},
		{"repeated-syn-resynchronises-on-the-syn-ack", withEvents(`syn: {before-ack: {resync: 1}, source: t}`), "",
			segs(c.syn(), c.c(50_000, packet.SYN, nil), c.synack(), c.ack(), c.req()), true},
		{"repeated-syn-re-initialises-a-box-it-does-not-resync", gfwBox, "",
			segs(c.syn(), c.c(50_000, packet.SYN, nil), c.synack(), c.ack(), c.req()), false},
		{"syn-after-the-handshake-then-junk-desynchronises", withEvents(`syn: {after-ack: {resync: 1}, source: t}`), "",
			cat(hs, segs(c.c(50_000, packet.SYN, nil), c.c(90_001, pa, junk), c.req())), false},
		{"syn-after-the-handshake-then-the-request", withEvents(`syn: {after-ack: {resync: 1}, source: t}`), "",
			cat(hs, segs(c.c(50_000, packet.SYN, nil), c.req())), true},
		{"bad-syn-ack-resynchronises", withEvents(`bad-syn-ack: {before-ack: {resync: 1}, source: t}`), "",
			segs(c.syn(), packet.TCPSegment{Src: c.srv, Dst: c.cli, Seq: c.sisn, Ack: c.cisn + 50_001, Flags: sa}, c.c(90_001, pa, junk), c.synack(), c.ack(), c.req()), false},
		{"bad-syn-ack-ignored-by-default", gfwBox, "",
			segs(c.syn(), packet.TCPSegment{Src: c.srv, Dst: c.cli, Seq: c.sisn, Ack: c.cisn + 50_001, Flags: sa}, c.c(90_001, pa, junk), c.synack(), c.ack(), c.req()), true},
		{"server-rst-ignored-by-default", gfwBox, "", cat(hs, segs(c.s(1, ra, nil), c.c(50_001, pa, junk), c.req())), true},
		{"fin-with-payload-resynchronises", withEvents(`fin-payload: {after-ack: {resync: 1}, source: t}`), "",
			cat(hs, segs(c.c(70_001, packet.FIN|packet.ACK, []byte("x")), c.c(90_001, pa, junk), c.req())), false},
		{"fin-payload-event-is-not-inspected", withEvents(`fin-payload: {after-ack: {teardown: 1}, source: t}`), "",
			cat(hs, segs(c.c(1, packet.FIN|pa, tcbReq))), false},
		{"fin-payload-is-data-to-a-box-it-does-not-fool", gfwBox, "", cat(hs, segs(c.c(1, packet.FIN|pa, tcbReq))), true},
		{"plain-fin-does-nothing", withEvents(`fin-payload: {after-ack: {teardown: 1}, source: t}`), "", cat(hs, segs(c.c(1, packet.FIN|packet.ACK, nil), c.req())), true},

		// Reassembly.
		{"stutter-first-copy-truncated-is-caught", gfwBox, "", cat(hs, segs(c.c(1, pa, short), c.req())), true},
		{"stutter-caught-last-wins", `{source: test, reassembly: {overlap: last, source: t}}`, "", cat(hs, segs(c.c(1, pa, short), c.req())), true},
		{"overlap-first-copy-wins", gfwBox, "", cat(hs, segs(c.c(1, pa, decoy), c.req())), false},
		{"overlap-last-copy-wins", `{source: test, reassembly: {overlap: last, source: t}}`, "", cat(hs, segs(c.c(1, pa, decoy), c.req())), true},
		{"garbage-first-copy-is-judged-at-once", `{source: test, reassembly: {overlap: last, source: t}}`, "", cat(hs, segs(c.c(1, pa, garble(tcbReq)), c.req())), false},
		{"overlap-extends-the-stream", gfwBox, "", cat(hs, segs(c.c(1, pa, tcbReq[:20]), c.c(11, pa, tcbReq[10:]))), true},
		{"out-of-order-dropped", gfwBox, "", cat(hs, segs(c.c(31, pa, tcbReq[30:]), c.c(1, pa, tcbReq[:30]))), false},
		{"out-of-order-buffered", `{source: test, reassembly: {out-of-order: 4096, source: t}}`, "",
			cat(hs, segs(c.c(31, pa, tcbReq[30:]), c.c(1, pa, tcbReq[:30]))), true},
		{"out-of-order-beyond-the-allowance", `{source: test, reassembly: {out-of-order: 16, source: t}}`, "",
			cat(hs, segs(c.c(31, pa, tcbReq[30:]), c.c(1, pa, tcbReq[:30]))), false},
		{"in-order-halves-reassembled", gfwBox, "", cat(hs, split(c, 36)), true},
		{"short-first-segment-then-one-more-is-joined", `{source: test, reassembly: {short-first-segment: 8, source: t}}`, "", cat(hs, split(c, 8)), true},
		{"short-first-segment-then-two-more-evades", `{source: test, reassembly: {short-first-segment: 8, source: t}}`, "", cat(hs, split(c, 8, 12)), false},
		{"long-first-segment-then-two-more-is-joined", `{source: test, reassembly: {short-first-segment: 8, source: t}}`, "", cat(hs, split(c, 9, 12)), true},
		{"no-short-segment-quirk", gfwBox, "", cat(hs, split(c, 8, 12)), true},
		{"request-longer-than-the-buffer-evades", gfwBox, "reassemble-tcp: true, max-bytes: 40", cat(hs, segs(c.req())), false},

		// Which packets the box looks at.
		{"bad-checksum-rst-accepted", withEvents(`rst: {after-ack: {teardown: 1}, source: t}`), "",
			cat(hs, segs(badSum(c.c(1, packet.RST, nil)), c.req())), false},
		{"bad-checksum-rst-ignored-when-verified", `{source: test, accept: {verify-checksums: true, source: t}, events: {rst: {after-ack: {teardown: 1}, source: t}}}`, "",
			cat(hs, segs(badSum(c.c(1, packet.RST, nil)), c.req())), true},
		{"uto-option-accepted", gfwBox, "", cat(hs, segs(withOpts(c.req(), 28, 4, 0x81, 0x2c))), true},
		{"uto-option-ignored-by-a-standard-options-box", `{source: test, accept: {options: standard, source: t}}`, "", cat(hs, segs(withOpts(c.req(), 28, 4, 0x81, 0x2c))), false},
		{"timestamps-are-standard", `{source: test, accept: {options: standard, source: t}}`, "", cat(hs, segs(withOpts(c.req(), 1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2))), true},
		{"data-offset-insertion-wins-first", gfwBox, "", cat(hs, segs(dataofs(c.req(), 20), c.req())), false},
		{"data-without-ack-wins-first", gfwBox, "", cat(hs, segs(c.c(1, packet.CWR, junk), c.req())), false},
		{"data-without-ack-ignored-by-a-data-needs-ack-box", `{source: test, accept: {data-needs-ack: true, source: t}}`, "", cat(hs, segs(c.c(1, packet.CWR, junk), c.req())), true},
		{"rst-without-ack-still-tears-down-a-data-needs-ack-box", `{source: test, accept: {data-needs-ack: true, source: t}, events: {rst: {after-ack: {teardown: 1}, source: t}}}`, "",
			cat(hs, segs(c.c(1, packet.RST, junk), c.req())), false},
		{"data-offset-insertion-ignored-by-a-standard-options-box", `{source: test, accept: {options: standard, source: t}}`, "", cat(hs, segs(dataofs(c.req(), 20), c.req())), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, log := tcbEngine(t, tcbPolicy(t, tc.box, tc.inspect), 1)
			if got := drive(e, c, tc.segs); got != tc.caught {
				t.Fatalf("censor reset the request: %v, want %v", got, tc.caught)
			}
			if tc.caught {
				d := log.Decisions()
				if len(d) != 1 || d[0].Client != c.cli || d[0].Server != c.srv {
					t.Fatalf("decisions %+v, want one with client %v", d, c.cli)
				}
			}
		})
	}
}

// TestTCBNewConnection: a client SYN on an established flow starts a new
// connection on the same 5-tuple, whose request is inspected afresh; a box
// that resynchronises on a client SYN (IMC 2017) keeps its TCB and takes the
// SYN as that event, adopting the new handshake's sequence numbers.
func TestTCBNewConnection(t *testing.T) {
	c := newTCBConn(4)
	innocent := []byte("GET / HTTP/1.1\r\nHost: www.example.com\r\n\r\n")
	first := cat(c.handshake(), segs(c.c(1, pa, innocent)))
	again := newTCBConn(4)
	again.cisn, again.sisn = c.cisn+1_000_000, c.sisn+1_000_000
	for _, tc := range []struct {
		name, box string
	}{
		{"fresh-tcb", gfwBox},
		{"resynchronised-tcb", withEvents(`syn: {after-ack: {resync: 1}, source: t}`)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, _ := tcbEngine(t, tcbPolicy(t, tc.box, ""), 1)
			if !drive(e, c, cat(first, again.handshake(), segs(again.req()))) {
				t.Fatal("the second connection's request was not inspected")
			}
		})
	}
}

// TestTCBStatelessFirstRequest: a stateless box that parses only the first
// packet opening a request, each packet on its own, and ignores packets with
// unusual options, in the manner of India's Airtel box (Geneva, CCS 2019).
func TestTCBStatelessFirstRequest(t *testing.T) {
	c := newTCBConn(2)
	hs := c.handshake()
	box := `{source: test, stateless: true, accept: {options: standard, source: t}}`
	finCut := c.c(1, packet.FIN, tcbReq[:38])
	finCut.Ack = 0
	for _, tc := range []struct {
		name   string
		segs   []packet.TCPSegment
		caught bool
	}{
		{"plain-request", cat(hs, segs(c.req())), true},
		{"mid-stream", segs(c.req()), true},
		{"rst-then-request", cat(hs, segs(c.c(1, packet.RST, nil), c.req())), true},
		{"garbage-copy-then-request", cat(hs, segs(badSum(c.c(1, pa, garble(tcbReq))), c.req())), true},
		{"stutter", cat(hs, segs(badSum(c.c(1, pa, tcbReq[:24])), c.req())), false},
		{"fin-copy-cut-then-request", cat(hs, segs(finCut, c.req())), false},
		{"segmented", cat(hs, split(c, 8)), false},
		{"out-of-order-segments", cat(hs, segs(c.c(9, pa, tcbReq[8:]), c.c(1, pa, tcbReq[:8]))), false},
		{"data-offset-insertion-then-request", cat(hs, segs(dataofs(c.req(), 20), c.req())), true},
		{"uto-request", cat(hs, segs(withOpts(c.req(), 28, 4, 0x81, 0x2c))), false},
		{"turnaround", segs(c.c(0, sa, nil), c.syn(), c.synack(), c.ack(), c.req()), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, _ := tcbEngine(t, tcbPolicy(t, box, "packets: first-request"), 1)
			if got := drive(e, c, tc.segs); got != tc.caught {
				t.Fatalf("censor reset the request: %v, want %v", got, tc.caught)
			}
		})
	}
	t.Run("every-packet", func(t *testing.T) {
		// Without first-request, a stateless box matches each packet: the
		// request after a stutter copy is caught.
		e, _ := tcbEngine(t, tcbPolicy(t, box, "packets: all"), 1)
		if !drive(e, c, cat(hs, segs(c.c(1, pa, tcbReq[:24]), c.req()))) {
			t.Fatal("a per-packet stateless box missed the request")
		}
	})
}

// TestTCBStatelessWhileRequest: a stateless box that keeps the roles of a
// flow's first packet and takes the client's data packets from the first,
// each on its own, while they open a request that is not yet whole, in the
// manner of Kazakhstan's HTTP box of 2019 (Geneva's strategy library). It
// differs from the Airtel box above on the first copy: a copy that opens no
// request ends the inspection, where Airtel skips it; a copy cut short
// leaves it open, where Airtel takes it for the request.
func TestTCBStatelessWhileRequest(t *testing.T) {
	c := newTCBConn(3)
	hs := c.handshake()
	box := `{source: test, stateless: true, roles: first-packet}`
	junk := []byte("junk, not a request")
	finCut := c.c(1, packet.FIN|packet.ACK, tcbReq[:38])
	for _, tc := range []struct {
		name   string
		segs   []packet.TCPSegment
		caught bool
	}{
		{"plain-request", cat(hs, segs(c.req())), true},
		{"rst-then-request", cat(hs, segs(c.c(1, packet.RST, nil), c.req())), true},
		{"garbage-copy-then-request", cat(hs, segs(badSum(c.c(1, pa, garble(tcbReq))), c.req())), false},
		{"data-offset-insertion-then-request", cat(hs, segs(dataofs(c.req(), 28), c.req())), false},
		{"syn-with-garbage-then-request", cat(segs(c.syn(), c.c(0, packet.SYN, junk)), hs[1:], segs(c.req())), false},
		{"stutter", cat(hs, segs(badSum(c.c(1, pa, tcbReq[:24])), c.req())), true},
		{"fin-copy-cut-then-request", cat(hs, segs(finCut, c.req())), true},
		{"segmented", cat(hs, split(c, 8)), false},
		{"uto-request", cat(hs, segs(withOpts(c.req(), 28, 4, 0x81, 0x2c))), true},
		{"turnaround", segs(c.c(0, sa, nil), c.syn(), c.synack(), c.ack(), c.req()), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, _ := tcbEngine(t, tcbPolicy(t, box, "packets: while-request"), 1)
			if got := drive(e, c, tc.segs); got != tc.caught {
				t.Fatalf("censor reset the request: %v, want %v", got, tc.caught)
			}
		})
	}
	t.Run("syn-roles", func(t *testing.T) {
		// The same box with SYN roles is not fooled by the turnaround.
		e, _ := tcbEngine(t, tcbPolicy(t, `{source: test, stateless: true}`, "packets: while-request"), 1)
		if !drive(e, c, segs(c.c(0, sa, nil), c.syn(), c.synack(), c.ack(), c.req())) {
			t.Fatal("a stateless box with SYN roles missed the request after a turnaround")
		}
	})
}

// TestTCBTeardownRates: teardown probabilities before and after the
// handshake's ACK, for each kind of reset, drawn from the engine's
// randomness: the rate of requests that get through is within binomial
// bounds of the model's, and "after" beats "before".
func TestTCBTeardownRates(t *testing.T) {
	const n = 400
	outcome := `{before-ack: {teardown: 0.5, resync: 0.5}, after-ack: {teardown: 0.95, resync: 0.05}, source: t}`
	box := withEvents(`rst: ` + outcome + `, rst-ack: ` + outcome + `, invalid-flags: ` + outcome)
	for _, tc := range []struct {
		name  string
		flags uint8
	}{{"rst", packet.RST}, {"rst-ack", ra}, {"frapuen", packet.FIN | packet.RST | packet.ACK | packet.PSH | packet.URG | 0x40}} {
		t.Run(tc.name, func(t *testing.T) {
			e, _ := tcbEngine(t, tcbPolicy(t, box, ""), 42)
			passed := map[string]int{}
			for i := range n {
				for _, when := range []string{"before", "after"} {
					c := newTCBConn(2*i + len(when)%2)
					rst := c.c(1, tc.flags, nil)
					s := segs(c.syn(), c.synack(), rst, c.ack(), c.req())
					if when == "after" {
						s = segs(c.syn(), c.synack(), c.ack(), rst, c.req())
					}
					if !drive(e, c, s) {
						passed[when]++
					}
				}
			}
			t.Logf("%s: %d/%d through before the ACK, %d/%d after", tc.name, passed["before"], n, passed["after"], n)
			if !binomialOK(passed["before"], n, 0.5) || !binomialOK(passed["after"], n, 0.95) {
				t.Errorf("through: %d/%d before (want ~0.5), %d/%d after (want ~0.95)", passed["before"], n, passed["after"], n)
			}
			if passed["after"] <= passed["before"] {
				t.Errorf("after (%d) does not beat before (%d)", passed["after"], passed["before"])
			}
		})
	}
	t.Run("resync-share", func(t *testing.T) {
		// Of the resets that do not tear down before the ACK, every one
		// resynchronises: a junk segment far ahead then desynchronises
		// the box, so every request passes.
		e, _ := tcbEngine(t, tcbPolicy(t, box, ""), 43)
		through := 0
		for i := range n {
			c := newTCBConn(i)
			if !drive(e, c, segs(c.syn(), c.synack(), c.c(1, packet.RST, nil), c.c(500_001, pa, []byte("junk")), c.ack(), c.req())) {
				through++
			}
		}
		if through != n {
			t.Errorf("%d/%d through after teardown-or-resync and junk, want all", through, n)
		}
	})
}

// TestTCBBoxesAreSeparate: rules on different boxes keep separate TCBs; rules
// on the same box share one, so a teardown tears all of them down at once.
func TestTCBBoxesAreSeparate(t *testing.T) {
	pol, err := policy.Load("boxes.yaml", []byte(header+`
tcp:
  default: fooled
  boxes:
    fooled: {source: t, events: {rst: {after-ack: {teardown: 1}, source: t}}}
    firm: {source: t}
lists:
  words: {kind: keywords, items: [ultrasurf]}
  hosts: {kind: domains, items: [example.com]}
rules:
  - {id: path, source: t, year: 2024, inspect: {reassemble-tcp: true}, match: [{http: {list: words, fields: [path]}}], actions: [{rst: {to: both}}]}
  - {id: host, source: t, year: 2024, inspect: {reassemble-tcp: true}, match: [{http: {list: hosts, fields: [host]}}], actions: [{rst: {to: both}}]}
  - {id: firm, source: t, year: 2024, inspect: {reassemble-tcp: true, box: firm}, match: [{http: {list: hosts, fields: [host]}}], actions: [{rst: {to: both}}]}
`), nil, ".")
	if err != nil {
		t.Fatal(err)
	}
	e, log := tcbEngine(t, pol, 1)
	c := newTCBConn(3)
	drive(e, c, cat(c.handshake(), segs(c.c(1, packet.RST, nil), c.req())))
	var fired []string
	for _, d := range log.Decisions() {
		fired = append(fired, d.Rule)
	}
	if got := strings.Join(fired, " "); got != "firm" {
		t.Fatalf("rules that fired after a teardown RST: %q, want only the firm box's", got)
	}
}

// TestTCBFlowTableMemory: reassembly buffers, out-of-order ones included,
// count against the engine's memory budget: once it is spent on other
// flows' streams, a request sent out of order is not joined.
func TestTCBFlowTableMemory(t *testing.T) {
	pol := tcbPolicy(t, `{source: test, reassembly: {out-of-order: 65536, source: t}}`, "")
	for _, tc := range []struct {
		budget int
		caught bool
	}{{0, true}, {64 << 10, false}} {
		t.Run(fmt.Sprint(tc.budget), func(t *testing.T) {
			e, err := border.New(pol, border.Config{MaxBufferBytes: tc.budget, Clock: clock.NewManual(t0), Rand: rand.New(rand.NewPCG(1, 1))})
			if err != nil {
				t.Fatal(err)
			}
			defer e.Close()
			for i := range 40 {
				c := newTCBConn(100 + i)
				drive(e, c, cat(c.handshake(), segs(c.c(1, pa, tcbReq[:30])))) // an incomplete head, kept
			}
			c := newTCBConn(1)
			if got := drive(e, c, cat(c.handshake(), segs(c.c(17, pa, tcbReq[16:]), c.c(1, pa, tcbReq[:16])))); got != tc.caught {
				t.Fatalf("out-of-order request caught: %v, want %v", got, tc.caught)
			}
		})
	}
}

func garble(b []byte) []byte {
	out := make([]byte, len(b))
	for i := range out {
		out[i] = byte('a' + i%26)
	}
	return out
}

// split cuts the request at the given offsets into in-order segments.
func split(c tcbConn, cuts ...int) []packet.TCPSegment {
	var out []packet.TCPSegment
	prev := 0
	for _, x := range append(cuts, len(tcbReq)) {
		out = append(out, c.c(uint32(1+prev), pa, tcbReq[prev:x]))
		prev = x
	}
	return out
}

func badSum(s packet.TCPSegment) packet.TCPSegment { s.BadChecksum = true; return s }

func withOpts(s packet.TCPSegment, opts ...byte) packet.TCPSegment { s.Options = opts; return s }

// dataofs is Geneva's increased data offset: the first n bytes of the
// payload become "options".
func dataofs(s packet.TCPSegment, n int) packet.TCPSegment {
	s.Options, s.Payload = s.Payload[:n], s.Payload[n:]
	return s
}

func binomialOK(k, n int, p float64) bool {
	mean := float64(n) * p
	sd := math.Sqrt(float64(n) * p * (1 - p))
	return math.Abs(float64(k)-mean) <= 4.5*sd
}

// BenchmarkTCBConnection is the engine's cost for one whole allowed HTTP
// connection (handshake, request, a 3-packet answer, FIN), with the
// textbook default box and with a GFW-like box (events, resync,
// reassembly), in the same run.
func BenchmarkTCBConnection(b *testing.B) {
	gfw := `{source: t, roles: syn, create-on: [syn, syn-ack], syn-payload: ignore,
      events: {rst: {before-ack: {teardown: 0.5, resync: 0.5}, after-ack: {teardown: 0.95, resync: 0.05}, source: t}},
      reassembly: {overlap: first, short-first-segment: 8, source: t}}`
	req := []byte("GET /index.html HTTP/1.1\r\nHost: www.example.com\r\nAccept: */*\r\n\r\n")
	for _, tc := range []struct {
		name string
		pol  *policy.Policy
	}{{"default-box", nil}, {"gfw-box", tcbPolicy(b, gfw, "")}} {
		b.Run(tc.name, func(b *testing.B) {
			pol := tc.pol
			if pol == nil {
				var err error
				pol, err = policy.Load("d.yaml", []byte(header+`
lists:
  words: {kind: keywords, items: [ultrasurf]}
rules:
  - {id: http, source: t, year: 2024, scope: {protocols: [tcp]}, inspect: {reassemble-tcp: true}, match: [{http: {list: words, fields: [path]}}], actions: [{rst: {to: both}}]}
`), nil, ".")
				if err != nil {
					b.Fatal(err)
				}
			}
			e, _ := tcbEngine(b, pol, 1)
			var pkts [][]byte
			var dirs []packet.Direction
			c := newTCBConn(0)
			for _, s := range cat(c.handshake(), segs(c.c(1, pa, req), c.s(1, pa, make([]byte, 1400)), c.s(1401, pa, make([]byte, 1400)),
				c.s(2801, pa, make([]byte, 600)), c.c(uint32(1+len(req)), packet.FIN|packet.ACK, nil))) {
				pkts = append(pkts, packet.AppendTCP(nil, s))
				dir := packet.Outbound
				if s.Src == c.srv {
					dir = packet.Inbound
				}
				dirs = append(dirs, dir)
			}
			nop := func([]byte) {}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				// A new client port per connection: a new flow.
				port := uint16(1024 + i%60000)
				for j, p := range pkts {
					q := append([]byte(nil), p...)
					if dirs[j] == packet.Outbound {
						q[20], q[21] = byte(port>>8), byte(port)
					} else {
						q[22], q[23] = byte(port>>8), byte(port)
					}
					process(e, q, dirs[j], nop)
				}
			}
		})
	}
}

// FuzzTCB drives boxes that use every mechanism (events with odds, resync,
// out-of-order buffering, last copy wins, the short-first-segment stop,
// option filtering) with arbitrary segment sequences on one connection:
// nothing may panic, and an engine with a small memory budget keeps
// working.
func FuzzTCB(f *testing.F) {
	f.Add([]byte{0x02, 0, 0, 0x12, 0, 0, 0x10, 1, 0, 0x18, 1, 40})
	f.Add([]byte{0x04, 1, 0, 0x18, 9, 30, 0x18, 1, 8, 0x11, 1, 3, 0x01, 0xff, 0xff})
	f.Add([]byte{0x12, 0, 0, 0x02, 0, 0, 0x3f, 0, 0, 0xff, 0xff, 0xff})
	box := `{source: t, roles: first-packet, create-on: [syn, syn-ack, data], accept: {options: standard, source: t},
      events: {rst: {before-ack: {teardown: 0.3, resync: 0.3}, after-ack: {teardown: 0.3, resync: 0.6}, source: t},
        rst-ack: {after-ack: {resync: 1}, source: t}, invalid-flags: {before-ack: {resync: 0.5}, source: t},
        fin-payload: {after-ack: {resync: 0.5}, source: t}, server-rst: {after-ack: {resync: 1}, source: t},
        syn: {before-ack: {resync: 0.5}, after-ack: {resync: 0.5}, source: t}, bad-syn-ack: {before-ack: {resync: 1}, source: t}},
      reassembly: {overlap: last, out-of-order: 300, short-first-segment: 8, source: t}}`
	pol := tcbPolicy(f, box, "reassemble-tcp: true, max-bytes: 200")
	f.Fuzz(func(t *testing.T, script []byte) {
		e, err := border.New(pol, border.Config{MaxBufferBytes: 4096, Rand: rand.New(rand.NewPCG(1, 2)), Clock: clock.NewManual(t0)})
		if err != nil {
			t.Fatal(err)
		}
		defer e.Close()
		c := newTCBConn(1)
		// Each segment is 3 bytes: flags (with bit 0x80 of the flags
		// byte standing for "from the server"), a sequence offset in
		// units of 8 bytes, a payload length taken from the request
		// (or junk when past its end).
		for len(script) >= 3 {
			fl, off, n := script[0], uint32(script[1])*8, int(script[2])
			script = script[3:]
			data := make([]byte, n)
			for i := range data {
				if j := int(off) - 1 + i; j >= 0 && j < len(tcbReq) {
					data[i] = tcbReq[j]
				} else {
					data[i] = byte(i)
				}
			}
			s := c.c(off, fl&0x3f, data)
			if fl&0x80 != 0 {
				s = c.s(off, fl&0x3f, data)
			}
			if fl&0x40 != 0 {
				s.Options = []byte{28, 4, 1, 2}
			}
			drive(e, c, segs(s))
		}
	})
}

// TestTCBUnknownBox: a policy built in Go that names a box it does not
// declare is refused by New, not run on some other box.
func TestTCBUnknownBox(t *testing.T) {
	pol := tcbPolicy(t, gfwBox, "")
	pol.Rules[0].Inspect.Box = "nope"
	if _, err := border.New(pol, border.Config{}); err == nil || !strings.Contains(err.Error(), `no tcp box "nope"`) {
		t.Fatalf("New: %v, want an error naming the box", err)
	}
}
