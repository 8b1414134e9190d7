package border

import (
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/splinter-lab/splinter/packet"
	"github.com/splinter-lab/splinter/policy"
)

// Key kinds of a block.
const (
	keyDstIP  = 2
	key3      = 3
	key4      = 4
	keySrcIP  = 5 // the client's address, whatever the server
	keyServer = 6 // the server's address and port, whatever the client
)

// blockKey identifies what a residual block or null route covers.
type blockKey struct {
	kind   uint8
	proto  uint8
	client netip.AddrPort // port zero unless kind is key4; invalid for keyDstIP and keyServer
	server netip.AddrPort // port zero for keyDstIP; invalid for keySrcIP
}

// block is an active residual block or null route: engine state, not rule
// state.
type block struct {
	rule     *rule
	action   ActionKind // ActionResidual or ActionNullRoute
	start    time.Time
	until    time.Time
	dur      time.Duration
	restart  bool
	enforce  Enforce
	c2s, s2c bool
	hit      float64
	origin   *flow      // the flow that triggered the block: not logged again
	rst      *RSTAction // the shape of enforcement resets
	ev       []Evidence // what triggered it
}

type blockTable struct {
	mu sync.Mutex
	m  map[blockKey]*block
	n  atomic.Int64
}

func newBlockTable() *blockTable { return &blockTable{m: make(map[blockKey]*block)} }

func (t *blockTable) active() bool { return t.n.Load() > 0 }

func (t *blockTable) add(k blockKey, b *block) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if old := t.m[k]; old != nil && !old.restart && old.until.After(b.start) {
		return // a repeat does not restart a running timer
	}
	if _, ok := t.m[k]; !ok {
		t.n.Add(1)
	}
	t.m[k] = b
}

// find returns the active block for k at now, removing an expired one.
func (t *blockTable) find(k blockKey, now time.Time) *block {
	t.mu.Lock()
	defer t.mu.Unlock()
	b := t.m[k]
	if b == nil {
		return nil
	}
	if !now.Before(b.until) {
		delete(t.m, k)
		t.n.Add(-1)
		return nil
	}
	if now.Before(b.start) {
		return nil
	}
	if b.restart {
		b.until = now.Add(b.dur)
	}
	return b
}

func flowKeys(proto uint8, client, server netip.AddrPort) [5]blockKey {
	return [5]blockKey{
		{kind: key4, proto: proto, client: client, server: server},
		{kind: key3, proto: proto, client: netip.AddrPortFrom(client.Addr(), 0), server: server},
		{kind: keyDstIP, server: netip.AddrPortFrom(server.Addr(), 0)},
		{kind: keySrcIP, client: netip.AddrPortFrom(client.Addr(), 0)},
		{kind: keyServer, proto: proto, server: server},
	}
}

// blockKeyOf is the key of the given kind (key4, key3, keyDstIP) that
// covers f.
func blockKeyOf(kind uint8, f *flow) blockKey {
	keys := flowKeys(f.proto, f.client, f.server)
	return keys[slices.IndexFunc(keys[:], func(k blockKey) bool { return k.kind == kind })]
}

// enforce applies any block covering the flow to p.
func (t *blockTable) enforce(e *Engine, f *flow, fromClient bool, p *packet.IP, pkt []byte, now time.Time, inject func([]byte)) (packet.Verdict, bool) {
	for _, k := range flowKeys(f.proto, f.client, f.server) {
		b := t.find(k, now)
		if b == nil {
			continue
		}
		if fromClient && !b.c2s || !fromClient && !b.s2c {
			continue
		}
		if f.hits == nil {
			f.hits = make(map[*block]int8)
		}
		roll := f.hits[b]
		if roll == 0 {
			roll = -1
			if b.hit >= 1 || e.float() < b.hit {
				roll = 1
			}
			f.hits[b] = roll
			if roll == 1 && f != b.origin {
				eff := EffectDrop
				if b.enforce == EnforceRST && f.proto == packet.TCP {
					eff = EffectReset
				}
				ev := b.ev
				if eff == EffectDrop {
					ev = withDroppedQuery(ev, f, p, fromClient)
				}
				e.record(b.rule, b.action, eff, true, f, ev, enforceDetail(b), nil)
			}
		}
		if roll < 0 {
			continue
		}
		if b.enforce == EnforceRST && f.proto == packet.TCP {
			// The flow that triggered the block was dealt with by its rule's
			// own actions. A follow-up's handshake completes and its first
			// data is reset, with the rule's reset shape.
			if f == b.origin {
				continue
			}
			if fromClient && len(p.Payload) > 0 {
				e.sendRSTs(f, p, policy.ToBoth, b.rst, inject)
				return packet.Verdict{Drop: true}, true
			}
			continue
		}
		return packet.Verdict{Drop: true}, true
	}
	return packet.Verdict{}, false
}

// enforceStateless applies null routes to packets without a flow.
func (t *blockTable) enforceStateless(e *Engine, p *packet.IP, dir packet.Direction, now time.Time, inject func([]byte)) (packet.Verdict, bool) {
	for _, a := range []netip.Addr{p.Dst, p.Src} {
		if b := t.find(blockKey{kind: keyDstIP, server: netip.AddrPortFrom(a, 0)}, now); b != nil {
			return packet.Verdict{Drop: true}, true
		}
		if b := t.find(blockKey{kind: keySrcIP, client: netip.AddrPortFrom(a, 0)}, now); b != nil {
			return packet.Verdict{Drop: true}, true
		}
	}
	return packet.Verdict{}, false
}

func enforceDetail(b *block) string {
	how := "drop"
	if b.enforce == EnforceRST {
		how = "rst on data"
	}
	return "enforcing " + string(b.action) + " (" + how + ")"
}

// replace installs b for k, restarting a running block of k.
func (t *blockTable) replace(k blockKey, b *block) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.m[k]; !ok {
		t.n.Add(1)
	}
	t.m[k] = b
}
