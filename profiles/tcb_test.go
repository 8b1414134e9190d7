package profiles_test

import (
	"math/rand/v2"
	"net/netip"
	"testing"

	"github.com/splinter-lab/splinter/border"
	"github.com/splinter-lab/splinter/clock"
	"github.com/splinter-lab/splinter/packet"
	"github.com/splinter-lab/splinter/profiles"
)

// The tests in this file drive a profile's engine directly with crafted
// segments, as an evasion strategy would, and check that its TCP boxes
// (the profile's tcp: section) behave as the profile says: each expected
// rate is the one the profile's own parameters give (teardown
// probabilities, the rule's 3% miss), with binomial bounds. Whether that
// matches a published table end to end, hosts included, is the
// conformance suite's business.

// tcbFlow is one connection with relative sequence numbers: the client's
// SYN is at 0, its data starts at 1.
type tcbFlow struct {
	cli, srv   netip.AddrPort
	cisn, sisn uint32
}

func newTCBFlow(i int, srv netip.Addr) tcbFlow {
	return tcbFlow{
		cli:  netip.AddrPortFrom(netip.MustParseAddr("198.18.0.66"), uint16(30000+i%20000)),
		srv:  netip.AddrPortFrom(srv, uint16(1024+i)), // a port per flow: no residual block spills over
		cisn: 7_000_000 + uint32(i)*7919, sisn: 2_000_000_000 + uint32(i)*104729,
	}
}

func (f tcbFlow) c(seq uint32, flags uint8, payload []byte) packet.TCPSegment {
	var ack uint32
	if flags&packet.ACK != 0 {
		ack = f.sisn + 1
	}
	return packet.TCPSegment{Src: f.cli, Dst: f.srv, Seq: f.cisn + seq, Ack: ack, Flags: flags, Window: 65535, Payload: payload}
}

func (f tcbFlow) synack() packet.TCPSegment {
	return packet.TCPSegment{Src: f.srv, Dst: f.cli, Seq: f.sisn, Ack: f.cisn + 1, Flags: packet.SYN | packet.ACK, Window: 65535}
}

// profileEngine compiles a shipped profile into an engine with seeded
// randomness.
func profileEngine(t *testing.T, name string, seed uint64) *border.Engine {
	t.Helper()
	p, err := profiles.Load(name)
	if err != nil {
		t.Fatal(err)
	}
	e, err := border.New(p, border.Config{Border: "XX", Rand: rand.New(rand.NewPCG(seed, 3)), Clock: clock.NewManual(t2024)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	return e
}

// through sends the segments of flows base to base+n-1 and reports how many
// drew nothing from the censor.
func through(e *border.Engine, base, n int, srv netip.Addr, script func(f tcbFlow) []packet.TCPSegment) int {
	k := 0
	for i := base; i < base+n; i++ {
		f := newTCBFlow(i, srv)
		hit := false
		for _, s := range script(f) {
			dir := packet.Outbound
			if s.Src == f.srv {
				dir = packet.Inbound
			}
			e.ProcessBytes(packet.AppendTCP(nil, s), dir, func([]byte) { hit = true })
		}
		if !hit {
			k++
		}
	}
	return k
}

const (
	pshAck = packet.PSH | packet.ACK
	finAck = packet.FIN | packet.ACK
)

// TestCNBoxes: the HTTP box of CN-2019 (and CN, which carries it forward):
// whom it takes for the client, SYN payloads, teardown around the
// handshake's ACK, FIN with payload, overlaps, out-of-order and short
// segments.
func TestCNBoxes(t *testing.T) {
	req := []byte("GET /?q=ultrasurf HTTP/1.1\r\nHost: www.plain-control-page.com\r\nUser-Agent: splinter-test\r\nAccept: */*\r\n\r\n")
	srv := netip.MustParseAddr("198.18.96.200")
	const miss = 0.03 // the rule's scope probability is 0.97
	hs := func(f tcbFlow) []packet.TCPSegment {
		return []packet.TCPSegment{f.c(0, packet.SYN, nil), f.synack(), f.c(1, packet.ACK, nil)}
	}
	then := func(a []packet.TCPSegment, b ...packet.TCPSegment) []packet.TCPSegment { return append(a, b...) }
	rst := func(f tcbFlow, flags uint8) packet.TCPSegment {
		s := f.c(1, flags, nil)
		s.BadChecksum = true
		return s
	}
	frapuen := uint8(packet.FIN | packet.RST | packet.ACK | packet.PSH | packet.URG | 0x40)
	// One engine per profile (compiling its lists is the slow part); each
	// case has flows of its own.
	engines := map[string]*border.Engine{"CN-2019": profileEngine(t, "CN-2019", 11), "CN": profileEngine(t, "CN", 11)}
	const n = 300
	for i, tc := range []struct {
		name   string
		script func(f tcbFlow) []packet.TCPSegment
		want   float64 // the share of requests through, from the profile's parameters
	}{
		{"no-strategy", func(f tcbFlow) []packet.TCPSegment { return then(hs(f), f.c(1, pshAck, req)) }, miss},
		{"rst-after-ack", func(f tcbFlow) []packet.TCPSegment {
			return then(hs(f), rst(f, packet.RST), f.c(1, pshAck, req))
		}, 0.9 + 0.1*miss},
		{"rst-before-ack", func(f tcbFlow) []packet.TCPSegment {
			return []packet.TCPSegment{f.c(0, packet.SYN, nil), f.synack(), rst(f, packet.RST), f.c(1, packet.ACK, nil), f.c(1, pshAck, req)}
		}, 0.5 + 0.5*miss},
		{"rst-ack-after-ack", func(f tcbFlow) []packet.TCPSegment {
			return then(hs(f), rst(f, packet.RST|packet.ACK), f.c(1, pshAck, req))
		}, 0.9 + 0.1*miss},
		{"frapuen-before-ack", func(f tcbFlow) []packet.TCPSegment {
			return []packet.TCPSegment{f.c(0, packet.SYN, nil), f.synack(), rst(f, frapuen), f.c(1, packet.ACK, nil), f.c(1, pshAck, req)}
		}, 0.5 + 0.5*miss},
		{"turnaround", func(f tcbFlow) []packet.TCPSegment {
			return then([]packet.TCPSegment{f.c(0, packet.SYN|packet.ACK, nil)}, then(hs(f), f.c(1, pshAck, req))...)
		}, miss},
		{"payload-syn", func(f tcbFlow) []packet.TCPSegment {
			return then([]packet.TCPSegment{f.c(0, packet.SYN, nil), f.c(0, packet.SYN, []byte("corrupted load"))}, then(hs(f)[1:], f.c(1, pshAck, req))...)
		}, miss},
		{"stutter", func(f tcbFlow) []packet.TCPSegment {
			return then(hs(f), f.c(1, pshAck, req[:24]), f.c(1, pshAck, req))
		}, miss},
		{"corrupt-copy-first", func(f tcbFlow) []packet.TCPSegment {
			junk := append([]byte(nil), req...)
			for i := range junk {
				junk[i] ^= 0x5a
			}
			return then(hs(f), f.c(1, pshAck, junk), f.c(1, pshAck, req))
		}, 1},
		{"fin-copy-cut-short", func(f tcbFlow) []packet.TCPSegment {
			return then(hs(f), f.c(1, packet.FIN, req[:38]), f.c(1, pshAck, req))
		}, 0.5 + 0.5*miss},
		{"fin-alone", func(f tcbFlow) []packet.TCPSegment {
			return then(hs(f), f.c(1, finAck, nil), f.c(1, pshAck, req))
		}, miss},
		{"halves-in-order", func(f tcbFlow) []packet.TCPSegment {
			return then(hs(f), f.c(1, pshAck, req[:len(req)/2]), f.c(1+uint32(len(req)/2), pshAck, req[len(req)/2:]))
		}, miss},
		{"cut-at-8-then-4", func(f tcbFlow) []packet.TCPSegment {
			return then(hs(f), f.c(1, pshAck, req[:8]), f.c(9, pshAck, req[8:12]), f.c(13, pshAck, req[12:]))
		}, 1},
		{"cut-at-8-out-of-order", func(f tcbFlow) []packet.TCPSegment {
			return then(hs(f), f.c(9, pshAck, req[8:]), f.c(1, pshAck, req[:8]))
		}, 1},
	} {
		for _, profile := range []string{"CN-2019", "CN"} {
			t.Run(profile+"/"+tc.name, func(t *testing.T) {
				k := through(engines[profile], i*n, n, srv, tc.script)
				t.Logf("%d/%d through (model: %.3f)", k, n, tc.want)
				if tc.want >= 1 && k != n || tc.want < 1 && !binomialOK(k, n, tc.want) {
					t.Errorf("%d/%d through, want about %.3f", k, n, tc.want)
				}
			})
		}
	}
}

// TestAirtelBox: IN-airtel's HTTP box is stateless and parses the first
// packet that opens a request, on its own; a packet with an unusual TCP
// option is not looked at.
func TestAirtelBox(t *testing.T) {
	req := []byte("GET / HTTP/1.1\r\nHost: www.kashmir-monitor-online.com\r\nUser-Agent: splinter-test\r\nAccept: */*\r\n\r\n")
	srv := netip.MustParseAddr("198.18.96.201")
	hs := func(f tcbFlow) []packet.TCPSegment {
		return []packet.TCPSegment{f.c(0, packet.SYN, nil), f.synack(), f.c(1, packet.ACK, nil)}
	}
	then := func(a []packet.TCPSegment, b ...packet.TCPSegment) []packet.TCPSegment { return append(a, b...) }
	e := profileEngine(t, "IN-airtel", 5)
	const n = 20
	for i, tc := range []struct {
		name   string
		script func(f tcbFlow) []packet.TCPSegment
		caught bool
	}{
		{"no-strategy", func(f tcbFlow) []packet.TCPSegment { return then(hs(f), f.c(1, pshAck, req)) }, true},
		{"rst-after-ack", func(f tcbFlow) []packet.TCPSegment {
			return then(hs(f), f.c(1, packet.RST, nil), f.c(1, pshAck, req))
		}, true},
		{"corrupt-copy-first", func(f tcbFlow) []packet.TCPSegment {
			junk := append([]byte(nil), req...)
			for i := range junk {
				junk[i] ^= 0x5a
			}
			return then(hs(f), f.c(1, pshAck, junk), f.c(1, pshAck, req))
		}, true},
		{"stutter", func(f tcbFlow) []packet.TCPSegment {
			return then(hs(f), f.c(1, pshAck, req[:24]), f.c(1, pshAck, req))
		}, false},
		{"fin-copy-cut-short", func(f tcbFlow) []packet.TCPSegment {
			return then(hs(f), f.c(1, packet.FIN, req[:38]), f.c(1, pshAck, req))
		}, false},
		{"cut-at-8", func(f tcbFlow) []packet.TCPSegment {
			return then(hs(f), f.c(1, pshAck, req[:8]), f.c(9, pshAck, req[8:]))
		}, false},
		{"uto-option", func(f tcbFlow) []packet.TCPSegment {
			s := f.c(1, pshAck, req)
			s.Options = []byte{28, 4, 0x9e, 0x11}
			return then(hs(f), s)
		}, false},
		{"turnaround", func(f tcbFlow) []packet.TCPSegment {
			return then([]packet.TCPSegment{f.c(0, packet.SYN|packet.ACK, nil)}, then(hs(f), f.c(1, pshAck, req))...)
		}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := n
			if tc.caught {
				want = 0
			}
			if k := through(e, i*n, n, srv, tc.script); k != want {
				t.Errorf("%d/%d through, want %d", k, n, want)
			}
		})
	}
}
