package border

import (
	"fmt"
	"slices"

	"github.com/splinter-lab/splinter/packet"
	"github.com/splinter-lab/splinter/policy"
)

// This file is the censor's TCP state model: each box of the policy
// (policy.TCPBox) keeps its own TCB for a flow, decides who the client is,
// creates, tears down and resynchronises its TCB on the packets it accepts,
// and decides which bytes of a packet it takes as the client's data. The
// rules that run on a box see a flow through its TCB; the bytes they match
// come from its reassembly (tcbstream.go).

// event is a kind of packet that may tear a TCB down or resynchronise it.
type event uint8

const (
	evNone event = iota
	evRST
	evRSTACK
	evInvalidFlags
	evFINPayload
	evServerRST
	evSYN
	evBadSYNACK
	nEvents
)

// box is a compiled policy.TCPBox. It is immutable after New.
type box struct {
	slot      int // index of its TCB in flow.tcbs, if used
	cfg       *policy.TCPBox
	stateless bool
	// firstPacketRoles: the box keeps the roles of the first packet it saw.
	firstPacketRoles                    bool
	createSYN, createSYNACK, createData bool
	ignoreSYNPayload                    bool
	events                              [nEvents]policy.TCBEvent
	resyncData, resyncACK, resyncSYNAK  bool
	overlapLast                         bool
	outOfOrder                          int
	shortFirst                          int
	verifyChecksums, standardOptions    bool
	dataNeedsACK                        bool

	used        bool  // some rule runs on it
	reassembles bool  // some rule on it reassembles
	maxBytes    int   // the largest reassembly any of its rules needs
	streamRules []int // the indexes of its reassembling rules
}

func compileBox(b *policy.TCPBox) *box {
	cb := &box{
		cfg:              b,
		stateless:        b.Stateless,
		firstPacketRoles: b.Roles == policy.RolesFirstPacket,
		createSYN:        b.Creates(policy.CreateOnSYN),
		createSYNACK:     b.Creates(policy.CreateOnSYNACK),
		createData:       b.Creates(policy.CreateOnData),
		ignoreSYNPayload: b.SYNPayload == policy.SYNPayloadIgnore,
		resyncData:       b.ResyncsOn(policy.ResyncClientData),
		resyncACK:        b.ResyncsOn(policy.ResyncClientACK),
		resyncSYNAK:      b.ResyncsOn(policy.ResyncServerSYNACK),
		overlapLast:      b.Reassembly.Overlap == policy.OverlapLast,
		outOfOrder:       b.Reassembly.OutOfOrder,
		shortFirst:       b.Reassembly.ShortFirstSegment,
		verifyChecksums:  b.Accept.VerifyChecksums,
		dataNeedsACK:     b.Accept.DataNeedsACK,
		standardOptions:  b.Accept.Options == policy.OptionsStandard,
	}
	cb.events[evRST] = b.Events.RST
	cb.events[evRSTACK] = b.Events.RSTACK
	cb.events[evInvalidFlags] = b.Events.InvalidFlags
	cb.events[evFINPayload] = b.Events.FINPayload
	cb.events[evServerRST] = b.Events.ServerRST
	cb.events[evSYN] = b.Events.SYN
	cb.events[evBadSYNACK] = b.Events.BadSYNACK
	return cb
}

// compileBoxes compiles the policy's TCP boxes and assigns each rule its
// box.
func (e *Engine) compileBoxes() error {
	byName := map[string]*box{}
	model := &e.pol.TCP
	if len(model.Boxes) == 0 {
		b := compileBox(policy.DefaultTCPBox())
		e.boxes = append(e.boxes, b)
		byName[""] = b
	}
	for _, n := range sortedKeys(model.Boxes) {
		if model.Boxes[n] == nil {
			return fmt.Errorf("tcp box %q is empty", n)
		}
		b := compileBox(model.Boxes[n])
		e.boxes = append(e.boxes, b)
		byName[n] = b
	}
	for _, r := range e.rules {
		name := r.insp.Box
		if name == "" {
			name = model.Default
		}
		b := byName[name]
		if b == nil {
			return fmt.Errorf("rule %s: no tcp box %q", r.id, name)
		}
		r.box = b
		if r.protos&(1<<protoIndex(packet.TCP)) == 0 {
			continue
		}
		b.used = true
		if r.insp.ReassembleTCP {
			b.reassembles = true
			b.maxBytes = max(b.maxBytes, r.maxBytes())
			b.streamRules = append(b.streamRules, r.idx)
		}
	}
	for _, b := range e.boxes {
		if b.used {
			b.slot = len(e.tcpBoxes)
			e.tcpBoxes = append(e.tcpBoxes, b)
		}
	}
	return nil
}

// tcbState is where a box's TCB for a flow stands.
type tcbState uint8

const (
	tcbNone   tcbState = iota // the box does not track the flow (yet)
	tcbOpen                   // synchronised: the box follows the client's stream
	tcbResync                 // waiting for a packet to adopt sequence numbers from
	tcbTorn                   // torn down: the box inspects nothing more of the flow
)

// tcb is one box's state for one flow. Guarded by the flow's mutex.
type tcb struct {
	state tcbState
	// reversed: the box takes the flow's server for its client (a box with
	// first-packet roles fooled by a client's SYN+ACK).
	reversed bool
	// acked: the box saw the client's ACK that completes the handshake (or
	// picked the flow up mid-stream).
	acked bool
	// handshake: the TCB was created by a SYN or SYN+ACK; synack: the box
	// saw the server's SYN+ACK.
	handshake, synack bool
	// next is the client's next sequence number as the box knows it: where
	// the stream starts when it has not started yet.
	next uint32

	// Per packet, set by track.
	look    bool   // the box takes this packet for its rules
	cli     bool   // ... as a client packet
	data    []byte // the bytes it takes as the client's data
	dataSeq uint32 // sequence number of data[0]

	// st is the client's stream as the box reassembles it, allocated on
	// the first data; streamOff: no more reassembly for this flow.
	st        *stream
	streamOff bool
	// carried: the TCB comes from the connection a client SYN replaced on
	// the same 5-tuple (flowTable.lookup).
	carried bool
}

// flowTCBs returns f's TCBs, one per box in use, allocating them on first
// use.
func (e *Engine) flowTCBs(f *flow) []tcb {
	if f.tcbs == nil {
		f.tcbs = make([]tcb, len(e.tcpBoxes))
	}
	return f.tcbs
}

// trackTCBs runs every box in use over the TCP packet p of flow f.
func (e *Engine) trackTCBs(f *flow, fromClient bool, p *packet.IP) {
	if len(e.tcpBoxes) == 0 {
		return
	}
	tcbs := e.flowTCBs(f)
	for _, b := range e.tcpBoxes {
		e.track(b, f, &tcbs[b.slot], fromClient, p)
	}
}

// swapRoles makes the sender of the SYN at hand the flow's client, when the
// flow began with a SYN+ACK from that same end (a client that sent a SYN+ACK
// before its SYN: Geneva's TCB turnaround). Boxes with first-packet roles
// keep their view, now reversed; the others start over from the SYN.
func (e *Engine) swapRoles(f *flow) {
	f.client, f.server, f.dir = f.server, f.client, f.dir.Reverse()
	if len(e.tcpBoxes) == 0 {
		return
	}
	tcbs := e.flowTCBs(f)
	for _, b := range e.tcpBoxes {
		t := &tcbs[b.slot]
		if b.firstPacketRoles && t.state != tcbNone {
			t.reversed = !t.reversed
			continue
		}
		e.flows.releaseStream(t)
		*t = tcb{}
	}
}

// track updates box b's TCB t with p and decides whether and how the box
// looks at p.
func (e *Engine) track(b *box, f *flow, t *tcb, fromClient bool, p *packet.IP) {
	t.look, t.data = false, nil
	if t.carried {
		// A new connection on the same 5-tuple. A box that reacts to a
		// client SYN on a flow it tracks (IMC 2017: resynchronisation)
		// keeps its TCB and takes this SYN as that event; the others, and
		// a torn TCB, start afresh.
		if t.state == tcbTorn || t.state == tcbNone || b.events[evSYN].IsZero() {
			*t = tcb{}
		} else {
			t.carried, t.streamOff = false, false
		}
	}
	if !b.accepts(p) {
		return
	}
	cli := fromClient != t.reversed
	t.cli = cli
	fl := p.Flags
	syn, ack, rst := fl&packet.SYN != 0, fl&packet.ACK != 0, fl&packet.RST != 0
	seq, payload := p.Seq, p.Payload
	if syn {
		seq++ // a SYN's data follows the SYN's own sequence number
		if b.ignoreSYNPayload {
			payload = nil
		}
	}
	if rst || !syn && !ack && cli && b.dataNeedsACK {
		payload = nil
	}
	if b.stateless {
		if b.firstPacketRoles {
			// No TCB, but the roles of the first packet stay: a later SYN
			// from the end it took for the server does not swap them
			// (swapRoles).
			t.state = tcbOpen
		}
		t.look, t.data, t.dataSeq = true, payload, seq
		return
	}

	ev := evNone
	switch t.state {
	case tcbTorn:
		return
	case tcbNone:
		switch {
		case cli && syn && !ack && b.createSYN:
			t.state, t.handshake, t.next = tcbOpen, true, p.Seq+1
		case !cli && syn && ack && b.createSYNACK:
			t.state, t.handshake, t.synack, t.next = tcbOpen, true, true, p.Ack
		case cli && !syn && !rst && b.createData:
			t.state, t.acked, t.next = tcbOpen, true, p.Seq
		default:
			return
		}
	default:
		ev = classify(cli, fl, len(p.Payload))
		switch {
		case ev != evNone:
		case cli && syn && !ack:
			ev = evSYN
		case !cli && syn && ack && !rst:
			if t.synack || t.handshake && !t.acked && p.Ack != t.next {
				ev = evBadSYNACK
			}
			t.synack = true
		}
		if t.state == tcbResync && (ev == evSYN || ev == evBadSYNACK) {
			ev = evNone // a resync point, not a new event
		}
	}

	if ev != evNone {
		o := b.events[ev].AfterACK
		if !t.acked {
			o = b.events[ev].BeforeACK
		}
		if o.Teardown > 0 || o.Resync > 0 {
			switch x := e.float(); {
			case x < o.Teardown:
				t.state = tcbTorn
				e.flows.releaseStream(t)
				t.streamOff = true
				return
			case x < o.Teardown+o.Resync:
				t.state = tcbResync
				return
			}
		}
	}

	if t.state == tcbResync {
		switch {
		case cli && !rst && (len(payload) > 0 && b.resyncData || ack && b.resyncACK):
			// The packet's own sequence number is where the client's
			// stream now continues; a SYN's own slot is not counted (so a
			// client's SYN+ACK in a simultaneous open leaves the box one
			// byte off).
			t.next, t.dataSeq = p.Seq, p.Seq
			t.state = tcbOpen
		case !cli && syn && ack && b.resyncSYNAK:
			t.next, t.state = p.Ack, tcbOpen
		default:
			return
		}
		e.flows.restart(t.st)
		if cli {
			t.look, t.data = true, payload
			if syn {
				t.data = nil
			}
			e.feedIfNeeded(b, t)
		}
		return
	}

	if cli && syn && !ack && t.handshake && !t.acked {
		// A repeated client SYN during the handshake re-initialises the
		// client's sequence number.
		t.next = p.Seq + 1
	}
	if cli && ack && !syn && !rst && t.handshake {
		t.acked = true
	}
	t.look, t.data, t.dataSeq = true, payload, seq
	if cli {
		e.feedIfNeeded(b, t)
	}
}

// feedIfNeeded adds the packet's data to the box's stream when a rule on
// the box reassembles: every data packet the box accepts is joined, whether
// or not a rule looks at this one.
func (e *Engine) feedIfNeeded(b *box, t *tcb) {
	if b.reassembles && len(t.data) > 0 {
		e.feed(b, t)
	}
}

// classify names the event p is for a box, from the sender's side.
func classify(cli bool, fl uint8, payload int) event {
	rst, syn, fin := fl&packet.RST != 0, fl&packet.SYN != 0, fl&packet.FIN != 0
	if !cli {
		if rst {
			return evServerRST
		}
		return evNone
	}
	switch {
	case rst && (syn || fin), syn && fin:
		return evInvalidFlags
	case rst && fl&packet.ACK != 0:
		return evRSTACK
	case rst:
		return evRST
	case fin && payload > 0:
		return evFINPayload
	}
	return evNone
}

// accepts reports whether the box looks at p at all.
func (b *box) accepts(p *packet.IP) bool {
	if b.verifyChecksums && !packet.VerifyTransport(p) {
		return false
	}
	if b.standardOptions && !standardOptions(p) {
		return false
	}
	return true
}

// standardOptions reports whether p's TCP options are well formed and all
// of common kinds: EOL, NOP, MSS, window scale, SACK-permitted, SACK and
// timestamps.
func standardOptions(p *packet.IP) bool {
	if p.TCPHdrLen <= 20 || len(p.Transport) < p.TCPHdrLen {
		return true
	}
	o := p.Transport[20:p.TCPHdrLen]
	for len(o) > 0 {
		switch o[0] {
		case 0: // end of options: the rest is padding
			return true
		case 1:
			o = o[1:]
			continue
		}
		if len(o) < 2 || int(o[1]) < 2 || int(o[1]) > len(o) {
			return false
		}
		kind, n := o[0], int(o[1])
		switch {
		case kind == 2 && n == 4, kind == 3 && n == 3, kind == 4 && n == 2, kind == 8 && n == 10:
		case kind == 5 && n >= 10 && (n-2)%8 == 0:
		default:
			return false
		}
		o = o[n:]
	}
	return true
}

// tcbView is what a rule on box b sees of packet p: whether it looks at it
// at all, and the packet's own data as the box takes it.
func (e *Engine) tcbView(r *rule, f *flow, fromClient bool, p *packet.IP) (look bool, payload []byte) {
	if p.Proto != packet.TCP {
		return fromClient, p.Payload
	}
	t := &f.tcbs[r.box.slot]
	if !t.look || !t.cli {
		return false, nil
	}
	return true, t.data
}

// anyReversed reports whether some box of f takes the flow's server for the
// client, so that the server's packets may be a rule's client packets.
func anyReversed(f *flow) bool {
	for i := range f.tcbs {
		if f.tcbs[i].reversed {
			return true
		}
	}
	return false
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
