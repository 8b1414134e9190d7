package netstack

import (
	"bytes"
	"net/netip"
	"testing"

	"gvisor.dev/gvisor/pkg/buffer"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
)

// outPacket is a packet as gVisor's TCP sends one: headers pushed into
// reserved space in one view, the payload in another.
func outPacket(hdr, payload []byte) *stack.PacketBuffer {
	pb := stack.NewPacketBuffer(stack.PacketBufferOptions{ReserveHeaderBytes: 64 + len(hdr), Payload: buffer.MakeWithData(payload)})
	copy(pb.NetworkHeader().Push(len(hdr)), hdr)
	return pb
}

// TestWritePacketsOffersOneBuf: the stack's output joins a packet's views
// into one Buf; a Buf that send took is the taker's (the next packet does
// not overwrite it), one it did not take serves the next packet.
func TestWritePacketsOffersOneBuf(t *testing.T) {
	var taken []Buf
	take := false
	ep := &endpoint{mtu: 1500, send: func(b *Buf) {
		if take {
			taken = append(taken, b.Take())
		}
	}}
	hdr, payload := bytes.Repeat([]byte{0x45}, 40), bytes.Repeat([]byte{7}, 1000)
	for i, tk := range []bool{true, false, true} {
		take = tk
		payload[0] = byte(i) // each packet differs from the last
		pb := outPacket(hdr, payload)
		var l stack.PacketBufferList
		l.PushBack(pb)
		if n, err := ep.WritePackets(l); n != 1 || err != nil {
			t.Fatalf("WritePackets = %d, %v", n, err)
		}
		pb.DecRef()
	}
	if len(taken) != 2 {
		t.Fatalf("%d Bufs taken, want 2", len(taken))
	}
	for i, b := range taken {
		want := append(append([]byte(nil), hdr...), payload...)
		want[len(hdr)] = byte(2 * i) // packets 0 and 2 were taken
		if !bytes.Equal(b.Bytes(), want) {
			t.Errorf("taken Buf %d holds %d bytes, first payload byte %d; want header then payload", i, len(b.Bytes()), b.Bytes()[len(hdr)])
		}
		b.Release()
	}
}

// TestWritePacketsAllocatesNothing: the stack's output costs no Go heap
// allocation per packet, whether the fabric takes the Buf (it comes from
// gVisor's pool) or not.
func TestWritePacketsAllocatesNothing(t *testing.T) {
	if testing.CoverMode() != "" || raceEnabled {
		t.Skip("allocation counts are not meaningful under coverage or the race detector")
	}
	st, err := New(Config{Addrs: []netip.Addr{stackAddr.Addr()}, SendBuf: func(b *Buf) {
		if b.Bytes()[0] == 0x45 {
			t := b.Take()
			t.Release()
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for _, first := range []byte{0x45, 0} {
		hdr := bytes.Repeat([]byte{first}, 40)
		pb := outPacket(hdr, make([]byte, 1400))
		var l stack.PacketBufferList
		l.PushBack(pb)
		if n := testing.AllocsPerRun(1000, func() { st.ep.WritePackets(l) }); n != 0 {
			t.Errorf("taken %v: %v allocations per packet, want 0", first == 0x45, n)
		}
		pb.DecRef()
	}
}
