package world

import (
	"bytes"
	"testing"

	"github.com/splinter-lab/splinter/internal/netstack"
)

// TestInboxTakesTheSendersBuf: a packet that arrives with the buffer that
// holds it is queued without a copy (the buffer is taken, trimmed to the
// packet, as a router trims); one without, or whose buffer holds other
// bytes, is copied and the buffer left to its owner.
func TestInboxTakesTheSendersBuf(t *testing.T) {
	q := &inbox{wake: make(chan struct{}, 1)}
	data := bytes.Repeat([]byte{0x45}, 100)

	own := netstack.CopyBuf(data)
	pkt := own.Bytes()[:60] // the router trimmed 40 bytes beyond the IP length
	q.put(pkt, &own)
	if own.Bytes() != nil {
		t.Fatal("the inbox did not take the packet's buffer")
	}
	if got := q.q[0].Bytes(); len(got) != 60 || &got[0] != &pkt[0] {
		t.Errorf("queued %d bytes at a new address; want the buffer itself, 60 bytes", len(got))
	}

	other := netstack.CopyBuf(data)
	q.put(data[:50], &other)
	if other.Bytes() == nil {
		t.Error("the inbox took a buffer that does not hold the packet")
	}
	q.put(data[:50], nil)
	for i, b := range q.q[1:] {
		if got := b.Bytes(); len(got) != 50 || &got[0] == &data[0] {
			t.Errorf("packet %d: queued %d bytes, shared with the caller %v; want a 50-byte copy", i+1, len(got), &got[0] == &data[0])
		}
	}
	other.Release()
	for i := range q.q {
		q.q[i].Release()
	}
}

// TestInboxPutAllocatesNothing: queueing a packet, with its buffer or
// copied into one from gVisor's pool, costs no Go heap allocation.
func TestInboxPutAllocatesNothing(t *testing.T) {
	if testing.CoverMode() != "" || raceOn {
		t.Skip("allocation counts are not meaningful under coverage or the race detector")
	}
	q := &inbox{wake: make(chan struct{}, 1), q: make([]netstack.Buf, 0, 4)}
	data := make([]byte, 1500)
	for _, withBuf := range []bool{true, false} {
		allocs := testing.AllocsPerRun(1000, func() {
			if withBuf {
				own := netstack.CopyBuf(data)
				q.put(own.Bytes(), &own)
			} else {
				q.put(data, nil)
			}
			q.q[0].Release()
			q.q = q.q[:0]
		})
		if allocs != 0 {
			t.Errorf("with the sender's buffer %v: %.1f allocations per packet, want 0", withBuf, allocs)
		}
	}
}
