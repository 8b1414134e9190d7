package border_test

import (
	"math/rand/v2"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/splinter-lab/splinter/border"
	"github.com/splinter-lab/splinter/clock"
	"github.com/splinter-lab/splinter/dissect"
	"github.com/splinter-lab/splinter/packet"
	"github.com/splinter-lab/splinter/policy"
	"github.com/splinter-lab/splinter/profiles"
)

// fuzzMaxFlows is the flow-table cap of FuzzProcess's engine: small, so
// that eviction is exercised too.
const fuzzMaxFlows = 64

// fuzzPackets splits a fuzz input into packets: each record is a control
// byte (bit 0: direction, bits 1-7: milliseconds to advance the clock by
// before it), a length byte, and that many packet bytes (fewer at the end
// of the input).
func fuzzPackets(data []byte, each func(pkt []byte, dir packet.Direction, advance time.Duration)) {
	for len(data) >= 2 {
		ctl, n := data[0], int(data[1])
		data = data[2:]
		n = min(n, len(data))
		each(data[:n], packet.Direction(ctl&1), time.Duration(ctl>>1)*time.Millisecond)
		data = data[n:]
	}
}

// fuzzRecord appends pkt to b as one record of fuzzPackets; pkt must be at
// most 255 bytes.
func fuzzRecord(b []byte, dir packet.Direction, advanceMs uint8, pkt []byte) []byte {
	if len(pkt) > 255 {
		panic("fuzzRecord: packet over 255 bytes")
	}
	return append(append(b, advanceMs<<1|byte(dir), byte(len(pkt))), pkt...)
}

// fuzzSeeds are conversations the CN profile acts on: a DNS query for a
// forbidden name, a TCP handshake then a ClientHello with a forbidden SNI,
// an HTTP request for a forbidden Host, a QUIC-looking datagram.
func fuzzSeeds(tb testing.TB) [][]byte {
	client := netip.MustParseAddrPort("198.18.0.66:40000")
	server := netip.MustParseAddrPort("198.18.96.10:443")
	web := netip.MustParseAddrPort("198.18.96.10:80")
	resolver := netip.MustParseAddrPort("198.18.96.53:53")

	q := new(dns.Msg)
	q.SetQuestion("www.freepress-herald.com.", dns.TypeA)
	query, err := q.Pack()
	if err != nil {
		tb.Fatal(err)
	}
	handshake := func(b []byte, dst netip.AddrPort, payload []byte) []byte {
		b = fuzzRecord(b, packet.Outbound, 0, packet.AppendTCP(nil, packet.TCPSegment{Src: client, Dst: dst, Seq: 100, Flags: packet.SYN}))
		b = fuzzRecord(b, packet.Inbound, 1, packet.AppendTCP(nil, packet.TCPSegment{Src: dst, Dst: client, Seq: 500, Ack: 101, Flags: packet.SYN | packet.ACK}))
		b = fuzzRecord(b, packet.Outbound, 1, packet.AppendTCP(nil, packet.TCPSegment{Src: client, Dst: dst, Seq: 101, Ack: 501, Flags: packet.ACK}))
		// Split the payload in two segments, as a reassembling censor
		// must put back together.
		half := len(payload) / 2
		b = fuzzRecord(b, packet.Outbound, 0, packet.AppendTCP(nil, packet.TCPSegment{Src: client, Dst: dst, Seq: 101, Ack: 501, Flags: packet.ACK | packet.PSH, Payload: payload[:half]}))
		return fuzzRecord(b, packet.Outbound, 0, packet.AppendTCP(nil, packet.TCPSegment{Src: client, Dst: dst, Seq: 101 + uint32(half), Ack: 501, Flags: packet.ACK | packet.PSH, Payload: payload[half:]}))
	}
	hello := dissect.BuildClientHello("www.freepress-herald.com")
	// The request in two IPv4 fragments, the tail first, for the
	// profile's fragment reassembly.
	get := packet.AppendTCP(nil, packet.TCPSegment{Src: client, Dst: web, Seq: 101, Ack: 501, Flags: packet.ACK | packet.PSH,
		Payload: []byte("GET /?q=ultrasurf HTTP/1.1\r\nHost: www.freepress-herald.com\r\n\r\n")})
	fragmented := handshake(nil, web, nil)
	fragmented = fuzzRecord(fragmented, packet.Outbound, 0, frag(get, 24, len(get)-20, false, nil))
	fragmented = fuzzRecord(fragmented, packet.Outbound, 0, frag(get, 0, 24, true, nil))
	return [][]byte{
		fragmented,
		fuzzRecord(nil, packet.Outbound, 0, packet.AppendUDP(nil, client, resolver, query, packet.Shape{})),
		handshake(nil, server, hello),
		handshake(nil, web, []byte("GET / HTTP/1.1\r\nHost: www.freepress-herald.com\r\n\r\n")),
		fuzzRecord(nil, packet.Outbound, 0, packet.AppendUDP(nil, client, server, append([]byte{0xc3, 0, 0, 0, 1, 8}, make([]byte, 60)...), packet.Shape{})),
	}
}

// FuzzProcess feeds random packets, both ways, through an engine of the CN
// profile on a manual clock: it must never panic, and its flow table must
// stay within its cap.
//
// One engine serves every input of a fuzzing process: compiling the
// profile takes 0.7 s (a millisecond even with its lists cut to four
// items), and the fuzzing engine's minimiser, quadratic in an input's
// length, made that the whole minute. Before each input the engine's clock
// moves a day on and its random source is reseeded, so the flows, blocks
// and timers of earlier inputs have expired: an input meets the engine as
// a new one would, up to the order in which stale flows are evicted.
func FuzzProcess(f *testing.F) {
	pol := fuzzPolicy(f)
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	fe := newFuzzEngine(f, pol)
	f.Fuzz(func(t *testing.T, data []byte) {
		fe.run(t, data)
	})
}

// fuzzPolicy is the CN profile as shipped.
func fuzzPolicy(tb testing.TB) *policy.Policy {
	pol, err := profiles.Load("CN")
	if err != nil {
		tb.Fatal(err)
	}
	return pol
}

// fuzzEngine is an engine on a manual clock with a random source that can
// be reseeded, and the test its injections report to.
type fuzzEngine struct {
	mu       sync.Mutex
	clock    *clock.Manual
	src      *rand.PCG
	e        *border.Engine
	t        *testing.T // the input being run
	injected int
}

func newFuzzEngine(tb testing.TB, pol *policy.Policy) *fuzzEngine {
	fe := &fuzzEngine{clock: clock.NewManual(time.Date(2024, 6, 1, 12, 0, 0, 0, time.UTC)), src: rand.NewPCG(1, 2)}
	e, err := border.New(pol, border.Config{Clock: fe.clock, Rand: rand.New(fe.src), MaxFlows: fuzzMaxFlows})
	if err != nil {
		tb.Fatal(err)
	}
	fe.e = e
	return fe
}

func (fe *fuzzEngine) inject(pkt []byte) {
	if len(pkt) == 0 {
		fe.t.Error("an empty injected packet")
	}
	fe.injected++
}

// run feeds data's packets through the engine and returns how many packets
// it injected, delayed ones included.
func (fe *fuzzEngine) run(t *testing.T, data []byte) int {
	fe.mu.Lock()
	defer fe.mu.Unlock()
	fe.clock.Advance(24 * time.Hour) // what earlier inputs left expires
	fe.src.Seed(1, 2)
	fe.t, fe.injected = t, 0
	fuzzPackets(data, func(pkt []byte, dir packet.Direction, advance time.Duration) {
		fe.clock.Advance(advance)
		fe.e.ProcessBytes(pkt, dir, fe.inject)
		if n := fe.e.Flows(); n > fuzzMaxFlows {
			t.Fatalf("%d flows, over the cap of %d", n, fuzzMaxFlows)
		}
	})
	fe.clock.Advance(time.Minute) // delayed injections fire
	return fe.injected
}

// TestFuzzProcessSeeds checks that FuzzProcess's seeds reach the profile's
// actions (the DNS, TLS and HTTP conversations are censored), on a new
// engine and on one that has run the other seeds.
func TestFuzzProcessSeeds(t *testing.T) {
	pol := fuzzPolicy(t)
	shared := newFuzzEngine(t, pol)
	for i, s := range fuzzSeeds(t)[:3] {
		if n := newFuzzEngine(t, pol).run(t, s); n == 0 {
			t.Errorf("seed %d: nothing injected", i)
		}
		for range 2 {
			if n := shared.run(t, s); n == 0 {
				t.Errorf("seed %d on a shared engine: nothing injected", i)
			}
		}
	}
}
