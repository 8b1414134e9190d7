package world

import (
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/splinter-lab/splinter/clock"
	"github.com/splinter-lab/splinter/scenario"
)

// node is anything a link end attaches to: a host or a router.
type node interface {
	receive(pkt []byte, in *iface)
}

// iface is one end of a link, attached to a node.
type iface struct {
	node    node
	link    *Link
	side    int
	outside bool // a router's uplink: packets leaving through it cross the border
}

// send puts pkt on the link toward the other end. pkt is only borrowed.
func (i *iface) send(pkt []byte) { i.link.send(i.side, pkt) }

// Link is a point-to-point link between two nodes. An unimpaired link
// forwards on a fast path: a direct call into the next node, with no queue,
// no timer and no copy.
type Link struct {
	name  string
	ends  [2]*iface
	pipes [2]*pipe // nil on the fast path
	taps  atomic.Pointer[[]*Capture]
}

// Name is the link's name: the name of the host, network or jurisdiction
// whose uplink it is.
func (l *Link) Name() string { return l.name }

func newLink(name string, a, b node, cfg scenario.Link, aOutside bool, clk clock.Clock, seed uint64) *Link {
	l := &Link{name: name}
	l.ends[0] = &iface{node: a, link: l, side: 0, outside: aOutside}
	l.ends[1] = &iface{node: b, link: l, side: 1}
	if !cfg.IsZero() {
		for s := 0; s < 2; s++ {
			to := l.ends[1-s]
			l.pipes[s] = newPipe(cfg, clk, rand.New(rand.NewPCG(seed, uint64(s))), func(pkt []byte) { to.node.receive(pkt, to) })
		}
	}
	return l
}

func (l *Link) send(from int, pkt []byte) {
	if t := l.taps.Load(); t != nil {
		for _, c := range *t {
			c.write(pkt)
		}
	}
	if p := l.pipes[from]; p != nil {
		p.enqueue(pkt)
		return
	}
	to := l.ends[1-from]
	to.node.receive(pkt, to)
}

func (l *Link) close() {
	for _, p := range l.pipes {
		if p != nil {
			p.close()
		}
	}
}

// pipe is one direction of an impaired link: loss, then a bandwidth
// serialiser with a drop-tail queue, then propagation delay and jitter. It
// never reorders packets.
type pipe struct {
	cfg     scenario.Link
	clk     clock.Clock
	deliver func([]byte)

	mu        sync.Mutex
	rng       *rand.Rand
	q         []timed
	busyUntil time.Time // when the serialiser is free
	last      time.Time // arrival time of the last packet queued
	maxQueue  int
	wake      chan struct{}
	done      chan struct{}
	closed    bool
}

type timed struct {
	at  time.Time
	pkt []byte
}

func newPipe(cfg scenario.Link, clk clock.Clock, rng *rand.Rand, deliver func([]byte)) *pipe {
	p := &pipe{cfg: cfg, clk: clk, rng: rng, deliver: deliver, wake: make(chan struct{}, 1), done: make(chan struct{})}
	if cfg.Bandwidth > 0 {
		// Queue up to 50 ms of traffic at the link rate, at least 64 KiB.
		p.maxQueue = max(int(cfg.Bandwidth/8/20), 64<<10)
	}
	go p.run()
	return p
}

func (p *pipe) enqueue(pkt []byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	if p.cfg.Loss > 0 && p.rng.Float64() < p.cfg.Loss {
		return
	}
	now := p.clk.Now()
	at := now
	if p.cfg.Bandwidth > 0 {
		start := p.busyUntil
		if start.Before(now) {
			start = now
		}
		// The backlog is what the serialiser still has to send.
		backlog := int64(start.Sub(now)) * p.cfg.Bandwidth / 8 / int64(time.Second)
		if backlog+int64(len(pkt)) > int64(p.maxQueue) {
			return // drop-tail
		}
		p.busyUntil = start.Add(time.Duration(int64(len(pkt)) * 8 * int64(time.Second) / p.cfg.Bandwidth))
		at = p.busyUntil
	}
	at = at.Add(p.cfg.Delay)
	if p.cfg.Jitter > 0 {
		at = at.Add(time.Duration(p.rng.Int64N(int64(p.cfg.Jitter))))
	}
	if at.Before(p.last) {
		at = p.last
	}
	p.last = at
	p.q = append(p.q, timed{at: at, pkt: append([]byte(nil), pkt...)})
	if len(p.q) == 1 {
		select {
		case p.wake <- struct{}{}:
		default:
		}
	}
}

func (p *pipe) run() {
	var batch []timed
	for {
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			return
		}
		now := p.clk.Now()
		n := 0
		for n < len(p.q) && !p.q[n].at.After(now) {
			n++
		}
		batch = append(batch[:0], p.q[:n]...)
		p.q = p.q[n:]
		var wait time.Duration = -1
		if len(p.q) > 0 {
			wait = p.q[0].at.Sub(now)
		}
		p.mu.Unlock()
		for _, t := range batch {
			p.deliver(t.pkt)
		}
		if len(batch) > 0 {
			continue
		}
		if wait < 0 {
			select {
			case <-p.wake:
			case <-p.done:
				return
			}
			continue
		}
		tm := p.clk.NewTimer(wait)
		select {
		case <-tm.C():
		case <-p.wake:
			tm.Stop()
		case <-p.done:
			tm.Stop()
			return
		}
	}
}

func (p *pipe) close() {
	p.mu.Lock()
	if !p.closed {
		p.closed = true
		close(p.done)
	}
	p.mu.Unlock()
}
