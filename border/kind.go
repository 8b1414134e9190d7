package border

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/splinter-lab/splinter/dissect"
	"github.com/splinter-lab/splinter/packet"
	"github.com/splinter-lab/splinter/policy"
)

// A matcher or action kind is defined once, in one file of this package
// (match_*.go, action_*.go) or in a package of its own: its config struct
// (what the YAML says, with Validate), its Compile step (config and lists to
// the immutable object a rule holds) and its behaviour (Match or Apply), and
// the traits that scoring reads from decisions (the Layer a matcher looks
// at, the Effect an action has). RegisterMatcher and RegisterAction make a
// kind known to the policy language and to the engine at once.

// Result is a matcher's verdict on what it has seen of a flow so far.
type Result int8

// Matcher results.
const (
	// NoMatch: not this flow; final for rules that keep per-flow state.
	NoMatch Result = iota
	// NeedMore: cannot tell yet; more bytes or packets are needed.
	NeedMore
	// Match: the matcher holds.
	Match
)

// Protocols is a set of transports a matcher applies to.
type Protocols uint8

// Transport sets. The zero value means any.
const (
	OnlyTCP  Protocols = 1 << 0
	OnlyUDP  Protocols = 1 << 1
	OnlyICMP Protocols = 1 << 2
)

// Traits describe a compiled matcher to the engine and to scoring.
type Traits struct {
	// Layer is what the matcher looks at; a rule's decisions carry the
	// layer of its matchers (the last one above LayerIP, else LayerIP).
	Layer Layer
	// Header is true for matchers that look at headers only: they apply to
	// packets without payload (a SYN included) and to packets without a
	// flow (ICMP, fragments), and one miss is final for a flow.
	Header bool
	// Protocols restricts the rule to these transports; 0 is any.
	Protocols Protocols
	// CountsPackets is true for matchers that count a flow's packets, so
	// the rule keeps per-flow state.
	CountsPackets bool
	// PerPacket is true for header matchers whose verdict differs from
	// packet to packet of a flow (its TCP flags, a running count): a miss
	// is not final for the flow.
	PerPacket bool
	// ServerPackets is true for matchers that also judge the server's
	// packets of a flow (a SYN+ACK): the rule is shown them as they are,
	// besides the client's as its box sees them.
	ServerPackets bool
}

// Matcher is a compiled matcher: immutable, shared by every flow.
type Matcher interface {
	Traits() Traits
	// Match examines what the rule inspects now. It must not keep in or
	// anything it returns.
	Match(in *Inspection) Result
}

// MatcherConfig is a matcher kind's config: what the policy language
// decodes and validates (policy.Matcher), and how it compiles.
type MatcherConfig interface {
	policy.Matcher
	Compile(c *Compiler) (Matcher, error)
}

// Action is a compiled action: immutable, shared by every flow.
type Action interface {
	// Effect is what the action does to the traffic; decisions carry it.
	Effect() Effect
	// Apply acts on the packet that made the rule fire.
	Apply(a *Act) packet.Verdict
}

// ActionConfig is an action kind's config: what the policy language
// decodes and validates (policy.Action), and how it compiles.
type ActionConfig interface {
	policy.Action
	Compile(c *Compiler) (Action, error)
}

// RegisterMatcher makes a matcher kind known to the policy language and to
// the engine. newConfig returns a fresh config holding the kind's defaults.
// It panics if the name is taken.
func RegisterMatcher(name, doc string, newConfig func() MatcherConfig) {
	policy.RegisterMatcher(name, doc, func() policy.Matcher { return newConfig() })
}

// RegisterAction makes an action kind known to the policy language and to
// the engine, as RegisterMatcher does.
func RegisterAction(name, doc string, newConfig func() ActionConfig) {
	policy.RegisterAction(name, doc, func() policy.Action { return newConfig() })
}

// Compiler is what a kind's Compile step may use: the rule being compiled
// and the policy's compiled lists.
type Compiler struct {
	e *Engine
	r *rule
}

// Rule is the policy rule being compiled.
func (c *Compiler) Rule() *policy.Rule { return c.r.src }

// List returns a compiled list by name; an empty name returns nil.
func (c *Compiler) List(name string) (*policy.Compiled, error) { return c.e.list(name) }

// addrSet compiles an address set.
func (c *Compiler) addrSet(s policy.AddrSet) (addrSet, error) { return c.e.addrSet(s) }

// proxy makes the border terminate the rule's flows (see proxy.go).
func (c *Compiler) proxy() { c.r.proxy = true }

// FlowInfo describes a flow as the engine sees it.
type FlowInfo struct {
	// ID is unique per flow in this process; 0 for packets without a flow.
	ID     uint64
	Proto  uint8
	Client netip.AddrPort
	Server netip.AddrPort
	// Direction is the direction of the client's packets across the
	// border.
	Direction packet.Direction
}

func (f *flow) info() FlowInfo {
	return FlowInfo{ID: f.id, Proto: f.proto, Client: f.client, Server: f.server, Direction: f.dir}
}

// Inspection is what a matcher examines: one client packet of a flow, and
// the bytes the rule inspects (the packet's payload, or the reassembled
// stream).
type Inspection struct {
	e      *Engine
	r      *rule
	f      *flow // a synthetic flow for packets without one (ICMP, fragments)
	st     *ruleState
	p      *packet.IP
	data   []byte
	client netip.AddrPort
	server netip.AddrPort
	ev     []Evidence
	sc     *scratch
}

// Packet is the packet being inspected.
func (in *Inspection) Packet() *packet.IP { return in.p }

// Data is what the rule inspects: the packet's payload, or the client's
// reassembled stream when the rule reassembles.
func (in *Inspection) Data() []byte { return in.data }

// Flow describes the flow.
func (in *Inspection) Flow() FlowInfo { return in.f.info() }

// Packets is how many packets of the flow the rule has inspected, this one
// included.
func (in *Inspection) Packets() int {
	if in.st == nil {
		return 1
	}
	return in.st.pkts
}

// Evidence records what the matcher saw; it goes into the decision.
func (in *Inspection) Evidence(kind EvidenceKind, value string) {
	in.ev = append(in.ev, Evidence{kind, value})
}

// Act is what an action acts on: the packet that made its rule fire, its
// flow, and the engine's means (injection, randomness, the decision log).
type Act struct {
	e          *Engine
	r          *rule
	f          *flow
	p          *packet.IP
	fromClient bool
	now        time.Time
	inject     func([]byte)
	ev         []Evidence
	dns        *dissect.DNSMessage // set when the rule matched a DNS query
	kind       ActionKind
	effect     Effect
	// held, during Apply, collects the action's decisions; the engine
	// logs them once it knows the verdict (process.go's act).
	held *[]Decision
}

// Packet is the packet that made the rule fire.
func (a *Act) Packet() *packet.IP { return a.p }

// Flow describes its flow.
func (a *Act) Flow() FlowInfo { return a.f.info() }

// Now is the engine's time.
func (a *Act) Now() time.Time { return a.now }

// Evidence is what the rule's matchers saw.
func (a *Act) Evidence() []Evidence { return a.ev }

// Inject sends a packet from the border at once (borrowed for the call).
// An Act is valid only during Apply: closures that run later must capture
// what they need, not the Act.
func (a *Act) Inject(pkt []byte) { a.inject(pkt) }

// InjectAfter sends a copy of pkt after d on the engine's clock.
func (a *Act) InjectAfter(d time.Duration, pkt []byte) {
	if d <= 0 {
		a.inject(pkt)
		return
	}
	b, inject := append([]byte(nil), pkt...), a.inject
	a.e.clock.AfterFunc(d, func() { inject(b) })
}

// Record logs the action's decision with a detail for people.
func (a *Act) Record(detail string) { a.record(detail, nil) }

func (a *Act) record(detail string, page *BlockpageFacts) {
	if a.held == nil {
		a.e.record(a.r, a.kind, a.effect, false, a.f, a.ev, detail, page)
		return
	}
	if a.e.cfg.Log != nil {
		*a.held = append(*a.held, a.e.decision(a.r, a.kind, a.effect, false, a.f, a.ev, detail, page))
	}
}

// DropFlow drops the rest of the flow in the given direction ("" both).
func (a *Act) DropFlow(d policy.FlowDir) {
	switch d {
	case policy.ClientToServer:
		a.f.dropC2S = true
	case policy.ServerToClient:
		a.f.dropS2C = true
	default:
		a.f.dropC2S, a.f.dropS2C = true, true
	}
}

// Float64 draws from the engine's randomness.
func (a *Act) Float64() float64 { return a.e.float() }

// Duration draws a duration from r with the engine's randomness.
func (a *Act) Duration(r policy.DurationRange) time.Duration { return a.e.duration(r) }

// Shape turns a fingerprint into the IP shape of an injected packet.
func (a *Act) Shape(fp policy.Fingerprint) packet.Shape { return a.e.shape(fp, a.p.TTL) }

// String names the kind for errors.
func (k ActionKind) String() string { return string(k) }

func kindOf(cfg policy.Action) ActionKind { return ActionKind(cfg.Kind()) }

func compileErr(kind string) error {
	return fmt.Errorf("%s has no engine behaviour: register it with border.RegisterMatcher or border.RegisterAction", kind)
}
