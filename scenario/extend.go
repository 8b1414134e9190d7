package scenario

import (
	"fmt"
	"hash/fnv"
	"math/bits"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// ListASN is the first of the autonomous system numbers that WithSites
// gives the hosting networks it adds: 64496 + the jurisdiction's index
// (mod 16), in the range RFC 5398 reserves for documentation.
const ListASN = 64496

// WithSites returns a copy of p with more sites: names the scenario does not
// have, from a test list, made sites of the world so that what a censor does
// to them can be measured. Nothing of p moves: every address, host, zone and
// site of p is the same in the copy (a policy that names p's addresses
// still applies), and p itself is left as it was.
//
// Each site is hosted in the jurisdiction its ccTLD names, if the scenario
// has one ("www.gov.cn" in CN), else abroad: in the jurisdiction of the
// root name servers (root_network; by default that of an uncensored
// jurisdiction), where the generic TLDs are served.
// In each such jurisdiction, a hosting network "<cc>-list-hosting" (ASN
// ListASN+index; "-2", "-3"... for every further listHostingSites sites) is
// added after the jurisdiction's networks, its prefixes the next free
// aligned blocks of the jurisdiction's space, as the plan allocates, clear
// of every avoid prefix that overlaps no network of p (addresses a policy
// names in free space: a censor's forged DNS answers, its tarpits; a wider
// prefix that covers networks, aimed at them, is no reason to keep away).
// It holds, in order, the name server of a ccTLD the world did
// not serve yet ("<cc>-tld-ns"), the generic TLD server if the world had
// none and it is abroad ("gtld-ns"), the name server of the sites' zones
// the world did not serve yet ("<network>-ns"), and one web host per site
// (web-<domain with dashes>, shortened with a hash past 63 characters). A
// new generic TLD is served by gtld-ns. Content is generated as for a
// scenario's site without title and body; Site.Network and Pos are ignored.
//
// WithSites refuses a site whose domain is not a valid site domain, is
// already a site, lies in a zone the world reserves (root-servers.net,
// nic.<tld>, the hosts.splinter. names of hosts) or has no valid category,
// and a jurisdiction without room for the sites; the error lists every
// problem.
func (p *Plan) WithSites(sites []Site, avoid []netip.Prefix) (*Plan, error) {
	if len(sites) == 0 {
		return p, nil
	}
	var probs problems
	known := make(map[string]bool, len(p.Sites)+len(sites))
	for _, s := range p.Sites {
		known[s.Domain] = true
	}
	zones := make(map[string]bool, len(p.Zones))
	for _, z := range p.Zones {
		zones[z.Name] = true
	}
	// Where each site goes: a jurisdiction index.
	abroad := p.abroad()
	where := make([]int, len(sites))
	for i := range sites {
		s := &sites[i]
		tld := tldOf(s.Domain)
		switch {
		case validDomain(s.Domain) != "":
			probs.add(Pos{}, fmt.Sprintf("site domain %q %s", s.Domain, validDomain(s.Domain)))
		case known[s.Domain]:
			probs.add(Pos{}, fmt.Sprintf("site domain %q is already a site of the world", s.Domain))
		case siteZone(s.Domain) == "root-servers.net" || siteZone(s.Domain) == "nic."+tld || tld == strings.TrimSuffix(hostsTLD, "."):
			probs.add(Pos{}, fmt.Sprintf("site domain %q is in a zone the world reserves for its own names", s.Domain))
		}
		if _, ok := LookupCategory(s.Category); !ok {
			probs.add(Pos{}, fmt.Sprintf("site %q: category %q is not a Citizen Lab category code", s.Domain, s.Category))
		}
		known[s.Domain] = true
		where[i] = abroad
		if j := p.Scenario.ccJurisdiction(tld); j >= 0 {
			where[i] = j
		}
	}
	if err := probs.err(); err != nil {
		return nil, err
	}

	np := *p
	np.Networks = slices.Clone(p.Networks)
	np.Hosts = slices.Clone(p.Hosts)
	np.Sites = slices.Clone(p.Sites)
	np.Zones = slices.Clone(p.Zones)
	np.hosts = make(map[string]*PlannedHost, len(p.hosts)+len(sites)+8)
	for k, v := range p.hosts {
		np.hosts[k] = v
	}
	np.networks = make(map[string]*PlannedNetwork, len(p.networks)+4)
	for k, v := range p.networks {
		np.networks[k] = v
	}
	var free []netip.Prefix
	for _, a := range avoid {
		used := false
		for _, n := range p.Networks {
			for _, np := range n.Prefixes {
				used = used || np.Overlaps(a)
			}
		}
		if !used {
			free = append(free, a)
		}
	}
	for j := range p.Jurisdictions {
		var mine []int
		for i := range sites {
			if where[i] == j {
				mine = append(mine, i)
			}
		}
		for len(mine) > 0 && len(probs) == 0 {
			n := min(len(mine), listHostingSites)
			np.addListNetwork(j, j == abroad, sites, mine[:n], zones, free, &probs)
			mine = mine[n:]
		}
	}
	if err := probs.err(); err != nil {
		return nil, err
	}
	return &np, nil
}

// listHostingSites is the most sites one added network holds: with its
// name servers and the plan's headroom, an IPv4 /24, which fits between
// the blocks a scenario and its policies use.
const listHostingSites = 224

// hostsTLD is the TLD of the names every host has (world.HostsZone).
const hostsTLD = "splinter."

// abroad is the index of the jurisdiction that hosts the sites no ccTLD
// places: the one of the root name servers (root_network, by default an
// uncensored jurisdiction's), where the generic TLDs are served too.
func (p *Plan) abroad() int {
	if root := p.hosts["root-ns"]; root != nil {
		for j, pj := range p.Jurisdictions {
			if pj.Code == root.Jurisdiction {
				return j
			}
		}
	}
	for j, pj := range p.Jurisdictions {
		if pj.Border.Policy == "" {
			return j
		}
	}
	return 0
}

// addListNetwork adds, to jurisdiction j of np, a hosting network with the
// name servers and web hosts of sites[idx].
func (np *Plan) addListNetwork(j int, abroad bool, sites []Site, idx []int, zones map[string]bool, avoid []netip.Prefix, probs *problems) {
	pj := np.Jurisdictions[j]
	name := np.freeName(strings.ToLower(pj.Code) + "-list-hosting")

	// The hosts, in order, before addresses: their count sizes the block.
	type newHost struct {
		name  string
		role  Role
		zones []string
		site  int // index into sites for a web host
	}
	var hosts []newHost
	var newTLDs, newZones []string
	gtld := np.hosts["gtld-ns"]
	var gtldZones []string
	for _, i := range idx {
		d := sites[i].Domain
		tld, zone := tldOf(d)+".", siteZone(d)+"."
		if !zones[tld] {
			zones[tld] = true
			newTLDs = append(newTLDs, tld)
			if np.Scenario.ccJurisdiction(strings.TrimSuffix(tld, ".")) == j {
				hosts = append(hosts, newHost{name: np.freeName(strings.TrimSuffix(tld, ".") + "-tld-ns"), role: RoleTLDNS, zones: []string{tld}, site: -1})
			} else {
				gtldZones = append(gtldZones, tld)
			}
		}
		if !zones[zone] {
			zones[zone] = true
			newZones = append(newZones, zone)
		}
	}
	if len(gtldZones) > 0 && gtld == nil {
		if !abroad {
			probs.add(Pos{}, fmt.Sprintf("no server for the generic TLDs %s (internal: a ccTLD site placed them)", strings.Join(gtldZones, " ")))
			return
		}
		hosts = append(hosts, newHost{name: np.freeName("gtld-ns"), role: RoleTLDNS, zones: gtldZones, site: -1})
	}
	if len(newZones) > 0 {
		hosts = append(hosts, newHost{name: np.freeName(name + "-ns"), role: RoleAuthNS, zones: newZones, site: -1})
	}
	for _, i := range idx {
		hosts = append(hosts, newHost{name: np.freeName(listWebHostName(sites[i].Domain)), role: RoleWeb, site: i})
	}

	// The network's prefixes: the next free aligned blocks of the
	// jurisdiction's space, as Plan allocates a network without prefixes.
	taken := append(slices.Clone(pj.Core), avoid...)
	for _, pn := range np.Networks {
		if pn.Jurisdiction == pj.Code {
			taken = append(taken, pn.Prefixes...)
		}
	}
	j4, j6 := splitFamilies(pj.Prefixes)
	size := max(1<<(32-minNetBits4), len(hosts)+netHeadroom4)
	bits4 := 32 - bits.Len(uint(size-1))
	p4, ok4 := (&pool{ranges: j4, taken: taken}).alloc(bits4)
	p6, ok6 := (&pool{ranges: j6, taken: taken}).alloc(netBits6)
	if !ok4 || !ok6 {
		probs.add(Pos{}, fmt.Sprintf("jurisdiction %q has no room left for %d more sites (an IPv4 /%d and an IPv6 /%d clear of its networks and of the addresses its policies name)", pj.Code, len(idx), bits4, netBits6))
		return
	}
	pn := &PlannedNetwork{
		Name: name, Jurisdiction: pj.Code, ASN: ListASN + uint32(j%16), Kind: Hosting,
		Prefixes: []netip.Prefix{p4, p6}, Router: RouterAddrs{V4: firstAddr(p4), V6: firstAddr(p6)},
	}
	np.Networks = append(np.Networks, pn)
	np.networks[name] = pn

	resolvers := np.stubResolvers(pj.Code)
	a4, a6 := newHostAddrs(p4, nil), newHostAddrs(p6, nil)
	planned := make([]*PlannedHost, len(hosts))
	for k, h := range hosts {
		v4, _ := a4.alloc()
		v6, _ := a6.alloc()
		ph := &PlannedHost{Name: h.name, Jurisdiction: pj.Code, Network: name, Role: h.role,
			Addrs: []netip.Addr{v4, v6}, Resolvers: slices.Clone(resolvers), Zones: h.zones}
		if h.role == RoleWeb {
			ph.Sites = []string{sites[h.site].Domain}
		}
		planned[k] = ph
		np.Hosts = append(np.Hosts, ph)
		np.hosts[ph.Name] = ph
	}

	// Zones: new TLDs (served by the new ccTLD server or by gtld-ns) and
	// site zones (served by the new network's name server).
	if len(gtldZones) > 0 && gtld != nil {
		g := *gtld
		g.Zones = append(slices.Clone(gtld.Zones), gtldZones...)
		np.replaceHost(gtld, &g)
	}
	serverOf := func(zone string) *PlannedHost {
		for _, h := range np.Hosts {
			if (h.Role == RoleTLDNS || h.Role == RoleAuthNS) && slices.Contains(h.Zones, zone) {
				return h
			}
		}
		return nil
	}
	for _, z := range append(newTLDs, newZones...) {
		h := serverOf(z)
		nsName := siteNSPrefix + z
		if strings.Count(z, ".") == 1 {
			nsName = tldNSPrefix + z
		}
		np.Zones = append(np.Zones, &PlannedZone{Name: z, NameServers: []NameServer{{Name: nsName, Host: h.Name, Addrs: slices.Clone(h.Addrs)}}})
	}

	for k, h := range hosts {
		if h.role != RoleWeb {
			continue
		}
		site := sites[h.site]
		site.Network, site.Pos = name, Pos{}
		site.Title = siteTitle(site.Domain, site.Category)
		np.Sites = append(np.Sites, &PlannedSite{Site: site, Host: planned[k].Name, Addrs: slices.Clone(planned[k].Addrs)})
	}
}

// replaceHost puts h in old's place in np (old is p's, left as it was).
func (np *Plan) replaceHost(old, h *PlannedHost) {
	for i, o := range np.Hosts {
		if o == old {
			np.Hosts[i] = h
		}
	}
	np.hosts[h.Name] = h
}

// freeName returns name, or name-2, name-3, ... if a host or network of
// np has it.
func (np *Plan) freeName(name string) string {
	taken := func(n string) bool { return np.hosts[n] != nil || np.networks[n] != nil }
	if !taken(name) {
		return name
	}
	for i := 2; ; i++ {
		if n := name + "-" + strconv.Itoa(i); !taken(n) {
			return n
		}
	}
}

// listWebHostName is webHostName, shortened to fit a DNS label (63
// characters) with a hash of the domain when it is longer.
func listWebHostName(domain string) string {
	n := webHostName(domain)
	if len(n) <= 63 {
		return n
	}
	h := fnv.New32a()
	h.Write([]byte(domain))
	return strings.TrimRight(n[:54], "-") + "-" + fmt.Sprintf("%08x", h.Sum32())
}

// stubResolvers are the resolvers of a host in a hosting network of
// jurisdiction code, by the plan's rule (PlannedHost.Resolvers).
func (np *Plan) stubResolvers(code string) []netip.Addr {
	if pj := np.jurisdictions[code]; pj != nil && pj.PublicResolver != nil {
		return pj.PublicResolver
	}
	for _, pn := range np.Networks {
		if pn.Jurisdiction == code && pn.Kind == Access && pn.Resolver != nil {
			return pn.Resolver
		}
	}
	for _, pj := range np.Jurisdictions {
		if pj.PublicResolver != nil {
			return pj.PublicResolver
		}
	}
	return nil
}
