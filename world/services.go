package world

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"
	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"
	"github.com/splinter-lab/splinter/nameserver"
	"github.com/splinter-lab/splinter/pki"
	"github.com/splinter-lab/splinter/scenario"
	"github.com/splinter-lab/splinter/website"
)

// services are the programs the world runs on its hosts: the scenario CA,
// the DNS hierarchy, recursive resolvers and web sites.
type services struct {
	ca     *pki.CA
	cancel context.CancelFunc
	wg     sync.WaitGroup
	closes []func()
	errMu  sync.Mutex
	errs   []error
}

func (s *services) stop() {
	if s.cancel != nil {
		s.cancel()
	}
	s.wg.Wait()
	for _, c := range s.closes {
		c()
	}
}

// run starts a service goroutine that stops with the world.
func (s *services) run(name string, f func(ctx context.Context) error, ctx context.Context) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := f(ctx); err != nil && ctx.Err() == nil {
			s.errMu.Lock()
			s.errs = append(s.errs, fmt.Errorf("%s: %w", name, err))
			s.errMu.Unlock()
		}
	}()
}

// HostsZone is the DNS zone under which every host of the world is named:
// "us-vps-1.hosts.splinter." resolves to us-vps-1's addresses.
const HostsZone = "hosts.splinter."

// CA returns the scenario certificate authority whose root every host of the
// world trusts (nil when the world runs no services).
func (w *World) CA() *pki.CA { return w.svc.ca }

// zones builds the DNS zones of the plan: the root, TLDs and site zones, each
// delegating to its children with glue.
func zones(p *scenario.Plan) (map[string]*nameserver.Zone, error) {
	byName := make(map[string]*nameserver.Zone, len(p.Zones))
	for _, pz := range p.Zones {
		z := &nameserver.Zone{Origin: pz.Name, Serial: 2026112201}
		for _, ns := range pz.NameServers {
			z.NameServers = append(z.NameServers, nameserver.NameServer{Name: ns.Name, Addrs: ns.Addrs})
		}
		byName[strings.ToLower(pz.Name)] = z
	}
	for _, pz := range p.Zones {
		if pz.Name == "." {
			continue
		}
		parent := parentZone(pz.Name)
		pzone := byName[parent]
		if pzone == nil {
			return nil, fmt.Errorf("world: zone %q has no parent zone %q in the plan", pz.Name, parent)
		}
		pzone.Delegations = append(pzone.Delegations, nameserver.Delegation{Name: pz.Name, NameServers: byName[strings.ToLower(pz.Name)].NameServers})
	}
	// Every host has a name under hosts.splinter., answered from the root
	// zone itself (which resolvers hold locally), so that a server a user
	// starts on any host can be reached by name.
	if root := byName["."]; root != nil {
		for _, h := range p.Hosts {
			root.AddAddr(h.Name+"."+HostsZone, h.Addrs...)
		}
	}
	for _, s := range p.Sites {
		z := byName[siteZone(s.Domain)]
		if z == nil {
			return nil, fmt.Errorf("world: site %q has no zone in the plan", s.Domain)
		}
		z.AddAddr(s.Domain, s.Addrs...)
	}
	// The plan's other names (a control host's LookupNames) are answered
	// by the deepest zone that contains them: "www.cloudflare.com" by the
	// com. TLD's servers, or by the root's where the world has no com.
	for _, n := range p.Names {
		z := enclosingZone(byName, n.Name)
		if z == nil {
			return nil, fmt.Errorf("world: name %q has no zone in the plan", n.Name)
		}
		z.AddAddr(n.Name, n.Addrs...)
	}
	// The whoami names (scenario.WhoamiNames) are answered, by the deepest
	// zone that contains them, with the address of the resolver that asks.
	for _, n := range scenario.WhoamiNames() {
		if z := enclosingZone(byName, n); z != nil {
			z.Whoami = append(z.Whoami, n)
		}
	}
	return byName, nil
}

// enclosingZone is the deepest zone of zs that contains name (nil when
// not even the root does).
func enclosingZone(zs map[string]*nameserver.Zone, name string) *nameserver.Zone {
	z := strings.ToLower(strings.TrimSuffix(name, "."))
	for {
		if zone := zs[z+"."]; zone != nil && z != "" {
			return zone
		}
		i := strings.IndexByte(z, '.')
		if i < 0 {
			return zs["."]
		}
		z = z[i+1:]
	}
}

// parentZone is "com." for "example.com." and "." for "com.".
func parentZone(z string) string {
	z = strings.ToLower(strings.TrimSuffix(z, "."))
	if i := strings.IndexByte(z, '.'); i >= 0 {
		return z[i+1:] + "."
	}
	return "."
}

// siteZone is the zone of a site: its last two labels.
func siteZone(domain string) string {
	labels := strings.Split(strings.ToLower(strings.TrimSuffix(domain, ".")), ".")
	if len(labels) > 2 {
		labels = labels[len(labels)-2:]
	}
	return strings.Join(labels, ".") + "."
}

func (w *World) startServices() error {
	ca, err := pki.NewCA("splinter scenario CA ("+w.plan.Scenario.Name+")", nil, nil)
	if err != nil {
		return fmt.Errorf("world: CA: %w", err)
	}
	w.svc.ca = ca
	zs, err := zones(w.plan)
	if err != nil {
		return err
	}
	root := zs["."]
	ctx, cancel := context.WithCancel(context.Background())
	w.svc.cancel = cancel
	sites := make(map[string]*scenario.PlannedSite, len(w.plan.Sites))
	for _, s := range w.plan.Sites {
		sites[s.Domain] = s
	}
	for _, h := range w.order {
		hp := h.plan
		switch hp.Role {
		case scenario.RoleRootNS, scenario.RoleTLDNS, scenario.RoleAuthNS:
			var served []*nameserver.Zone
			for _, zn := range hp.Zones {
				z := zs[strings.ToLower(zn)]
				if z == nil {
					return fmt.Errorf("world: host %q serves unknown zone %q", hp.Name, zn)
				}
				served = append(served, z)
			}
			auth, err := nameserver.NewAuthoritative(served...)
			if err != nil {
				return fmt.Errorf("world: host %q: %w", hp.Name, err)
			}
			if err := w.serveDNS(ctx, h, auth); err != nil {
				return err
			}
		case scenario.RoleResolver, scenario.RolePublicResolver:
			res := &nameserver.Resolver{Dialer: h, Roots: w.plan.RootHints, LocalRoot: root, Clock: w.clk}
			if err := w.serveDNS(ctx, h, res); err != nil {
				return err
			}
		case scenario.RoleWeb:
			var ws []website.Site
			for _, d := range hp.Sites {
				s := sites[d]
				if s == nil {
					return fmt.Errorf("world: host %q serves unknown site %q", hp.Name, d)
				}
				ws = append(ws, website.Site{Domain: s.Domain, Title: s.Title, Body: s.Page(), Category: s.Category, HTTP3: s.HTTP3})
			}
			srv, err := website.New(ws, ca.GetCertificate)
			if err != nil {
				return fmt.Errorf("world: host %q: %w", hp.Name, err)
			}
			if err := w.serveWeb(ctx, h, srv, hasHTTP3(ws)); err != nil {
				return err
			}
		}
	}
	return nil
}

func hasHTTP3(ws []website.Site) bool {
	for _, s := range ws {
		if s.HTTP3 {
			return true
		}
	}
	return false
}

func (w *World) serveDNS(ctx context.Context, h *Host, handler dns.Handler) error {
	pc, err := h.ListenPacket("udp", ":53")
	if err != nil {
		return fmt.Errorf("world: host %q: %w", h.Name(), err)
	}
	ln, err := h.Listen("tcp", ":53")
	if err != nil {
		pc.Close()
		return fmt.Errorf("world: host %q: %w", h.Name(), err)
	}
	w.svc.run(h.Name()+" dns", func(ctx context.Context) error { return nameserver.Serve(ctx, handler, pc, ln) }, ctx)
	return nil
}

func (w *World) serveWeb(ctx context.Context, h *Host, srv *website.Server, h3 bool) error {
	httpLn, err := h.Listen("tcp", ":80")
	if err != nil {
		return fmt.Errorf("world: host %q: %w", h.Name(), err)
	}
	httpsLn, err := h.Listen("tcp", ":443")
	if err != nil {
		httpLn.Close()
		return fmt.Errorf("world: host %q: %w", h.Name(), err)
	}
	var pc net.PacketConn
	if h3 {
		if pc, err = h.ListenPacket("udp", ":443"); err != nil {
			httpLn.Close()
			httpsLn.Close()
			return fmt.Errorf("world: host %q: %w", h.Name(), err)
		}
		w.svc.closes = append(w.svc.closes, func() { pc.Close() })
	}
	w.svc.run(h.Name()+" web", func(ctx context.Context) error { return srv.Serve(ctx, httpLn, httpsLn, pc) }, ctx)
	return nil
}

// HTTPClient returns an HTTP client whose connections start at h and that
// trusts the scenario CA. It speaks HTTP/1.1 and HTTP/2 (over TLS). A
// request gives up after 30 s in all (http.Client.Timeout; a context
// deadline may cut it shorter), a TLS handshake after 10 s: a blocked site
// ends in an error, never a wait without end.
func (h *Host) HTTPClient() *http.Client {
	tr := &http.Transport{
		DialContext:         h.DialContext,
		TLSClientConfig:     h.TLSConfig(""),
		ForceAttemptHTTP2:   true,
		TLSHandshakeTimeout: 10 * time.Second,
		MaxIdleConnsPerHost: 4,
	}
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}

// HTTP3Client returns an HTTP/3 client whose QUIC connections start at h and
// that trusts the scenario CA. Close its transport when done:
// c.Transport.(*http3.Transport).Close().
func (h *Host) HTTP3Client() *http.Client {
	tr := &http3.Transport{
		TLSClientConfig: h.TLSConfig(""),
		Dial:            h.DialQUIC,
	}
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}

// TLSConfig returns a client TLS configuration that trusts the scenario CA,
// for serverName ("" lets crypto/tls take it from the dialled address).
func (h *Host) TLSConfig(serverName string) *tls.Config {
	var cfg *tls.Config
	if h == nil {
		cfg = &tls.Config{}
	} else if ca := h.w.svc.ca; ca != nil {
		cfg = ca.ClientTLSConfig()
	} else {
		cfg = &tls.Config{}
	}
	cfg.ServerName = serverName
	return cfg
}

// DialQUIC opens a QUIC connection from h to addr ("name:port"), on a UDP
// socket of its own that is closed with the connection. It has the signature
// of http3.Transport's Dial hook.
func (h *Host) DialQUIC(ctx context.Context, addr string, tlsCfg *tls.Config, cfg *quic.Config) (*quic.Conn, error) {
	if h == nil {
		return nil, errNilHost
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	addrs, err := h.Resolve(ctx, host)
	if err != nil {
		return nil, err
	}
	pn, err := net.LookupPort("udp", port)
	if err != nil {
		return nil, err
	}
	pc, err := h.ListenPacket("udp", ":0")
	if err != nil {
		return nil, err
	}
	tr := &quic.Transport{Conn: pc}
	var firstErr error
	for _, a := range addrs {
		c, err := tr.DialEarly(ctx, net.UDPAddrFromAddrPort(netip.AddrPortFrom(a, uint16(pn))), tlsCfg, cfg)
		if err == nil {
			context.AfterFunc(c.Context(), func() { tr.Close(); pc.Close() })
			return c, nil
		}
		if firstErr == nil {
			firstErr = err
		}
		if ctx.Err() != nil {
			break
		}
	}
	tr.Close()
	pc.Close()
	return nil, firstErr
}
