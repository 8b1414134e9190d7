package scenario

import (
	"fmt"
	"math/bits"
	"net/netip"
	"slices"
	"strings"
)

// Address plan parameters (see README.md, "The address plan").
const (
	coreBits4    = 28 // a jurisdiction's core segment: the first /28 ...
	coreBits6    = 64 // ... and the first /64 of its prefixes
	netBits6     = 64 // every allocated network gets an IPv6 /64
	minNetBits4  = 26 // and an IPv4 block of at least /26 (64 addresses)
	netHeadroom4 = 16 // IPv4 blocks hold the hosts plus this many spare
	rootNSName   = "a.root-servers.net."
	rootZone     = "."
	tldNSPrefix  = "ns1.nic."
	siteNSPrefix = "ns1."
)

// Plan validates the scenario and allocates its addresses and generated
// hosts. The result depends only on the scenario, never on time or
// randomness or map order. Plan returns Validate's *Error when the scenario
// is invalid, and an *Error when the address space is too small.
//
// Addresses: each jurisdiction first takes a core segment (/28 and /64) at
// the start of its first prefix of each family; its border router takes the
// first address there. Networks that give no prefixes then get, in scenario
// order, the next free aligned IPv4 block big enough for their hosts plus 16
// (a power of two, at least /26) and the next free IPv6 /64. A network's
// router takes the first address of each of its prefixes (.1, ::1), and its
// hosts the following ones, declared hosts first, skipping addresses that
// hosts declare themselves. The routers that links hide (Link.Hops) are
// addressed last; see hops.go.
func (s *Scenario) Plan() (*Plan, error) {
	l, err := s.validate()
	if err != nil {
		return nil, err
	}
	pl := &planner{s: s, l: l}
	p := pl.plan()
	if err := pl.probs.err(); err != nil {
		return nil, err
	}
	return p, nil
}

type planner struct {
	s     *Scenario
	l     *layout
	probs problems
}

func (pl *planner) errorf(pos Pos, format string, args ...any) {
	pl.probs.add(pos, fmt.Sprintf(format, args...))
}

func splitFamilies(ps []netip.Prefix) (v4, v6 []netip.Prefix) {
	for _, p := range ps {
		if p.Addr().Is4() {
			v4 = append(v4, p)
		} else {
			v6 = append(v6, p)
		}
	}
	return v4, v6
}

func firstAddr(p netip.Prefix) netip.Addr { return p.Addr().Next() }

func (pl *planner) plan() *Plan {
	s, l := pl.s, pl.l
	nhosts := 0
	for i, r := range l.nets {
		nhosts += len(r.n.Hosts) + len(l.gen[i])
	}
	p := &Plan{
		Scenario:      s,
		Jurisdictions: make([]*PlannedJurisdiction, 0, len(s.Jurisdictions)),
		Networks:      make([]*PlannedNetwork, 0, len(l.nets)),
		Hosts:         make([]*PlannedHost, 0, nhosts),
		hosts:         make(map[string]*PlannedHost, nhosts),
		networks:      make(map[string]*PlannedNetwork, len(l.nets)),
		jurisdictions: make(map[string]*PlannedJurisdiction, len(s.Jurisdictions)),
	}

	p.BackbonePrefixes = s.BackbonePrefixes
	if len(p.BackbonePrefixes) == 0 {
		p.BackbonePrefixes = slices.Clone(DefaultBackbonePrefixes)
	}
	b4, b6 := splitFamilies(p.BackbonePrefixes)
	p.Backbone = RouterAddrs{V4: firstAddr(b4[0]), V6: firstAddr(b6[0])}
	pl.backboneHops(p, b4[0], b6[0])

	// Jurisdictions and their networks' prefixes.
	netPrefixes := make([][2]netip.Prefix, len(l.nets))
	ni := 0
	for j := range s.Jurisdictions {
		ju := &s.Jurisdictions[j]
		pj := &PlannedJurisdiction{Code: ju.Code, Name: ju.Name, Prefixes: slices.Clone(ju.Prefixes), Border: ju.Border}
		p.Jurisdictions = append(p.Jurisdictions, pj)
		p.jurisdictions[ju.Code] = pj

		var taken []netip.Prefix
		for _, n := range ju.Networks {
			taken = append(taken, n.Prefixes...)
		}
		j4, j6 := splitFamilies(ju.Prefixes)
		pools := [2]*pool{{ranges: j4, taken: taken}, {ranges: j6, taken: taken}}
		core4, ok4 := pools[0].alloc(coreBits(ju.Border.Link.Hops))
		core6, ok6 := pools[1].alloc(coreBits6)
		if !ok4 || !ok6 {
			pl.errorf(ju.Pos, "jurisdiction %q: no room for its core segment (a /%d and a /%d) in its prefixes", ju.Code, coreBits(ju.Border.Link.Hops), coreBits6)
			return nil
		}
		pj.Core = []netip.Prefix{core4, core6}
		pj.Router = RouterAddrs{V4: firstAddr(core4), V6: firstAddr(core6)}
		pl.jurisdictionHops(j, pj)

		for ; ni < len(l.nets) && l.nets[ni].j == j; ni++ {
			n := l.nets[ni].n
			if len(n.Prefixes) > 0 {
				n4, n6 := splitFamilies(n.Prefixes)
				netPrefixes[ni] = [2]netip.Prefix{n4[0], n6[0]}
				continue
			}
			count := len(n.Hosts) + len(l.gen[ni]) + netHops(n)
			size := max(1<<(32-minNetBits4), count+netHeadroom4)
			bits4 := 32 - bits.Len(uint(size-1))
			p4, ok4 := pools[0].alloc(bits4)
			p6, ok6 := pools[1].alloc(netBits6)
			if !ok4 || !ok6 {
				pl.errorf(n.Pos, "network %q: jurisdiction %q has no room left for its prefixes (an IPv4 /%d and an IPv6 /%d for %d hosts)", n.Name, ju.Code, bits4, netBits6, count)
				return nil
			}
			netPrefixes[ni] = [2]netip.Prefix{p4, p6}
		}
	}

	// Networks and hosts.
	for i, r := range l.nets {
		n := r.n
		pn := &PlannedNetwork{
			Name:         n.Name,
			Jurisdiction: s.Jurisdictions[r.j].Code,
			ASN:          n.ASN,
			Kind:         n.Kind,
			Prefixes:     []netip.Prefix{netPrefixes[i][0], netPrefixes[i][1]},
			Border:       n.Border,
			Router:       RouterAddrs{V4: firstAddr(netPrefixes[i][0]), V6: firstAddr(netPrefixes[i][1])},
		}
		p.Networks = append(p.Networks, pn)
		p.networks[n.Name] = pn

		used := make(map[netip.Addr]bool)
		for _, h := range n.Hosts {
			for _, a := range h.Addrs {
				used[a] = true
			}
		}
		alloc := [2]*hostAddrs{newHostAddrs(pn.Prefixes[0], used), newHostAddrs(pn.Prefixes[1], used)}
		var full [2]bool
		firstHost := len(p.Hosts)
		addrs := func(name string, pos Pos, given []netip.Addr) []netip.Addr {
			out := make([]netip.Addr, 2)
			for _, a := range given {
				if a.Is4() {
					out[0] = a
				} else {
					out[1] = a
				}
			}
			for f := range out {
				if out[f].IsValid() {
					continue
				}
				a, ok := alloc[f].alloc()
				if !ok && !full[f] {
					full[f] = true
					pl.errorf(pos, "network %q: prefix %q has no room left for host %q and the %d hosts after it", n.Name, pn.Prefixes[f], name, len(n.Hosts)+len(l.gen[i])-len(p.Hosts)+firstHost-1)
				}
				out[f] = a
			}
			return out
		}
		for _, h := range n.Hosts {
			pl.addHost(p, &PlannedHost{
				Name: h.Name, Jurisdiction: pn.Jurisdiction, Network: n.Name, Role: h.Role,
				Addrs: addrs(h.Name, h.Pos, h.Addrs), Link: h.Link, Firewall: n.Firewall,
			})
		}
		for _, g := range l.gen[i] {
			ph := &PlannedHost{
				Name: g.Name, Jurisdiction: pn.Jurisdiction, Network: n.Name, Role: g.Role,
				Addrs: addrs(g.Name, n.Pos, nil), Zones: g.Zones, Firewall: n.Firewall,
			}
			if g.Role == RoleWeb {
				ph.Sites = []string{s.Sites[g.Site].Domain}
			}
			pl.addHost(p, ph)
			switch g.Role {
			case RoleResolver:
				pn.Resolver = ph.Addrs
			case RolePublicResolver:
				p.jurisdictions[pn.Jurisdiction].PublicResolver = ph.Addrs
			}
		}
		pl.networkHops(r, pn, alloc, p.Hosts[firstHost:])
	}
	if len(pl.probs) > 0 {
		return nil
	}
	pl.resolvers(p)
	pl.sites(p)
	pl.zones(p)
	pl.names(p)
	return p
}

func (pl *planner) addHost(p *Plan, h *PlannedHost) {
	p.Hosts = append(p.Hosts, h)
	p.hosts[h.Name] = h
}

// resolvers gives every host but the resolvers themselves its recursive
// resolvers: its access network's; else its jurisdiction's public resolver;
// else the resolver of the first access network of its jurisdiction; else
// the first public resolver of the world.
func (pl *planner) resolvers(p *Plan) {
	var world []netip.Addr
	for _, pj := range p.Jurisdictions {
		if pj.PublicResolver != nil {
			world = pj.PublicResolver
			break
		}
	}
	local := make(map[string][]netip.Addr, len(p.Jurisdictions))
	for _, pj := range p.Jurisdictions {
		local[pj.Code] = pj.PublicResolver
	}
	for _, pn := range p.Networks {
		if local[pn.Jurisdiction] == nil && pn.Kind == Access {
			local[pn.Jurisdiction] = pn.Resolver
		}
	}
	for _, h := range p.Hosts {
		if h.Role == RoleResolver || h.Role == RolePublicResolver {
			continue
		}
		var rs []netip.Addr
		if pn := p.networks[h.Network]; pn.Kind == Access {
			rs = pn.Resolver
		} else if rs = local[h.Jurisdiction]; rs == nil {
			rs = world
		}
		h.Resolvers = slices.Clone(rs)
	}
}

func (pl *planner) sites(p *Plan) {
	p.Sites = make([]*PlannedSite, len(pl.s.Sites))
	for i, site := range pl.s.Sites {
		h := p.hosts[webHostName(site.Domain)]
		if site.Title == "" {
			site.Title = siteTitle(site.Domain, site.Category)
		}
		p.Sites[i] = &PlannedSite{Site: site, Host: h.Name, Addrs: slices.Clone(h.Addrs)}
	}
}

func (pl *planner) zones(p *Plan) {
	l := pl.l
	ns := func(name, host string) NameServer {
		return NameServer{Name: name, Host: host, Addrs: slices.Clone(p.hosts[host].Addrs)}
	}
	root := p.hosts["root-ns"]
	p.RootHints = slices.Clone(root.Addrs)
	p.Zones = append(p.Zones, &PlannedZone{Name: rootZone, NameServers: []NameServer{ns(rootNSName, root.Name)}})

	tlds := append(slices.Clone(l.genericTLDs), l.ccTLDs...)
	slices.Sort(tlds)
	for _, t := range tlds {
		host := "gtld-ns"
		if slices.Contains(l.ccTLDs, t) {
			host = t + "-tld-ns"
		}
		p.Zones = append(p.Zones, &PlannedZone{Name: t + ".", NameServers: []NameServer{ns(tldNSPrefix+t+".", host)}})
	}

	var siteZones []*PlannedZone
	for i, r := range l.nets {
		for _, g := range l.gen[i] {
			if g.Role != RoleAuthNS {
				continue
			}
			for _, z := range g.Zones {
				siteZones = append(siteZones, &PlannedZone{Name: z, NameServers: []NameServer{ns(siteNSPrefix+z, r.n.Name+"-ns")}})
			}
		}
	}
	slices.SortFunc(siteZones, func(a, b *PlannedZone) int { return strings.Compare(a.Name, b.Name) })
	p.Zones = append(p.Zones, siteZones...)
}
