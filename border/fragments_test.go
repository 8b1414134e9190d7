package border_test

import (
	"encoding/binary"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/splinter-lab/splinter/border"
	"github.com/splinter-lab/splinter/clock"
	"github.com/splinter-lab/splinter/packet"
	"github.com/splinter-lab/splinter/policy"
)

// fragPolicy is tcbPolicy's rule on the GFW-like box, with ip as the
// policy's fragment model (YAML flow mapping, "" for none).
func fragPolicy(t *testing.T, ip string) *policy.Policy {
	t.Helper()
	if ip != "" {
		ip = "ip: " + ip
	}
	return tcbPolicyTop(t, ip, gfwBox, "")
}

// frag is the IPv4 fragment of pkt holding its IP payload's bytes
// [off, end) (offsets from the start of the TCP header; off a multiple
// of 8), with more fragments to follow when more is set; data, when not
// nil, replaces those bytes.
func frag(pkt []byte, off, end int, more bool, data []byte) []byte {
	ihl := int(pkt[0]&0x0f) * 4
	if data == nil {
		data = pkt[ihl+off : ihl+end]
	}
	out := append(append([]byte(nil), pkt[:ihl]...), data...)
	binary.BigEndian.PutUint16(out[2:4], uint16(len(out)))
	ff := uint16(off / 8)
	if more {
		ff |= 0x2000
	}
	binary.BigEndian.PutUint16(out[6:8], ff)
	return out
}

// TestFragmentReassembly: a censor whose policy reassembles IPv4
// fragments sees a request cut into fragments, in order or not; one that
// does not, misses it; overlapping fragments follow the overlap policy
// (Khattak et al., FOCI 2013: the first copy wins unless a later fragment
// begins before it and ends after it); fragments of one packet further
// apart than the timeout are never joined.
func TestFragmentReassembly(t *testing.T) {
	c := newTCBConn(3)
	req := packet.AppendTCP(nil, c.req())
	n := len(req) - 20 // the IP payload: TCP header and request
	junk := []byte(strings.Repeat("A", n-24))
	const khattak = `{reassemble: true, source: test}`
	for _, tc := range []struct {
		name, ip string
		frags    [][]byte
		gap      time.Duration // between the fragments
		caught   bool
	}{
		{"whole-request-is-caught", "", [][]byte{req}, 0, true},
		{"fragments-pass-a-censor-that-does-not-reassemble", "", [][]byte{frag(req, 0, 24, true, nil), frag(req, 24, n, false, nil)}, 0, false},
		{"in-order-fragments-reassembled", khattak, [][]byte{frag(req, 0, 24, true, nil), frag(req, 24, n, false, nil)}, 0, true},
		{"out-of-order-fragments-reassembled", khattak, [][]byte{frag(req, 24, n, false, nil), frag(req, 0, 24, true, nil)}, 0, true},
		{"three-fragments-last-first", khattak, [][]byte{frag(req, 48, n, false, nil), frag(req, 0, 24, true, nil), frag(req, 24, 48, true, nil)}, 0, true},
		// INTANG's out-of-order fragment insertion: junk over the tail
		// first, then the real tail, then the head.
		{"first-copy-wins", khattak, [][]byte{frag(req, 24, n, false, junk), frag(req, 24, n, false, nil), frag(req, 0, 24, true, nil)}, 0, false},
		{"last-copy-wins", `{reassemble: true, overlap: last, source: test}`,
			[][]byte{frag(req, 24, n, false, junk), frag(req, 24, n, false, nil), frag(req, 0, 24, true, nil)}, 0, true},
		// A later fragment that covers an earlier one on both sides
		// replaces it.
		{"covering-fragment-replaces", khattak,
			[][]byte{frag(req, 24, 40, true, junk[:16]), frag(req, 16, n, false, nil), frag(req, 0, 16, true, nil)}, 0, true},
		{"covering-fragment-loses-under-first", `{reassemble: true, overlap: first, source: test}`,
			[][]byte{frag(req, 24, 40, true, junk[:16]), frag(req, 16, n, false, nil), frag(req, 0, 16, true, nil)}, 0, false},
		{"fragments-past-the-timeout-are-not-joined", `{reassemble: true, timeout: 2s, source: test}`,
			[][]byte{frag(req, 0, 24, true, nil), frag(req, 24, n, false, nil)}, 3 * time.Second, false},
		{"fragments-within-the-timeout-are-joined", `{reassemble: true, timeout: 2s, source: test}`,
			[][]byte{frag(req, 0, 24, true, nil), frag(req, 24, n, false, nil)}, time.Second, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk := clock.NewManual(t0)
			log := border.NewLog(nil, 1<<20)
			e, err := border.New(fragPolicy(t, tc.ip), border.Config{Border: "XX", Log: log, Clock: clk})
			if err != nil {
				t.Fatal(err)
			}
			defer e.Close()
			if drive(e, c, c.handshake()) {
				t.Fatal("the handshake drew a reset")
			}
			injected := false
			for i, f := range tc.frags {
				if i > 0 {
					clk.Advance(tc.gap)
				}
				if v := e.ProcessBytes(f, packet.Outbound, func([]byte) { injected = true }); v.Drop {
					t.Fatalf("fragment %d dropped", i)
				}
			}
			if injected != tc.caught {
				t.Fatalf("censor reset the request: %v, want %v", injected, tc.caught)
			}
		})
	}
}

// TestFragmentFlood: fragments that never complete a packet are held up
// to a bound in packets and in bytes, and a packet completed after the
// flood is still joined.
func TestFragmentFlood(t *testing.T) {
	c := newTCBConn(4)
	req := packet.AppendTCP(nil, c.req())
	n := len(req) - 20
	e, err := border.New(fragPolicy(t, `{reassemble: true, source: test}`), border.Config{Border: "XX", Clock: clock.NewManual(t0)})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	drive(e, c, c.handshake())
	head := frag(req, 0, 24, true, nil)
	for id := range 20000 {
		f := frag(req, 24, n, false, nil)
		binary.BigEndian.PutUint16(f[4:6], uint16(id+1)) // a tail with no head
		e.ProcessBytes(f, packet.Outbound, func([]byte) {})
	}
	// Tails far into a packet, each holding the packet's whole length:
	// 2,000 of them would hold 120 MB were the bytes not bounded.
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	far := make([]byte, 1400)
	for id := range 2000 {
		f := frag(req, 60000, 61400, true, far)
		binary.BigEndian.PutUint16(f[4:6], uint16(30000+id))
		e.ProcessBytes(f, packet.Outbound, func([]byte) {})
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	if grew := int64(after.HeapInuse) - int64(before.HeapInuse); grew > 32<<20 {
		t.Errorf("2,000 incomplete packets hold %d MB", grew>>20)
	}
	injected := false
	e.ProcessBytes(head, packet.Outbound, func([]byte) { injected = true })
	e.ProcessBytes(frag(req, 24, n, false, nil), packet.Outbound, func([]byte) { injected = true })
	if !injected {
		t.Fatal("after the flood, a fragmented request was not reassembled")
	}
}
