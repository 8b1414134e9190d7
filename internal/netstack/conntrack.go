package netstack

import "github.com/splinter-lab/splinter/packet"

// The firewall in front of a host (Config.DropInvalid): netfilter's TCP
// connection tracking (net/netfilter/nf_conntrack_proto_tcp.c, as in
// Linux 4.x to 6.x with its defaults nf_conntrack_tcp_loose=1,
// nf_conntrack_tcp_be_liberal=0) marks some inbound segments INVALID, and
// the rule `-m conntrack --ctstate INVALID -j DROP`, which Ubuntu's ufw and
// Fedora's firewalld put in their default input chains, drops them before
// TCP sees them. Insertion packets of evasion strategies are often such
// segments, so whether a server sits behind such a firewall changes what
// a strategy does to it. Only what crafted segments tell apart is
// modelled: the flag check of tcp_error, tcp_new's refusal of a first
// segment that is neither a SYN nor an ACK, and tcp_in_window's four
// bounds once both ends have sent a segment (the handshake's included). The state lives in the same tcb
// as the Linux input checks (linuxtcp.go).

// validFlags is tcp_valid_flags: the flag combinations conntrack accepts,
// ECE, CWR and PSH masked out (tcp_error).
func validFlags(f uint8) bool {
	const syn, rst, fin, ack, urg = packet.SYN, packet.RST, packet.FIN, packet.ACK, packet.URG
	switch f &^ (packet.ECE | packet.CWR | packet.PSH) {
	case syn, syn | urg, syn | ack, rst, rst | ack, fin | ack, fin | ack | urg, ack, ack | urg:
		return true
	}
	return false
}

// minAckWindow is conntrack's floor on the window it allows an
// acknowledgment to lag by (MAXACKWINDOW).
const minAckWindow = 66000

// ctInvalid reports whether conntrack marks inbound segment s INVALID;
// c is the connection's tcb, nil when none is tracked. Called under l.mu.
func ctInvalid(c *tcb, s *segment) bool {
	if !validFlags(s.flags) {
		return true // tcp_error: "invalid tcp flag combination"
	}
	if c == nil {
		// tcp_new: a connection starts on a SYN, or is picked up on an ACK
		// (loose tracking); a RST, a FIN or a SYN+ACK that belongs to no
		// connection is INVALID.
		switch s.flags &^ (packet.ECE | packet.CWR | packet.PSH | packet.URG) {
		case packet.SYN, packet.ACK:
			return false
		}
		return true
	}
	if !c.peerEndSet || !c.rcvMaxEndSet {
		return false // one side has not spoken yet: nothing to bound the other by
	}
	// tcp_in_window, the peer being the sender and this host the receiver.
	ack := s.ack
	if s.flags&packet.ACK == 0 || (s.flags&(packet.ACK|packet.RST) == packet.ACK|packet.RST && ack == 0) {
		ack = c.sndNxt // "Let's try to use the data from the packet", and broken stacks' RSTs
	}
	end := s.end()
	maxAck := max(c.maxWnd, minAckWindow)
	ok := !after(s.seq, c.rcvMaxEnd) && // I: not beyond the window this host offered
		!before(end, c.peerEnd-c.maxRcvWnd) && // II: not older than a window before the peer's highest
		!after(ack, c.sndNxt) && // III: acknowledges nothing unsent
		!before(ack, c.sndNxt-maxAck) // IV: not older than the peer's window
	return !ok
}

// ctAccepted updates the peer's side of the tracking with a segment that
// passed: tcp_in_window's "sender->td_end = end".
func (c *tcb) ctAccepted(s *segment) {
	if c == nil {
		return
	}
	if e := s.end(); !c.peerEndSet || after(e, c.peerEnd) {
		c.peerEnd, c.peerEndSet = e, true
	}
}

// ctSent updates this host's side with a segment it sent: the right edge
// of the window it offers (td_maxend) and the largest window (td_maxwin).
func (c *tcb) ctSent(s *segment, wnd uint32) {
	if s.flags&packet.ACK == 0 {
		return
	}
	if e := s.ack + wnd; !c.rcvMaxEndSet || after(e, c.rcvMaxEnd) {
		c.rcvMaxEnd, c.rcvMaxEndSet = e, true
	}
	if wnd > c.maxRcvWnd {
		c.maxRcvWnd = wnd
	}
}
