package evade

import (
	"encoding/binary"
	"net/netip"
	"sync"
	"sync/atomic"

	"github.com/splinter-lab/splinter/strategy"
)

// tcpView is the part of a raw packet the shims need: addresses, ports and
// flags of a TCP segment, read at fixed offsets (a strategy may corrupt
// the data offset, which moves nothing the shims read).
type tcpView struct {
	src, dst netip.AddrPort
	flags    uint8
	seq      uint32
	tcp      int // offset of the TCP header
	ok       bool
}

func viewTCP(pkt []byte) (v tcpView) {
	if len(pkt) < 1 {
		return v
	}
	var sa, da netip.Addr
	switch pkt[0] >> 4 {
	case 4:
		if len(pkt) < 20 || pkt[9] != 6 {
			return v
		}
		v.tcp = int(pkt[0]&0x0f) * 4
		if binary.BigEndian.Uint16(pkt[6:8])&0x1fff != 0 {
			return v // a later fragment: no ports
		}
		sa, da = netip.AddrFrom4([4]byte(pkt[12:16])), netip.AddrFrom4([4]byte(pkt[16:20]))
	case 6:
		if len(pkt) < 40 || pkt[6] != 6 {
			return v
		}
		v.tcp = 40
		sa, da = netip.AddrFrom16([16]byte(pkt[8:24])), netip.AddrFrom16([16]byte(pkt[24:40]))
	default:
		return v
	}
	if v.tcp < 20 || len(pkt) < v.tcp+18 {
		return v
	}
	t := pkt[v.tcp:]
	v.src = netip.AddrPortFrom(sa, binary.BigEndian.Uint16(t[0:2]))
	v.dst = netip.AddrPortFrom(da, binary.BigEndian.Uint16(t[2:4]))
	v.seq = binary.BigEndian.Uint32(t[4:8])
	if len(t) > 13 {
		v.flags = t[13]
	}
	v.ok = true
	return v
}

// setPort rewrites the TCP port at off (0 source, 2 destination) of the
// segment at tcp and updates its checksum incrementally (RFC 1624, eqn. 3),
// so that a checksum a strategy corrupted stays exactly as wrong.
func setPort(pkt []byte, tcp, off int, port uint16) {
	t := pkt[tcp:]
	old := binary.BigEndian.Uint16(t[off:])
	binary.BigEndian.PutUint16(t[off:], port)
	c := binary.BigEndian.Uint16(t[16:18])
	s := uint32(^c) + uint32(^old) + uint32(port)
	s = (s & 0xffff) + (s >> 16)
	s = (s & 0xffff) + (s >> 16)
	binary.BigEndian.PutUint16(t[16:18], ^uint16(s))
}

const (
	flagSYN = 0x02
	flagACK = 0x10
)

// portKey names one side's view of a connection: a local port and the
// server's address.
type portKey struct {
	port   uint16
	server netip.AddrPort
}

// mapping is one connection of a trial through the client shim.
type mapping struct {
	stack, wire uint16 // the client stack's port and the port on the wire
	syn         uint32 // the sequence number of the connection's SYN
	engine      *strategy.Engine
	capture     *capture // records the connection's packets, or nil
}

// capture keeps copies of a connection's packets as they are on the wire
// before a client strategy touches them (outbound) or after a server's
// (inbound): what Geneva's canary phase records for strategy generation.
type capture struct {
	mu   sync.Mutex
	pkts [][]byte
}

func (c *capture) add(pkt []byte) {
	if c == nil {
		return
	}
	c.mu.Lock()
	if len(c.pkts) < 64 {
		c.pkts = append(c.pkts, append([]byte(nil), pkt...))
	}
	c.mu.Unlock()
}

// clientShim translates the client host's ports (stack ↔ wire) and runs
// each trial's client-side engine on its connection's packets. Packets of
// no trial pass unchanged.
//
// A trial is known by the server address it dials until its first SYN
// shows the stack port it got; trials that share a server address (when
// blocks cover only their own connection) take turns at that step: one
// pending trial per server address, the next waiting until the SYN of the
// one before has gone out (free).
type clientShim struct {
	wire    atomic.Pointer[func([]byte)] // the host's emit, for delayed packets
	mu      sync.RWMutex
	free    *sync.Cond                  // a pending slot was freed; on mu
	pending map[netip.AddrPort]*mapping // server address → the trial about to dial it
	byStack map[portKey]*mapping
	byWire  map[portKey]*mapping
	bufs    sync.Pool
}

func newClientShim() *clientShim {
	s := &clientShim{
		pending: map[netip.AddrPort]*mapping{},
		byStack: map[portKey]*mapping{},
		byWire:  map[portKey]*mapping{},
		bufs:    sync.Pool{New: func() any { b := make([]byte, 0, 2048); return &b }},
	}
	s.free = sync.NewCond(&s.mu)
	return s
}

// expect makes the next SYN the client stack sends to server the start of
// a trial's connection, with wire port wire and engine e (nil: none),
// once no other trial is pending on server. The trial must call done.
func (s *clientShim) expect(server netip.AddrPort, wire uint16, e *strategy.Engine, c *capture) *mapping {
	m := &mapping{wire: wire, engine: e, capture: c}
	s.mu.Lock()
	for s.pending[server] != nil {
		s.free.Wait()
	}
	s.pending[server] = m
	s.mu.Unlock()
	return m
}

// done forgets the trial m pending on server, if it never sent its SYN.
func (s *clientShim) done(server netip.AddrPort, m *mapping) {
	s.mu.Lock()
	if s.pending[server] == m {
		delete(s.pending, server)
		s.free.Broadcast()
	}
	s.mu.Unlock()
}

func (s *clientShim) copyOf(pkt []byte) *[]byte {
	bp := s.bufs.Get().(*[]byte)
	*bp = append((*bp)[:0], pkt...)
	return bp
}

func (s *clientShim) out(pkt []byte, emit func([]byte)) {
	if s.wire.Load() == nil {
		s.wire.Store(&emit)
	}
	v := viewTCP(pkt)
	if !v.ok {
		emit(pkt)
		return
	}
	k := portKey{v.src.Port(), v.dst}
	s.mu.RLock()
	m := s.byStack[k]
	p := s.pending[v.dst]
	s.mu.RUnlock()
	if p != nil && v.flags&(flagSYN|flagACK) == flagSYN && m != p && (m == nil || m.syn != v.seq) {
		// The trial's first SYN (not a retransmitted SYN of the
		// connection the stack port already maps): its stack port is
		// known now.
		s.mu.Lock()
		if s.pending[v.dst] == p {
			delete(s.pending, v.dst)
			s.free.Broadcast()
			p.stack, p.syn = v.src.Port(), v.seq
			s.byStack[k] = p
			s.byWire[portKey{p.wire, v.dst}] = p
			m = p
		} else {
			m = s.byStack[k]
		}
		s.mu.Unlock()
	}
	if m == nil {
		emit(pkt)
		return
	}
	bp := s.copyOf(pkt)
	b := *bp
	setPort(b, v.tcp, 0, m.wire)
	m.capture.add(b)
	if m.engine != nil {
		m.engine.Outbound(b, emit)
	} else {
		emit(b)
	}
	s.bufs.Put(bp)
}

func (s *clientShim) in(pkt []byte, emit func([]byte)) {
	v := viewTCP(pkt)
	if !v.ok {
		emit(pkt)
		return
	}
	s.mu.RLock()
	m := s.byWire[portKey{v.dst.Port(), v.src}]
	s.mu.RUnlock()
	if m == nil {
		emit(pkt)
		return
	}
	m.capture.add(pkt)
	bp := s.copyOf(pkt)
	deliver := func(b []byte) {
		if w := viewTCP(b); w.ok && w.dst.Port() == m.wire {
			setPort(b, w.tcp, 2, m.stack)
		}
		emit(b)
	}
	if m.engine != nil {
		m.engine.Inbound(*bp, deliver)
	} else {
		deliver(*bp)
	}
	s.bufs.Put(bp)
}

// serverShim runs each trial's server-side engine on the packets of its
// connection at the web host, found by the client's wire address.
type serverShim struct {
	mu      sync.RWMutex
	engines map[netip.AddrPort]*strategy.Engine
	wire    atomic.Pointer[func([]byte)] // the host's emit, for delayed packets
}

func newServerShim() *serverShim {
	return &serverShim{engines: map[netip.AddrPort]*strategy.Engine{}}
}

func (s *serverShim) set(client netip.AddrPort, e *strategy.Engine) {
	s.mu.Lock()
	if e == nil {
		delete(s.engines, client)
	} else {
		s.engines[client] = e
	}
	s.mu.Unlock()
}

func (s *serverShim) lookup(peer netip.AddrPort) *strategy.Engine {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.engines[peer]
}

func (s *serverShim) out(pkt []byte, emit func([]byte)) {
	if s.wire.Load() == nil {
		s.wire.Store(&emit)
	}
	if v := viewTCP(pkt); v.ok {
		if e := s.lookup(v.dst); e != nil {
			e.Outbound(pkt, emit)
			return
		}
	}
	emit(pkt)
}

func (s *serverShim) in(pkt []byte, emit func([]byte)) {
	if v := viewTCP(pkt); v.ok {
		if e := s.lookup(v.src); e != nil {
			e.Inbound(pkt, emit)
			return
		}
	}
	emit(pkt)
}
