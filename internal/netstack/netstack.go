// Package netstack gives one emulated host its own userspace TCP/IP stack.
//
// It is the only package that imports gVisor: everything above it sees
// net.Conn, net.Listener, net.PacketConn and netip types, and raw IP packets
// as []byte. A Stack sends every packet it emits through the Send function it
// was built with, and takes packets in through Deliver; or, to cost one copy
// per packet between two stacks, through SendBuf and DeliverBuf, which pass
// the packet in a Buf (memory from gVisor's pool) that the receiving stack
// takes over. It does not own routing between stacks, links or borders
// (package world does).
//
// It also owns how a host's TCP answers crafted segments. Evasion strategies
// (Geneva) send insertion packets that a censor takes and the server must
// ignore; whether a strategy works depends on the server ignoring them as
// Linux does. gVisor does not always: it takes the payload of a segment
// that acknowledges data never sent, does no PAWS, and ignores TCP-MD5
// options and options that Linux's tcp_inbound_hash refuses, so a host
// would read an insertion packet as data or be reset by one. A thin layer
// (linuxtcp.go) between the link and gVisor, on for every Stack that New
// makes, keeps a few numbers per connection (SND.UNA, SND.NXT, the window
// and ts_recent, from the packets the stack sends and receives) and drops
// those segments, or has gVisor send the acknowledgment Linux would,
// following net/ipv4/tcp_input.c, tcp_ipv4.c and tcp.c; linuxtcp_test.go
// runs each behaviour on a real stack and on bare gVisor. It is written by
// hand because nothing else does this: gVisor's TCP has no option for it,
// and no library models Linux's input checks in front of another stack.
// Where gVisor already does what Linux does, the layer passes the segment.
// Where Linux changed in a way crafted segments tell apart, Config.Kernel
// says which Linux a host runs (KernelAt: that of the world's date).
// Config.DropInvalid puts a stateful firewall in front of the host
// (conntrack.go): the segments netfilter's connection tracking marks
// INVALID are dropped before the Linux checks, as ufw's and firewalld's
// default rules drop them.
// Known deviations it leaves: gVisor keeps the first of two out-of-order
// segments that start at the same sequence number where Linux keeps the
// longer; in SYN-RECV it answers a retransmitted SYN with a bare ACK where
// Linux resends its SYN-ACK, and drops a handshake ACK without a timestamp
// where Linux takes it; it delivers urgent (URG) data inline where Linux,
// without SO_OOBINLINE, takes the urgent byte out of the stream.
//
// gVisor's own process-wide log (glog-style warnings on standard error,
// one per handshake a crafted segment aborts) is silenced when the first
// stack is built, unless SPLINTER_NETSTACK_LOG is set.
package netstack

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"syscall"
	"time"

	"gvisor.dev/gvisor/pkg/buffer"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv6"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
	"gvisor.dev/gvisor/pkg/tcpip/transport/icmp"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
	"gvisor.dev/gvisor/pkg/tcpip/transport/udp"
	"gvisor.dev/gvisor/pkg/waiter"
)

const nicID = 1

// Config configures a Stack. The zero value is not usable: Addrs and Send (or
// SendBuf) are required.
type Config struct {
	// Addrs are the host's addresses. Each is installed with a host prefix;
	// all traffic leaves through the single interface.
	Addrs []netip.Addr
	// MTU of the interface; 0 means 1500.
	MTU uint32
	// Send is called with every IP packet the stack emits. It must not keep
	// pkt after it returns (copy it), and must not call back into the stack
	// synchronously for the same packet.
	Send func(pkt []byte)
	// SendBuf, when set, is called instead of Send with every packet the
	// stack emits, in a Buf the callee may take (Buf.Take) to keep the
	// packet without copying it; what it does not take the stack releases
	// when SendBuf returns. The same rules as Send's apply otherwise.
	SendBuf func(b *Buf)

	// Kernel is the Linux whose input checks the stack follows where they
	// changed between versions; the zero value is the current one.
	Kernel Kernel

	// DropInvalid puts the host behind a stateful firewall that drops
	// the inbound TCP segments netfilter's connection tracking marks
	// INVALID, as the default input rules of ufw and firewalld do
	// (conntrack.go).
	DropInvalid bool

	// transparent makes a middlebox stack: no local delivery shortcut
	// (which would take any promiscuously accepted source for our own).
	transparent bool
	// gvisorOnly leaves out the Linux input layer (linuxtcp.go): the
	// stack reacts to crafted segments as bare gVisor does. For tests.
	gvisorOnly bool
}

// Kernel names the Linux whose TCP input checks a Stack follows, where
// they changed in a way crafted segments tell apart. The zero value is
// the current kernel.
type Kernel uint8

const (
	// LinuxTCPAO is Linux 6.7 and later (released 2024-01-07), with TCP-AO
	// (RFC 5925) built in: tcp_inbound_hash drops a segment whose options
	// do not parse (tcp_do_parse_auth_options returns -EINVAL), or that
	// carries a TCP-MD5 or TCP-AO option the socket has no key for.
	LinuxTCPAO Kernel = iota
	// LinuxMD5 is Linux before 6.7 (the 4.x and 5.x of 2016-2023):
	// tcp_v4_inbound_md5_hash drops only a segment with a well-formed
	// TCP-MD5 option (18 bytes) the socket has no key for; options that
	// do not parse are skipped (tcp_parse_md5sig_option returns NULL), and
	// the segment goes on to tcp_validate_incoming.
	LinuxMD5
)

// linux67 is when Linux 6.7, the first with TCP-AO, was released.
var linux67 = time.Date(2024, 1, 7, 0, 0, 0, 0, time.UTC)

// KernelAt is the kernel a host runs in a world dated t: the Linux of the
// time, as the stack models it.
func KernelAt(t time.Time) Kernel {
	if t.Before(linux67) {
		return LinuxMD5
	}
	return LinuxTCPAO
}

// Stack is a host's userspace TCP/IP stack.
type Stack struct {
	s    *stack.Stack
	ep   *endpoint
	addr []netip.Addr
	tcp  *linuxTCP // nil for bare gVisor
}

// New builds a stack with the given addresses and a default route through
// its one interface.
func New(cfg Config) (*Stack, error) {
	if cfg.Send == nil && cfg.SendBuf == nil {
		return nil, errors.New("netstack: Config.Send and Config.SendBuf are nil")
	}
	quietGVisor()
	mtu := cfg.MTU
	if mtu == 0 {
		mtu = 1500
	}
	s := stack.New(stack.Options{
		NetworkProtocols:   []stack.NetworkProtocolFactory{ipv4.NewProtocol, ipv6.NewProtocol},
		TransportProtocols: []stack.TransportProtocolFactory{tcp.NewProtocol, udp.NewProtocol, icmp.NewProtocol4, icmp.NewProtocol6},
		HandleLocal:        !cfg.transparent,
	})
	sack := tcpip.TCPSACKEnabled(true)
	s.SetTransportProtocolOption(tcp.ProtocolNumber, &sack)
	send := cfg.SendBuf
	if send == nil {
		send = func(b *Buf) { cfg.Send(b.Bytes()) }
	}
	ep := &endpoint{mtu: mtu, send: send}
	var ltcp *linuxTCP
	if !cfg.gvisorOnly {
		ltcp = newLinuxTCP(s, cfg.Kernel, cfg.DropInvalid)
		ep.send = func(b *Buf) { ltcp.outbound(b.Bytes()); send(b) }
	}
	if err := s.CreateNIC(nicID, ep); err != nil {
		s.Close()
		return nil, fmt.Errorf("netstack: create NIC: %s", err)
	}
	var routes []tcpip.Route
	var has4, has6 bool
	for _, a := range cfg.Addrs {
		pa := tcpip.ProtocolAddress{AddressWithPrefix: tcpip.AddressWithPrefix{Address: tcpip.AddrFromSlice(a.AsSlice()), PrefixLen: a.BitLen()}}
		if a.Is4() {
			pa.Protocol = ipv4.ProtocolNumber
			has4 = true
		} else {
			pa.Protocol = ipv6.ProtocolNumber
			has6 = true
		}
		if err := s.AddProtocolAddress(nicID, pa, stack.AddressProperties{}); err != nil {
			s.Close()
			return nil, fmt.Errorf("netstack: add address %s: %s", a, err)
		}
	}
	if has4 {
		routes = append(routes, tcpip.Route{Destination: header.IPv4EmptySubnet, NIC: nicID})
	}
	if has6 {
		routes = append(routes, tcpip.Route{Destination: header.IPv6EmptySubnet, NIC: nicID})
	}
	s.SetRouteTable(routes)
	return &Stack{s: s, ep: ep, addr: cfg.Addrs, tcp: ltcp}, nil
}

// Deliver hands an IP packet that arrived on the host's link to the stack.
// The stack copies what it keeps; pkt may be reused after Deliver returns.
func (st *Stack) Deliver(pkt []byte) {
	if len(pkt) == 0 {
		return
	}
	st.DeliverBuf(CopyBuf(pkt))
}

// DeliverBuf hands an IP packet that arrived on the host's link to the
// stack, which takes b over: the stack keeps its memory as long as it needs
// it, with no copy, and gives it back to gVisor's pool.
func (st *Stack) DeliverBuf(b Buf) {
	pkt := b.Bytes()
	if len(pkt) == 0 {
		b.Release()
		return
	}
	var proto tcpip.NetworkProtocolNumber
	switch pkt[0] >> 4 {
	case 4:
		proto = ipv4.ProtocolNumber
	case 6:
		proto = ipv6.ProtocolNumber
	default:
		b.Release()
		return
	}
	d := st.ep.dispatcher()
	if d == nil {
		b.Release()
		return
	}
	if st.tcp != nil {
		switch v, wup := st.tcp.inbound(pkt); v {
		case drop:
			b.Release()
			return
		case dupACK, challengeACK:
			st.deliverProbe(d, proto, pkt, wup, v == dupACK)
			b.Release()
			return
		}
	}
	pb := stack.NewPacketBuffer(stack.PacketBufferOptions{Payload: buffer.MakeWithView(b.Take().v)})
	d.DeliverNetworkPacket(proto, pb)
	pb.DecRef()
}

// deliverProbe hands the stack, instead of pkt, the probe that makes it
// send the acknowledgment Linux would (linuxtcp.go).
func (st *Stack) deliverProbe(d stack.NetworkDispatcher, proto tcpip.NetworkProtocolNumber, pkt []byte, wup uint32, keepData bool) {
	var buf [2048]byte
	b := probe(pkt, wup, keepData, buf[:0])
	if b == nil {
		return
	}
	pb := stack.NewPacketBuffer(stack.PacketBufferOptions{Payload: buffer.MakeWithData(b)})
	d.DeliverNetworkPacket(proto, pb)
	pb.DecRef()
}

// Close tears the stack down; open connections are reset.
func (st *Stack) Close() {
	st.s.Close()
	st.s.Wait()
}

// Addrs returns the stack's addresses.
func (st *Stack) Addrs() []netip.Addr { return st.addr }

func fullAddr(ap netip.AddrPort) (tcpip.FullAddress, tcpip.NetworkProtocolNumber) {
	fa := tcpip.FullAddress{NIC: nicID, Port: ap.Port()}
	if a := ap.Addr(); a.IsValid() && !a.IsUnspecified() {
		fa.Addr = tcpip.AddrFromSlice(a.Unmap().AsSlice())
	}
	if ap.Addr().Unmap().Is4() {
		return fa, ipv4.ProtocolNumber
	}
	return fa, ipv6.ProtocolNumber
}

// DialTCP opens a TCP connection to dst.
func (st *Stack) DialTCP(ctx context.Context, dst netip.AddrPort) (net.Conn, error) {
	return st.dial(ctx, netip.AddrPort{}, dst)
}

// dial connects a new TCP endpoint, bound to src first if src is valid.
func (st *Stack) dial(ctx context.Context, src, dst netip.AddrPort) (net.Conn, error) {
	fa, proto := fullAddr(dst)
	var wq waiter.Queue
	ep, terr := st.s.NewEndpoint(tcp.ProtocolNumber, proto, &wq)
	if terr != nil {
		return nil, opError("dial", "tcp", dst, terr)
	}
	if src.IsValid() {
		local, _ := fullAddr(src)
		if terr := ep.Bind(local); terr != nil {
			ep.Close()
			return nil, opError("dial", "tcp", dst, terr)
		}
	}
	entry, notify := waiter.NewChannelEntry(waiter.WritableEvents)
	wq.EventRegister(&entry)
	defer wq.EventUnregister(&entry)
	terr = ep.Connect(fa)
	if _, ok := terr.(*tcpip.ErrConnectStarted); ok {
		select {
		case <-ctx.Done():
			ep.Close()
			return nil, &net.OpError{Op: "dial", Net: "tcp", Addr: net.TCPAddrFromAddrPort(dst), Err: ctxErr(ctx)}
		case <-notify:
		}
		terr = ep.LastError()
	}
	if terr != nil {
		ep.Close()
		return nil, opError("dial", "tcp", dst, terr)
	}
	return &tcpConn{TCPConn: gonet.NewTCPConn(&wq, ep)}, nil
}

// bind makes an endpoint of transport proto bound to addr; an unspecified
// IPv6 address (or none) takes both families.
func (st *Stack) bind(op, network string, transport tcpip.TransportProtocolNumber, addr netip.AddrPort) (tcpip.Endpoint, *waiter.Queue, error) {
	fa, proto := fullAddr(addr)
	wq := new(waiter.Queue)
	ep, terr := st.s.NewEndpoint(transport, proto, wq)
	if terr != nil {
		return nil, nil, opError(op, network, addr, terr)
	}
	if !addr.Addr().IsValid() || (addr.Addr().Is6() && addr.Addr().IsUnspecified()) {
		ep.SocketOptions().SetV6Only(false)
	}
	if terr := ep.Bind(fa); terr != nil {
		ep.Close()
		return nil, nil, opError(op, network, addr, terr)
	}
	return ep, wq, nil
}

// ListenTCP listens for TCP connections on addr (an unspecified address
// listens on all of the host's addresses of that family; the zero AddrPort
// listens on both families).
func (st *Stack) ListenTCP(addr netip.AddrPort) (net.Listener, error) {
	ep, wq, err := st.bind("listen", "tcp", tcp.ProtocolNumber, addr)
	if err != nil {
		return nil, err
	}
	if terr := ep.Listen(1024); terr != nil {
		ep.Close()
		return nil, opError("listen", "tcp", addr, terr)
	}
	return &tcpListener{TCPListener: gonet.NewTCPListener(st.s, wq, ep)}, nil
}

// ListenUDP opens an unconnected UDP socket bound to addr.
func (st *Stack) ListenUDP(addr netip.AddrPort) (net.PacketConn, error) {
	ep, wq, err := st.bind("listen", "udp", udp.ProtocolNumber, addr)
	if err != nil {
		return nil, err
	}
	return &udpConn{UDPConn: gonet.NewUDPConn(wq, ep), ep: ep}, nil
}

// udpConn lets QUIC size its socket buffers (quic-go asks for 7 MiB).
type udpConn struct {
	*gonet.UDPConn
	ep tcpip.Endpoint
}

// SetReadBuffer sets the socket's receive buffer size.
func (c *udpConn) SetReadBuffer(n int) error {
	c.ep.SocketOptions().SetReceiveBufferSize(int64(n), true)
	return nil
}

// SetWriteBuffer sets the socket's send buffer size.
func (c *udpConn) SetWriteBuffer(n int) error {
	c.ep.SocketOptions().SetSendBufferSize(int64(n), true)
	return nil
}

// DialUDP opens a UDP socket connected to dst.
func (st *Stack) DialUDP(dst netip.AddrPort) (net.Conn, error) {
	fa, proto := fullAddr(dst)
	c, err := gonet.DialUDP(st.s, nil, &fa, proto)
	if err != nil {
		return nil, &net.OpError{Op: "dial", Net: "udp", Addr: net.UDPAddrFromAddrPort(dst), Err: err}
	}
	return c, nil
}

func ctxErr(ctx context.Context) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return errTimeout{}
	}
	return ctx.Err()
}

// errTimeout is a net.Error that reports a timeout and is
// context.DeadlineExceeded, as the standard library's dialer does.
type errTimeout struct{}

func (errTimeout) Error() string   { return "i/o timeout" }
func (errTimeout) Timeout() bool   { return true }
func (errTimeout) Temporary() bool { return true }
func (errTimeout) Is(target error) bool {
	return target == context.DeadlineExceeded
}

// errnos maps gVisor's errors, by their text, onto the errno values the
// host OS would report, so that code written for the real network
// classifies failures the same way (errors.Is(err, syscall.ECONNRESET)). By
// text, because gonet turns gVisor's errors into strings.
var errnos = func() map[string]error {
	m := make(map[string]error)
	for _, e := range []struct {
		terr  tcpip.Error
		errno syscall.Errno
	}{
		{&tcpip.ErrConnectionReset{}, syscall.ECONNRESET},
		{&tcpip.ErrConnectionRefused{}, syscall.ECONNREFUSED},
		{&tcpip.ErrConnectionAborted{}, syscall.ECONNABORTED},
		{&tcpip.ErrTimeout{}, syscall.ETIMEDOUT},
		{&tcpip.ErrNetworkUnreachable{}, syscall.ENETUNREACH},
		{&tcpip.ErrHostUnreachable{}, syscall.EHOSTUNREACH},
		{&tcpip.ErrPortInUse{}, syscall.EADDRINUSE},
		{&tcpip.ErrBadLocalAddress{}, syscall.EADDRNOTAVAIL},
		{&tcpip.ErrClosedForSend{}, syscall.EPIPE},
	} {
		m[e.terr.String()] = e.errno
	}
	return m
}()

// errno is the errno for a gVisor error, or its text.
func errno(terr tcpip.Error) error {
	if e, ok := errnos[terr.String()]; ok {
		return e
	}
	return errors.New(terr.String())
}

func opError(op, network string, addr netip.AddrPort, terr tcpip.Error) error {
	var a net.Addr
	if network == "udp" {
		a = net.UDPAddrFromAddrPort(addr)
	} else {
		a = net.TCPAddrFromAddrPort(addr)
	}
	return &net.OpError{Op: op, Net: network, Addr: a, Err: errno(terr)}
}

// mapErr rewrites a gonet error so that its cause is an errno.
func mapErr(err error) error {
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Err != nil {
		if e, ok := errnos[oe.Err.Error()]; ok {
			c := *oe
			c.Err = e
			return &c
		}
	}
	return err
}

type tcpConn struct{ *gonet.TCPConn }

func (c *tcpConn) Read(b []byte) (int, error) {
	n, err := c.TCPConn.Read(b)
	if err != nil {
		err = mapErr(err)
	}
	return n, err
}

func (c *tcpConn) Write(b []byte) (int, error) {
	n, err := c.TCPConn.Write(b)
	if err != nil {
		err = mapErr(err)
	}
	return n, err
}

type tcpListener struct{ *gonet.TCPListener }

func (l *tcpListener) Accept() (net.Conn, error) {
	c, err := l.TCPListener.Accept()
	if err != nil {
		return nil, err
	}
	return &tcpConn{TCPConn: c.(*gonet.TCPConn)}, nil
}

// endpoint is the stack's one link: it hands every outbound packet to send
// as contiguous bytes, in a Buf, and needs no link-layer header or address
// resolution.
type endpoint struct {
	mu   sync.RWMutex
	d    stack.NetworkDispatcher
	mtu  uint32
	send func(*Buf)
}

var _ stack.LinkEndpoint = (*endpoint)(nil)

func (e *endpoint) dispatcher() stack.NetworkDispatcher {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return e.d
}

// sendBufs hold the Buf that WritePackets offers: send gets a pointer to
// it, which escapes through the func value, so it comes from a pool rather
// than the heap. A view that send did not take stays in it for the next
// packet.
var sendBufs = sync.Pool{New: func() any { return new(Buf) }}

// WritePackets joins each packet's views into a view from gVisor's pool,
// the one copy a packet costs between stacks, and offers it to send.
func (e *endpoint) WritePackets(pkts stack.PacketBufferList) (int, tcpip.Error) {
	n := 0
	b := sendBufs.Get().(*Buf)
	for _, pkt := range pkts.AsSlice() {
		size := pkt.Size()
		if b.v == nil || b.v.Capacity() < size {
			b.Release()
			b.v = buffer.NewView(size)
		}
		b.v.Reset()
		// Not pkt.AsSlices, which allocates the slice of slices.
		vl, off := pkt.AsViewList()
		for v := vl.Front(); v != nil; v = v.Next() {
			s := v.AsSlice()
			if off >= len(s) {
				off -= len(s)
				continue
			}
			b.v.Write(s[off:])
			off = 0
		}
		e.send(b)
		n++
	}
	sendBufs.Put(b)
	return n, nil
}

func (e *endpoint) MTU() uint32 {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return e.mtu
}
func (e *endpoint) SetMTU(mtu uint32) {
	e.mu.Lock()
	e.mtu = mtu
	e.mu.Unlock()
}
func (*endpoint) MaxHeaderLength() uint16          { return 0 }
func (*endpoint) LinkAddress() tcpip.LinkAddress   { return "" }
func (*endpoint) SetLinkAddress(tcpip.LinkAddress) {}
func (*endpoint) Capabilities() stack.LinkEndpointCapabilities {
	return stack.CapabilityNone
}
func (e *endpoint) Attach(d stack.NetworkDispatcher) {
	e.mu.Lock()
	e.d = d
	e.mu.Unlock()
}
func (e *endpoint) IsAttached() bool { return e.dispatcher() != nil }
func (*endpoint) Wait()              {}
func (*endpoint) ARPHardwareType() header.ARPHardwareType {
	return header.ARPHardwareNone
}
func (*endpoint) AddHeader(*stack.PacketBuffer)        {}
func (*endpoint) ParseHeader(*stack.PacketBuffer) bool { return true }
func (*endpoint) Close()                               {}
func (*endpoint) SetOnCloseAction(func())              {}
