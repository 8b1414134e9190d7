package border

import (
	"net/netip"
	"time"

	"github.com/splinter-lab/splinter/packet"
	"github.com/splinter-lab/splinter/policy"
)

// trackFlow follows the connection as the engine itself sees it: the
// roles (the SYN's sender is the client), the handshake and the next
// sequence number each side sends, which injected packets use. What the
// censor's boxes make of the packet is each box's TCB (tcb.go). It returns
// whether p comes from the client, which a SYN may have changed.
func (e *Engine) trackFlow(f *flow, fromClient bool, p *packet.IP) bool {
	syn, ack, rst := p.Flags&packet.SYN != 0, p.Flags&packet.ACK != 0, p.Flags&packet.RST != 0
	if syn && !ack && !rst && !fromClient && !f.sawSYN {
		// The flow began with a SYN+ACK from the end that now sends a SYN:
		// that end is the client.
		e.swapRoles(f)
		fromClient = true
	}
	if fromClient {
		if syn && !ack {
			f.sawSYN = true
			f.cliNext, f.cliValid = p.Seq+1, true
		}
		if ack && !rst {
			f.srvNext, f.srvValid = p.Ack, true
		}
		if !syn && !rst && f.cliValid && len(p.Payload) > 0 && seqAfter(p.Seq+uint32(len(p.Payload)), f.cliNext) && !seqAfter(p.Seq, f.cliNext) {
			f.cliNext = p.Seq + uint32(len(p.Payload))
		} else if !f.cliValid && !syn {
			f.cliNext, f.cliValid = p.Seq+uint32(len(p.Payload)), true
		}
		if f.sawSYN && ack && !syn && !rst {
			f.established = true
		}
	} else {
		if syn && ack {
			f.srvNext, f.srvValid = p.Seq+1, true
		} else if len(p.Payload) > 0 {
			if end := p.Seq + uint32(len(p.Payload)); !f.srvValid || seqAfter(end, f.srvNext) {
				f.srvNext, f.srvValid = end, true
			}
		}
	}
	return fromClient
}

// seqAfter reports a > b in sequence space.
func seqAfter(a, b uint32) bool { return int32(a-b) > 0 }

func (e *Engine) onFlow(f *flow, fromClient bool, p *packet.IP, pkt []byte, dir packet.Direction, now time.Time, inject func([]byte), rules []*rule) packet.Verdict {
	if f.proxied {
		return e.divert(pkt, inject)
	}
	if len(e.proxies) > 0 && p.Proto == packet.TCP && fromClient && p.Flags&(packet.SYN|packet.ACK) == packet.SYN {
		for _, r := range e.proxies {
			if r.inScope(f) && r.active(now) && (r.prob >= 1 || e.float() < r.prob) {
				f.proxied = true
				e.proxy.flows.Store(f.key, proxied{r: r, dir: f.dir})
				return e.divert(pkt, inject)
			}
		}
	}
	if p.Proto == packet.TCP {
		fromClient = e.trackFlow(f, fromClient, p)
		e.trackTCBs(f, fromClient, p)
	}
	// Flow-level enforcement first.
	if fromClient && f.dropC2S || !fromClient && f.dropS2C {
		return packet.Verdict{Drop: true}
	}
	side := 0
	if !fromClient {
		side = 1
	}
	var wait time.Duration
	if b := f.throttle[side]; b != nil {
		if b.idle > 0 && now.Sub(b.last) > b.idle {
			f.throttle[side] = nil
		} else {
			var ok bool
			if wait, ok = b.admit(len(pkt), now); !ok {
				if d := b.dropped; d != nil {
					b.dropped = nil
					d()
				}
				return packet.Verdict{Drop: true}
			}
		}
	}
	// A reset armed to follow the client's next record fires first: it
	// belongs to the flow that armed it (the GFW's MB-R box).
	if fromClient && len(p.Payload) > 0 && len(f.pending) > 0 {
		pend := f.pending
		f.pending = nil
		for _, pr := range pend {
			pr.act.fire(e, pr.r, f, p, pr.ev, inject)
		}
	}
	if e.blocks.active() {
		if v, hit := e.blocks.enforce(e, f, fromClient, p, pkt, now, inject); hit {
			return v
		}
	}
	verdict := packet.Verdict{Delay: wait}
	if len(rules) == 0 || !fromClient && !e.serverSide && (p.Proto != packet.TCP || !anyReversed(f)) {
		return withDelay(verdict, f.delay)
	}
	var sc *scratch
	defer func() {
		if sc != nil {
			scratchPool.Put(sc)
		}
	}()
	for _, r := range rules {
		st := f.state(r.idx, len(e.rules))
		if st.done {
			continue
		}
		// The rule's box decides whether it looks at the packet, as whose,
		// and which of its bytes are the client's data (tcb.go).
		look, payload := e.tcbView(r, f, fromClient, p)
		if !look && !fromClient && r.serverSide {
			// A matcher that judges the server's packets sees them as they
			// are (a SYN+ACK), whatever the rule's box makes of them.
			look, payload = true, p.Payload
		}
		if !look {
			continue
		}
		if !st.scoped {
			if !r.inScope(f) || r.insp.RequireSYN && !f.sawSYN {
				st.done = true
				continue
			}
			st.scoped = true
		}
		if !r.active(now) {
			continue
		}
		if !r.headerOnly && len(payload) == 0 {
			continue
		}
		if r.insp.Only20ByteTCPHeader && p.Proto == packet.TCP && p.TCPHdrLen != 20 {
			continue
		}
		if r.insp.VerifyChecksums && !packet.VerifyTransport(p) {
			continue
		}
		data := payload
		if r.insp.ReassembleTCP && p.Proto == packet.TCP {
			if s, ok := e.streamData(r, f); ok {
				if data = s; len(data) == 0 {
					continue // nothing in order yet
				}
			}
		}
		switch r.insp.Packets {
		case policy.FirstRequest:
			if !r.opensRequest(data) {
				continue // skipped, not counted
			}
		case policy.WhileRequest:
			if !r.opensRequest(data) {
				st.done = true // the box gives up on the flow
				continue
			}
		}
		st.pkts++
		if sc == nil {
			sc = scratchPool.Get().(*scratch)
		}
		res := e.inspect(sc, r, f, st, p, data)
		switch res {
		case NoMatch:
			// Header matchers see the same addresses and ports on every
			// packet of a flow: one miss is final for it.
			if r.stateful || r.headerOnly && !r.perPacket {
				st.done = true
			}
		case NeedMore:
			if r.selectionDone(st.pkts) || (r.insp.ReassembleTCP && p.Proto == packet.TCP && (len(data) >= r.maxBytes() || streamStopped(r, f))) {
				st.done = true
			}
		case Match:
			if r.stateful {
				st.done = true
			}
			if st.selected == 0 {
				st.selected = -1
				if r.prob >= 1 || e.float() < r.prob {
					st.selected = 1
				}
			}
			if st.selected < 0 {
				st.done = true
				continue
			}
			if !r.stateful {
				// Stateless rules roll again for the next packet.
				st.selected = 0
			}
			v := e.act(sc, r, f, p, fromClient, now, inject, allEffects)
			verdict.Drop = verdict.Drop || v.Drop
			verdict.Delay = max(verdict.Delay, v.Delay)
		}
		if r.selectionDone(st.pkts) {
			st.done = true
		}
	}
	if p.Proto == packet.TCP {
		e.releaseStreams(f)
	}
	return withDelay(verdict, f.delay)
}

func withDelay(v packet.Verdict, d time.Duration) packet.Verdict {
	if d > v.Delay {
		v.Delay = d
	}
	return v
}

// inspect runs r's matchers on what the rule inspects of p (data); the
// evidence they record stays in sc.in for act.
func (e *Engine) inspect(sc *scratch, r *rule, f *flow, st *ruleState, p *packet.IP, data []byte) Result {
	in := &sc.in
	*in = Inspection{e: e, r: r, f: f, st: st, p: p, data: data, client: f.client, server: f.server, ev: in.ev[:0], sc: sc}
	res := Match
	for _, m := range r.matchers {
		if res = m.Match(in); res != Match {
			break
		}
	}
	return res
}

// allEffects lets act run every action; flowless packets run only those
// whose effect needs no flow state.
func allEffects(Effect) bool { return true }

func flowlessEffects(e Effect) bool { return e == EffectDrop || e == EffectDelay || e == EffectBlock }

// act runs r's actions on the packet that made it fire, with the evidence
// inspect left in sc.
func (e *Engine) act(sc *scratch, r *rule, f *flow, p *packet.IP, fromClient bool, now time.Time, inject func([]byte), runs func(Effect) bool) packet.Verdict {
	var verdict packet.Verdict
	a := &sc.act
	for i, ac := range r.actions {
		eff := ac.Effect()
		if !runs(eff) {
			continue
		}
		*a = Act{e: e, r: r, f: f, p: p, fromClient: fromClient, now: now, inject: inject, ev: sc.in.ev, kind: r.kinds[i], effect: eff}
		if p.Proto == packet.UDP {
			a.dns = &sc.dns
		}
		sc.held = sc.held[:0]
		a.held = &sc.held
		v := ac.Apply(a)
		// The action's decisions are logged once its verdict is known:
		// a DNS query it discarded is named in them.
		for i := range sc.held {
			if v.Drop {
				sc.held[i].Evidence = withDroppedQuery(sc.held[i].Evidence, f, p, fromClient)
			}
			e.cfg.Log.Record(sc.held[i])
			sc.held[i] = Decision{}
		}
		sc.held = sc.held[:0]
		verdict.Drop = verdict.Drop || v.Drop
		verdict.Delay = max(verdict.Delay, v.Delay)
	}
	*a = Act{}
	return verdict
}

// stateless handles packets that have no flow (ICMP, fragments): only
// header rules apply, with the sender as the client.
func (e *Engine) stateless(p *packet.IP, dir packet.Direction, now time.Time, inject func([]byte), rules []*rule) packet.Verdict {
	var verdict packet.Verdict
	var sc *scratch
	var f *flow
	for _, r := range rules {
		if !r.headerOnly {
			continue
		}
		if f == nil {
			f = &flow{proto: p.Proto, client: netip.AddrPortFrom(p.Src, p.SrcPort), server: netip.AddrPortFrom(p.Dst, p.DstPort), dir: dir}
		}
		if !r.inScope(f) || !r.active(now) {
			continue
		}
		if sc == nil {
			sc = scratchPool.Get().(*scratch)
			defer scratchPool.Put(sc)
		}
		if e.inspect(sc, r, f, nil, p, p.Payload) != Match || r.prob < 1 && e.float() >= r.prob {
			continue
		}
		v := e.act(sc, r, f, p, true, now, inject, flowlessEffects)
		verdict.Drop = verdict.Drop || v.Drop
		verdict.Delay = max(verdict.Delay, v.Delay)
	}
	return verdict
}
