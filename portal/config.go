//go:build linux

package portal

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/splinter-lab/splinter/world"
)

// MTU is the MTU of a namespace's TUN device: the world's default MTU.
const MTU = 1500

// World is where programs enter hosts: a world in this process (Local) or
// one in another process reached through its control socket (Remote).
type World interface {
	// Enter returns the namespace standing in for the named host (a host
	// name, or the domain of a site it serves), made on first use and
	// shared by every program that enters the host until the last Entry
	// of it is closed.
	Enter(host string) (*Entry, error)
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
func configFor(w *world.World, h *world.Host) *Config {
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
	return c
}

// lookup finds a host by its name or by the domain of a site it serves.
func lookup(w *world.World, name string) (*world.Host, error) {
	if h, err := w.LookupHost(name); err == nil {
		return h, nil
	}
	domain := strings.TrimSuffix(strings.ToLower(name), ".")
	for _, s := range w.Plan().Sites {
		if s.Domain == domain {
			return w.LookupHost(s.Host)
		}
	}
	return nil, &RequestError{Msg: fmt.Sprintf("portal: scenario %q has no host or site %q", w.Plan().Scenario.Name, name), BadInput: true}
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
