//go:build linux

package portal

import (
	"errors"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"

	"github.com/splinter-lab/splinter/scenario"
	"github.com/splinter-lab/splinter/world"
)

// Local runs the namespaces of a world in this process. A host's namespace
// is made when a first program enters the host, shared by every program
// that enters it after, and detached when the last one leaves. Its methods
// are safe for concurrent use; make one with NewLocal.
type Local struct {
	w *world.World

	mu     sync.Mutex
	ns     map[string]*namespace
	closed bool
}

var _ World = (*Local)(nil)

// namespace is a host's namespace with the programs that hold it.
type namespace struct {
	cfg      *Config
	net, uts *os.File
	bridge   *bridge
	entries  map[*Entry]struct{}
}

// NewLocal returns a World that bridges namespaces into w.
func NewLocal(w *world.World) *Local {
	return &Local{w: w, ns: map[string]*namespace{}}
}

// Enter returns the host's namespace, making it and diverting the host's
// interface to its TUN device (see world.Host.Divert) if no program holds
// it yet.
func (l *Local) Enter(host string) (*Entry, error) {
	h, err := lookup(l.w, host)
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil, errors.New("portal: world closed")
	}
	ns := l.ns[h.Name()]
	if ns == nil {
		cfg := configFor(l.w, h)
		netns, utsns, tun, err := makeNamespace(cfg)
		if err != nil {
			return nil, err
		}
		ns = &namespace{cfg: cfg, net: netns, uts: utsns, bridge: newBridge(h, tun), entries: map[*Entry]struct{}{}}
		l.ns[h.Name()] = ns
	}
	e := &Entry{Config: ns.cfg, net: ns.net, uts: ns.uts, gone: make(chan struct{})}
	e.release = func() { l.leave(h.Name(), ns, e) }
	ns.entries[e] = struct{}{}
	return e, nil
}

// leave drops e's hold on ns; the last one out detaches it.
func (l *Local) leave(host string, ns *namespace, e *Entry) {
	l.mu.Lock()
	delete(ns.entries, e)
	last := len(ns.entries) == 0 && l.ns[host] == ns
	if last {
		delete(l.ns, host)
	}
	l.mu.Unlock()
	if last {
		ns.close()
	}
}

func (ns *namespace) close() {
	ns.bridge.Close()
	ns.net.Close()
	ns.uts.Close()
}

// Attached lists the hosts that have a namespace now, in plan order.
func (l *Local) Attached() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var names []string
	for _, h := range l.w.Hosts() {
		if _, ok := l.ns[h.Name()]; ok {
			names = append(names, h.Name())
		}
	}
	return names
}

// Entered reports whether a program holds the namespace of the named host
// (its packets then go to the namespace, not to the host's own stack).
func (l *Local) Entered(host string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	_, ok := l.ns[host]
	return ok
}

// Close detaches every namespace; the Entries still open see Gone. The
// world itself is the caller's to close.
func (l *Local) Close() error {
	l.mu.Lock()
	l.closed = true
	all := l.ns
	l.ns = map[string]*namespace{}
	var gone []*Entry
	for _, ns := range all {
		for e := range ns.entries {
			gone = append(gone, e)
		}
	}
	l.mu.Unlock()
	for _, e := range gone {
		close(e.gone)
	}
	for _, ns := range all {
		ns.close()
	}
	return nil
}

// bridge copies packets between a TUN device and a diverted host.
type bridge struct {
	f       *os.File
	w       *writer
	inject  func([]byte)
	restore func()
	v4, v6  netip.Addr
	done    chan struct{}
	once    sync.Once
	// dropped counts packets from the TUN that were not let into the world.
	dropped atomic.Uint64
}

func newBridge(h *world.Host, f *os.File) *bridge {
	b := &bridge{f: f, w: newWriter(f), v4: h.Addr(4), v6: h.Addr(6), done: make(chan struct{})}
	b.inject, b.restore = h.Divert(b.w.put)
	go b.readLoop()
	return b
}

func (b *bridge) readLoop() {
	defer close(b.done)
	buf := make([]byte, 1<<16)
	for {
		n, err := b.f.Read(buf)
		if err != nil {
			return
		}
		if n < vnetHdrLen {
			continue
		}
		if pkt := buf[vnetHdrLen:n]; b.admit(pkt) {
			b.inject(pkt)
		} else {
			b.dropped.Add(1)
		}
	}
}

// admit reports whether a packet from the namespace may enter the world:
// it must be IPv4 or IPv6, come from one of the host's addresses and go to
// a unicast address in the ranges a scenario may use.
func (b *bridge) admit(pkt []byte) bool {
	if len(pkt) < 20 {
		return false
	}
	var src, dst netip.Addr
	switch pkt[0] >> 4 {
	case 4:
		src = netip.AddrFrom4([4]byte(pkt[12:16]))
		dst = netip.AddrFrom4([4]byte(pkt[16:20]))
		if src != b.v4 {
			return false
		}
	case 6:
		if len(pkt) < 40 {
			return false
		}
		src = netip.AddrFrom16([16]byte(pkt[8:24]))
		dst = netip.AddrFrom16([16]byte(pkt[24:40]))
		if src != b.v6 {
			return false
		}
	default:
		return false
	}
	return dst.IsGlobalUnicast() && scenario.AllowedAddr(dst)
}

// Close gives the interface back to the host's stack and closes the TUN
// device.
func (b *bridge) Close() error {
	b.once.Do(func() {
		b.restore()
		b.w.close()
		b.f.Close()
		<-b.done
	})
	return nil
}
