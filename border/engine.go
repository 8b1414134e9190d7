package border

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/splinter-lab/splinter/clock"
	"github.com/splinter-lab/splinter/dissect"
	"github.com/splinter-lab/splinter/packet"
	"github.com/splinter-lab/splinter/policy"
)

// Config configures an Engine. The zero value is usable: system clock,
// randomly seeded randomness, no log, default flow-table limits.
type Config struct {
	// Border names the border in decisions ("CN", "CN/cn-henan-unicom").
	Border string
	// Jurisdiction is the code of the border's jurisdiction.
	Jurisdiction string
	// PolicyIndex is the transparency-log index of the policy version the
	// border enforces (package policylog), cited by every decision; nil
	// when the policy is not logged.
	PolicyIndex *int64
	// Log receives every decision; nil records nothing.
	Log *Log
	// Clock is the engine's time; nil is the system clock. Give the engine
	// the world's clock.
	Clock clock.Clock
	// Rand draws every random choice (probabilities, delays, IP-IDs); nil is
	// seeded randomly.
	Rand *rand.Rand
	// MaxFlows caps the flow table; 0 means 1<<18 flows. When full, the
	// oldest of a sample of flows is evicted.
	MaxFlows int
	// MaxBufferBytes caps the memory of all reassembly buffers together; 0
	// means 64 MiB. A flow that cannot get buffer space is not reassembled.
	MaxBufferBytes int
}

// Engine enforces one policy on one border. It implements world.Gateway.
// Its methods are safe for concurrent use.
type Engine struct {
	cfg    Config
	pol    *policy.Policy
	rules  []*rule
	lists  map[string]*policy.Compiled
	clock  clock.Clock
	randMu sync.Mutex
	rnd    *rand.Rand

	// byProto lists, per transport (tcp, udp, other), the rules that may
	// apply; a packet of a protocol with no rule and no block costs nothing.
	byProto [3][]*rule
	flows   *flowTable
	blocks  *blockTable
	proxies []*rule // rules whose flows the border terminates
	proxy   proxyState

	// boxes are the policy's TCP boxes (tcb.go); tcpBoxes those some TCP
	// rule runs on.
	boxes    []*box
	tcpBoxes []*box

	// serverSide: some rule judges the server's packets too (Traits).
	serverSide bool
	// counts holds the running counts of packet-count matchers
	// (match_count.go); probes the active prober's state (prober.go).
	counts countTable
	probes proberState
	// defrag joins IPv4 fragments (fragments.go); nil when the policy
	// reassembles none.
	defrag *defragmenter
}

// New compiles pol into an engine.
func New(pol *policy.Policy, cfg Config) (*Engine, error) {
	if pol == nil {
		return nil, fmt.Errorf("border: nil policy")
	}
	lists, err := pol.CompileLists()
	if err != nil {
		return nil, fmt.Errorf("border: policy %s: %w", pol.Name, err)
	}
	e := &Engine{cfg: cfg, pol: pol, lists: lists, clock: clock.Or(cfg.Clock), rnd: cfg.Rand}
	if e.rnd == nil {
		e.rnd = rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	}
	if i := cfg.PolicyIndex; i != nil {
		v := *i // the engine's own copy
		e.cfg.PolicyIndex = &v
	}
	for i := range pol.Rules {
		r, err := e.compileRule(i, &pol.Rules[i])
		if err != nil {
			return nil, fmt.Errorf("border: policy %s: rule %s: %w", pol.Name, pol.Rules[i].ID, err)
		}
		e.rules = append(e.rules, r)
		e.serverSide = e.serverSide || r.serverSide
		if r.proxy {
			e.proxies = append(e.proxies, r)
		}
		for p := range e.byProto {
			if r.protos&Protocols(1<<p) != 0 {
				e.byProto[p] = append(e.byProto[p], r)
			}
		}
	}
	if err := e.compileBoxes(); err != nil {
		return nil, fmt.Errorf("border: policy %s: %w", pol.Name, err)
	}
	e.flows = newFlowTable(cfg.MaxFlows, cfg.MaxBufferBytes)
	e.defrag = newDefragmenter(pol.IP)
	e.blocks = newBlockTable()
	return e, nil
}

// Policy returns the policy the engine enforces.
func (e *Engine) Policy() *policy.Policy { return e.pol }

// Flows is the number of flows in the table.
func (e *Engine) Flows() int { return e.flows.len() }

func (e *Engine) float() float64 {
	e.randMu.Lock()
	defer e.randMu.Unlock()
	return e.rnd.Float64()
}

func (e *Engine) uint32n(n uint32) uint32 {
	e.randMu.Lock()
	defer e.randMu.Unlock()
	return e.rnd.Uint32N(n)
}

func (e *Engine) duration(r policy.DurationRange) time.Duration {
	if r.Max <= r.Min {
		return r.Min
	}
	e.randMu.Lock()
	defer e.randMu.Unlock()
	return r.Min + time.Duration(e.rnd.Int64N(int64(r.Max-r.Min)+1))
}

func protoIndex(proto uint8) int {
	switch proto {
	case packet.TCP:
		return 0
	case packet.UDP:
		return 1
	}
	return 2
}

func protoBit(proto uint8) Protocols { return Protocols(1) << protoIndex(proto) }

// flowIDs numbers flows across every engine of the process.
var flowIDs atomic.Uint64

// Process implements world.Gateway: p is the router's parsed view of the
// packet, p.Raw its bytes.
func (e *Engine) Process(p *packet.IP, dir packet.Direction, inject func([]byte)) packet.Verdict {
	now := e.clock.Now()
	rules := e.byProto[protoIndex(p.Proto)]
	if p.Fragment || (p.Proto != packet.TCP && p.Proto != packet.UDP) {
		// No flow: only header rules, each packet on its own.
		if e.blocks.active() {
			if v, hit := e.blocks.enforceStateless(e, p, dir, now, inject); hit {
				return v
			}
		}
		v := e.stateless(p, dir, now, inject, rules)
		if p.Fragment && e.defrag != nil && (p.Proto == packet.TCP || p.Proto == packet.UDP) {
			// The whole packet, when this fragment completes it, goes
			// where an unfragmented one would; the verdict applies to
			// this fragment.
			if whole := e.defrag.add(p, now); whole != nil {
				w := e.onPacket(whole, dir, now, inject, rules)
				v.Drop = v.Drop || w.Drop
				v.Delay = max(v.Delay, w.Delay)
			}
		}
		return v
	}
	return e.onPacket(p, dir, now, inject, rules)
}

// onPacket processes a TCP or UDP packet that is not a fragment.
func (e *Engine) onPacket(p *packet.IP, dir packet.Direction, now time.Time, inject func([]byte), rules []*rule) packet.Verdict {
	pkt := p.Raw
	if e.probes.active() && e.probes.owns(p) {
		// A reply to one of the border's own probe connections.
		return e.divert(pkt, inject)
	}
	if len(rules) == 0 && !e.blocks.active() {
		return packet.Verdict{}
	}
	f, fromClient := e.flows.lookup(p, dir, now)
	if f == nil {
		return packet.Verdict{}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return e.onFlow(f, fromClient, p, pkt, dir, now, inject, rules)
}

// ProcessBytes parses pkt and processes it: for callers holding raw bytes
// (tests, tools). The forwarding path hands Process the router's view.
func (e *Engine) ProcessBytes(pkt []byte, dir packet.Direction, inject func([]byte)) packet.Verdict {
	p := parsedPool.Get().(*packet.IP)
	defer parsedPool.Put(p)
	if packet.Parse(pkt, p) != nil {
		return packet.Verdict{}
	}
	return e.Process(p, dir, inject)
}

// parsedPool holds ProcessBytes' parsed views: one handed to Process
// escapes, so it comes from a pool rather than the heap.
var parsedPool = sync.Pool{New: func() any { return new(packet.IP) }}

// record logs a decision of rule r on flow f.
func (e *Engine) record(r *rule, kind ActionKind, eff Effect, enforced bool, f *flow, ev []Evidence, detail string, page *BlockpageFacts) {
	if e.cfg.Log == nil {
		return
	}
	e.cfg.Log.Record(e.decision(r, kind, eff, enforced, f, ev, detail, page))
}

// decision is the decision of rule r on flow f, not yet logged.
func (e *Engine) decision(r *rule, kind ActionKind, eff Effect, enforced bool, f *flow, ev []Evidence, detail string, page *BlockpageFacts) Decision {
	d := Decision{
		Time: e.clock.Now(), Border: e.cfg.Border, Jurisdiction: e.cfg.Jurisdiction, Policy: e.pol.Name, PolicyIndex: e.cfg.PolicyIndex,
		Rule: r.id, FlowID: f.id, Action: kind, Enforced: enforced, Effect: eff, Layer: r.layer,
		Proto: protoName(f.proto), Client: f.client, Server: f.server, Direction: f.dir.String(),
		Blockpage: page, Detail: detail,
	}
	if len(ev) > 0 {
		d.Evidence = append([]Evidence(nil), ev...)
	}
	return d
}

// withDroppedQuery adds to ev, when p (a packet the border discarded) is a
// DNS query from f's client to port 53, the query's name as
// EvidenceQName, unless ev names one already: a rule that looked at
// addresses only (an IP allowlist, a null route) records no query, yet
// the query it dropped is what made a lookup fail, and scoring joins the
// decision to the measurements of that name by it.
func withDroppedQuery(ev []Evidence, f *flow, p *packet.IP, fromClient bool) []Evidence {
	if p == nil || !fromClient || f.server.Port() != 53 || len(p.Payload) == 0 {
		return ev
	}
	for _, x := range ev {
		if x.Kind == EvidenceQName {
			return ev
		}
	}
	var m dissect.DNSMessage
	var err error
	switch p.Proto {
	case packet.UDP:
		err = dissect.ParseDNS(p.Payload, &m)
	case packet.TCP:
		err = dissect.ParseDNSTCP(p.Payload, &m)
	default:
		return ev
	}
	if err != nil || m.QR() || len(m.Name()) == 0 {
		return ev
	}
	return append(ev[:len(ev):len(ev)], Evidence{EvidenceQName, m.NameString()})
}

func protoName(p uint8) string {
	switch p {
	case packet.TCP:
		return "tcp"
	case packet.UDP:
		return "udp"
	}
	return "icmp"
}
