package world

import (
	"net/netip"
	"testing"

	"github.com/splinter-lab/splinter/clock"
	"github.com/splinter-lab/splinter/internal/netstack"
	"github.com/splinter-lab/splinter/packet"
	"github.com/splinter-lab/splinter/scenario"
)

type sink struct{ n int }

func (s *sink) receive([]byte, *netstack.Buf, *iface) { s.n++ }

// BenchmarkLinkSend measures one packet crossing a fast-path link with no
// hidden router and with 19: hops cost one TTL check and one checksum update
// per link crossed, whatever their number, and allocate nothing.
func BenchmarkLinkSend(b *testing.B) {
	for _, hops := range []int{0, 19} {
		b.Run(map[int]string{0: "no-hops", 19: "19-hops"}[hops], func(b *testing.B) {
			var a, z sink
			l := newLink("bench", &a, &z, scenario.Link{Hops: hops}, false, clock.System, 1)
			up := make([]hop, hops)
			for i := range up {
				up[i] = hop{v4: netip.AddrFrom4([4]byte{192, 0, 2, byte(2 + i)})}
			}
			l.setHops(up, nil)
			pkt := packet.AppendUDP(nil, netip.MustParseAddrPort("198.18.0.2:1000"), netip.MustParseAddrPort("198.18.16.2:53"), make([]byte, 1200), packet.Shape{})
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				pkt[8] = 64 // as a sender would set it
				l.send(0, pkt, nil)
			}
			if z.n != b.N {
				b.Fatalf("%d of %d delivered", z.n, b.N)
			}
		})
	}
}
