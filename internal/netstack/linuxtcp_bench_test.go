package netstack

import (
	"context"
	"encoding/binary"
	"io"
	"net/netip"
	"testing"
	"time"

	"github.com/splinter-lab/splinter/packet"
)

// layerWithConn returns a layer that tracks one established connection,
// a data segment the peer sends on it and the stack's acknowledgment.
func layerWithConn(tb testing.TB) (l *linuxTCP, data, ack []byte) {
	st, err := New(Config{Addrs: []netip.Addr{stackAddr.Addr()}, Send: func([]byte) {}})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(st.Close)
	l = newLinuxTCP(st.s, LinuxTCPAO, false)
	ts := func(val, ecr uint32) []byte {
		o := []byte{1, 1, 8, 10, 0, 0, 0, 0, 0, 0, 0, 0}
		binary.BigEndian.PutUint32(o[4:], val)
		binary.BigEndian.PutUint32(o[8:], ecr)
		return o
	}
	in := func(seq, ack uint32, flags uint8, payload, opts []byte) []byte {
		return packet.AppendTCP(nil, packet.TCPSegment{Src: peerAddr, Dst: stackAddr, Seq: seq, Ack: ack, Flags: flags, Window: 1000, Payload: payload, Options: opts})
	}
	out := func(seq, ack uint32, flags uint8, opts []byte) []byte {
		return packet.AppendTCP(nil, packet.TCPSegment{Src: stackAddr, Dst: peerAddr, Seq: seq, Ack: ack, Flags: flags, Window: 1000, Options: opts})
	}
	l.inbound(in(1000, 0, packet.SYN, nil, append([]byte{1, 3, 3, 7}, ts(1, 0)...)))
	l.outbound(out(5000, 1001, packet.SYN|packet.ACK, append([]byte{1, 3, 3, 7}, ts(9, 1)...)))
	l.inbound(in(1001, 5001, packet.ACK, nil, ts(2, 9)))
	data = in(1001, 5001, packet.ACK|packet.PSH, make([]byte, 1400), ts(3, 9))
	ack = out(5001, 2401, packet.ACK, ts(10, 3))
	if v, _ := l.inbound(data); v != pass {
		tb.Fatalf("the layer does not pass an in-sequence data segment: verdict %d", v)
	}
	return l, data, ack
}

// TestLayerAllocatesNothing: the layer costs no allocation per packet of
// an established connection.
func TestLayerAllocatesNothing(t *testing.T) {
	l, data, ack := layerWithConn(t)
	if n := testing.AllocsPerRun(1000, func() {
		l.inbound(data)
		l.outbound(ack)
	}); n != 0 {
		t.Errorf("%v allocations per data segment and acknowledgment, want 0", n)
	}
}

// BenchmarkLayer measures the layer alone on one segment each way.
func BenchmarkLayer(b *testing.B) {
	l, data, ack := layerWithConn(b)
	b.Run("inbound-data", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			l.inbound(data)
		}
	})
	b.Run("outbound-ack", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			l.outbound(ack)
		}
	})
}

// TestTableForgetsClosedConnections: the table does not grow with
// connections gVisor has closed.
func TestTableForgetsClosedConnections(t *testing.T) {
	a, s, stop := newPair(t, false)
	defer stop()
	ln, err := s.ListenTCP(netip.AddrPortFrom(netip.IPv4Unspecified(), 80))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	for range sweepEvery + 10 {
		c, err := a.DialTCP(context.Background(), netip.AddrPortFrom(s.addr[0], 80))
		if err != nil {
			t.Fatal(err)
		}
		// The server closes first, so the client's side of the
		// connection ends on its last ACK, without a TIME-WAIT.
		io.Copy(io.Discard, c)
		c.Close()
	}
	var n int
	for deadline := time.Now().Add(timeout); ; time.Sleep(10 * time.Millisecond) {
		a.tcp.mu.Lock()
		sweeping := a.tcp.sweeping
		n = len(a.tcp.conns)
		a.tcp.mu.Unlock()
		if !sweeping || time.Now().After(deadline) {
			break
		}
	}
	if n > sweepEvery {
		t.Errorf("the client's layer tracks %d connections after %d closed ones", n, sweepEvery+10)
	}
}

// newPair joins two stacks built by New, with or without the Linux layer,
// by one goroutine per direction, as a world's hosts are joined; a full
// queue drops, as a link does (a stack may send from within Deliver).
func newPair(tb testing.TB, gvisorOnly bool) (a, b *Stack, stop func()) {
	ab, ba := make(chan []byte, 1024), make(chan []byte, 1024)
	link := func(q chan []byte) func([]byte) {
		return func(p []byte) {
			select {
			case q <- append([]byte(nil), p...):
			default:
			}
		}
	}
	var err error
	a, err = New(Config{Addrs: []netip.Addr{netip.MustParseAddr("198.18.0.1")}, gvisorOnly: gvisorOnly, Send: link(ab)})
	if err != nil {
		tb.Fatal(err)
	}
	b, err = New(Config{Addrs: []netip.Addr{netip.MustParseAddr("198.18.0.2")}, gvisorOnly: gvisorOnly, Send: link(ba)})
	if err != nil {
		tb.Fatal(err)
	}
	done := make(chan struct{})
	pump := func(in chan []byte, to *Stack) {
		for {
			select {
			case p := <-in:
				to.Deliver(p)
			case <-done:
				return
			}
		}
	}
	go pump(ab, b)
	go pump(ba, a)
	return a, b, func() { close(done); a.Close(); b.Close() }
}

// BenchmarkBulkLayer compares one-way bulk TCP between two stacks with the
// Linux layer against the same stacks without it, in the same run.
func BenchmarkBulkLayer(b *testing.B) {
	for _, mode := range []struct {
		name       string
		gvisorOnly bool
	}{{"gvisor", true}, {"linux-layer", false}} {
		b.Run(mode.name, func(b *testing.B) {
			a, s, stop := newPair(b, mode.gvisorOnly)
			defer stop()
			ln, err := s.ListenTCP(netip.AddrPortFrom(netip.IPv4Unspecified(), 80))
			if err != nil {
				b.Fatal(err)
			}
			defer ln.Close()
			go func() {
				c, err := ln.Accept()
				if err == nil {
					io.Copy(io.Discard, c)
					c.Close()
				}
			}()
			c, err := a.DialTCP(context.Background(), netip.AddrPortFrom(s.addr[0], 80))
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			buf := make([]byte, 64<<10)
			b.SetBytes(int64(len(buf)))
			for b.Loop() {
				if _, err := c.Write(buf); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
