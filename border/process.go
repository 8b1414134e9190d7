package border

import (
	"net/netip"
	"time"

	"github.com/splinter-lab/splinter/packet"
)

// trackTCP follows the connection's handshake, sequence numbers and the
// teardown quirk: a client RST after the handshake tears the censor's state
// down (Geneva, CCS 2019), so nothing more of the flow is inspected.
func (e *Engine) trackTCP(f *flow, fromClient bool, p *packet.IP) {
	syn, ack, rst := p.Flags&packet.SYN != 0, p.Flags&packet.ACK != 0, p.Flags&packet.RST != 0
	if f.resync && fromClient && !rst {
		// The packet after the event sets the sequence numbers.
		f.resync, f.resyncing = false, true
		f.cliNext = p.Seq + uint32(len(p.Payload))
	}
	if fromClient {
		if syn && !ack {
			f.sawSYN = true
			f.isn = p.Seq
			f.cliNext, f.cliValid = p.Seq+1, true
		}
		if rst && f.established {
			m := &e.pol.TCP
			switch x := e.float(); {
			case x < m.Teardown():
				f.torn = true
			case x < m.Teardown()+m.ResyncOnClientRST:
				f.resync = true
			}
		}
		if p.Flags&packet.FIN != 0 && len(p.Payload) > 0 && e.pol.TCP.ResyncOnFINPayload {
			f.resync = true
		}
		if ack && !rst {
			f.srvNext, f.srvValid = p.Ack, true
		}
		if !syn && !rst && f.cliValid && len(p.Payload) > 0 && seqAfter(p.Seq+uint32(len(p.Payload)), f.cliNext) && !seqAfter(p.Seq, f.cliNext) {
			f.cliNext = p.Seq + uint32(len(p.Payload))
		} else if !f.cliValid && !syn {
			f.cliNext, f.cliValid = p.Seq+uint32(len(p.Payload)), true
		}
		if f.sawSYN && ack && !syn {
			f.established = true
		}
	} else {
		if rst && e.pol.TCP.ResyncOnServerRST {
			f.resync = true
		}
		if syn && ack {
			f.srvNext, f.srvValid = p.Seq+1, true
		} else if len(p.Payload) > 0 {
			if end := p.Seq + uint32(len(p.Payload)); !f.srvValid || seqAfter(end, f.srvNext) {
				f.srvNext, f.srvValid = end, true
			}
		}
	}
}

// seqAfter reports a > b in sequence space.
func seqAfter(a, b uint32) bool { return int32(a-b) > 0 }

// appendStream adds the client's payload to the flow's reassembled stream if
// it is the next in-order data; it reports whether the stream is usable.
func (e *Engine) appendStream(f *flow, p *packet.IP, capBytes int) bool {
	if f.streamOff {
		return false
	}
	if f.streamCap == 0 {
		f.streamCap = capBytes
	}
	if len(p.Payload) == 0 {
		return true
	}
	// In order only: a retransmission or a segment after a hole adds
	// nothing.
	if f.resyncing {
		// Resynchronised: this packet's sequence number is where the
		// stream now continues, whatever came before.
		f.resyncing = false
		f.streamNext, f.streamInit = p.Seq, true
		f.stream = f.stream[:0]
	}
	if !f.streamInit {
		f.streamNext, f.streamInit = p.Seq, true
		if f.sawSYN {
			f.streamNext = f.isn + 1
		}
	}
	if p.Seq != f.streamNext {
		return len(f.stream) > 0
	}
	if !e.flows.grow(f, len(p.Payload)) {
		f.streamOff = true
		return len(f.stream) > 0
	}
	f.stream = append(f.stream, p.Payload...)
	f.streamNext += uint32(len(p.Payload))
	return true
}

func (e *Engine) onFlow(f *flow, fromClient bool, p *packet.IP, pkt []byte, dir packet.Direction, now time.Time, inject func([]byte), rules []*rule) packet.Verdict {
	if f.proxied {
		return e.divert(pkt, inject)
	}
	if len(e.proxies) > 0 && p.Proto == packet.TCP && fromClient && p.Flags&(packet.SYN|packet.ACK) == packet.SYN {
		for _, r := range e.proxies {
			if r.inScope(f) && r.active(now) && (r.prob >= 1 || e.float() < r.prob) {
				f.proxied = true
				e.proxy.flows.Store(f.key, proxied{r: r, dir: f.dir, id: f.id})
				return e.divert(pkt, inject)
			}
		}
	}
	if p.Proto == packet.TCP {
		e.trackTCP(f, fromClient, p)
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
	if !fromClient || f.torn || len(rules) == 0 {
		return withDelay(verdict, f.delay)
	}
	streamed := false
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
		if !r.headerOnly && len(p.Payload) == 0 {
			continue
		}
		if r.insp.Only20ByteTCPHeader && p.Proto == packet.TCP && p.TCPHdrLen != 20 {
			continue
		}
		if r.insp.VerifyChecksums && !packet.VerifyTransport(p) {
			continue
		}
		st.pkts++
		data := p.Payload
		if r.insp.ReassembleTCP && p.Proto == packet.TCP {
			if !streamed {
				streamed = true
				if !e.appendStream(f, p, r.maxBytes()) {
					f.streamOff = true
				}
			}
			if len(f.stream) > 0 {
				data = f.stream
			}
		}
		if sc == nil {
			sc = scratchPool.Get().(*scratch)
		}
		res := e.inspect(sc, r, f, st, p, data)
		switch res {
		case NoMatch:
			// Header matchers see the same addresses and ports on every
			// packet of a flow: one miss is final for it.
			if r.stateful || r.headerOnly {
				st.done = true
			}
		case NeedMore:
			if r.selectionDone(st.pkts) || (r.insp.ReassembleTCP && len(data) >= r.maxBytes()) {
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
			v := e.act(sc, r, f, p, now, inject, allEffects)
			verdict.Drop = verdict.Drop || v.Drop
			verdict.Delay = max(verdict.Delay, v.Delay)
		}
		if r.selectionDone(st.pkts) {
			st.done = true
		}
	}
	if f.stream != nil && e.allStreamRulesDone(f) {
		e.flows.release(f)
	}
	return withDelay(verdict, f.delay)
}

func withDelay(v packet.Verdict, d time.Duration) packet.Verdict {
	if d > v.Delay {
		v.Delay = d
	}
	return v
}

// allStreamRulesDone reports whether every reassembling rule is done with f,
// so its stream can be freed.
func (e *Engine) allStreamRulesDone(f *flow) bool {
	for _, r := range e.rules {
		if r.insp.ReassembleTCP && !f.rs[r.idx].done {
			return false
		}
	}
	return true
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

func flowlessEffects(e Effect) bool { return e == EffectDrop || e == EffectDelay }

// act runs r's actions on the packet that made it fire, with the evidence
// inspect left in sc.
func (e *Engine) act(sc *scratch, r *rule, f *flow, p *packet.IP, now time.Time, inject func([]byte), runs func(Effect) bool) packet.Verdict {
	var verdict packet.Verdict
	a := &sc.act
	for i, ac := range r.actions {
		eff := ac.Effect()
		if !runs(eff) {
			continue
		}
		*a = Act{e: e, r: r, f: f, p: p, fromClient: true, now: now, inject: inject, ev: sc.in.ev, kind: r.kinds[i], effect: eff}
		if p.Proto == packet.UDP {
			a.dns = &sc.dns
		}
		v := ac.Apply(a)
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
		v := e.act(sc, r, f, p, now, inject, flowlessEffects)
		verdict.Drop = verdict.Drop || v.Drop
		verdict.Delay = max(verdict.Delay, v.Delay)
	}
	return verdict
}
