package netstack

import (
	"context"
	"fmt"
	"net/netip"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/link/channel"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv6"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
	"gvisor.dev/gvisor/pkg/tcpip/transport/icmp"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
	"gvisor.dev/gvisor/pkg/tcpip/transport/udp"
)

// NewRawPair joins two bare gVisor stacks with gVisor's own channel link
// endpoints and one goroutine per direction: the baseline that the fabric's
// benchmarks are measured against. It is not used by the world.
func NewRawPair(a, b netip.Addr, mtu uint32) (*Stack, *Stack, func(), error) {
	if mtu == 0 {
		mtu = 1500
	}
	mk := func(addr netip.Addr) (*Stack, *channel.Endpoint, error) {
		s := stack.New(stack.Options{
			NetworkProtocols:   []stack.NetworkProtocolFactory{ipv4.NewProtocol, ipv6.NewProtocol},
			TransportProtocols: []stack.TransportProtocolFactory{tcp.NewProtocol, udp.NewProtocol, icmp.NewProtocol4, icmp.NewProtocol6},
		})
		sack := tcpip.TCPSACKEnabled(true)
		s.SetTransportProtocolOption(tcp.ProtocolNumber, &sack)
		ep := channel.New(1024, mtu, "")
		if err := s.CreateNIC(nicID, ep); err != nil {
			return nil, nil, fmt.Errorf("netstack: %s", err)
		}
		proto := ipv4.ProtocolNumber
		dst := header.IPv4EmptySubnet
		if addr.Is6() {
			proto, dst = ipv6.ProtocolNumber, header.IPv6EmptySubnet
		}
		s.AddProtocolAddress(nicID, tcpip.ProtocolAddress{Protocol: proto, AddressWithPrefix: tcpip.AddressWithPrefix{Address: tcpip.AddrFromSlice(addr.AsSlice()), PrefixLen: addr.BitLen()}}, stack.AddressProperties{})
		s.SetRouteTable([]tcpip.Route{{Destination: dst, NIC: nicID}})
		return &Stack{s: s, addr: []netip.Addr{addr}}, ep, nil
	}
	sa, ea, err := mk(a)
	if err != nil {
		return nil, nil, nil, err
	}
	sb, eb, err := mk(b)
	if err != nil {
		return nil, nil, nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	pump := func(from, to *channel.Endpoint) {
		for {
			pkt := from.ReadContext(ctx)
			if pkt == nil {
				return
			}
			proto := pkt.NetworkProtocolNumber
			in := stack.NewPacketBuffer(stack.PacketBufferOptions{Payload: pkt.ToBuffer()})
			pkt.DecRef()
			to.InjectInbound(proto, in)
			in.DecRef()
		}
	}
	go pump(ea, eb)
	go pump(eb, ea)
	stop := func() {
		cancel()
		sa.s.Close()
		sb.s.Close()
		sa.s.Wait()
		sb.s.Wait()
	}
	return sa, sb, stop, nil
}
