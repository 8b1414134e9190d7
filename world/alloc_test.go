package world_test

import (
	"net/netip"
	"sync/atomic"
	"testing"

	"github.com/splinter-lab/splinter/packet"
	"github.com/splinter-lab/splinter/scenario"
	"github.com/splinter-lab/splinter/world"
)

// TestForwardingAllocatesNothing: a packet that crosses the fabric, through
// three routers and two borders' gateways (which receive the router's
// parsed view), costs no allocation.
func TestForwardingAllocatesNothing(t *testing.T) {
	if testing.CoverMode() != "" || raceEnabled {
		t.Skip("allocation counts are not meaningful under coverage or the race detector")
	}
	p := twoLands(scenario.Link{}, scenario.Link{})
	p.Jurisdictions[0].Border.Policy = "pass"
	p.Jurisdictions[1].Border.Policy = "pass"
	var seen atomic.Int64
	w := build(t, p, world.Options{Gateway: func(world.BorderSpec) (world.Gateway, error) { return countGW{&seen}, nil }})
	a, b := w.Host("AA-one"), w.Host("BB-one")
	var got atomic.Int64
	_, restoreB := b.Divert(func([]byte) { got.Add(1) })
	defer restoreB()
	inject, restoreA := a.Divert(func([]byte) {})
	defer restoreA()
	seg := packet.AppendTCP(nil, packet.TCPSegment{Src: netip.AddrPortFrom(a.Addr(4), 40000), Dst: netip.AddrPortFrom(b.Addr(4), 80),
		Seq: 1, Ack: 1, Flags: packet.ACK | packet.PSH, Payload: make([]byte, 1400)})
	pkt := make([]byte, len(seg))
	allocs := testing.AllocsPerRun(1000, func() {
		copy(pkt, seg) // the fabric decrements TTL in place
		inject(pkt)
	})
	if got.Load() < 1000 || seen.Load() < 2000 {
		t.Fatalf("%d packets delivered, gateways saw %d", got.Load(), seen.Load())
	}
	if allocs != 0 {
		t.Errorf("%.1f allocations per forwarded packet, want 0", allocs)
	}
}

type countGW struct{ n *atomic.Int64 }

func (g countGW) Process(p *packet.IP, _ packet.Direction, _ func([]byte)) packet.Verdict {
	if p.Proto == packet.TCP {
		g.n.Add(1)
	}
	return packet.Verdict{}
}
