package probe

import (
	"bufio"
	"context"
	"net"
	"net/netip"
	"os"
	"strings"
)

// Network is what the experiments need from a vantage point: make
// connections and UDP sockets, and name the recursive resolvers it is
// configured with. The emulated world's *world.Host implements it, and so does
// OS (the machine's own network), so the same probe measures either. Dial
// addresses are always literal "ip:port": the probe does its own DNS.
type Network interface {
	DialContext(ctx context.Context, network, address string) (net.Conn, error)
	ListenPacket(network, address string) (net.PacketConn, error)
	Resolvers() []netip.Addr
}

// ControlHost is a Network that can also accept connections: what the test
// helper (ServeControl) runs on.
type ControlHost interface {
	Network
	Listen(network, address string) (net.Listener, error)
}

// OS is the real network of the machine the program runs on. Its zero value
// is usable; its resolvers are read from /etc/resolv.conf.
type OS struct {
	// ResolvConf is the resolver configuration file; "" means /etc/resolv.conf.
	ResolvConf string
}

var (
	_ Network     = OS{}
	_ ControlHost = OS{}
)

// DialContext dials with a net.Dialer.
func (OS) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	var d net.Dialer
	return d.DialContext(ctx, network, address)
}

// ListenPacket opens a UDP socket.
func (OS) ListenPacket(network, address string) (net.PacketConn, error) {
	return net.ListenPacket(network, address)
}

// Listen opens a TCP listener.
func (OS) Listen(network, address string) (net.Listener, error) {
	return net.Listen(network, address)
}

// Resolvers lists the nameserver lines of the resolver configuration.
func (o OS) Resolvers() []netip.Addr {
	path := o.ResolvConf
	if path == "" {
		path = "/etc/resolv.conf"
	}
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []netip.Addr
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) >= 2 && fs[0] == "nameserver" {
			if a, err := netip.ParseAddr(fs[1]); err == nil {
				out = append(out, a.Unmap())
			}
		}
	}
	return out
}
