//go:build linux

package portal

import (
	"fmt"
	"io"
	"net/netip"
	"os"
	"strings"

	"github.com/splinter-lab/splinter/world"
)

// MTU is the MTU of a namespace's TUN device: the world's default MTU.
const MTU = 1500

// World is where a namespace's TUN device is attached: a world in this
// process (Local) or one in another process reached through its control
// socket (Remote).
type World interface {
	// Config describes the named host for a namespace standing in for it.
	Config(host string) (*Config, error)
	// Attach bridges tun, a TUN device opened in a namespace made from the
	// host's Config, into the host until the returned Closer is closed.
	// Attach takes ownership of tun, also when it fails.
	Attach(host string, tun *os.File) (io.Closer, error)
}

// Config is what a namespace needs to stand in for a host. The zero value is
// not usable; get one from World.Config.
type Config struct {
	// Host is the host's name in the scenario.
	Host string `json:"host"`
	// Addrs are the host's addresses, IPv4 first.
	Addrs []netip.Addr `json:"addrs"`
	// Resolvers are the host's recursive resolvers.
	Resolvers []netip.Addr `json:"resolvers"`
	// MTU of the TUN device.
	MTU int `json:"mtu"`
	// CA is the scenario CA's certificate, PEM-encoded.
	CA []byte `json:"ca"`
	// Names are written to the namespace's /etc/hosts: every host of the
	// world, so that servers run with exec can be reached by host name.
	Names []Name `json:"names"`
}

// Name is one line of the namespace's /etc/hosts.
type Name struct {
	Name  string       `json:"name"`
	Addrs []netip.Addr `json:"addrs"`
}

// configFor describes host name of w. A site's domain also names the host
// that serves it, so that a program can stand in for a site.
func configFor(w *world.World, name string) (*Config, error) {
	h := lookup(w, name)
	if h == nil {
		return nil, fmt.Errorf("portal: scenario %q has no host or site %q", w.Plan().Scenario.Name, name)
	}
	c := &Config{
		Host:      h.Name(),
		Addrs:     h.Addrs(),
		Resolvers: h.Resolvers(),
		MTU:       MTU,
	}
	if ca := w.CA(); ca != nil {
		c.CA = ca.CertPEM()
	}
	for _, o := range w.Hosts() {
		c.Names = append(c.Names, Name{Name: o.Name(), Addrs: o.Addrs()})
	}
	return c, nil
}

func lookup(w *world.World, name string) *world.Host {
	if h := w.Host(name); h != nil {
		return h
	}
	name = strings.TrimSuffix(strings.ToLower(name), ".")
	for _, s := range w.Plan().Sites {
		if s.Domain == name {
			return w.Host(s.Host)
		}
	}
	return nil
}

// hostsFile renders c as an /etc/hosts file.
func (c *Config) hostsFile() []byte {
	var b strings.Builder
	b.WriteString("# written by splinter for host " + c.Host + "\n")
	b.WriteString("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n")
	for _, n := range c.Names {
		for _, a := range n.Addrs {
			fmt.Fprintf(&b, "%s\t%s\n", a, n.Name)
		}
	}
	return []byte(b.String())
}

// resolvConf renders c as a resolv.conf.
func (c *Config) resolvConf() []byte {
	var b strings.Builder
	b.WriteString("# written by splinter for host " + c.Host + "\n")
	for _, r := range c.Resolvers {
		fmt.Fprintf(&b, "nameserver %s\n", r)
	}
	// Hosts are named in DNS too (us-vps-1.hosts.splinter.).
	b.WriteString("search " + strings.TrimSuffix(world.HostsZone, ".") + "\n")
	return []byte(b.String())
}
