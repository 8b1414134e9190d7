package border

import (
	"encoding/binary"
	"net/netip"
	"sync"
	"time"

	"github.com/splinter-lab/splinter/packet"
	"github.com/splinter-lab/splinter/policy"
)

// Fragment reassembly (policy.IPModel): a censor that reassembles joins an
// IPv4 packet's fragments as they cross the border, bounded in packets
// held and in time, and inspects the whole packet when its last missing
// piece arrives. The fragments are forwarded as they came.

// maxPendingDatagrams and maxPendingBytes bound the incomplete packets
// held at once and their bytes (Linux's ipfrag_high_thresh is 4 MiB); the
// oldest are dropped to make room, as a middlebox under a fragment flood
// would.
const (
	maxPendingDatagrams = 4096
	maxPendingBytes     = 4 << 20
)

type fragKey struct {
	src, dst netip.Addr
	proto    uint8
	id       uint16
}

// datagram is an incomplete IPv4 packet.
type datagram struct {
	first  time.Time
	hdr    []byte // the IP header of the fragment at offset 0
	buf    []byte // the payload, by offset
	have   []bool // which bytes of buf some fragment gave
	pieces [][2]int
	total  int // payload length, from the last fragment; -1 until seen
}

type defragmenter struct {
	overlap policy.FragmentOverlap
	timeout time.Duration

	mu      sync.Mutex
	pending map[fragKey]*datagram
	order   []fragKey // insertion order, for eviction
	bytes   int       // the payload bytes held
}

func newDefragmenter(m policy.IPModel) *defragmenter {
	if !m.Reassemble {
		return nil
	}
	d := &defragmenter{overlap: m.Overlap, timeout: m.Timeout, pending: map[fragKey]*datagram{}}
	if d.overlap == "" {
		d.overlap = policy.FragmentFirstUnlessCovered
	}
	if d.timeout == 0 {
		d.timeout = policy.DefaultFragmentTimeout
	}
	return d
}

// add takes the IPv4 fragment p and returns the whole packet, parsed,
// when p completes one; nil otherwise. Fragments that contradict each
// other (two last fragments, a packet past 65,535 bytes) drop the packet.
func (d *defragmenter) add(p *packet.IP, now time.Time) *packet.IP {
	raw := p.Raw
	if p.Version != 4 || len(raw) < p.HdrLen || p.HdrLen < 20 {
		return nil
	}
	ff := binary.BigEndian.Uint16(raw[6:8])
	off, more := int(ff&0x1fff)*8, ff&0x2000 != 0
	data := raw[p.HdrLen:]
	end := off + len(data)
	if end > 65535-p.HdrLen || more && len(data)%8 != 0 {
		return nil
	}
	k := fragKey{p.Src, p.Dst, p.Proto, p.ID}

	d.mu.Lock()
	defer d.mu.Unlock()
	// Incomplete packets past the timeout go, oldest first: d.order is
	// in the order of their first fragments.
	for len(d.order) > 0 && now.Sub(d.pending[d.order[0]].first) > d.timeout {
		d.forget(d.order[0])
	}
	g := d.pending[k]
	if g == nil {
		if len(d.pending) >= maxPendingDatagrams {
			d.forget(d.order[0])
		}
		g = &datagram{first: now, total: -1}
		d.pending[k] = g
		d.order = append(d.order, k)
	}
	if !more {
		if g.total >= 0 && g.total != end || end < len(g.buf) {
			d.forget(k)
			return nil
		}
		g.total = end
	} else if g.total >= 0 && end > g.total {
		d.forget(k)
		return nil
	}
	if off == 0 {
		g.hdr = append(g.hdr[:0], raw[:p.HdrLen]...)
	}
	if end > len(g.buf) {
		d.bytes += end - len(g.buf)
		g.buf = append(g.buf, make([]byte, end-len(g.buf))...)
		g.have = append(g.have, make([]bool, end-len(g.have))...)
		for d.bytes > maxPendingBytes && d.order[0] != k {
			d.forget(d.order[0])
		}
	}
	all := d.overlap == policy.FragmentLast
	if d.overlap == policy.FragmentFirstUnlessCovered {
		for _, pc := range g.pieces {
			if off < pc[0] && end > pc[1] {
				all = true
				break
			}
		}
	}
	for i, b := range data {
		if all || !g.have[off+i] {
			g.buf[off+i], g.have[off+i] = b, true
		}
	}
	g.pieces = append(g.pieces, [2]int{off, end})
	if g.total < 0 || g.hdr == nil {
		return nil
	}
	for _, h := range g.have[:g.total] {
		if !h {
			return nil
		}
	}
	whole := make([]byte, len(g.hdr)+g.total)
	copy(whole, g.hdr)
	copy(whole[len(g.hdr):], g.buf[:g.total])
	binary.BigEndian.PutUint16(whole[2:4], uint16(len(whole)))
	binary.BigEndian.PutUint16(whole[6:8], binary.BigEndian.Uint16(g.hdr[6:8])&0x4000) // DF stays
	d.forget(k)
	w := new(packet.IP)
	if packet.Parse(whole, w) != nil {
		return nil
	}
	return w
}

// forget drops the incomplete packet k.
func (d *defragmenter) forget(k fragKey) {
	if g := d.pending[k]; g != nil {
		d.bytes -= len(g.buf)
	}
	delete(d.pending, k)
	if len(d.order) > 0 && d.order[0] == k {
		// The oldest, as eviction and expiry forget them: no copy of
		// the rest (a fragment flood evicts one for every fragment).
		d.order = d.order[1:]
		return
	}
	for i, o := range d.order {
		if o == k {
			d.order = append(d.order[:i], d.order[i+1:]...)
			break
		}
	}
}
