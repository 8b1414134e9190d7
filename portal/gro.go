//go:build linux

package portal

import (
	"encoding/binary"
	"os"
	"sync"
)

// The TUN device is opened with IFF_VNET_HDR: every packet read or written
// starts with a struct virtio_net_hdr. Packets read carry an empty one (no
// offloads are enabled, so the kernel hands over finished packets). Packets
// written toward the namespace are coalesced, as a NIC's GRO would: a run of
// in-order segments of one TCP flow becomes one large packet marked
// VIRTIO_NET_HDR_GSO_TCPV4/6 with a partial checksum, and the namespace's
// kernel takes the run in one pass through its stack instead of one per
// segment. Each segment crossed the world, and its borders, on its own.
const vnetHdrLen = 10

const (
	vnetFlagNeedsCsum = 1
	vnetGSOTCPv4      = 1
	vnetGSOTCPv6      = 4
)

// maxQueue bounds the packets waiting for the TUN writer, like a device's
// transmit queue; more are dropped.
const maxQueue = 2048

// writer queues packets for the namespace and writes them in batches,
// coalescing TCP segments.
type writer struct {
	f    *os.File
	mu   sync.Mutex
	q    [][]byte
	wake chan struct{}
	quit chan struct{}
	done chan struct{}
	pool sync.Pool
}

func newWriter(f *os.File) *writer {
	w := &writer{f: f, wake: make(chan struct{}, 1), quit: make(chan struct{}), done: make(chan struct{})}
	w.pool.New = func() any { b := make([]byte, 0, 2048); return &b }
	go w.loop()
	return w
}

// put queues a copy of pkt.
func (w *writer) put(pkt []byte) {
	bp := w.pool.Get().(*[]byte)
	b := append((*bp)[:0], pkt...)
	w.mu.Lock()
	if len(w.q) >= maxQueue {
		w.mu.Unlock()
		w.pool.Put(bp)
		return
	}
	w.q = append(w.q, b)
	first := len(w.q) == 1
	w.mu.Unlock()
	if first {
		select {
		case w.wake <- struct{}{}:
		default:
		}
	}
}

func (w *writer) close() {
	close(w.quit)
	<-w.done
}

func (w *writer) loop() {
	defer close(w.done)
	var batch [][]byte
	out := make([]byte, vnetHdrLen+65535)
	for {
		select {
		case <-w.wake:
		case <-w.quit:
			return
		}
		w.mu.Lock()
		batch, w.q = w.q, batch[:0]
		w.mu.Unlock()
		for i := 0; i < len(batch); {
			n, pkt := coalesce(batch[i:], out)
			w.f.Write(pkt)
			i += n
		}
		for i, b := range batch {
			w.pool.Put(&b)
			batch[i] = nil
		}
	}
}

// seg is a TCP segment that may be coalesced.
type seg struct {
	iphl, thl int
	v6        bool
}

// tcpSeg parses pkt as a TCP segment with payload, plain ACK (or ACK+PSH)
// flags, an IPv4 header without options or fragmentation or an IPv6 header
// without extension headers.
func tcpSeg(pkt []byte) (seg, bool) {
	var s seg
	switch {
	case len(pkt) >= 40 && pkt[0] == 0x45:
		if pkt[9] != 6 || binary.BigEndian.Uint16(pkt[6:])&0x3fff != 0 || int(binary.BigEndian.Uint16(pkt[2:])) != len(pkt) {
			return s, false
		}
		s.iphl = 20
	case len(pkt) >= 60 && pkt[0]>>4 == 6:
		if pkt[6] != 6 || int(binary.BigEndian.Uint16(pkt[4:]))+40 != len(pkt) {
			return s, false
		}
		s.iphl, s.v6 = 40, true
	default:
		return s, false
	}
	th := pkt[s.iphl:]
	s.thl = int(th[12]>>4) * 4
	if s.thl < 20 || s.iphl+s.thl >= len(pkt) {
		return s, false
	}
	// ACK, optionally PSH; nothing else.
	if f := th[13]; f&^0x08 != 0x10 {
		return s, false
	}
	return s, true
}

// coalesce writes into out a virtio_net_hdr and either pkts[0] alone or the
// longest run of segments from pkts[0] on that coalesces with it, and
// returns how many packets it took and the bytes to write.
func coalesce(pkts [][]byte, out []byte) (int, []byte) {
	hdr := out[:vnetHdrLen]
	clear(hdr)
	first := pkts[0]
	s, ok := tcpSeg(first)
	if !ok || len(pkts) == 1 {
		return 1, append(out[:vnetHdrLen], first...)
	}
	hl := s.iphl + s.thl
	mss := len(first) - hl
	seq := binary.BigEndian.Uint32(first[s.iphl+4:]) + uint32(mss)
	n, b := 1, append(out[:vnetHdrLen], first...)
	psh := first[s.iphl+13]&0x08 != 0
	for ; n < len(pkts) && !psh; n++ {
		p := pkts[n]
		ps, ok := tcpSeg(p)
		if !ok || ps != s || len(p)-hl > mss || len(b)-vnetHdrLen+len(p)-hl > 65535 ||
			!sameFlow(first, p, s) || binary.BigEndian.Uint32(p[s.iphl+4:]) != seq {
			break
		}
		b = append(b, p[hl:]...)
		seq += uint32(len(p) - hl)
		psh = p[s.iphl+13]&0x08 != 0
		if len(p)-hl < mss {
			n++
			break
		}
	}
	if n == 1 {
		return 1, b
	}
	pkt := b[vnetHdrLen:]
	ip, th := pkt[:s.iphl], pkt[s.iphl:]
	if psh {
		th[13] |= 0x08
	}
	var sum uint32
	if s.v6 {
		binary.BigEndian.PutUint16(ip[4:], uint16(len(pkt)-40))
		sum = sum16(ip[8:40], 0)
		hdr[1] = vnetGSOTCPv6
	} else {
		binary.BigEndian.PutUint16(ip[2:], uint16(len(pkt)))
		ip[10], ip[11] = 0, 0
		binary.BigEndian.PutUint16(ip[10:], ^fold(sum16(ip, 0)))
		sum = sum16(ip[12:20], 0)
		hdr[1] = vnetGSOTCPv4
	}
	// The pseudo-header's sum; the kernel completes the checksum.
	sum += 6 + uint32(len(pkt)-s.iphl)
	binary.BigEndian.PutUint16(th[16:], fold(sum))
	hdr[0] = vnetFlagNeedsCsum
	binary.LittleEndian.PutUint16(hdr[2:], uint16(hl))
	binary.LittleEndian.PutUint16(hdr[4:], uint16(mss))
	binary.LittleEndian.PutUint16(hdr[6:], uint16(s.iphl))
	binary.LittleEndian.PutUint16(hdr[8:], 16)
	return n, b
}

// sameFlow reports whether b continues a's flow with identical headers
// but for lengths, sequence numbers, checksums, IPv4 IDs and PSH.
func sameFlow(a, b []byte, s seg) bool {
	if s.v6 {
		// version, class, flow label; hop limit; addresses.
		if string(a[:4]) != string(b[:4]) || a[7] != b[7] || string(a[8:40]) != string(b[8:40]) {
			return false
		}
	} else {
		// TOS; flags; TTL and protocol; addresses.
		if a[1] != b[1] || a[6] != b[6] || a[8] != b[8] || string(a[12:20]) != string(b[12:20]) {
			return false
		}
	}
	ta, tb := a[s.iphl:s.iphl+s.thl], b[s.iphl:s.iphl+s.thl]
	// Ports; ack; offset and flags but PSH; window; options.
	return string(ta[:4]) == string(tb[:4]) && string(ta[8:13]) == string(tb[8:13]) &&
		ta[13]&^0x08 == tb[13]&^0x08 && string(ta[14:16]) == string(tb[14:16]) && string(ta[20:]) == string(tb[20:])
}

func sum16(b []byte, sum uint32) uint32 {
	for len(b) >= 2 {
		sum += uint32(b[0])<<8 | uint32(b[1])
		b = b[2:]
	}
	if len(b) == 1 {
		sum += uint32(b[0]) << 8
	}
	return sum
}

func fold(sum uint32) uint16 {
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	return uint16(sum)
}
