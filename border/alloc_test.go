package border_test

import (
	"net/netip"
	"os"
	"sync/atomic"
	"testing"

	"github.com/splinter-lab/splinter/border"
	"github.com/splinter-lab/splinter/packet"
	"github.com/splinter-lab/splinter/profiles"
	"github.com/splinter-lab/splinter/scenario"
)

// TestAllowedPacketAllocatesNothing: once a flow is known, each of its
// packets crosses a border enforcing the whole CN profile (twelve rules,
// 42,000 list items) without an allocation.
func TestAllowedPacketAllocatesNothing(t *testing.T) {
	if testing.CoverMode() != "" || raceEnabled {
		t.Skip("allocation counts are not meaningful under coverage or the race detector")
	}
	data, err := os.ReadFile("testdata/lab.yaml")
	if err != nil {
		t.Fatal(err)
	}
	sc, err := scenario.Load("testdata/lab.yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	cn, err := profiles.Load("CN")
	if err != nil {
		t.Fatal(err)
	}
	log := border.NewLog(nil, 0)
	w, _ := engineWorld(t, sc, cn, nil, log)
	a, b := w.Host("client"), w.Host("vps")
	var got atomic.Int64
	_, restoreB := b.Divert(func([]byte) { got.Add(1) })
	defer restoreB()
	inject, restoreA := a.Divert(func([]byte) {})
	defer restoreA()
	src, dst := netip.AddrPortFrom(a.Addr(4), 40000), netip.AddrPortFrom(b.Addr(4), 8443)
	inject(packet.AppendTCP(nil, packet.TCPSegment{Src: src, Dst: dst, Seq: 1, Flags: packet.SYN}))
	seg := packet.AppendTCP(nil, packet.TCPSegment{Src: src, Dst: dst, Seq: 2, Ack: 1, Flags: packet.ACK | packet.PSH, Payload: make([]byte, 1400)})
	pkt := make([]byte, len(seg))
	send := func() {
		copy(pkt, seg)
		inject(pkt)
	}
	for range 10 { // the rules look at the flow's first packets and are done with it
		send()
	}
	allocs := testing.AllocsPerRun(1000, send)
	if got.Load() < 1000 {
		t.Fatalf("%d packets delivered", got.Load())
	}
	if n := log.Len(); n != 0 {
		t.Fatalf("the border decided on an allowed flow: %v", log.Decisions())
	}
	if allocs != 0 {
		t.Errorf("%.1f allocations per allowed packet, want 0", allocs)
	}
}
