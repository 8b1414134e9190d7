package netstack

import (
	"context"
	"encoding/binary"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/splinter-lab/splinter/packet"
)

// The Linux source these tests follow is net/ipv4/tcp_input.c,
// tcp_ipv4.c and tcp.c of Linux 6.18 or later (gregkh/linux 03bab42919c4, with AccECN), built
// with CONFIG_TCP_MD5SIG and CONFIG_TCP_AO as distributions ship it.

// established is one crafted segment (or a few) sent to a stack that is
// the server of an established connection, and what Linux does with it:
// the answers the stack sends before it acknowledges the next in-sequence
// data, and what the application reads.
type establishedCase struct {
	name string
	// linux cites what Linux does.
	linux string
	act   func(p *peer)
	// replies are the stack's answers to act, by kind ("ACK" for a bare
	// acknowledgment of the peer's next sequence number), "," separated.
	replies string
	// read is what the application reads, the "." of sync included.
	read string
	// reset: the connection is reset by act.
	reset bool
	// gvisor: bare gVisor does something else, which the layer corrects.
	gvisor bool
}

func establishedCases() []establishedCase {
	data := func(p *peer, flags uint8, ack uint32, payload string, opts []byte) {
		p.send(p.raw(flags, ack, []byte(payload), opts))
	}
	withNS := func(b []byte) []byte { // the NS bit, which packet.TCPSegment has no flag for
		b[20+12] |= 1
		fixTCPChecksum(b)
		return b
	}
	frapun := uint8(packet.FIN | packet.RST | packet.ACK | packet.PSH | packet.URG)
	return []establishedCase{
		{name: "AckOfUnsentDataIsDiscarded", gvisor: true,
			linux: "tcp_ack: after(ack, tp->snd_nxt) returns -SKB_DROP_REASON_TCP_ACK_UNSENT_DATA; tcp_rcv_established discards the segment, payload and all, without a reply",
			act:   func(p *peer) { data(p, packet.ACK|packet.PSH, p.rcvNxt+1000, "EVIL", p.tsOption()) },
			read:  "."},
		{name: "TooOldAckGetsChallengeACK", gvisor: true,
			linux:   "tcp_ack, RFC 5961 §5.2: before(ack, prior_snd_una - max_window) sends tcp_send_challenge_ack and discards (SKB_DROP_REASON_TCP_TOO_OLD_ACK)",
			act:     func(p *peer) { data(p, packet.ACK|packet.PSH, p.rcvNxt-100000, "EVIL", p.tsOption()) },
			replies: "ACK", read: "."},
		{name: "RSTAtRcvNxtResets",
			linux: "tcp_validate_incoming step 2, RFC 5961 §3.2: TCP_SKB_CB(skb)->seq == tp->rcv_nxt goes to tcp_reset",
			act:   func(p *peer) { data(p, packet.RST|packet.ACK, p.rcvNxt, "", p.tsOption()) },
			reset: true},
		{name: "RSTInWindowGetsChallengeACK",
			linux: "tcp_validate_incoming step 2, RFC 5961 §3.2: an in-window RST not at rcv_nxt gets tcp_send_challenge_ack",
			act: func(p *peer) {
				p.sndNxt += 10
				data(p, packet.RST|packet.ACK, p.rcvNxt, "", p.tsOption())
				p.sndNxt -= 10
			},
			replies: "ACK", read: "."},
		{name: "RSTOutOfWindowIsDropped",
			linux: "tcp_validate_incoming step 1, RFC 5961 §3.2: tcp_sequence fails and a RST is dropped without a reply",
			act: func(p *peer) {
				p.sndNxt += 1 << 30
				data(p, packet.RST|packet.ACK, p.rcvNxt, "", p.tsOption())
				p.sndNxt -= 1 << 30
			},
			read: "."},
		{name: "SYNGetsChallengeACK",
			linux:   "tcp_validate_incoming step 4, RFC 5961 §4.2: a SYN in a synchronized state gets tcp_send_challenge_ack and is dropped",
			act:     func(p *peer) { data(p, packet.SYN, 0, "", p.tsOption()) },
			replies: "ACK", read: "."},
		{name: "SYNWithPayloadGetsChallengeACK",
			linux:   "tcp_validate_incoming step 4: the SYN is dropped with its data",
			act:     func(p *peer) { data(p, packet.SYN|packet.ACK, p.rcvNxt, "EVIL", p.tsOption()) },
			replies: "ACK", read: "."},
		{name: "FRAPUNAtRcvNxtResets",
			linux: "tcp_validate_incoming checks RST (step 2) before SYN (step 4) and the ACK (tcp_ack): FIN+RST+ACK+PSH+URG+NS at rcv_nxt resets",
			act:   func(p *peer) { p.send(withNS(p.raw(frapun, p.rcvNxt+77, []byte("EVIL"), p.tsOption()))) },
			reset: true},
		{name: "FRAPUNWithMD5IsDropped", gvisor: true,
			linux: "tcp_v4_rcv calls tcp_inbound_hash before any state processing: an MD5 option on a socket without a key is SKB_DROP_REASON_TCP_MD5UNEXPECTED",
			act: func(p *peer) {
				p.send(withNS(p.raw(frapun, p.rcvNxt, []byte("EVIL"), append(p.tsOption(), md5Option()...))))
			},
			read: "."},
		{name: "RSTWithMD5IsDropped", gvisor: true,
			linux: "tcp_inbound_hash: TCP_MD5UNEXPECTED (Geneva's teardown · RST · md5)",
			act:   func(p *peer) { data(p, packet.RST, 0, "", append(p.tsOption(), md5Option()...)) },
			read:  "."},
		{name: "DataWithMD5IsDropped", gvisor: true,
			linux: "tcp_inbound_hash: TCP_MD5UNEXPECTED",
			act:   func(p *peer) { data(p, packet.ACK|packet.PSH, p.rcvNxt, "EVIL", append(md5Option(), p.tsOption()...)) },
			read:  "."},
		{name: "MD5OfWrongLengthIsDropped", gvisor: true,
			linux: "tcp_do_parse_auth_options: opsize != TCPOLEN_MD5SIG is -EINVAL, SKB_DROP_REASON_TCP_AUTH_HDR",
			act: func(p *peer) {
				data(p, packet.ACK|packet.PSH, p.rcvNxt, "EVIL", append([]byte{19, 6, 1, 2, 3, 4}, p.tsOption()...))
			},
			read: "."},
		{name: "BadTCPChecksumIsDropped",
			linux: "tcp_v4_rcv: tcp_v4_checksum_init / tcp_checksum_complete fail, csum_error, no reply",
			act: func(p *peer) {
				b := p.raw(packet.ACK|packet.PSH, p.rcvNxt, []byte("EVIL"), p.tsOption())
				b[20+16] ^= 0xff
				p.send(b)
			},
			read: "."},
		{name: "BadIPChecksumIsDropped",
			linux: "ip_rcv_core: ip_fast_csum fails, csum_error",
			act: func(p *peer) {
				b := p.raw(packet.ACK|packet.PSH, p.rcvNxt, []byte("EVIL"), p.tsOption())
				b[10] ^= 0xff
				p.send(b)
			},
			read: "."},
		{name: "DataOffsetBelowFiveIsDropped",
			linux: "tcp_v4_rcv: th->doff < sizeof(struct tcphdr) / 4 goes to bad_packet",
			act: func(p *peer) {
				b := p.raw(packet.ACK|packet.PSH, p.rcvNxt, []byte("EVILEVILEVIL"), nil)
				b[20+12] = 4 << 4
				fixTCPChecksum(b)
				p.send(b)
			},
			read: "."},
		{name: "DataOffsetBeyondSegmentIsDropped",
			linux: "tcp_v4_rcv: !pskb_may_pull(skb, th->doff * 4) discards",
			act: func(p *peer) {
				b := p.raw(packet.ACK|packet.PSH, p.rcvNxt, []byte("EVIL"), nil)
				b[20+12] = 15 << 4
				fixTCPChecksum(b)
				p.send(b)
			},
			read: "."},
		{name: "DataOffsetTenOverHTTPIsDropped", gvisor: true,
			linux: "tcp_inbound_hash: with doff 10 the request's first 20 bytes are options; 'G' 'E' is an option longer than what is left, -EINVAL, SKB_DROP_REASON_TCP_AUTH_HDR (Geneva's TCB desync · inc. dataofs; before Linux 6.7 the rest of the payload was taken as data)",
			act: func(p *peer) {
				b := p.raw(packet.ACK|packet.PSH, p.rcvNxt, []byte("GET /?q=ultrasurf HTTP/1.1\r\nHost: x\r\n\r\n"), nil)
				b[20+12] = 10 << 4
				fixTCPChecksum(b)
				p.send(b)
			},
			read: "."},
		{name: "OptionLengthZeroIsDropped", gvisor: true,
			linux: "tcp_do_parse_auth_options: opsize < 2 is -EINVAL, SKB_DROP_REASON_TCP_AUTH_HDR",
			act: func(p *peer) {
				data(p, packet.ACK|packet.PSH, p.rcvNxt, "EVIL", append([]byte{0xfe, 0, 0, 0}, p.tsOption()...))
			},
			read: "."},
		{name: "OptionLengthOneIsDropped", gvisor: true,
			linux: "tcp_do_parse_auth_options: opsize < 2 is -EINVAL",
			act: func(p *peer) {
				data(p, packet.ACK|packet.PSH, p.rcvNxt, "EVIL", append([]byte{0xfe, 1, 0, 0}, p.tsOption()...))
			},
			read: "."},
		{name: "OptionLongerThanHeaderIsDropped", gvisor: true,
			linux: "tcp_do_parse_auth_options: opsize > length is -EINVAL",
			act: func(p *peer) {
				data(p, packet.ACK|packet.PSH, p.rcvNxt, "EVIL", append([]byte{0xfe, 40, 0, 0}, p.tsOption()...))
			},
			read: "."},
		{name: "MalformedOptionInLastFourBytesIsIgnored",
			linux: "tcp_do_parse_auth_options reads options only while 5 bytes are left (sizeof(struct tcp_ao_hdr) + 1), and tcp_parse_options stops at a silly option: the segment is taken",
			act: func(p *peer) {
				data(p, packet.ACK|packet.PSH, p.rcvNxt, "OKAY", append(p.tsOption(), 0xfe, 0, 0, 0))
				p.sndNxt += 4
			},
			read: "OKAY."},
		{name: "UnknownOptionIsIgnored",
			linux: "tcp_parse_options: an unknown option sets saw_unknown and is skipped",
			act: func(p *peer) {
				data(p, packet.ACK|packet.PSH, p.rcvNxt, "OKAY", append([]byte{0xfe, 4, 0, 0}, p.tsOption()...))
				p.sndNxt += 4
			},
			read: "OKAY."},
		{name: "CorruptUserTimeoutOptionIsIgnored",
			linux: "tcp_parse_options has no case for TCPOPT_USER_TIMEOUT (RFC 5482, kind 28): skipped like an unknown option (Geneva's invalid options · corrupt UTO)",
			act: func(p *peer) {
				data(p, packet.ACK|packet.PSH, p.rcvNxt, "OKAY", append([]byte{28, 4, 0xde, 0xad}, p.tsOption()...))
				p.sndNxt += 4
			},
			read: "OKAY."},
		{name: "WindowScaleOutsideSYNIsIgnored",
			linux: "tcp_parse_options: TCPOPT_WINDOW counts only when th->syn && !estab",
			act: func(p *peer) {
				data(p, packet.ACK|packet.PSH, p.rcvNxt, "OKAY", append([]byte{3, 3, 0xee, 1}, p.tsOption()...))
				p.sndNxt += 4
			},
			read: "OKAY."},
		{name: "PAWSDropsOldTimestampWithDupACK", gvisor: true,
			linux: "tcp_validate_incoming, RFC 7323 §5.3: tcp_paws_check fails, not a disordered ACK, so tcp_send_dupack and discard",
			act: func(p *peer) {
				p.tsVal -= 1000
				data(p, packet.ACK|packet.PSH, p.rcvNxt, "EVIL", p.tsOption())
				p.tsVal += 1000
			},
			replies: "ACK", read: "."},
		{name: "PAWSOldPureACKIsDroppedSilently", gvisor: true,
			linux: "tcp_validate_incoming: a pure ACK below rcv_nxt failing PAWS is SKB_DROP_REASON_TCP_RFC7323_PAWS_ACK, no dupack",
			act: func(p *peer) {
				p.tsVal -= 1000
				p.sndNxt--
				data(p, packet.ACK, p.rcvNxt, "", p.tsOption())
				p.sndNxt++
				p.tsVal += 1000
			},
			read: "."},
		{name: "RSTFailingPAWSStillResets",
			linux: "tcp_validate_incoming: \"Reset is accepted even if it did not pass PAWS\"",
			act: func(p *peer) {
				p.tsVal -= 1000
				data(p, packet.RST|packet.ACK, p.rcvNxt, "", p.tsOption())
				p.tsVal += 1000
			},
			reset: true},
		{name: "SegmentOutsideWindowGetsDupACK",
			linux: "tcp_validate_incoming step 1: tcp_sequence fails, tcp_send_dupack",
			act: func(p *peer) {
				p.sndNxt += 1 << 30
				data(p, packet.ACK|packet.PSH, p.rcvNxt, "EVIL", p.tsOption())
				p.sndNxt -= 1 << 30
			},
			replies: "ACK", read: "."},
		{name: "OverlappingRetransmissionKeepsFirstCopy",
			linux: "tcp_data_queue: a segment starting before rcv_nxt is queued whole and tcp_recvmsg skips what was read (seq < copied_seq): the first copy of a byte wins, new bytes are appended",
			act: func(p *peer) {
				p.data("ABCD")
				p.sndNxt -= 4
				p.data("XXXXEF")
				p.sync()
			},
			read: "ABCDEF.."},
		{name: "OutOfOrderOverlapLowerStartWins",
			linux: "tcp_data_queue_ofo: a segment starting before a queued one keeps its bytes of the overlap; tcp_ofo_queue then trims the later one",
			act: func(p *peer) {
				base := p.sndNxt
				p.sndNxt = base + 2
				p.send(p.seg(packet.ACK, []byte("cdef")))
				p.sndNxt = base + 1
				p.send(p.seg(packet.ACK, []byte("XYZ")))
				p.sndNxt = base
				p.data("a")
				p.sndNxt = base + 6
				p.expect(func(q *packet.IP) bool { return pureACK(q) && q.Ack == base+6 }, "ACK of the filled gap")
			},
			read: "aXYZef."},
		{name: "TTLIsIgnoredAtTheEndpoint",
			linux: "ip_rcv_core and ip_local_deliver do not look at the TTL; only forwarding does",
			act: func(p *peer) {
				b := p.raw(packet.ACK|packet.PSH, p.rcvNxt, []byte("OKAY"), p.tsOption())
				b[8] = 0
				fixIPChecksum(b)
				p.send(b)
				p.sndNxt += 4
			},
			read: "OKAY."},
		{name: "IPTotalLengthTrimsTheSegment",
			linux: "ip_rcv_core: pskb_trim_rcsum(skb, ntohs(iph->tot_len)) drops the bytes past the IP total length",
			act: func(p *peer) {
				b := p.raw(packet.ACK|packet.PSH, p.rcvNxt, []byte("OKAY"), p.tsOption())
				b = append(b, "JUNK"...)
				p.send(b)
				p.sndNxt += 4
			},
			read: "OKAY."},
	}
}

func TestLinuxEstablished(t *testing.T) {
	for _, tc := range establishedCases() {
		t.Run(tc.name, func(t *testing.T) {
			if got, want := runEstablished(t, tc, false), expectedOutcome(tc); got != want {
				t.Errorf("%s\ngot  %s\nwant %s", tc.linux, got, want)
			}
		})
	}
}

// TestGVisorDeviations runs the same cases on bare gVisor: those marked
// gvisor must come out otherwise (else the layer is not needed for them),
// the others the same. It is the record of what the layer corrects.
func TestGVisorDeviations(t *testing.T) {
	for _, tc := range establishedCases() {
		t.Run(tc.name, func(t *testing.T) {
			got, linux := runEstablished(t, tc, true), expectedOutcome(tc)
			if tc.gvisor && got == linux {
				t.Errorf("bare gVisor already does what Linux does (%s); the layer need not", got)
			}
			if !tc.gvisor && got != linux {
				t.Errorf("bare gVisor differs from Linux: %s, Linux %s", got, linux)
			}
			t.Logf("gVisor: %s", got)
		})
	}
}

func expectedOutcome(tc establishedCase) string {
	if tc.reset {
		return "replies [" + tc.replies + "] reset"
	}
	return "replies [" + tc.replies + "] read " + quote(tc.read)
}

// runEstablished plays one case against a fresh connection and describes
// the outcome.
func runEstablished(t *testing.T, tc establishedCase, gvisorOnly bool) string {
	return runEstablishedConfig(t, tc, Config{gvisorOnly: gvisorOnly})
}

// runEstablishedConfig is runEstablished on a stack built from cfg.
func runEstablishedConfig(t *testing.T, tc establishedCase, cfg Config) string {
	p := newStackPeerConfig(t, cfg, peerAddr, stackAddr)
	p.connect()
	start := p.sndNxt
	tc.act(p)
	end := p.sndNxt
	before, reset := p.sync()
	var kinds []string
	for _, q := range before {
		if end != start && pureACK(q) && q.Ack == end {
			// The acknowledgment of data act sent in sequence, unless
			// gVisor acknowledged it together with sync's.
			continue
		}
		kinds = append(kinds, kind(q, p))
	}
	out := "replies [" + strings.Join(kinds, ",") + "]"
	if reset {
		_, err := p.read(1)
		if !isReset(err) {
			return out + " reset answered, but the application reads " + errString(err)
		}
		return out + " reset"
	}
	want := len(tc.read)
	if want == 0 {
		want = 1
	}
	s, err := p.read(want)
	if err != nil {
		return out + " read " + quote(s) + " then " + errString(err)
	}
	return out + " read " + quote(s)
}

// kind names a packet the stack sent.
func kind(q *packet.IP, p *peer) string {
	switch {
	case q.Flags&packet.RST != 0:
		return "RST"
	case q.Flags&packet.SYN != 0:
		return "SYN-ACK"
	case pureACK(q):
		return "ACK"
	}
	return segString(q)
}

func quote(s string) string { return "\"" + s + "\"" }

func errString(err error) string {
	if err == nil {
		return "nothing"
	}
	return err.Error()
}

// md5Option is NOP, NOP and a TCP-MD5 signature option (RFC 2385).
func md5Option() []byte {
	o := make([]byte, 20)
	o[0], o[1], o[2], o[3] = 1, 1, 19, 18
	for i := 4; i < len(o); i++ {
		o[i] = byte(i * 7)
	}
	return o
}

// fixTCPChecksum recomputes the TCP checksum of an IPv4 packet.
func fixTCPChecksum(b []byte) {
	var q packet.IP
	if err := packet.Parse(b, &q); err != nil {
		panic(err)
	}
	t := b[q.HdrLen:]
	t[16], t[17] = 0, 0
	binary.BigEndian.PutUint16(t[16:], packet.TransportChecksum(q.Src, q.Dst, packet.TCP, t))
}

// fixIPChecksum recomputes the IPv4 header checksum.
func fixIPChecksum(b []byte) {
	b[10], b[11] = 0, 0
	binary.BigEndian.PutUint16(b[10:], packet.Checksum(b[:20]))
}

// TestFINWithPayload: tcp_data_queue queues the data and tcp_fin ends the
// stream; the FIN is acknowledged.
func TestFINWithPayload(t *testing.T) {
	for _, gvisorOnly := range []bool{false, true} {
		p := newStackPeer(t, gvisorOnly)
		p.connect()
		p.send(p.seg(packet.ACK|packet.FIN, []byte("BYE")))
		p.expect(func(q *packet.IP) bool { return q.Flags&packet.ACK != 0 && q.Ack == p.sndNxt+4 }, "ACK of the FIN")
		s, err := p.readAll()
		if s != "BYE" || err != nil {
			t.Errorf("gvisorOnly=%v: the application read %q, %v; want \"BYE\" and the end of the stream", gvisorOnly, s, err)
		}
	}
}

// TestSYNWithPayloadIsNotDelivered: without TCP Fast Open, tcp_conn_request
// keeps nothing of a SYN's data; the SYN-ACK acknowledges the SYN alone.
func TestSYNWithPayloadIsNotDelivered(t *testing.T) {
	for _, gvisorOnly := range []bool{false, true} {
		p := newStackPeer(t, gvisorOnly)
		p.sndNxt = p.iss
		p.noTS = true
		p.send(p.raw(packet.SYN, 0, []byte("EARLY"), []byte{2, 4, 5, 0xb4}))
		sa := p.expect(func(q *packet.IP) bool { return q.Flags == packet.SYN|packet.ACK }, "SYN-ACK")
		if sa.Ack != p.iss+1 {
			t.Fatalf("gvisorOnly=%v: the SYN-ACK acknowledges %d bytes past the ISN, want 1", gvisorOnly, sa.Ack-p.iss)
		}
		p.rcvNxt, p.sndNxt = sa.Seq+1, p.iss+1
		p.send(p.seg(packet.ACK, nil))
		c, err := p.ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		p.app = c
		p.data("LATE")
		if s, err := p.read(4); s != "LATE" {
			t.Errorf("gvisorOnly=%v: the application read %q, %v; want \"LATE\"", gvisorOnly, s, err)
		}
		c.Close()
	}
}

// TestHandshakeAckOfUnsentDataGetsRST: in SYN-RECV an ACK that does not
// acknowledge the SYN-ACK alone is answered with a RST (tcp_check_req
// returns the listener, whose tcp_rcv_state_process refuses the ACK; RFC
// 793 p. 72), and the connection is not established.
func TestHandshakeAckOfUnsentDataGetsRST(t *testing.T) {
	p := newStackPeer(t, false)
	p.sndNxt = p.iss
	p.noTS = true
	p.send(p.raw(packet.SYN, 0, nil, []byte{2, 4, 5, 0xb4}))
	sa := p.expect(func(q *packet.IP) bool { return q.Flags == packet.SYN|packet.ACK }, "SYN-ACK")
	p.rcvNxt, p.sndNxt = sa.Seq+1, p.iss+1
	p.send(p.raw(packet.ACK, sa.Seq+1000, nil, nil))
	rst := p.expect(func(q *packet.IP) bool { return q.Flags&packet.RST != 0 }, "RST")
	if rst.Seq != sa.Seq+1000 {
		t.Errorf("the RST has sequence number %d, want the ACK's %d", rst.Seq, sa.Seq+1000)
	}
}

// TestSYNACKToListenerGetsRST: Geneva's TCB turnaround sends a SYN-ACK
// first; a listener answers an ACK with a RST (tcp_rcv_state_process,
// TCP_LISTEN: th->ack returns SKB_DROP_REASON_TCP_FLAGS, and
// tcp_v4_do_rcv resets).
func TestSYNACKToListenerGetsRST(t *testing.T) {
	p := newStackPeer(t, false)
	p.sndNxt = p.iss
	p.send(p.raw(packet.SYN|packet.ACK, 4242, nil, nil))
	rst := p.expect(func(q *packet.IP) bool { return q.Flags&packet.RST != 0 }, "RST")
	if rst.Seq != 4242 {
		t.Errorf("the RST has sequence number %d, want the ACK's 4242", rst.Seq)
	}
}

// TestAckTooOldAfterDataSent: once the stack has sent data and had it
// acknowledged, an ACK older than SND.UNA by less than the peer's window
// is an old duplicate (tcp_ack's old_ack: ignored, its data taken), one
// older than that is challenged (RFC 5961 §5.2).
func TestAckTooOldAfterDataSent(t *testing.T) {
	p := newStackPeer(t, false)
	p.connect()
	if _, err := p.app.Write([]byte("response")); err != nil {
		t.Fatal(err)
	}
	d := p.expect(func(q *packet.IP) bool { return len(q.Payload) > 0 }, "data")
	p.rcvNxt = d.Seq + uint32(len(d.Payload))
	p.data("a") // acknowledges the response
	p.expect(func(q *packet.IP) bool { return pureACK(q) && q.Ack == p.sndNxt }, "ACK")
	// An old duplicate ACK with data: taken, and acknowledged (not
	// challenged: a challenge ACK would acknowledge only "a").
	p.send(p.raw(packet.ACK|packet.PSH, p.rcvNxt-3, []byte("b"), p.tsOption()))
	p.sndNxt++
	if q := p.next(timeout); q == nil || !pureACK(q) || q.Ack != p.sndNxt {
		t.Errorf("the stack answered an old ACK within the window with %v, want the ACK of its data", q)
	}
	// Older than SND.UNA by more than the bytes acknowledged so far:
	// challenged, its data dropped.
	p.send(p.raw(packet.ACK|packet.PSH, p.rcvNxt-9, []byte("c"), p.tsOption()))
	if q := p.next(timeout); q == nil || !pureACK(q) || q.Ack != p.sndNxt {
		t.Errorf("the stack answered a too old ACK with %v, want a challenge ACK", q)
	}
	p.data("d")
	if s, err := p.read(3); s != "abd" {
		t.Errorf("the application read %q, %v; want \"abd\"", s, err)
	}
}

// TestIPv6: the same checks hold over IPv6 (tcp_v6_rcv calls
// tcp_inbound_hash and the same tcp_input.c).
func TestIPv6(t *testing.T) {
	for _, tc := range []struct {
		name string
		act  func(p *peer)
	}{
		{"AckOfUnsentDataIsDiscarded", func(p *peer) {
			p.send(p.raw(packet.ACK|packet.PSH, p.rcvNxt+1000, []byte("EVIL"), p.tsOption()))
		}},
		{"DataWithMD5IsDropped", func(p *peer) {
			p.send(p.raw(packet.ACK|packet.PSH, p.rcvNxt, []byte("EVIL"), append(md5Option(), p.tsOption()...)))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newStackPeerOn(t, false, netip.MustParseAddrPort("[2001:db8::1]:40000"), netip.MustParseAddrPort("[2001:db8::2]:80"))
			p.connect()
			tc.act(p)
			if before, _ := p.sync(); len(before) != 0 {
				t.Errorf("the stack answered with %s", describe(before))
			}
			if s, err := p.read(1); s != "." {
				t.Errorf("the application read %q, %v; want \".\"", s, err)
			}
		})
	}
}

// TestClientSide: the stack dials; the checks hold once its SYN is
// acknowledged (tcp_rcv_synsent_state_process, then tcp_rcv_established).
func TestClientSide(t *testing.T) {
	out := make(chan []byte, 1024)
	st, err := New(Config{Addrs: []netip.Addr{stackAddr.Addr()}, Send: func(b []byte) { out <- append([]byte(nil), b...) }})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	p := &peer{t: t, st: st, out: out, me: peerAddr, them: netip.AddrPortFrom(stackAddr.Addr(), 0), iss: 7000, tsVal: 100}
	type res struct {
		c   net.Conn
		err error
	}
	ch := make(chan res, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		c, err := st.DialTCP(ctx, peerAddr)
		ch <- res{c, err}
	}()
	syn := p.expect(func(q *packet.IP) bool { return q.Flags == packet.SYN }, "SYN")
	p.them = netip.AddrPortFrom(stackAddr.Addr(), syn.SrcPort)
	p.rcvNxt, p.sndNxt = syn.Seq+1, p.iss
	opts := []byte{2, 4, 0x05, 0xb4, 1, 3, 3, 7, 1, 1, 8, 10, 0, 0, 0, 0, 0, 0, 0, 0}
	binary.BigEndian.PutUint32(opts[12:], p.tsVal)
	binary.BigEndian.PutUint32(opts[16:], p.tsEcr)
	p.send(p.raw(packet.SYN|packet.ACK, p.rcvNxt, nil, opts))
	p.sndNxt++
	p.expect(func(q *packet.IP) bool { return pureACK(q) && q.Ack == p.sndNxt }, "ACK of the SYN-ACK")
	r := <-ch
	if r.err != nil {
		t.Fatal(r.err)
	}
	p.app = r.c
	defer r.c.Close()
	p.send(p.raw(packet.ACK|packet.PSH, p.rcvNxt+1000, []byte("EVIL"), p.tsOption()))
	if before, _ := p.sync(); len(before) != 0 {
		t.Errorf("the stack answered an ACK of unsent data with %s", describe(before))
	}
	if s, err := p.read(1); s != "." {
		t.Errorf("the application read %q, %v; want \".\"", s, err)
	}
}

// TestIPFragmentsAreReassembled: ip_defrag puts a segment sent in IP
// fragments back together before TCP sees it.
func TestIPFragmentsAreReassembled(t *testing.T) {
	p := newStackPeer(t, false)
	p.connect()
	full := p.seg(packet.ACK|packet.PSH, []byte("ABCDEFGHIJKLMNOP"))
	p.sndNxt += 16
	frag := func(off int, data []byte, more bool) []byte {
		b := append(append([]byte(nil), full[:20]...), data...)
		binary.BigEndian.PutUint16(b[2:], uint16(len(b)))
		binary.BigEndian.PutUint16(b[4:], 77)
		ff := uint16(off / 8)
		if more {
			ff |= 0x2000
		}
		binary.BigEndian.PutUint16(b[6:], ff)
		fixIPChecksum(b)
		return b
	}
	tcp := full[20:]
	p.send(frag(24, tcp[24:], false))
	p.send(frag(0, tcp[:24], true))
	if s, err := p.read(16); s != "ABCDEFGHIJKLMNOP" {
		t.Errorf("the application read %q, %v", s, err)
	}
}

// TestHandshakeRSTWithWrongAckIsIgnored: in SYN-RECEIVED, Linux's
// tcp_check_req (net/ipv4/tcp_minisocks.c) tests the acknowledgment before
// the RST bit: a RST+ACK that does not acknowledge the SYN-ACK goes to the
// listener, which discards a RST (tcp_rcv_state_process, TCP_LISTEN). The
// embryonic connection survives and the handshake completes. This is what
// lets Geneva's "RST+ACK with a corrupt ack, before the handshake's ACK"
// reach the censor without resetting the server. Bare gVisor aborts.
func TestHandshakeRSTWithWrongAckIsIgnored(t *testing.T) {
	for _, bare := range []bool{false, true} {
		p := newStackPeer(t, bare)
		p.sndNxt = p.iss
		p.noTS = true
		p.send(p.raw(packet.SYN, 0, nil, []byte{2, 4, 5, 0xb4}))
		sa := p.expect(func(q *packet.IP) bool { return q.Flags == packet.SYN|packet.ACK }, "SYN-ACK")
		p.rcvNxt, p.sndNxt = sa.Seq+1, p.iss+1
		p.send(p.raw(packet.RST|packet.ACK, sa.Seq+1+123456, nil, nil)) // corrupt ack
		p.send(p.raw(packet.ACK, sa.Seq+1, nil, nil))
		accepted := make(chan error, 1)
		go func() {
			c, err := p.ln.Accept()
			if err == nil {
				c.Close()
			}
			accepted <- err
		}()
		select {
		case err := <-accepted:
			if bare {
				t.Errorf("bare gVisor kept the connection (%v): this case no longer needs the layer", err)
			} else if err != nil {
				t.Fatal(err)
			}
		case <-time.After(time.Second):
			if !bare {
				t.Fatal("the RST+ACK with a wrong acknowledgment aborted the handshake")
			}
		}
	}
}

// TestLinuxBefore67: the signature check of tcp_v4_rcv as Linux 4.x to
// 6.6 make it (tcp_v4_inbound_md5_hash, tcp_parse_md5sig_option in
// net/ipv4/tcp.c, e.g. v4.19): a segment is dropped for a socket without a
// key only when it carries a well-formed TCP-MD5 option; options that do
// not parse are skipped, and the segment goes on to tcp_validate_incoming.
// The cases that tell the two kernels apart, each run on both.
func TestLinuxBefore67(t *testing.T) {
	frapun := uint8(packet.FIN | packet.RST | packet.ACK | packet.PSH | packet.URG)
	// Geneva's TCB desync with a data offset of 10 (CCS 2019, Table 1):
	// after the timestamp, 8 bytes of the request read as options.
	garbage := func(p *peer) []byte { return append(p.tsOption(), []byte("GET /?q=")...) }
	type outcome struct {
		read  string
		reset bool
	}
	cases := []struct {
		tc              establishedCase
		tcpAO, linuxMD5 outcome // on Linux 6.7 and later; before 6.7
	}{
		{tc: establishedCase{name: "FRAPUNWithUnparsableOptions",
			linux: "6.7+: tcp_do_parse_auth_options returns -EINVAL at the option that runs past the header, tcp_inbound_hash drops (SKB_DROP_REASON_TCP_AUTH_HDR); before: tcp_parse_md5sig_option returns NULL, and tcp_validate_incoming resets on a RST at rcv_nxt",
			act:   func(p *peer) { p.send(p.raw(frapun, p.rcvNxt, []byte("EVIL"), garbage(p))) }},
			tcpAO: outcome{read: "."}, linuxMD5: outcome{reset: true}},
		{tc: establishedCase{name: "DataWithUnparsableOptions",
			linux: "6.7+: dropped as above; before: the options are skipped and the data taken (sync's \".\" is then old data)",
			act:   func(p *peer) { p.send(p.raw(packet.ACK|packet.PSH, p.rcvNxt, []byte("EVIL"), garbage(p))) }},
			tcpAO: outcome{read: "."}, linuxMD5: outcome{read: "EVIL"}},
		{tc: establishedCase{name: "MD5OfWrongLength",
			linux: "6.7+: opsize != TCPOLEN_MD5SIG is -EINVAL; before: tcp_parse_md5sig_option returns NULL for it, and the data is taken",
			act: func(p *peer) {
				p.send(p.raw(packet.ACK|packet.PSH, p.rcvNxt, []byte("EVIL"), append([]byte{19, 6, 1, 2, 3, 4}, p.tsOption()...)))
			}},
			tcpAO: outcome{read: "."}, linuxMD5: outcome{read: "EVIL"}},
		{tc: establishedCase{name: "WellFormedMD5",
			linux: "both: TCP_MD5UNEXPECTED, dropped",
			act: func(p *peer) {
				p.send(p.raw(packet.ACK|packet.PSH, p.rcvNxt, []byte("EVIL"), append(p.tsOption(), md5Option()...)))
			}},
			tcpAO: outcome{read: "."}, linuxMD5: outcome{read: "."}},
	}
	for _, c := range cases {
		for _, k := range []struct {
			name   string
			kernel Kernel
			want   outcome
		}{{"6.7", LinuxTCPAO, c.tcpAO}, {"4.x", LinuxMD5, c.linuxMD5}} {
			t.Run(c.tc.name+"/"+k.name, func(t *testing.T) {
				tc := c.tc
				tc.read, tc.reset = k.want.read, k.want.reset
				if got, want := runEstablishedConfig(t, tc, Config{Kernel: k.kernel}), expectedOutcome(tc); got != want {
					t.Errorf("%s\ngot  %s\nwant %s", tc.linux, got, want)
				}
			})
		}
	}
}

func TestKernelAt(t *testing.T) {
	for _, tc := range []struct {
		at   time.Time
		want Kernel
	}{
		{time.Date(2019, 6, 1, 0, 0, 0, 0, time.UTC), LinuxMD5},
		{time.Date(2024, 1, 6, 0, 0, 0, 0, time.UTC), LinuxMD5},
		{time.Date(2024, 1, 7, 0, 0, 0, 0, time.UTC), LinuxTCPAO},
		{time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), LinuxTCPAO},
	} {
		if got := KernelAt(tc.at); got != tc.want {
			t.Errorf("KernelAt(%v) = %d, want %d", tc.at, got, tc.want)
		}
	}
}
