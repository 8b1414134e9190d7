//go:build linux

package portal

import (
	"bytes"
	"encoding/binary"
	"testing"
)

// segment builds an IPv4 TCP segment of flow 198.18.0.66:40000 ->
// 198.18.96.130:8080 with the given sequence number, flags and payload.
func segment(seqNo uint32, flags byte, payload []byte) []byte {
	p := make([]byte, 40+len(payload))
	p[0], p[8], p[9] = 0x45, 64, 6
	p[6] = 0x40 // DF
	binary.BigEndian.PutUint16(p[2:], uint16(len(p)))
	copy(p[12:], []byte{198, 18, 0, 66, 198, 18, 96, 130})
	binary.BigEndian.PutUint16(p[20:], 40000)
	binary.BigEndian.PutUint16(p[22:], 8080)
	binary.BigEndian.PutUint32(p[24:], seqNo)
	binary.BigEndian.PutUint32(p[28:], 777)
	p[32], p[33] = 5<<4, flags
	binary.BigEndian.PutUint16(p[34:], 512)
	copy(p[40:], payload)
	binary.BigEndian.PutUint16(p[10:], ^fold(sum16(p[:20], 0)))
	return p
}

func TestCoalesce(t *testing.T) {
	const ack, psh = 0x10, 0x08
	mss := bytes.Repeat([]byte{'a'}, 1460)
	tail := []byte("end")
	for _, tc := range []struct {
		name  string
		pkts  [][]byte
		n     int
		gso   byte
		total int
	}{
		{"run with short tail and PSH", [][]byte{segment(1000, ack, mss), segment(2460, ack, mss), segment(3920, ack|psh, tail), segment(3923, ack, mss)}, 3, vnetGSOTCPv4, 40 + 2*1460 + 3},
		{"gap in sequence", [][]byte{segment(1000, ack, mss), segment(9999, ack, mss)}, 1, 0, 40 + 1460},
		{"PSH ends a run", [][]byte{segment(1000, ack|psh, mss), segment(2460, ack, mss)}, 1, 0, 40 + 1460},
		{"SYN is never coalesced", [][]byte{segment(1000, 0x02, nil), segment(1001, ack, mss)}, 1, 0, 40},
		{"pure ACKs pass alone", [][]byte{segment(1000, ack, nil), segment(1000, ack, nil)}, 1, 0, 40},
		{"longer after shorter", [][]byte{segment(1000, ack, tail), segment(1003, ack, mss)}, 1, 0, 43},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := make([]byte, vnetHdrLen+65535)
			n, b := coalesce(tc.pkts, out)
			if n != tc.n || b[1] != tc.gso || len(b)-vnetHdrLen != tc.total {
				t.Fatalf("took %d packets, gso %d, %d bytes; want %d, %d, %d", n, b[1], len(b)-vnetHdrLen, tc.n, tc.gso, tc.total)
			}
			pkt := b[vnetHdrLen:]
			if int(binary.BigEndian.Uint16(pkt[2:])) != len(pkt) || fold(sum16(pkt[:20], 0)) != 0xffff {
				t.Fatalf("bad IPv4 length or checksum")
			}
			if n > 1 {
				var want []byte
				for _, p := range tc.pkts[:n] {
					want = append(want, p[40:]...)
				}
				if !bytes.Equal(pkt[40:], want) || binary.LittleEndian.Uint16(b[4:]) != 1460 || pkt[33]&psh == 0 {
					t.Fatalf("payload, gso size or PSH wrong")
				}
			}
		})
	}
}

func FuzzCoalesce(f *testing.F) {
	f.Add(segment(1, 0x10, []byte("abcd")), segment(5, 0x10, []byte("efgh")))
	f.Add([]byte{0x60, 0, 0, 0, 0, 20, 6, 64}, []byte{0x45})
	f.Fuzz(func(t *testing.T, a, b []byte) {
		if len(a) > 65535 || len(b) > 65535 {
			return
		}
		out := make([]byte, vnetHdrLen+65535)
		n, p := coalesce([][]byte{a, b}, out)
		if n < 1 || n > 2 || len(p) < vnetHdrLen+len(a) {
			t.Fatalf("took %d packets, %d bytes", n, len(p))
		}
	})
}
