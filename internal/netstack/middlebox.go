package netstack

import (
	"context"
	"errors"
	"net"
	"net/netip"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
	"gvisor.dev/gvisor/pkg/waiter"
)

// Middlebox is a stack that answers for any address: it accepts every TCP
// connection whose packets it is given, whatever their destination, and it
// opens connections from any source address. A censor that terminates TCP
// itself (a transparent proxy, TLS interception) runs on one: it is the
// server to the client and the client to the server, with the addresses of
// each.
type Middlebox struct {
	*Stack
}

// NewMiddlebox builds a middlebox that emits packets through send and hands
// each accepted connection, with its client and (original) server addresses,
// to accept, in a goroutine of its own.
func NewMiddlebox(send func([]byte), accept func(c net.Conn, client, server netip.AddrPort)) (*Middlebox, error) {
	st, err := New(Config{Send: send, transparent: true})
	if err != nil {
		return nil, err
	}
	s := st.s
	for _, fn := range []func(tcpip.NICID, bool) tcpip.Error{s.SetPromiscuousMode, s.SetSpoofing} {
		if terr := fn(nicID, true); terr != nil {
			st.Close()
			return nil, errors.New("netstack: middlebox: " + terr.String())
		}
	}
	s.SetRouteTable([]tcpip.Route{{Destination: header.IPv4EmptySubnet, NIC: nicID}, {Destination: header.IPv6EmptySubnet, NIC: nicID}})
	fwd := tcp.NewForwarder(s, 0, 1024, func(r *tcp.ForwarderRequest) {
		id := r.ID()
		var wq waiter.Queue
		ep, terr := r.CreateEndpoint(&wq)
		if terr != nil {
			r.Complete(true)
			return
		}
		r.Complete(false)
		client := netip.AddrPortFrom(addrOf(id.RemoteAddress), id.RemotePort)
		server := netip.AddrPortFrom(addrOf(id.LocalAddress), id.LocalPort)
		go accept(&tcpConn{TCPConn: gonet.NewTCPConn(&wq, ep)}, client, server)
	})
	s.SetTransportProtocolHandler(tcp.ProtocolNumber, fwd.HandlePacket)
	return &Middlebox{Stack: st}, nil
}

func addrOf(a tcpip.Address) netip.Addr {
	ad, _ := netip.AddrFromSlice(a.AsSlice())
	return ad.Unmap()
}

// DialFrom opens a TCP connection to dst that appears to come from src.
func (m *Middlebox) DialFrom(ctx context.Context, src, dst netip.AddrPort) (net.Conn, error) {
	if src.Addr().Is6() != dst.Addr().Is6() {
		return nil, errors.New("netstack: middlebox: address families differ")
	}
	return m.dial(ctx, src, dst)
}
