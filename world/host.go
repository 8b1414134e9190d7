package world

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/splinter-lab/splinter/internal/netstack"
	"github.com/splinter-lab/splinter/packet"
	"github.com/splinter-lab/splinter/scenario"
)

// Host is a machine of the world with its own userspace TCP/IP stack. Its
// methods are safe for concurrent use.
type Host struct {
	plan  *scenario.PlannedHost
	w     *World
	up    *iface
	inbox inbox

	// The stack is built on first use (a dial, a listen, or a packet
	// arriving): an idle host in a large world costs only its plan entry,
	// its link and its routes.
	stMu   sync.Mutex
	st     atomic.Pointer[netstack.Stack]
	closed bool

	// icmpTaps receive ICMP packets addressed to the host before its stack
	// sees them (ping and traceroute).
	// divert, when set, takes every packet addressed to the host instead
	// of its stack (a real program's TUN device, see Divert).
	divert atomic.Pointer[func([]byte)]
	// shim, when set, rewrites the host's packets on the wire (see Shim).
	shim atomic.Pointer[shim]

	tapMu  sync.Mutex
	taps   map[uint16]chan []byte
	nextID atomic.Uint32
}

// Name is the host's name in the scenario.
func (h *Host) Name() string { return h.plan.Name }

// Jurisdiction is the code of the jurisdiction the host is in.
func (h *Host) Jurisdiction() string { return h.plan.Jurisdiction }

// Network is the name of the host's network.
func (h *Host) Network() string { return h.plan.Network }

// Role is the host's role.
func (h *Host) Role() scenario.Role { return h.plan.Role }

// Addrs are the host's addresses, IPv4 first.
func (h *Host) Addrs() []netip.Addr { return h.plan.Addrs }

// Addr returns the host's address of the given family (4 or 6).
func (h *Host) Addr(family int) netip.Addr {
	for _, a := range h.plan.Addrs {
		if a.Is4() == (family == 4) {
			return a
		}
	}
	return netip.Addr{}
}

// Resolvers are the recursive resolvers the host is configured with.
func (h *Host) Resolvers() []netip.Addr { return h.plan.Resolvers }

// Plan returns the host's entry in the world's plan.
func (h *Host) Plan() *scenario.PlannedHost { return h.plan }

func (h *Host) receive(pkt []byte, own *netstack.Buf, _ *iface) {
	if d := h.divert.Load(); d != nil {
		(*d)(pkt)
		return
	}
	if s := h.shim.Load(); s != nil && s.in != nil {
		s.in(pkt, h.deliverBytes)
		return
	}
	h.deliver(pkt, own)
}

// deliverBytes hands a packet that no buffer holds to the host's stack.
func (h *Host) deliverBytes(pkt []byte) { h.deliver(pkt, nil) }

// deliver hands a packet that arrived for the host to its stack; own, when
// not nil, holds pkt's bytes, and the inbox takes it over.
func (h *Host) deliver(pkt []byte, own *netstack.Buf) {
	if len(pkt) > 20 && (pkt[0]>>4 == 4 && pkt[9] == packet.ICMPv4 || pkt[0]>>4 == 6 && len(pkt) > 40 && pkt[6] == packet.ICMPv6) {
		if h.tapICMP(pkt) {
			return
		}
	}
	if h.st.Load() == nil {
		if _, err := h.stack(); err != nil {
			return
		}
	}
	h.inbox.put(pkt, own)
}

// stack returns the host's stack, building it if needed.
func (h *Host) stack() (*netstack.Stack, error) {
	if h == nil {
		return nil, errNilHost
	}
	if st := h.st.Load(); st != nil {
		return st, nil
	}
	h.stMu.Lock()
	defer h.stMu.Unlock()
	if st := h.st.Load(); st != nil {
		return st, nil
	}
	if h.closed {
		return nil, errClosed
	}
	st, err := netstack.New(netstack.Config{Addrs: h.plan.Addrs, MTU: h.w.opts.MTU, SendBuf: h.sendBuf, Kernel: h.w.kernel,
		DropInvalid: h.plan.Firewall == scenario.FirewallDropInvalid})
	if err != nil {
		return nil, fmt.Errorf("world: host %q: %w", h.plan.Name, err)
	}
	h.inbox.start(st.DeliverBuf)
	h.st.Store(st)
	return st, nil
}

func (h *Host) close() {
	h.stMu.Lock()
	h.closed = true
	st := h.st.Load()
	h.stMu.Unlock()
	if st != nil {
		h.inbox.stop()
		st.Close()
	}
}

// sendBuf is the stack's output: the packet goes on the wire in the
// stack's buffer, unless a shim rewrites it.
func (h *Host) sendBuf(b *netstack.Buf) {
	if s := h.shim.Load(); s != nil && s.out != nil {
		s.out(b.Bytes(), h.up.sendBytes)
		return
	}
	h.up.send(b.Bytes(), b)
}

// send sends a packet the host makes itself (or a diverted program's).
func (h *Host) send(pkt []byte) {
	if s := h.shim.Load(); s != nil && s.out != nil {
		s.out(pkt, h.up.sendBytes)
		return
	}
	h.up.sendBytes(pkt)
}

type shim struct {
	out, in func(pkt []byte, emit func([]byte))
}

// Shim puts a packet rewriter between the host's stack and its link, as a
// packet-manipulation tool running on the host would (Geneva's engine on
// NFQUEUE): out sees every packet the stack sends and emits what goes on the
// wire instead (any number of packets, or none); in sees every packet that
// arrives for the host and emits what its stack receives. Packets passed to
// out and in are borrowed for the call; emit borrows its argument too.
// Either function may be nil (no rewriting that way); Shim(nil, nil) removes
// the shim.
func (h *Host) Shim(out, in func(pkt []byte, emit func([]byte))) {
	if out == nil && in == nil {
		h.shim.Store(nil)
		return
	}
	h.shim.Store(&shim{out: out, in: in})
}

// Dial connects to address on the named network ("tcp", "tcp4", "tcp6",
// "udp", "udp4", "udp6"). The address's host may be a name, resolved through
// the host's resolver; each address is tried in turn, IPv4 first for "tcp".
func (h *Host) Dial(ctx context.Context, network, address string) (net.Conn, error) {
	if h == nil {
		return nil, &net.OpError{Op: "dial", Net: network, Err: errNilHost}
	}
	host, portStr, err := net.SplitHostPort(address)
	if err != nil {
		return nil, &net.OpError{Op: "dial", Net: network, Err: err}
	}
	port, err := strconv.ParseUint(portStr, 10, 16)
	if err != nil {
		return nil, &net.OpError{Op: "dial", Net: network, Err: fmt.Errorf("bad port %q", portStr)}
	}
	var addrs []netip.Addr
	if a, err := netip.ParseAddr(host); err == nil {
		addrs = []netip.Addr{a.Unmap()}
	} else {
		addrs, err = h.Resolve(ctx, host)
		if err != nil {
			return nil, &net.OpError{Op: "dial", Net: network, Err: err}
		}
	}
	var firstErr error
	for _, a := range addrs {
		if network[len(network)-1] == '4' && !a.Is4() || network[len(network)-1] == '6' && !a.Is6() {
			continue
		}
		c, err := h.DialAddr(ctx, network, netip.AddrPortFrom(a, uint16(port)))
		if err == nil {
			return c, nil
		}
		if firstErr == nil {
			firstErr = err
		}
		if ctx.Err() != nil {
			break
		}
	}
	if firstErr == nil {
		firstErr = &net.OpError{Op: "dial", Net: network, Err: &net.DNSError{Err: "no suitable address", Name: host, IsNotFound: true}}
	}
	return nil, firstErr
}

// DialContext is Dial, with the signature net/http's Transport wants.
func (h *Host) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	return h.Dial(ctx, network, address)
}

// DialAddr connects to an address.
func (h *Host) DialAddr(ctx context.Context, network string, dst netip.AddrPort) (net.Conn, error) {
	st, err := h.stack()
	if err != nil {
		return nil, &net.OpError{Op: "dial", Net: network, Err: err}
	}
	switch network {
	case "tcp", "tcp4", "tcp6":
		return st.DialTCP(ctx, dst)
	case "udp", "udp4", "udp6":
		return st.DialUDP(dst)
	}
	return nil, &net.OpError{Op: "dial", Net: network, Err: net.UnknownNetworkError(network)}
}

// Listen listens for TCP connections on address (":443", "[::]:80",
// "198.18.0.5:80"); an empty host listens on all of the host's addresses.
func (h *Host) Listen(network, address string) (net.Listener, error) {
	st, ap, err := h.listenOn(network, address, "tcp")
	if err != nil {
		return nil, err
	}
	return st.ListenTCP(ap)
}

// ListenPacket opens a UDP socket on address.
func (h *Host) ListenPacket(network, address string) (net.PacketConn, error) {
	st, ap, err := h.listenOn(network, address, "udp")
	if err != nil {
		return nil, err
	}
	return st.ListenUDP(ap)
}

// listenOn checks network against the transport a listen call serves and
// parses address, bringing the stack up.
func (h *Host) listenOn(network, address, transport string) (*netstack.Stack, netip.AddrPort, error) {
	if network != transport && network != transport+"4" && network != transport+"6" {
		return nil, netip.AddrPort{}, &net.OpError{Op: "listen", Net: network, Err: net.UnknownNetworkError(network)}
	}
	ap, err := parseListenAddr(address)
	if err == nil {
		var st *netstack.Stack
		if st, err = h.stack(); err == nil {
			return st, ap, nil
		}
	}
	return nil, netip.AddrPort{}, &net.OpError{Op: "listen", Net: network, Err: err}
}

func parseListenAddr(address string) (netip.AddrPort, error) {
	host, portStr, err := net.SplitHostPort(address)
	if err != nil {
		return netip.AddrPort{}, err
	}
	port, err := strconv.ParseUint(portStr, 10, 16)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("bad port %q", portStr)
	}
	if host == "" {
		return netip.AddrPortFrom(netip.IPv6Unspecified(), uint16(port)), nil
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("listen address must be an IP address: %q", host)
	}
	return netip.AddrPortFrom(a.Unmap(), uint16(port)), nil
}

// inbox is a host's receive queue: the fabric hands it packets from any
// goroutine, one goroutine delivers them to the stack in batches. It is the
// one goroutine hand-off on a path between two hosts. It holds each packet
// in a netstack.Buf, which it hands over to the stack: the sender's own
// buffer when the packet came with one, else a copy.
type inbox struct {
	mu     sync.Mutex
	q      []netstack.Buf
	wake   chan struct{}
	done   chan struct{}
	closed bool
	drops  atomic.Uint64
}

const inboxLimit = 8192

// put queues pkt. own, when not nil and holding pkt's bytes (pkt may be
// shorter: a router trims what lies beyond the IP length), is taken over
// rather than copied.
func (q *inbox) put(pkt []byte, own *netstack.Buf) {
	var b netstack.Buf
	if own != nil && len(pkt) > 0 {
		if ob := own.Bytes(); len(ob) >= len(pkt) && &ob[0] == &pkt[0] {
			b = own.Take()
			b.Trim(len(pkt))
		}
	}
	if b.Bytes() == nil {
		b = netstack.CopyBuf(pkt)
	}
	q.mu.Lock()
	if q.closed || len(q.q) >= inboxLimit {
		q.mu.Unlock()
		q.drops.Add(1)
		b.Release()
		return
	}
	q.q = append(q.q, b)
	first := len(q.q) == 1
	q.mu.Unlock()
	if first {
		select {
		case q.wake <- struct{}{}:
		default:
		}
	}
}

func (q *inbox) run(deliver func(netstack.Buf)) {
	var batch []netstack.Buf
	for {
		select {
		case <-q.wake:
		case <-q.done:
			q.mu.Lock()
			for i := range q.q {
				q.q[i].Release()
			}
			q.q = nil
			q.mu.Unlock()
			return
		}
		for {
			q.mu.Lock()
			batch, q.q = q.q, batch[:0]
			q.mu.Unlock()
			if len(batch) == 0 {
				break
			}
			for i := range batch {
				deliver(batch[i].Take())
			}
		}
	}
}

func (q *inbox) start(deliver func(netstack.Buf)) {
	q.wake = make(chan struct{}, 1)
	q.done = make(chan struct{})
	go q.run(deliver)
}

func (q *inbox) stop() {
	q.mu.Lock()
	if !q.closed {
		q.closed = true
		close(q.done)
	}
	q.mu.Unlock()
}

var errClosed = errors.New("world: stopped")

// errNilHost is what a nil *Host's network methods return.
var errNilHost = fmt.Errorf("%w: a nil *Host (World.Host returns nil for a name the world does not have; use LookupHost)", ErrNoHost)

// Up builds the host's stack now rather than on first use.
func (h *Host) Up() error {
	_, err := h.stack()
	return err
}

// Divert hands the host's network interface to something outside the world,
// such as the TUN device of a real program's network namespace: from now on
// every packet addressed to the host is passed to out (which must copy what
// it keeps) instead of the host's stack, and each packet given to the
// returned inject function enters the world as if the host had sent it (it
// is borrowed for the call). restore gives the interface back to the host's
// stack.
func (h *Host) Divert(out func(pkt []byte)) (inject func(pkt []byte), restore func()) {
	h.divert.Store(&out)
	return h.send, func() { h.divert.Store(nil) }
}
