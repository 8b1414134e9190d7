package netstack

import "gvisor.dev/gvisor/pkg/buffer"

// Buf is an IP packet in memory from gVisor's buffer pool: what lets a
// packet go from one stack to another with one copy, out of the sender,
// rather than three. A stack built with Config.SendBuf offers each packet it
// emits in a Buf; the fabric reads and rewrites the bytes in place (Bytes),
// and the stack that receives the packet takes the Buf over (Take) and is
// given it (DeliverBuf), so the memory goes back to gVisor's pool only when
// that stack is done with it. Nothing is shared, so nothing needs counting
// beyond what gVisor counts itself.
//
// The zero Buf holds nothing. A Buf is owned by one holder at a time: the
// holder either delivers it or releases it.
type Buf struct{ v *buffer.View }

// CopyBuf returns a Buf holding a copy of pkt.
func CopyBuf(pkt []byte) Buf { return Buf{buffer.NewViewWithData(pkt)} }

// Bytes are the packet's bytes; nil for the zero Buf. They stay valid while
// the Buf is held.
func (b Buf) Bytes() []byte {
	if b.v == nil {
		return nil
	}
	return b.v.AsSlice()
}

// Take moves the packet out of *b, which is left empty: the caller now
// holds it. Taking from an empty Buf gives an empty Buf.
func (b *Buf) Take() Buf {
	t := *b
	b.v = nil
	return t
}

// Trim shortens the packet to its first n bytes (n no greater than its
// length), as a router trims what lies beyond the IP length.
func (b Buf) Trim(n int) {
	if b.v != nil && n < b.v.Size() {
		b.v.CapLength(n)
	}
}

// Release gives the memory back to gVisor's pool and empties b.
func (b *Buf) Release() {
	if b.v != nil {
		b.v.Release()
		b.v = nil
	}
}
