package border

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/splinter-lab/splinter/packet"
	"github.com/splinter-lab/splinter/policy"
)

// rule is a compiled policy rule. It is immutable after New.
type rule struct {
	idx    int
	id     string
	src    *policy.Rule
	protos Protocols
	layer  Layer // what the rule's matchers look at
	dirs   [2]bool
	ports  []policy.PortRange
	srcGT  bool
	dsts   addrSet
	srcs   addrSet
	prob   float64
	window policy.Window
	always bool // window is "always"

	insp       policy.Inspect
	box        *box // the TCP box the rule runs on (tcb.go)
	stateful   bool // done with a flow once it fired or its window closed
	headerOnly bool // no matcher looks at payload
	perPacket  bool // a matcher judges each packet on its own: a miss is not final
	serverSide bool // a matcher also judges the server's packets
	proxy      bool // the border terminates the rule's flows (intercept)
	matchers   []Matcher
	actions    []Action
	kinds      []ActionKind // of each action
}

// addrSet is a compiled policy.AddrSet; empty means any.
type addrSet struct {
	list   *policy.Compiled
	inline *policy.PrefixSet
}

func (a addrSet) empty() bool { return a.list == nil && a.inline == nil }

func (a addrSet) match(ad netip.Addr) (netip.Prefix, bool) {
	if a.list != nil {
		if p, ok := a.list.MatchAddr(ad); ok {
			return p, true
		}
	}
	if a.inline != nil {
		if p, ok := a.inline.Match(ad); ok {
			return p, true
		}
	}
	return netip.Prefix{}, false
}

// list returns a compiled list by name; an empty name returns nil.
func (e *Engine) list(name string) (*policy.Compiled, error) {
	if name == "" {
		return nil, nil
	}
	c := e.lists[name]
	if c == nil {
		return nil, fmt.Errorf("no list %q", name)
	}
	return c, nil
}

func (e *Engine) addrSet(s policy.AddrSet) (addrSet, error) {
	var a addrSet
	if s.List != "" {
		a.list = e.lists[s.List]
		if a.list == nil {
			return a, fmt.Errorf("no list %q", s.List)
		}
	}
	if len(s.Prefixes) > 0 {
		a.inline = policy.NewPrefixSet(s.Prefixes)
	}
	return a, nil
}

func (e *Engine) compileRule(i int, pr *policy.Rule) (*rule, error) {
	r := &rule{idx: i, id: pr.ID, src: pr, ports: pr.Scope.Ports, srcGT: pr.Scope.SrcPortGreaterThanDst,
		prob: policy.Prob(pr.Scope.Probability), window: pr.Scope.Active, always: pr.Scope.Active.IsZero(), insp: pr.Inspect}
	switch pr.Scope.Direction {
	case policy.Outbound:
		r.dirs[packet.Outbound] = true
	case policy.Inbound:
		r.dirs[packet.Inbound] = true
	default:
		r.dirs = [2]bool{true, true}
	}
	if len(pr.Scope.Protocols) == 0 {
		r.protos = OnlyTCP | OnlyUDP | OnlyICMP
	}
	for _, p := range pr.Scope.Protocols {
		switch p {
		case policy.TCP:
			r.protos |= OnlyTCP
		case policy.UDP:
			r.protos |= OnlyUDP
		case policy.ICMP:
			r.protos |= OnlyICMP
		}
	}
	var err error
	if r.dsts, err = e.addrSet(pr.Scope.Destinations); err != nil {
		return nil, fmt.Errorf("scope.destinations: %w", err)
	}
	if r.srcs, err = e.addrSet(pr.Scope.Sources); err != nil {
		return nil, fmt.Errorf("scope.sources: %w", err)
	}
	r.headerOnly = true
	r.layer = LayerIP
	c := &Compiler{e: e, r: r}
	r.stateful = pr.Inspect.ReassembleTCP || pr.Inspect.Packets == policy.First || pr.Inspect.Packets == policy.FirstN || pr.Inspect.Packets == policy.FirstRequest || pr.Inspect.Packets == policy.WhileRequest
	for j, m := range pr.Match {
		mc, ok := m.(MatcherConfig)
		if !ok {
			return nil, fmt.Errorf("match[%d]: %w", j, compileErr(m.Kind()))
		}
		cm, err := mc.Compile(c)
		if err != nil {
			return nil, fmt.Errorf("match[%d] %s: %w", j, m.Kind(), err)
		}
		t := cm.Traits()
		r.headerOnly = r.headerOnly && t.Header
		// A matcher narrows the protocols a rule can apply to.
		if t.Protocols != 0 {
			r.protos &= t.Protocols
		}
		if t.Layer > LayerIP {
			r.layer = t.Layer
		}
		r.stateful = r.stateful || t.CountsPackets
		r.perPacket = r.perPacket || t.PerPacket
		r.serverSide = r.serverSide || t.ServerPackets
		r.matchers = append(r.matchers, cm)
	}
	for j, a := range pr.Actions {
		ac, ok := a.(ActionConfig)
		if !ok {
			return nil, fmt.Errorf("actions[%d]: %w", j, compileErr(a.Kind()))
		}
		ca, err := ac.Compile(c)
		if err != nil {
			return nil, fmt.Errorf("actions[%d] %s: %w", j, a.Kind(), err)
		}
		r.actions = append(r.actions, ca)
		r.kinds = append(r.kinds, kindOf(a))
	}
	return r, nil
}

// inScope checks the flow-level scope: direction, ports, addresses.
func (r *rule) inScope(f *flow) bool {
	if !r.dirs[f.dir] {
		return false
	}
	if len(r.ports) > 0 {
		ok := false
		for _, pr := range r.ports {
			if pr.Contains(f.server.Port()) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	if r.srcGT && f.client.Port() <= f.server.Port() {
		return false
	}
	if !r.dsts.empty() {
		if _, ok := r.dsts.match(f.server.Addr()); !ok {
			return false
		}
	}
	if !r.srcs.empty() {
		if _, ok := r.srcs.match(f.client.Addr()); !ok {
			return false
		}
	}
	return true
}

// active reports whether the rule's time window holds at now.
func (r *rule) active(now time.Time) bool {
	return r.always || r.window.Contains(now)
}

// maxBytes is how much of the client's stream the rule reassembles.
func (r *rule) maxBytes() int {
	if r.insp.MaxBytes > 0 {
		return r.insp.MaxBytes
	}
	return 16 << 10
}

// selectionDone reports whether the rule has inspected all the packets its
// Inspect selects.
func (r *rule) selectionDone(pkts int) bool {
	switch r.insp.Packets {
	case policy.First, policy.FirstRequest:
		return pkts >= 1
	case policy.FirstN:
		return pkts >= max(r.insp.N, 1)
	}
	return false
}
