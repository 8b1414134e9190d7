package netstack

import (
	"encoding/binary"
	"net/netip"
	"sync"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"

	"github.com/splinter-lab/splinter/packet"
)

// linuxTCP sits between a host's link and its gVisor stack and makes the
// host's TCP answer crafted segments as Linux does where gVisor does not
// (the checks of tcp_v4_rcv, tcp_inbound_hash, tcp_validate_incoming and
// tcp_ack in Linux's net/ipv4, 6.18 and later). It sees every packet the stack
// sends (outbound) and receives (inbound), keeps a few numbers per
// connection, and for each inbound segment decides to pass it, drop it,
// or turn it into a probe that makes gVisor send the acknowledgment Linux
// would send (a "challenge ACK" or a duplicate ACK). Where gVisor already
// does what Linux does it passes the segment: it adds checks, it never
// rewrites a segment that gVisor then accepts.
//
// Its verdicts, each cited in linuxtcp_test.go:
//   - a segment with a TCP-MD5 (RFC 2385) or TCP-AO (RFC 5925) option, or
//     whose options do not parse as tcp_do_parse_auth_options reads them,
//     for a socket that exists: dropped (tcp_inbound_hash; no socket has a
//     key here). Before Linux 6.7 (Kernel LinuxMD5, the kernels of a world
//     dated before 2024) only a well-formed TCP-MD5 option is
//     (tcp_v4_inbound_md5_hash); options that do not parse are skipped;
//   - PAWS (RFC 7323 §5; tcp_validate_incoming): a segment whose TSval is
//     older than ts_recent is dropped with a duplicate ACK, unless it is a
//     RST, a SYN (gVisor's challenge ACK answers it), a disordered pure
//     ACK, or an old pure ACK (dropped silently);
//   - an ACK of data never sent (SEG.ACK > SND.NXT) in ESTABLISHED: the
//     whole segment is dropped without a reply (tcp_ack,
//     SKB_DROP_REASON_TCP_ACK_UNSENT_DATA); gVisor took its payload;
//   - an ACK older than SND.UNA by more than the peer's largest window
//     (RFC 5961 §5.2): dropped with a challenge ACK (tcp_ack,
//     SKB_DROP_REASON_TCP_TOO_OLD_ACK);
//   - in SYN-RECEIVED, a RST+ACK whose acknowledgment is not of our
//     SYN-ACK: dropped (tcp_check_req checks the ACK before the RST bit and
//     hands the segment to the listener, which discards RSTs); gVisor
//     aborted the connection.
//
// The zero value is not usable; see newLinuxTCP.
type linuxTCP struct {
	st     *stack.Stack // to ask whether a socket exists
	kernel Kernel       // the Linux whose checks apply where they changed
	// dropInvalid: a firewall drops what conntrack marks INVALID
	// (conntrack.go).
	dropInvalid bool

	mu       sync.Mutex
	conns    map[connKey]*tcb
	created  int  // connections added since the last sweep
	sweeping bool // a sweep is running
}

// maxConns bounds the table: past it, new connections are not tracked
// (they get gVisor's behaviour) until a sweep frees room.
const maxConns = 1 << 16

// sweepEvery is how many new connections trigger a sweep of the table.
const sweepEvery = 1024

// connKey names a connection from the host's side.
type connKey struct {
	local, remote [16]byte
	lport, rport  uint16
}

// tcb holds what the checks need of one connection: Linux's names.
type tcb struct {
	state uint8

	finOut, finIn bool // a FIN was sent / received

	iss    uint32 // our initial sequence number
	sndUna uint32 // oldest unacknowledged sequence number (the peer's latest valid ACK)
	sndNxt uint32 // highest sequence number sent, plus one (SND.MAX)
	maxWnd uint32 // largest window the peer advertised, scaled
	sndWnd uint32 // the peer's latest window, scaled

	rcvWup uint32 // the acknowledgment in our latest segment (rcv_wup)
	rcvWnd uint32 // the window in our latest segment, scaled

	tsRecent uint32 // the peer's TSval we hold (our latest TSecr)

	sndWScale, rcvWScale uint8 // the peer's and our window shifts
	ourWS, peerWS        int8  // the shifts in the SYNs; -1 for none
	ourTS, peerTS        bool  // timestamps in the SYNs

	// Connection tracking (conntrack.go), when the host is behind a
	// firewall: the peer's highest sequence number sent plus one
	// (td_end), the right edge of the window this host offers
	// (td_maxend) and its largest window (td_maxwin).
	peerEnd, rcvMaxEnd       uint32
	peerEndSet, rcvMaxEndSet bool
	maxRcvWnd                uint32
}

// tcb states.
const (
	synSeen     = iota // the peer's SYN arrived
	synSent            // our SYN left
	synRcvd            // our SYN-ACK left
	established        // both SYNs acknowledged
)

func newLinuxTCP(st *stack.Stack, k Kernel, dropInvalid bool) *linuxTCP {
	return &linuxTCP{st: st, kernel: k, dropInvalid: dropInvalid, conns: make(map[connKey]*tcb)}
}

// verdict is what happens to an inbound packet.
type verdict uint8

const (
	pass verdict = iota
	drop
	// dupACK drops the segment and has gVisor send a duplicate ACK, as
	// Linux's tcp_send_dupack: immediately for a segment with data,
	// rate-limited for one without (tcp_oow_rate_limited).
	dupACK
	// challengeACK drops the segment and has gVisor send a rate-limited
	// ACK, as Linux's tcp_send_challenge_ack (RFC 5961 §7).
	challengeACK
)

// segment is the part of a TCP segment the checks read.
type segment struct {
	key      connKey
	seq, ack uint32
	flags    uint8
	window   uint16
	dataLen  uint32
	opts     []byte
}

// parse reads a TCP segment out of pkt, from the host's point of view
// (inbound: the destination is local). It reports false for anything
// else, fragments included, and for TCP headers that are malformed
// (gVisor drops those, as Linux does). It is packet.Parse cut down to
// what the layer reads, for speed: it runs on every packet.
func (s *segment) parse(pkt []byte, inbound bool) bool {
	if len(pkt) < 20 {
		return false
	}
	var src, dst [16]byte
	var t []byte
	switch pkt[0] >> 4 {
	case 4:
		ihl, total := int(pkt[0]&0x0f)*4, int(binary.BigEndian.Uint16(pkt[2:]))
		if ihl < 20 || total < ihl || total > len(pkt) || pkt[9] != packet.TCP ||
			binary.BigEndian.Uint16(pkt[6:])&0x3fff != 0 { // more fragments, or an offset
			return false
		}
		src[10], src[11], dst[10], dst[11] = 0xff, 0xff, 0xff, 0xff // IPv4-mapped, as netip.Addr.As16
		copy(src[12:], pkt[12:16])
		copy(dst[12:], pkt[16:20])
		t = pkt[ihl:total]
	case 6:
		if len(pkt) < 40 || pkt[6] != packet.TCP {
			return false
		}
		n := 40 + int(binary.BigEndian.Uint16(pkt[4:]))
		if n > len(pkt) {
			return false
		}
		copy(src[:], pkt[8:24])
		copy(dst[:], pkt[24:40])
		t = pkt[40:n]
	default:
		return false
	}
	if len(t) < 20 {
		return false
	}
	off := int(t[12]>>4) * 4
	if off < 20 || off > len(t) {
		return false
	}
	sport, dport := binary.BigEndian.Uint16(t), binary.BigEndian.Uint16(t[2:])
	if inbound {
		s.key = connKey{local: dst, remote: src, lport: dport, rport: sport}
	} else {
		s.key = connKey{local: src, remote: dst, lport: sport, rport: dport}
	}
	s.seq, s.ack = binary.BigEndian.Uint32(t[4:]), binary.BigEndian.Uint32(t[8:])
	s.flags, s.window = t[13], binary.BigEndian.Uint16(t[14:])
	s.dataLen = uint32(len(t) - off)
	s.opts = t[20:off]
	return true
}

// end is the sequence number after the segment (SYN and FIN count one).
func (s *segment) end() uint32 {
	e := s.seq + s.dataLen
	if s.flags&packet.SYN != 0 {
		e++
	}
	if s.flags&packet.FIN != 0 {
		e++
	}
	return e
}

// Sequence-number comparisons modulo 2^32 (Linux's before and after).
func before(a, b uint32) bool { return int32(a-b) < 0 }
func after(a, b uint32) bool  { return int32(a-b) > 0 }

// outbound records a packet the stack sent.
func (l *linuxTCP) outbound(pkt []byte) {
	var s segment
	if !s.parse(pkt, false) {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	c := l.conns[s.key]
	if s.flags&packet.RST != 0 {
		if c != nil {
			delete(l.conns, s.key)
		}
		return
	}
	if s.flags&packet.SYN != 0 {
		ws, ts := synOptions(s.opts)
		if c == nil || s.flags&packet.ACK == 0 {
			if c = l.add(s.key); c == nil {
				return
			}
			if s.flags&packet.ACK != 0 {
				// A SYN-ACK for a SYN this layer did not see: gVisor sends
				// an option in it only if the SYN had it, and the peer's
				// shift is unknown, so take the largest.
				if ws >= 0 {
					c.peerWS = 14
				}
				c.peerTS = ts
			}
		}
		c.ourWS, c.ourTS = ws, ts
		c.iss, c.sndUna, c.sndNxt = s.seq, s.seq, s.seq+1
		c.state = synSent
		if s.flags&packet.ACK != 0 {
			c.state = synRcvd
			c.negotiate()
		}
	}
	if c == nil {
		return
	}
	if e := s.end(); after(e, c.sndNxt) {
		c.sndNxt = e
	}
	if s.flags&packet.FIN != 0 {
		c.finOut = true
	}
	if s.flags&packet.ACK != 0 {
		c.rcvWup = s.ack
		if s.flags&packet.SYN != 0 {
			c.rcvWnd = uint32(s.window) // never scaled in a SYN (RFC 7323 §2.2)
		} else {
			c.rcvWnd = uint32(s.window) << c.rcvWScale
		}
		c.ctSent(&s, c.rcvWnd)
	}
	if c.ourTS && c.peerTS {
		if _, ecr, ok := timestamp(s.opts); ok {
			c.tsRecent = ecr
		}
	}
}

// add starts tracking a connection; nil when the table is full. Called
// under l.mu, from the stack's own goroutines among others, so it must
// not call into gVisor: the sweep runs on a goroutine of its own.
func (l *linuxTCP) add(k connKey) *tcb {
	if l.created++; (l.created >= sweepEvery || len(l.conns) >= maxConns) && !l.sweeping {
		l.created, l.sweeping = 0, true
		go l.sweep()
	}
	if len(l.conns) >= maxConns {
		return nil
	}
	c := &tcb{ourWS: -1, peerWS: -1}
	l.conns[k] = c
	return c
}

// sweep forgets the connections gVisor no longer has an endpoint for. It
// asks gVisor without holding l.mu: gVisor holds its endpoint locks while
// it sends, and sending takes l.mu.
func (l *linuxTCP) sweep() {
	l.mu.Lock()
	keys := make([]connKey, 0, len(l.conns))
	for k := range l.conns {
		keys = append(keys, k)
	}
	l.mu.Unlock()
	var gone []connKey
	for _, k := range keys {
		if !l.hasConn(k) {
			gone = append(gone, k)
		}
	}
	l.mu.Lock()
	for _, k := range gone {
		delete(l.conns, k)
	}
	l.sweeping = false
	l.mu.Unlock()
}

// endpointID is gVisor's name for the connection k.
func endpointID(k connKey) (stack.TransportEndpointID, tcpip.NetworkProtocolNumber) {
	id := stack.TransportEndpointID{LocalPort: k.lport, RemotePort: k.rport}
	la, ra := netip.AddrFrom16(k.local), netip.AddrFrom16(k.remote)
	if la.Is4In6() {
		id.LocalAddress = tcpip.AddrFrom4(la.Unmap().As4())
		id.RemoteAddress = tcpip.AddrFrom4(ra.Unmap().As4())
		return id, header.IPv4ProtocolNumber
	}
	id.LocalAddress = tcpip.AddrFrom16(k.local)
	id.RemoteAddress = tcpip.AddrFrom16(k.remote)
	return id, header.IPv6ProtocolNumber
}

// hasConn reports whether gVisor has an endpoint for exactly the
// connection k (not a listener that would take it). It takes no endpoint
// lock: a connection's ID is written before gVisor registers it, and the
// lookup reads it under the registry's lock.
func (l *linuxTCP) hasConn(k connKey) bool {
	id, proto := endpointID(k)
	ep := l.st.FindTransportEndpoint(proto, tcp.ProtocolNumber, id, nicID)
	if ep == nil {
		return false
	}
	e, ok := ep.(*tcp.Endpoint)
	return !ok || e.TransportEndpointInfo.ID.RemotePort != 0
}

// hasSocket reports whether a segment for k reaches a socket, a listener
// or a connection: where Linux's tcp_v4_rcv gets to tcp_inbound_hash.
func (l *linuxTCP) hasSocket(k connKey) bool {
	id, proto := endpointID(k)
	return l.st.FindTransportEndpoint(proto, tcp.ProtocolNumber, id, nicID) != nil
}

// negotiate settles window scaling and timestamps once both SYNs are known
// (RFC 7323 §2.2, §3.2: both sides must send the option).
func (c *tcb) negotiate() {
	if c.ourWS >= 0 && c.peerWS >= 0 {
		c.rcvWScale, c.sndWScale = uint8(c.ourWS), uint8(min(c.peerWS, 14))
	} else {
		c.rcvWScale, c.sndWScale = 0, 0
	}
}

// inbound decides what happens to a packet arriving for the stack; for a
// verdict that needs an acknowledgment it also returns the acknowledgment
// number of the stack's latest segment, for probe.
func (l *linuxTCP) inbound(pkt []byte) (verdict, uint32) {
	var s segment
	if !s.parse(pkt, true) {
		return pass, 0
	}
	if l.dropInvalid {
		// The firewall's PREROUTING hook runs before TCP: what conntrack
		// accepts moves its state whatever TCP then does with it.
		l.mu.Lock()
		c := l.conns[s.key]
		bad := ctInvalid(c, &s)
		l.mu.Unlock()
		if bad {
			return drop, 0
		}
		defer func() {
			l.mu.Lock()
			l.conns[s.key].ctAccepted(&s) // the tcb check created for a SYN, if any
			l.mu.Unlock()
		}()
	}
	// tcp_v4_rcv → tcp_inbound_hash: a segment for a socket whose
	// authentication options are malformed, or that carries TCP-MD5 or
	// TCP-AO (no socket here has a key), is dropped.
	if l.authDrop(s.opts) {
		l.mu.Lock()
		_, known := l.conns[s.key]
		l.mu.Unlock()
		if known || l.hasSocket(s.key) {
			return drop, 0
		}
		return pass, 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	c := l.conns[s.key]
	v := l.check(c, &s)
	if v == dupACK || v == challengeACK {
		return v, c.rcvWup
	}
	return v, 0
}

// check is inbound's decision, under l.mu.
func (l *linuxTCP) check(c *tcb, s *segment) verdict {
	// tcp_v4_rcv → tcp_inbound_hash: a segment for a socket whose
	// authentication options are malformed, or that carries TCP-MD5 or
	// TCP-AO (no socket here has a key), is dropped.
	if l.authDrop(s.opts) && (c != nil || l.hasSocket(s.key)) {
		return drop
	}
	if c == nil {
		if s.flags&(packet.SYN|packet.ACK|packet.RST) == packet.SYN {
			if c = l.add(s.key); c != nil {
				c.state = synSeen
				c.peerWS, c.peerTS = synOptions(s.opts)
				if v, _, ok := timestamp(s.opts); ok {
					c.tsRecent = v
				}
			}
		}
		return pass
	}
	switch c.state {
	case synSeen:
		return pass
	case synSent:
		// tcp_rcv_synsent_state_process: gVisor answers as Linux does;
		// note what the SYN-ACK negotiates.
		if s.flags&(packet.SYN|packet.ACK|packet.RST) == packet.SYN|packet.ACK && s.ack == c.iss+1 {
			c.peerWS, c.peerTS = synOptions(s.opts)
			c.negotiate()
			c.state = established
			c.sndUna = s.ack
			c.sndWnd = uint32(s.window)
			c.maxWnd = c.sndWnd
			if v, _, ok := timestamp(s.opts); ok && c.ourTS && c.peerTS {
				c.tsRecent = v
			}
		}
		return pass
	case synRcvd:
		// tcp_check_req looks at the ACK before the RST bit: a segment
		// with ACK set that does not acknowledge our SYN-ACK (ack_seq !=
		// snt_isn+1) goes back to the listener, which answers it with a
		// RST unless it is a RST itself, and a listener discards RSTs
		// (tcp_rcv_state_process, TCP_LISTEN). So a RST+ACK with a wrong
		// acknowledgment leaves the embryonic connection alone; gVisor
		// would abort it. Any other ACK of something else: gVisor answers
		// with a RST, as Linux does.
		if s.flags&(packet.ACK|packet.RST) == packet.ACK|packet.RST && s.ack != c.iss+1 {
			return drop
		}
		if s.flags&(packet.SYN|packet.ACK|packet.RST) == packet.ACK && s.ack == c.iss+1 {
			c.state = established
			c.sndUna = s.ack
			c.sndWnd = uint32(s.window) << c.sndWScale
			c.maxWnd = c.sndWnd
		}
		return pass
	}
	return c.established(s)
}

// established checks a segment for a synchronized connection in the order
// of tcp_rcv_established and tcp_validate_incoming.
func (c *tcb) established(s *segment) verdict {
	// Neither ACK, RST nor SYN: Linux drops it (SKB_DROP_REASON_TCP_FLAGS),
	// gVisor ignores it.
	if s.flags&(packet.ACK|packet.RST|packet.SYN) == 0 {
		return pass
	}
	// RFC 7323 §5.3 (PAWS), as tcp_validate_incoming applies it.
	if c.ourTS && c.peerTS {
		if tsv, _, ok := timestamp(s.opts); ok && c.tsRecent != 0 && int32(c.tsRecent-tsv) > 1 {
			switch {
			case s.flags&packet.RST != 0:
				// "Reset is accepted even if it did not pass PAWS."
			case s.flags&packet.SYN != 0:
				return pass // a challenge ACK, which gVisor sends
			case !c.disorderedACK(s, tsv):
				if s.flags&packet.ACK != 0 && s.dataLen == 0 && s.flags&packet.FIN == 0 && before(s.seq, c.rcvWup) {
					return drop // an old pure ACK: LINUX_MIB_PAWS_OLD_ACK, no reply
				}
				return dupACK
			}
		}
	}
	if s.flags&(packet.RST|packet.SYN) != 0 || s.flags&packet.ACK == 0 {
		// tcp_validate_incoming's RST and SYN steps: gVisor's handleReset
		// and its SYN challenge ACK do what Linux does.
		return pass
	}
	// Step 1, tcp_sequence: a segment outside the window is answered with
	// a duplicate ACK before its ACK field is looked at; gVisor does the
	// same.
	end := s.end()
	if before(end, c.rcvWup) || after(s.seq, c.rcvWup+c.rcvWnd) {
		return pass
	}
	// Step 5, tcp_ack.
	if before(s.ack, c.sndUna) {
		maxWindow := min(c.maxWnd, c.sndUna-(c.iss+1)) // min(max_window, bytes_acked)
		if before(s.ack, c.sndUna-maxWindow) {
			return challengeACK // RFC 5961 §5.2
		}
	} else if after(s.ack, c.sndNxt) {
		if c.finOut || c.finIn {
			// tcp_rcv_state_process sends a challenge ACK in the closing
			// states; gVisor's handleRcvdSegmentClosing does too.
			return pass
		}
		return drop // SKB_DROP_REASON_TCP_ACK_UNSENT_DATA, no reply
	} else {
		c.sndUna = s.ack
	}
	w := uint32(s.window) << c.sndWScale
	c.sndWnd = w
	if w > c.maxWnd {
		c.maxWnd = w
	}
	if s.flags&packet.FIN != 0 {
		c.finIn = true
	}
	return pass
}

// disorderedACK is tcp_disordered_ack_check: a duplicate pure ACK that
// changes nothing and whose timestamp lies within the replay window
// passes PAWS.
func (c *tcb) disorderedACK(s *segment, tsv uint32) bool {
	return s.flags&(packet.ACK|packet.SYN|packet.FIN|packet.RST) == packet.ACK && s.dataLen == 0 &&
		s.seq == c.rcvWup && s.ack == c.sndUna && uint32(s.window)<<c.sndWScale == c.sndWnd &&
		int32(c.tsRecent-tsv) <= tsReplay
}

// tsReplay is tcp_tsval_replay for Linux's minimum RTO (200 ms) and the
// 1200 Hz TSval clock it assumes: the TSval ticks a delayed duplicate ACK
// may lag by.
const tsReplay = 240

// authDrop reports whether the kernel's signature check in tcp_v4_rcv
// drops a segment with these options, for a socket with no key.
func (l *linuxTCP) authDrop(opts []byte) bool {
	if l.kernel == LinuxMD5 {
		return md5Drop(opts)
	}
	return authDrop(opts)
}

// md5Drop reports whether tcp_v4_inbound_md5_hash of Linux before 6.7
// drops a segment with these options on a socket with no TCP-MD5 key: only
// when tcp_parse_md5sig_option finds a TCP-MD5 option of exactly 18 bytes
// (TCPMD5UNEXPECTED). That parser gives up, and so lets the segment
// through, at options shorter than 18 bytes in all, at EOL, at a length
// below 2 or past the end, and at an MD5 option of another length; it
// reads no TCP-AO.
func md5Drop(opts []byte) bool {
	const (
		md5    = 19
		md5Len = 18 // TCPOLEN_MD5SIG
	)
	if len(opts) < md5Len {
		return false
	}
	for i := 0; i < len(opts); {
		switch opts[i] {
		case 0: // EOL
			return false
		case 1: // NOP
			i++
			continue
		}
		if i+1 >= len(opts) {
			return false
		}
		size := int(opts[i+1])
		if size < 2 || size > len(opts)-i {
			return false
		}
		if opts[i] == md5 {
			return size == md5Len
		}
		i += size
	}
	return false
}

// authDrop reports whether tcp_inbound_hash drops a segment with these
// options on a socket with no TCP-MD5 or TCP-AO key: the options do not
// parse as tcp_do_parse_auth_options reads them (with TCP-AO built in,
// which makes it look at any 5 or more bytes left), or they carry a
// signature the socket cannot check (TCP_MD5UNEXPECTED, TCP-AO likewise).
func authDrop(opts []byte) bool {
	const (
		minLen = 5 // sizeof(struct tcp_ao_hdr) + 1
		md5    = 19
		ao     = 29
	)
	for length := len(opts); length >= minLen; {
		i := len(opts) - length
		switch opts[i] {
		case 0: // EOL
			return false
		case 1: // NOP
			length--
			continue
		}
		size := int(opts[i+1])
		if size < 2 || size > length {
			return true
		}
		if opts[i] == md5 || opts[i] == ao {
			// A signature, well formed (TCP_MD5UNEXPECTED, TCP_AOFAILURE)
			// or not (-EINVAL): a socket without a key drops it.
			return true
		}
		length -= size
	}
	return false
}

// timestamp reads the timestamp option as tcp_parse_options does: it
// stops at the first option it cannot parse.
func timestamp(opts []byte) (val, ecr uint32, ok bool) {
	if len(opts) >= 12 && opts[0] == 1 && opts[1] == 1 && opts[2] == 8 && opts[3] == 10 {
		return binary.BigEndian.Uint32(opts[4:]), binary.BigEndian.Uint32(opts[8:]), true
	}
	for i := 0; i < len(opts); {
		switch opts[i] {
		case 0:
			return 0, 0, false
		case 1:
			i++
			continue
		}
		if len(opts)-i < 2 {
			return 0, 0, false
		}
		size := int(opts[i+1])
		if size < 2 || size > len(opts)-i {
			return 0, 0, false
		}
		if opts[i] == 8 && size == 10 {
			val, ecr, ok = binary.BigEndian.Uint32(opts[i+2:]), binary.BigEndian.Uint32(opts[i+6:]), true
		}
		i += size
	}
	return val, ecr, ok
}

// synOptions reads the window scale (-1 for none) and whether there is a
// timestamp, in a SYN's options.
func synOptions(opts []byte) (ws int8, ts bool) {
	ws = -1
	for i := 0; i < len(opts); {
		switch opts[i] {
		case 0:
			return ws, ts
		case 1:
			i++
			continue
		}
		if len(opts)-i < 2 {
			return ws, ts
		}
		size := int(opts[i+1])
		if size < 2 || size > len(opts)-i {
			return ws, ts
		}
		switch {
		case opts[i] == 3 && size == 3:
			ws = int8(min(opts[i+2], 14))
		case opts[i] == 8 && size == 10:
			ts = true
		}
		i += size
	}
	return ws, ts
}

// probe rewrites the inbound segment pkt into out as a segment gVisor
// will find outside its receive window, with the same length of data
// (keepData) or none, and only the ACK flag: gVisor answers it with an
// acknowledgment of its own (sender.maybeSendOutOfWindowAck: at once for
// data, rate-limited as Linux's tcp_invalid_ratelimit for none) and
// changes nothing else. It returns nil when the segment's checksum is bad
// (Linux would have dropped it before any of this).
func probe(pkt []byte, rcvWup uint32, keepData bool, out []byte) []byte {
	var p packet.IP
	if packet.Parse(pkt, &p) != nil || !packet.VerifyTransport(&p) {
		return nil
	}
	n := p.HdrLen + p.TCPHdrLen
	if keepData {
		n += len(p.Payload)
	}
	if cap(out) < n {
		out = make([]byte, n)
	}
	out = out[:n]
	copy(out, pkt[:p.HdrLen+p.TCPHdrLen])
	if keepData {
		copy(out[p.HdrLen+p.TCPHdrLen:], p.Payload)
	}
	t := out[p.HdrLen:]
	binary.BigEndian.PutUint32(t[4:], rcvWup+1<<31) // half the sequence space away
	t[13] = packet.ACK
	t[12] &^= 1 // NS
	binary.BigEndian.PutUint16(t[18:], 0)
	if p.Version == 4 {
		binary.BigEndian.PutUint16(out[2:], uint16(n))
		out[10], out[11] = 0, 0
		binary.BigEndian.PutUint16(out[10:], packet.Checksum(out[:p.HdrLen]))
	} else {
		binary.BigEndian.PutUint16(out[4:], uint16(n-40))
	}
	t[16], t[17] = 0, 0
	binary.BigEndian.PutUint16(t[16:], packet.TransportChecksum(p.Src, p.Dst, packet.TCP, t))
	return out
}
