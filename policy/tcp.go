package policy

import (
	"slices"
	"strconv"
	"strings"
)

// TCPModel is the censor's TCP state model: the boxes whose TCP tracking
// evasion strategies play against. A real censor runs a separate stack per
// protocol, each with its own TCP state machine and its own bugs (Geneva, CCS
// 2019; Come as You Are, SIGCOMM 2020), so the model is a set of named boxes;
// a rule names the box it runs on (Inspect.Box), or runs on the default one.
// Rules that name the same box share its state for a flow, as the rules of
// one physical box do (one teardown tears all of them down).
//
// The zero value is usable: no boxes declared, every rule runs on
// DefaultTCPBox.
type TCPModel struct {
	// Default names the box of the rules whose Inspect.Box is empty.
	// Required when Boxes is not empty.
	Default string `yaml:"default"`
	// Boxes are the declared boxes, keyed by name. Each box's Name equals
	// its key.
	Boxes map[string]*TCPBox `yaml:"boxes"`
}

// Box returns the box a rule inspecting with in runs on: the named one, the
// policy's default, or DefaultTCPBox when the policy declares none. It
// returns nil for a name that is not declared.
func (m *TCPModel) Box(in Inspect) *TCPBox {
	name := in.Box
	if name == "" {
		name = m.Default
	}
	if name == "" && len(m.Boxes) == 0 {
		return DefaultTCPBox()
	}
	return m.Boxes[name]
}

// DefaultTCPBox is the box of a policy that declares none: a textbook
// middlebox that takes the SYN's sender for the client, tracks any flow it
// sees, inspects SYN payloads as data, forgets a flow for good when the
// client resets it after the handshake, and reassembles in order, first copy
// winning. Each call returns a new value.
func DefaultTCPBox() *TCPBox {
	after := TCBEvent{AfterACK: Outcome{Teardown: 1}, Source: "splinter's default: a client reset after the handshake ends tracking"}
	return &TCPBox{
		Name:        "default",
		Description: "A textbook stateful middlebox.",
		Source:      "splinter's default for policies that declare no TCP boxes",
		Events:      TCBEvents{RST: after, RSTACK: after, InvalidFlags: after},
	}
}

// Roles says how a box decides which end of a flow is the client.
type Roles string

// Role models. The zero value means RolesSYN.
const (
	// RolesSYN takes the sender of a SYN (without ACK) for the client, even
	// when a SYN+ACK came first: a client that sends a SYN+ACK before its
	// SYN (TCB turnaround) does not fool the box (the GFW in 2019: Geneva,
	// CCS 2019, Table 1, 3%).
	RolesSYN Roles = "syn"
	// RolesFirstPacket fixes the roles on the first packet the box sees:
	// the receiver of a SYN+ACK is the client, and a later SYN does not
	// change it (Kazakhstan's HTTP box in 2019: a SYN+ACK sent before the
	// SYN, 100% in Geneva's strategy library, strategies.md).
	RolesFirstPacket Roles = "first-packet"
)

// TCBCreate names a packet on which a box creates its state for a flow.
type TCBCreate string

// TCB creation triggers.
const (
	// CreateOnSYN: the client's SYN.
	CreateOnSYN TCBCreate = "syn"
	// CreateOnSYNACK: the server's SYN+ACK, when the SYN was not seen (the
	// GFW since 2017: Wang et al., IMC 2017).
	CreateOnSYNACK TCBCreate = "syn-ack"
	// CreateOnData: a client packet of a flow the box never tracked (pick-up
	// mid-stream). It does not revive a flow the box tore down.
	CreateOnData TCBCreate = "data"
)

// SYNPayload says what a box does with data carried by a SYN.
type SYNPayload string

// SYN payload handling. The zero value means SYNPayloadInspect.
const (
	// SYNPayloadInspect takes a SYN's data as the start of the client's
	// stream (Kazakhstan's box in 2019, which a payload SYN evades).
	SYNPayloadInspect SYNPayload = "inspect"
	// SYNPayloadIgnore ignores it (the GFW: Geneva, CCS 2019, 3%).
	SYNPayloadIgnore SYNPayload = "ignore"
)

// ResyncOn names a packet that ends a box's resynchronisation state.
type ResyncOn string

// Resynchronisation points (Wang et al., IMC 2017: the next SYN+ACK from the
// server or data packet from the client; Bock et al., SIGCOMM 2020: or the
// client's ACK).
const (
	// ResyncClientData: the next client packet carrying data; its sequence
	// number becomes where the client's stream continues.
	ResyncClientData ResyncOn = "client-data"
	// ResyncClientACK: the next client packet with ACK set, data or not.
	ResyncClientACK ResyncOn = "client-ack"
	// ResyncServerSYNACK: the next SYN+ACK from the server; its
	// acknowledgment number becomes the client's next sequence number.
	ResyncServerSYNACK ResyncOn = "server-syn-ack"
)

// Overlap says which copy of bytes sent twice a box keeps.
type Overlap string

// Overlap policies. The zero value means OverlapFirst.
const (
	// OverlapFirst keeps the bytes it saw first: a later copy only adds the
	// bytes beyond them.
	OverlapFirst Overlap = "first"
	// OverlapLast overwrites them with the later copy.
	OverlapLast Overlap = "last"
)

// OptionsAccept says which TCP options a box accepts on the packets it
// looks at.
type OptionsAccept string

// Option acceptance. The zero value means OptionsAny.
const (
	// OptionsAny: options are not looked at (the GFW accepts odd data
	// offsets, MD5, User-Timeout and malformed options alike).
	OptionsAny OptionsAccept = "any"
	// OptionsStandard: a packet carrying an option other than EOL, NOP,
	// MSS, window scale, SACK-permitted, SACK and timestamps, or malformed
	// options, is ignored altogether.
	OptionsStandard OptionsAccept = "standard"
)

// TCPBox is one box's TCP state model: how it decides who the client is,
// when it creates, tears down and resynchronises its state for a flow (its
// TCB), which packets it even looks at, and how it joins the client's
// segments. Every figure cites its source (Source, and each section's).
//
// The zero value is usable: a stateful box that tracks any flow, takes the
// SYN's sender for the client, inspects SYN payloads, reacts to no event
// (resets do not fool it), reassembles in order with the first copy winning,
// and accepts any packet.
type TCPBox struct {
	// Name is the box's key in TCPModel.Boxes.
	Name string `yaml:"-"`
	// Description says what the box is, for people.
	Description string `yaml:"description"`
	// Source cites where the box's behaviour comes from. Required.
	Source string `yaml:"source"`
	// Stateless boxes keep no TCB: each packet is taken on its own (no
	// events, no reassembly, no sequence numbers), the client being the
	// flow's SYN sender. Rules on them select packets with Inspect.Packets.
	Stateless bool `yaml:"stateless"`
	// Roles: how the box decides who the client is; "" means RolesSYN.
	Roles Roles `yaml:"roles"`
	// CreateOn lists the packets that create a TCB; empty means all of
	// them (syn, syn-ack, data).
	CreateOn []TCBCreate `yaml:"create-on"`
	// SYNPayload: what the box does with a SYN's data; "" means inspect.
	SYNPayload SYNPayload `yaml:"syn-payload"`
	// Events: what resets, FINs with payload and invalid flag combinations
	// do to the TCB.
	Events TCBEvents `yaml:"events"`
	// ResyncOn lists what ends the resynchronisation state; empty means all
	// of client-data, client-ack and server-syn-ack.
	ResyncOn []ResyncOn `yaml:"resync-on"`
	// Reassembly: how the box joins the client's segments (for rules with
	// Inspect.ReassembleTCP).
	Reassembly Reassembly `yaml:"reassembly"`
	// Accept: which packets the box looks at at all.
	Accept Accept `yaml:"accept"`
}

// Creates reports whether the box creates a TCB on c.
func (b *TCPBox) Creates(c TCBCreate) bool {
	return len(b.CreateOn) == 0 || slices.Contains(b.CreateOn, c)
}

// ResyncsOn reports whether r ends the box's resynchronisation state.
func (b *TCPBox) ResyncsOn(r ResyncOn) bool {
	return len(b.ResyncOn) == 0 || slices.Contains(b.ResyncOn, r)
}

// TCBEvents are the packets that may tear a box's TCB down or send it into
// resynchronisation, each with its own probabilities. Events are judged on
// the flags alone: a box that reacts to them does not check their sequence
// numbers or checksums (unless Accept says so). The zero value reacts to
// nothing.
type TCBEvents struct {
	// RST: a client RST without ACK (and without SYN or FIN).
	RST TCBEvent `yaml:"rst"`
	// RSTACK: a client RST+ACK (without SYN or FIN).
	RSTACK TCBEvent `yaml:"rst-ack"`
	// InvalidFlags: a client packet with RST and SYN or FIN, or with SYN
	// and FIN (Geneva's FRAPUEN, FREACN, FRAPUN).
	InvalidFlags TCBEvent `yaml:"invalid-flags"`
	// FINPayload: a client FIN carrying data.
	FINPayload TCBEvent `yaml:"fin-payload"`
	// ServerRST: a RST or RST+ACK from the server.
	ServerRST TCBEvent `yaml:"server-rst"`
	// SYN: a client SYN on a flow the box already tracks (a retransmitted,
	// repeated or inserted SYN). When it draws nothing, a SYN before the
	// handshake's ACK re-initialises the client's sequence number.
	SYN TCBEvent `yaml:"syn"`
	// BadSYNACK: a server SYN+ACK after the box saw one, or whose
	// acknowledgment number is not the client's next sequence number.
	BadSYNACK TCBEvent `yaml:"bad-syn-ack"`
}

// TCBEvent is what one kind of packet does to a TCB, before and after the
// client's ACK that completes the handshake. When the drawn outcome is
// neither teardown nor resynchronisation the packet is taken as an ordinary
// one; when it is either, its payload is not inspected. The zero value does
// nothing.
type TCBEvent struct {
	// BeforeACK applies before the box saw the handshake's ACK.
	BeforeACK Outcome `yaml:"before-ack"`
	// AfterACK applies after it.
	AfterACK Outcome `yaml:"after-ack"`
	// Source cites the figures. Required when either outcome is set.
	Source string `yaml:"source"`
}

// IsZero reports whether the event does nothing.
func (e TCBEvent) IsZero() bool { return e.BeforeACK == Outcome{} && e.AfterACK == Outcome{} }

// Outcome is a probability distribution over what an event does: tear the
// TCB down (the box inspects nothing more of the flow), send it into
// resynchronisation (see TCPBox.ResyncOn), or, with the remaining
// probability, nothing. Probabilities are in [0, 1] and add up to at most 1.
type Outcome struct {
	Teardown float64 `yaml:"teardown"`
	Resync   float64 `yaml:"resync"`
}

// Reassembly says how a box joins the client's segments into the stream its
// reassembling rules match. The zero value is in-order reassembly, the first
// copy of overlapping bytes winning, nothing buffered beyond a hole.
type Reassembly struct {
	// Overlap: which copy of overlapping bytes the box keeps; "" means
	// first.
	Overlap Overlap `yaml:"overlap"`
	// OutOfOrder is how many bytes beyond a hole the box buffers until the
	// hole fills; 0 drops out-of-order segments.
	OutOfOrder int `yaml:"out-of-order"`
	// ShortFirstSegment, when positive: if the first segment of the client's
	// stream carries at most this many bytes, the box joins only the next
	// segment to it and then stops following the stream.
	ShortFirstSegment int `yaml:"short-first-segment"`
	// Source cites the behaviour. Required when any field is set.
	Source string `yaml:"source"`
}

// IsZero reports whether r is the default reassembly.
func (r Reassembly) IsZero() bool { return r == Reassembly{} }

// Accept says which packets a box looks at at all: a packet it does not
// accept changes nothing and is not inspected. The zero value accepts every
// packet, whatever its checksum and options (as the GFW does). The IP TTL
// plays no part: a box sees whatever reaches it.
type Accept struct {
	// VerifyChecksums ignores packets whose TCP checksum is wrong.
	VerifyChecksums bool `yaml:"verify-checksums"`
	// Options: which TCP options the box accepts; "" means any.
	Options OptionsAccept `yaml:"options"`
	// DataNeedsACK: the box takes no data from a client segment without
	// the ACK flag (a SYN's payload aside, which SYNPayload governs), as
	// Linux drops such a segment; the segment's other effects (a RST, a
	// FIN with payload) stay.
	DataNeedsACK bool `yaml:"data-needs-ack"`
	// Source cites the behaviour. Required when any field is set.
	Source string `yaml:"source"`
}

// IsZero reports whether a accepts everything.
func (a Accept) IsZero() bool { return a == Accept{} }

func (m *TCPModel) validate(c *Checker) {
	c = c.Sub("tcp")
	names := slices.Sorted(mapKeys(m.Boxes))
	switch {
	case len(m.Boxes) == 0 && m.Default != "":
		c.Errorf("default", "default box %q, but the policy declares no boxes", m.Default)
	case len(m.Boxes) > 0 && m.Default == "":
		c.Errorf("default", "name the box of the rules whose inspect names none (boxes: %s)", strings.Join(names, ", "))
	case len(m.Boxes) > 0 && m.Boxes[m.Default] == nil:
		c.Errorf("default", "no box named %q (boxes: %s)", m.Default, strings.Join(names, ", "))
	}
	for _, n := range names {
		b := m.Boxes[n]
		bc := c.Sub("boxes." + n)
		if b == nil {
			bc.Errorf("", "box %q is empty", n)
			continue
		}
		if b.Name != n {
			bc.Errorf("", "box keyed %q is named %q", n, b.Name)
		}
		b.validate(bc)
	}
}

func (b *TCPBox) validate(c *Checker) {
	if strings.TrimSpace(b.Source) == "" {
		c.Errorf("source", "a box must cite its source (a paper or report)")
	}
	OneOf(c, "roles", b.Roles, true, RolesSYN, RolesFirstPacket)
	for i, x := range b.CreateOn {
		OneOf(c, "create-on["+strconv.Itoa(i)+"]", x, false, CreateOnSYN, CreateOnSYNACK, CreateOnData)
	}
	OneOf(c, "syn-payload", b.SYNPayload, true, SYNPayloadInspect, SYNPayloadIgnore)
	for i, x := range b.ResyncOn {
		OneOf(c, "resync-on["+strconv.Itoa(i)+"]", x, false, ResyncClientData, ResyncClientACK, ResyncServerSYNACK)
	}
	ev := c.Sub("events")
	for _, e := range []struct {
		name string
		ev   TCBEvent
	}{{"rst", b.Events.RST}, {"rst-ack", b.Events.RSTACK}, {"invalid-flags", b.Events.InvalidFlags}, {"fin-payload", b.Events.FINPayload},
		{"server-rst", b.Events.ServerRST}, {"syn", b.Events.SYN}, {"bad-syn-ack", b.Events.BadSYNACK}} {
		e.ev.validate(ev.Sub(e.name))
	}
	r := b.Reassembly
	OneOf(c, "reassembly.overlap", r.Overlap, true, OverlapFirst, OverlapLast)
	if r.OutOfOrder < 0 {
		c.Errorf("reassembly.out-of-order", "out-of-order %d is negative", r.OutOfOrder)
	}
	if r.ShortFirstSegment < 0 {
		c.Errorf("reassembly.short-first-segment", "short-first-segment %d is negative", r.ShortFirstSegment)
	}
	if !r.IsZero() && strings.TrimSpace(r.Source) == "" {
		c.Errorf("reassembly.source", "cite the source of the reassembly behaviour")
	}
	OneOf(c, "accept.options", b.Accept.Options, true, OptionsAny, OptionsStandard)
	if !b.Accept.IsZero() && strings.TrimSpace(b.Accept.Source) == "" {
		c.Errorf("accept.source", "cite the source of what the box accepts")
	}
	if b.Stateless {
		if b.Events != (TCBEvents{}) {
			c.Errorf("events", "a stateless box keeps no TCB: events do not apply")
		}
		if !r.IsZero() {
			c.Errorf("reassembly", "a stateless box does not reassemble")
		}
		if len(b.ResyncOn) > 0 {
			c.Errorf("resync-on", "a stateless box keeps no TCB to resynchronise")
		}
	}
}

func (e TCBEvent) validate(c *Checker) {
	e.BeforeACK.validate(c.Sub("before-ack"))
	e.AfterACK.validate(c.Sub("after-ack"))
	if !e.IsZero() && strings.TrimSpace(e.Source) == "" {
		c.Errorf("source", "cite the source of the probabilities")
	}
}

func (o Outcome) validate(c *Checker) {
	ok := true
	for _, x := range []struct {
		f string
		p float64
	}{{"teardown", o.Teardown}, {"resync", o.Resync}} {
		if !(x.p >= 0 && x.p <= 1) {
			c.Errorf(x.f, "probability %v is not in [0, 1]", x.p)
			ok = false
		}
	}
	if ok && o.Teardown+o.Resync > 1+1e-9 {
		c.Errorf("", "teardown %v and resync %v add up to more than 1", o.Teardown, o.Resync)
	}
}

// validateBox checks a rule's reference to a box.
func (in *Inspect) validateBox(c *Checker, m *TCPModel) {
	if in.Box != "" && m.Boxes[in.Box] == nil {
		if len(m.Boxes) == 0 {
			c.Errorf("box", "no box named %q: the policy declares no TCP boxes (tcp.boxes)", in.Box)
		} else {
			c.Errorf("box", "no box named %q (boxes: %s)", in.Box, strings.Join(slices.Sorted(mapKeys(m.Boxes)), ", "))
		}
		return
	}
	b := m.Box(*in)
	if b != nil && b.Stateless && in.ReassembleTCP {
		c.Errorf("reassemble-tcp", "box %q is stateless and does not reassemble", b.Name)
	}
}
