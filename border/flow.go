package border

import (
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/splinter-lab/splinter/packet"
)

// Idle timeouts of the flow table.
const (
	tcpIdle      = 10 * time.Minute
	halfOpenIdle = 60 * time.Second
	udpIdle      = 60 * time.Second // the GFW's QUIC flow memory (USENIX Sec 2025)
	flowShards   = 64
)

// flowKey is a 5-tuple in canonical order (lower endpoint first), so both
// directions of a flow find the same entry.
type flowKey struct {
	a, b  netip.AddrPort
	proto uint8
}

func keyOf(p *packet.IP) flowKey {
	s, d := netip.AddrPortFrom(p.Src, p.SrcPort), netip.AddrPortFrom(p.Dst, p.DstPort)
	if s.Compare(d) > 0 {
		s, d = d, s
	}
	return flowKey{s, d, p.Proto}
}

// flow is everything the engine remembers about one connection. Guarded by
// mu.
type flow struct {
	mu       sync.Mutex
	id       uint64 // unique in the process (flowIDs)
	key      flowKey
	client   netip.AddrPort
	server   netip.AddrPort
	proto    uint8
	dir      packet.Direction // direction of the client's packets
	created  time.Time
	lastSeen time.Time

	// TCP tracking: the engine's own view (roles, handshake, the next
	// sequence number each side sends, for the packets it injects), and
	// each box's TCB (tcb.go).
	sawSYN      bool // the client's SYN was seen
	established bool
	proxied     bool // the border terminates this flow (see proxy.go)
	cliNext     uint32
	srvNext     uint32
	cliValid    bool
	srvValid    bool
	tcbs        []tcb // by box index

	rs []ruleState

	// Enforcement state.
	dropC2S, dropS2C bool
	throttle         [2]*bucket // by direction of travel: 0 client→server
	pending          []pendingRST
	delay            time.Duration
	hits             map[*block]int8 // residual hit rolls: 1 hit, -1 spared
}

// ruleState is a rule's progress on one flow.
type ruleState struct {
	done     bool
	scoped   bool // the flow-level scope was checked and holds
	pkts     int
	selected int8 // probability roll: 0 not yet, 1 selected, -1 spared
	// aux is a matcher's own state for the flow (quic-ech's reassembly of
	// a ClientHello split across Initials); freed with the flow.
	aux any
}

func (f *flow) state(i int, n int) *ruleState {
	if f.rs == nil {
		f.rs = make([]ruleState, n)
	}
	return &f.rs[i]
}

type shard struct {
	mu sync.Mutex
	m  map[flowKey]*flow
}

// flowTable holds every flow the engine tracks, bounded in count and in
// reassembly memory.
type flowTable struct {
	shards   [flowShards]shard
	count    atomic.Int64
	max      int64
	bufBytes atomic.Int64
	maxBuf   int64
}

func newFlowTable(maxFlows, maxBuf int) *flowTable {
	if maxFlows <= 0 {
		maxFlows = 1 << 18
	}
	if maxBuf <= 0 {
		maxBuf = 64 << 20
	}
	t := &flowTable{max: int64(maxFlows), maxBuf: int64(maxBuf)}
	for i := range t.shards {
		t.shards[i].m = make(map[flowKey]*flow)
	}
	return t
}

func (t *flowTable) len() int { return int(t.count.Load()) }

func (t *flowTable) shardOf(k flowKey) *shard {
	// The map hashes the key properly; the shard only needs spread.
	a, b := k.a.Addr().As16(), k.b.Addr().As16()
	h := uint32(k.a.Port())*0x9e3779b1 ^ uint32(k.b.Port())*0x85ebca6b ^
		(uint32(a[12])<<24|uint32(a[13])<<16|uint32(a[14])<<8|uint32(a[15]))*0xc2b2ae35 ^
		(uint32(b[12])<<24 | uint32(b[13])<<16 | uint32(b[14])<<8 | uint32(b[15]))
	return &t.shards[(h^h>>16)%flowShards]
}

func idleLimit(f *flow) time.Duration {
	if f.proto == packet.UDP {
		return udpIdle
	}
	if f.established {
		return tcpIdle
	}
	return halfOpenIdle
}

// lookup finds or creates the flow of p, and reports whether p travels from
// the flow's client.
func (t *flowTable) lookup(p *packet.IP, dir packet.Direction, now time.Time) (*flow, bool) {
	k := keyOf(p)
	s := t.shardOf(k)
	s.mu.Lock()
	f := s.m[k]
	var carried []tcb
	if f != nil {
		f.mu.Lock()
		stale := now.Sub(f.lastSeen) > idleLimit(f)
		// A client SYN on an established flow starts a new connection on
		// the same 5-tuple, inspected afresh; the boxes' TCBs go with it,
		// for the boxes to take the SYN as an event of theirs (tcb.go).
		newSYN := p.Proto == packet.TCP && p.Flags&(packet.SYN|packet.ACK) == packet.SYN && f.sawSYN && f.established
		if stale || newSYN {
			t.release(f)
			if newSYN && !stale {
				carried = f.tcbs
				for i := range carried {
					carried[i].carried = true
				}
			}
			f.mu.Unlock()
			delete(s.m, k)
			t.count.Add(-1)
			f = nil
		} else {
			f.lastSeen = now
			f.mu.Unlock()
		}
	}
	if f == nil {
		if t.count.Load() >= t.max {
			t.evict(s, now)
		}
		if t.count.Load() >= t.max {
			s.mu.Unlock()
			return nil, false
		}
		f = newFlow(k, p, dir, now)
		f.tcbs = carried
		s.m[k] = f
		t.count.Add(1)
	}
	s.mu.Unlock()
	src := netip.AddrPortFrom(p.Src, p.SrcPort)
	return f, src == f.client
}

// newFlow creates the flow whose first packet is p: its sender is the
// client, unless p is a SYN+ACK, whose receiver is. A client that sends a
// SYN+ACK before its SYN is made the client again by its SYN (swapRoles).
func newFlow(k flowKey, p *packet.IP, dir packet.Direction, now time.Time) *flow {
	f := &flow{id: flowIDs.Add(1), key: k, proto: p.Proto, created: now, lastSeen: now}
	src, dst := netip.AddrPortFrom(p.Src, p.SrcPort), netip.AddrPortFrom(p.Dst, p.DstPort)
	f.client, f.server, f.dir = src, dst, dir
	if p.Proto == packet.TCP && p.Flags&(packet.SYN|packet.ACK) == packet.SYN|packet.ACK {
		f.client, f.server, f.dir = dst, src, dir.Reverse()
	}
	return f
}

// evict removes the oldest of a sample of flows from s (held) or, if s is
// empty, from the next shards.
func (t *flowTable) evict(s *shard, now time.Time) {
	var victim *flow
	n := 0
	for k, f := range s.m {
		if victim == nil || f.lastSeen.Before(victim.lastSeen) {
			victim = f
		}
		_ = k
		if n++; n >= 8 {
			break
		}
	}
	if victim == nil {
		return
	}
	delete(s.m, victim.key)
	t.count.Add(-1)
	victim.mu.Lock()
	t.release(victim)
	victim.mu.Unlock()
}

// release frees f's buffers (f.mu held).
func (t *flowTable) release(f *flow) {
	for i := range f.tcbs {
		t.releaseStream(&f.tcbs[i])
	}
}

// bucket throttles a flow the way a policer with a short queue does: a
// token bucket whose debt may grow to queue bytes, each packet waiting until
// its tokens exist; what would exceed the queue is dropped.
type bucket struct {
	rate   float64 // bytes per second
	burst  float64
	queue  float64
	tokens float64
	last   time.Time
	idle   time.Duration
	// dropped, if set, is called on the first packet the bucket drops
	// (a freeze logs its decision then: the flow froze).
	dropped func()
}

// admit returns how long the n-byte packet must wait, or false to drop it.
func (b *bucket) admit(n int, now time.Time) (time.Duration, bool) {
	if el := now.Sub(b.last).Seconds(); el > 0 {
		b.tokens = min(b.burst, b.tokens+el*b.rate)
		b.last = now
	}
	left := b.tokens - float64(n)
	if left < -b.queue {
		return 0, false
	}
	b.tokens = left
	if left >= 0 {
		return 0, true
	}
	return time.Duration(-left / b.rate * float64(time.Second)), true
}
