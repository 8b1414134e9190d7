package border

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/splinter-lab/splinter/clock"
	"github.com/splinter-lab/splinter/packet"
)

// The active prober (an active-probe action's machinery): for each server
// under suspicion it schedules probes on the engine's clock, opens each
// probe as a TCP connection from a prober address on the engine's
// middlebox stack (the stack a transparent proxy runs on, proxy.go), sends
// the probe's payload and waits for the server's reaction. The replies to
// those connections reach the border like any inbound packet; Process
// hands them to the middlebox before any rule or block sees them. When a
// server's last probe has reacted, classify judges it and may block it.
//
// The prober's state (the servers under suspicion, the connections in
// flight, the timers) is engine state, bounded by the action's
// MaxSuspects; rules stay immutable.

// proberState is the engine's active prober. Its zero value is usable.
type proberState struct {
	n     atomic.Int64 // probe connections whose packets are diverted
	conns sync.Map     // flowKey -> struct{}

	mu       sync.Mutex
	suspects map[netip.AddrPort]*suspect
	ctx      context.Context
	stop     context.CancelFunc
	closed   bool
}

// active reports whether any probe connection is registered.
func (ps *proberState) active() bool { return ps.n.Load() > 0 }

// owns reports whether p belongs to a probe connection.
func (ps *proberState) owns(p *packet.IP) bool {
	if p.Proto != packet.TCP {
		return false
	}
	_, ok := ps.conns.Load(keyOf(p))
	return ok
}

// close stops every scheduled probe and ends those in flight.
func (ps *proberState) close() {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	ps.closed = true
	for _, s := range ps.suspects {
		for _, t := range s.timers {
			t.Stop()
		}
	}
	if ps.stop != nil {
		ps.stop()
	}
}

// reaction is how a server answered a probe.
type reaction string

// Reactions (IMC 2020 §5.2: "TIMEOUT", "RST", "FIN/ACK", and data).
const (
	reactData    reaction = "data"
	reactRST     reaction = "rst"
	reactFIN     reaction = "fin"
	reactTimeout reaction = "timeout"
	reactNone    reaction = "no-connection" // the handshake failed
)

// probeResult is one probe and the server's reaction to it.
type probeResult struct {
	typ   ProbeType
	sent  int // bytes of the probe's payload
	react reaction
	got   int           // bytes of the reply, for data
	after time.Duration // from the probe's sending to the reaction
}

// suspect is a server under probing.
type suspect struct {
	cfg     *ActiveProbeAction
	r       *rule
	trigger FlowInfo
	payload []byte // the triggering flow's first data packet
	ev      []Evidence
	inject  func([]byte)

	// guarded by proberState.mu
	pending int
	opened  map[ProbeAfter]bool
	results []probeResult
	timers  []clock.Timer
}

// Evidence kinds of the prober's decisions.
const (
	EvidenceProbe    EvidenceKind = "probe"    // a probe: its type and length
	EvidenceReaction EvidenceKind = "reaction" // the server's reaction to it
	EvidenceVerdict  EvidenceKind = "verdict"  // why a server was judged a proxy, or not
)

// suspect puts the server of flow fi under probing, unless it already is,
// is blocked, or the prober is full.
func (e *Engine) suspect(cfg *ActiveProbeAction, r *rule, fi FlowInfo, payload []byte, ev []Evidence, inject func([]byte)) {
	ps := &e.probes
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if ps.closed {
		return
	}
	if ps.suspects == nil {
		ps.suspects = make(map[netip.AddrPort]*suspect)
		ps.ctx, ps.stop = context.WithCancel(context.Background())
	}
	if ps.suspects[fi.Server] != nil || len(ps.suspects) >= cfg.MaxSuspects {
		return
	}
	if e.blocks.find(probeBlockKey(cfg, fi.Server), e.clock.Now()) != nil {
		return // already blocked
	}
	s := &suspect{cfg: cfg, r: r, trigger: fi, payload: append([]byte(nil), payload...),
		ev: append([]Evidence(nil), ev...), inject: inject, opened: map[ProbeAfter]bool{AfterTrigger: true}}
	ps.suspects[fi.Server] = s
	n := e.schedule(s, AfterTrigger)
	e.recordProbe(s, fi.Client, EffectNone, LayerNone, s.ev, fmt.Sprintf("suspected proxy: %d probes scheduled", n))
}

// schedule arms the timers of the probes of stage (proberState.mu held)
// and returns how many.
func (e *Engine) schedule(s *suspect, stage ProbeAfter) int {
	n := 0
	for _, spec := range s.cfg.Probes {
		after := spec.After
		if after == "" {
			after = AfterTrigger
		}
		if after != stage {
			continue
		}
		for i := 0; i < spec.Count; i++ {
			typ, idx := spec.Type, i
			d := SampleDelay(s.cfg.Delay, e.float())
			s.pending++
			n++
			s.timers = append(s.timers, e.clock.AfterFunc(d, func() { go e.runProbe(s, typ, idx) }))
		}
	}
	return n
}

// lingerProbe is how long a finished probe connection's packets are still
// diverted (its FIN exchange, late retransmissions).
const lingerProbe = 30 * time.Second

// runProbe sends one probe and waits for the server's reaction.
func (e *Engine) runProbe(s *suspect, typ ProbeType, idx int) {
	ps := &e.probes
	ps.mu.Lock()
	ctx, closed := ps.ctx, ps.closed
	ps.mu.Unlock()
	if closed {
		return
	}
	payload := e.probePayload(s, typ, idx)
	res := probeResult{typ: typ, sent: len(payload), react: reactNone}
	src, ok := e.proberAddr(s)
	if !ok {
		e.probeDone(s, res, netip.AddrPort{}, "no prober address of the server's family")
		return
	}
	dst := s.trigger.Server
	k := keyOf(&packet.IP{Src: src.Addr(), SrcPort: src.Port(), Dst: dst.Addr(), DstPort: dst.Port(), Proto: packet.TCP})
	ps.conns.Store(k, struct{}{})
	ps.n.Add(1)
	defer e.clock.AfterFunc(lingerProbe, func() {
		ps.conns.Delete(k)
		ps.n.Add(-1)
	})
	mb, err := e.middlebox(s.inject)
	if err != nil {
		e.probeDone(s, res, src, "no middlebox: "+err.Error())
		return
	}
	start := e.clock.Now()
	dctx, cancel := clock.WithTimeout(ctx, e.clock, s.cfg.Timeout)
	conn, err := mb.DialFrom(dctx, src, dst)
	cancel()
	if err != nil {
		res.after = e.clock.Now().Sub(start)
		if dctx.Err() != nil && ctx.Err() == nil {
			res.react = reactTimeout
		}
		e.probeDone(s, res, src, "handshake failed")
		return
	}
	defer conn.Close()
	start = e.clock.Now()
	var timedOut atomic.Bool
	t := e.clock.AfterFunc(s.cfg.Timeout, func() {
		timedOut.Store(true)
		conn.SetReadDeadline(time.Unix(1, 0))
	})
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	if _, err := conn.Write(payload); err != nil {
		res.react = classifyErr(err, timedOut.Load())
	} else {
		buf := make([]byte, 4096)
		n, err := conn.Read(buf)
		switch {
		case n > 0:
			res.react, res.got = reactData, n
		default:
			res.react = classifyErr(err, timedOut.Load())
		}
	}
	t.Stop()
	stop()
	res.after = e.clock.Now().Sub(start)
	if ctx.Err() != nil {
		return // the engine closed
	}
	e.probeDone(s, res, src, "")
}

// classifyErr names the reaction a read or write error shows.
func classifyErr(err error, timedOut bool) reaction {
	var ne net.Error
	switch {
	case timedOut || errors.As(err, &ne) && ne.Timeout():
		return reactTimeout
	case errors.Is(err, io.EOF):
		return reactFIN
	case errors.Is(err, syscall.ECONNRESET), err != nil && strings.Contains(err.Error(), "reset"):
		return reactRST
	}
	return reactRST
}

// probeDone records a probe's reaction, opens the stages it releases, and
// judges the server once its last probe has reacted.
func (e *Engine) probeDone(s *suspect, res probeResult, src netip.AddrPort, note string) {
	detail := fmt.Sprintf("probe %s, %d bytes: %s", res.typ, res.sent, res.react)
	if res.react == reactData {
		detail += fmt.Sprintf(" (%d bytes)", res.got)
	}
	if res.react != reactNone || res.after > 0 {
		detail += " after " + res.after.Round(time.Millisecond).String()
	}
	if note != "" {
		detail += ": " + note
	}
	ev := []Evidence{{EvidenceProbe, string(res.typ) + " " + strconv.Itoa(res.sent) + " bytes"}, {EvidenceReaction, string(res.react)}}
	e.recordProbe(s, src, EffectNone, LayerNone, ev, detail)

	ps := &e.probes
	ps.mu.Lock()
	defer ps.mu.Unlock()
	s.results = append(s.results, res)
	s.pending--
	if ps.closed {
		return
	}
	if res.react == reactData && (res.typ == ProbeR1 || res.typ == ProbeR2) && !s.opened[AfterData] {
		s.opened[AfterData] = true
		e.schedule(s, AfterData)
	}
	if (res.react == reactRST || res.react == reactFIN) && !s.opened[AfterClose] {
		s.opened[AfterClose] = true
		e.schedule(s, AfterClose)
	}
	if s.pending == 0 {
		e.classify(s)
		delete(ps.suspects, s.trigger.Server)
	}
}

// judge says whether reactions fit a proxy, and why. A proxy that cannot
// authenticate what it is sent either answers an identical replay (it has
// no replay filter) but nothing random, or waits for more bytes than a
// short probe carries and closes at once when a probe reaches the length
// at which it can try to authenticate: the thresholds of IMC 2020 Figure
// 10. A web server closes every probe at once; a sink waits on all.
func judge(cfg *ActiveProbeAction, results []probeResult) (bool, string) {
	replayData, randomData := false, false
	maxWait, minClose, waits, closes := -1, math.MaxInt, 0, 0
	for _, r := range results {
		switch r.react {
		case reactData:
			if r.typ == ProbeR1 {
				replayData = true
			} else {
				randomData = true
			}
		case reactTimeout:
			waits++
			maxWait = max(maxWait, r.sent)
		case reactRST, reactFIN:
			closes++
			minClose = min(minClose, r.sent)
		}
	}
	switch {
	case cfg.ReplayData && replayData && !randomData:
		return true, "answers identical replays with data and no other probe"
	case randomData:
		return false, "answers random probes with data"
	case waits == 0 && closes == 0:
		return false, "no probe reached the server"
	case waits == 0:
		return false, fmt.Sprintf("closes every probe at once (the shortest of %d bytes)", minClose)
	case closes == 0:
		return false, fmt.Sprintf("waits on every probe (the longest of %d bytes)", maxWait)
	case maxWait >= minClose:
		return false, fmt.Sprintf("waits on a %d-byte probe but closes a %d-byte one: no threshold", maxWait, minClose)
	}
	var fits []string
	for _, t := range cfg.CloseThresholds {
		if maxWait < t && t <= minClose {
			fits = append(fits, strconv.Itoa(t))
		}
	}
	if len(fits) > 0 {
		return true, fmt.Sprintf("waits on probes of up to %d bytes and closes at once from %d: a proxy's threshold (%s bytes)", maxWait, minClose, strings.Join(fits, ", "))
	}
	return false, fmt.Sprintf("waits on probes of up to %d bytes and closes from %d: no proxy's threshold", maxWait, minClose)
}

// probeBlockKey is the key of the block an action installs for server.
func probeBlockKey(cfg *ActiveProbeAction, server netip.AddrPort) blockKey {
	if cfg.Block.Key == BlockServerIP {
		return blockKey{kind: keyDstIP, server: netip.AddrPortFrom(server.Addr(), 0)}
	}
	return blockKey{kind: keyServer, proto: packet.TCP, server: server}
}

// classify judges a server whose probes have all reacted, and blocks it if
// it fits a proxy (proberState.mu held).
func (e *Engine) classify(s *suspect) {
	ok, why := judge(s.cfg, s.results)
	ev := append(append([]Evidence(nil), s.ev...), Evidence{EvidenceVerdict, why})
	if !ok {
		e.recordProbe(s, s.trigger.Client, EffectNone, LayerNone, ev, "not a proxy: "+why)
		return
	}
	if p := s.cfg.Block.Probability; p != nil && *p < 1 && e.float() >= *p {
		e.recordProbe(s, s.trigger.Client, EffectNone, LayerNone, ev, "judged a proxy, left unblocked: "+why)
		return
	}
	now := e.clock.Now()
	b := &block{rule: s.r, action: ActionActiveProbe, start: now, until: now.Add(s.cfg.Block.Duration), dur: s.cfg.Block.Duration,
		enforce: EnforceDrop, s2c: true, hit: 1, ev: ev, rst: &RSTAction{}}
	e.blocks.add(probeBlockKey(s.cfg, s.trigger.Server), b)
	key := "port"
	if s.cfg.Block.Key == BlockServerIP {
		key = "address"
	}
	e.recordProbe(s, s.trigger.Client, EffectBlock, s.r.layer, ev,
		fmt.Sprintf("judged a proxy (%s): server-to-client traffic of the server's %s dropped for %v", why, key, s.cfg.Block.Duration))
}

// recordProbe logs a decision of the prober about suspect s: it carries
// the triggering flow's id.
func (e *Engine) recordProbe(s *suspect, client netip.AddrPort, eff Effect, layer Layer, ev []Evidence, detail string) {
	if e.cfg.Log == nil {
		return
	}
	e.cfg.Log.Record(Decision{
		Time: e.clock.Now(), Border: e.cfg.Border, Jurisdiction: e.cfg.Jurisdiction, Policy: e.pol.Name,
		Rule: s.r.id, FlowID: s.trigger.ID, Action: ActionActiveProbe, Effect: eff, Layer: layer,
		Proto: "tcp", Client: client, Server: s.trigger.Server, Direction: s.trigger.Direction.String(),
		Evidence: append([]Evidence(nil), ev...), Detail: detail,
	})
}

// probePayload builds a probe of typ from the suspect's first packet or
// from the engine's randomness; idx numbers probes of one type.
func (e *Engine) probePayload(s *suspect, typ ProbeType, idx int) []byte {
	p := append([]byte(nil), s.payload...)
	change := func(i int) {
		if i < len(p) {
			old := p[i]
			for p[i] == old {
				p[i] = byte(e.uint32n(256))
			}
		}
	}
	switch typ {
	case ProbeR2:
		change(0)
	case ProbeR3:
		for i := 0; i < 8; i++ {
			change(i)
		}
		change(62)
		change(63)
	case ProbeR4:
		change(16)
	case ProbeR5:
		change(6)
		change(16)
	case ProbeNR1:
		c := nr1Centers[idx%len(nr1Centers)]
		p = e.random(c - 1 + int(e.uint32n(3)))
	case ProbeNR2:
		p = e.random(221)
	}
	return p
}

func (e *Engine) random(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(e.uint32n(256))
	}
	return b
}

// proberAddr picks a prober address of the server's family and a source
// port, not one of a probe in flight.
func (e *Engine) proberAddr(s *suspect) (netip.AddrPort, bool) {
	v4 := s.trigger.Server.Addr().Unmap().Is4()
	var cands []netip.Prefix
	for _, p := range s.cfg.From {
		if p.Addr().Unmap().Is4() == v4 {
			cands = append(cands, p.Masked())
		}
	}
	if len(cands) == 0 {
		return netip.AddrPort{}, false
	}
	pr := s.cfg.SourcePorts
	for try := 0; try < 16; try++ {
		p := cands[e.uint32n(uint32(len(cands)))]
		a := e.addrIn(p)
		port := pr.Lo + uint16(e.uint32n(uint32(pr.Hi-pr.Lo)+1))
		ap := netip.AddrPortFrom(a, port)
		k := keyOf(&packet.IP{Src: a, SrcPort: port, Dst: s.trigger.Server.Addr(), DstPort: s.trigger.Server.Port(), Proto: packet.TCP})
		if _, busy := e.probes.conns.Load(k); !busy {
			return ap, true
		}
	}
	return netip.AddrPort{}, false
}

// addrIn draws an address of p, avoiding its first and last address when
// p holds more than two.
func (e *Engine) addrIn(p netip.Prefix) netip.Addr {
	base := p.Addr().Unmap().AsSlice()
	hostBits := len(base)*8 - p.Bits()
	for try := 0; ; try++ {
		b := append([]byte(nil), base...)
		allOnes, allZeros := true, true
		for i := p.Bits(); i < len(b)*8; i++ {
			if e.uint32n(2) == 1 {
				b[i/8] |= 0x80 >> (i % 8)
				allZeros = false
			} else {
				allOnes = false
			}
		}
		if hostBits < 2 || !allOnes && !allZeros || try > 8 {
			a, _ := netip.AddrFromSlice(b)
			return a
		}
	}
}
