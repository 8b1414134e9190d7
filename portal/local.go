//go:build linux

package portal

import (
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"

	"github.com/splinter-lab/splinter/scenario"
	"github.com/splinter-lab/splinter/world"
)

// Local attaches namespaces to a world running in this process. Each host
// takes at most one namespace at a time. Its methods are safe for concurrent
// use; make one with NewLocal.
type Local struct {
	w *world.World

	mu       sync.Mutex
	attached map[string]*bridge
	closed   bool
}

var _ World = (*Local)(nil)

// NewLocal returns a World that bridges namespaces into w.
func NewLocal(w *world.World) *Local {
	return &Local{w: w, attached: map[string]*bridge{}}
}

// Config describes a host of the world, named by its name or by the domain
// of a site it serves.
func (l *Local) Config(host string) (*Config, error) { return configFor(l.w, host) }

// Attach diverts the host's interface to tun until the returned Closer is
// closed (see world.Host.Divert).
func (l *Local) Attach(host string, tun *os.File) (io.Closer, error) {
	h := lookup(l.w, host)
	if h == nil {
		tun.Close()
		return nil, fmt.Errorf("portal: no host %q", host)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		tun.Close()
		return nil, errors.New("portal: world closed")
	}
	if _, busy := l.attached[h.Name()]; busy {
		tun.Close()
		return nil, fmt.Errorf("portal: host %s is already entered by another command", h.Name())
	}
	b := newBridge(h, tun)
	b.onClose = func() {
		l.mu.Lock()
		if l.attached[h.Name()] == b {
			delete(l.attached, h.Name())
		}
		l.mu.Unlock()
	}
	l.attached[h.Name()] = b
	return b, nil
}

// Attached lists the hosts that have a namespace attached now.
func (l *Local) Attached() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var names []string
	for _, h := range l.w.Hosts() {
		if _, ok := l.attached[h.Name()]; ok {
			names = append(names, h.Name())
		}
	}
	return names
}

// Close detaches every namespace. The world itself is the caller's to close.
func (l *Local) Close() error {
	l.mu.Lock()
	l.closed = true
	bs := make([]*bridge, 0, len(l.attached))
	for _, b := range l.attached {
		bs = append(bs, b)
	}
	l.mu.Unlock()
	for _, b := range bs {
		b.Close()
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
	onClose func()
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
		if b.onClose != nil {
			b.onClose()
		}
	})
	return nil
}
