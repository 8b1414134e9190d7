package scenario

import (
	"slices"
	"strings"
)

// layout is what Validate and Plan both derive from a scenario: a flat index
// of networks, the root network and the generated hosts. It tolerates an
// invalid scenario (Validate uses it to find name clashes), skipping what it
// cannot place.
type layout struct {
	nets      []netRef       // every network, in scenario order
	netByName map[string]int // first network of each name
	rootNet   int            // index into nets; -1 when there is none
	// gen are the generated hosts of each network (indexed like nets), in
	// the order they are added to the plan.
	gen [][]genHost
	// genericTLDs and ccTLDs are the TLDs used by sites, sorted; ccTLDs
	// maps each to its jurisdiction index.
	genericTLDs []string
	ccTLDs      []string
	// jurPolicy is each jurisdiction's border policy.
	jurPolicy []string
}

type netRef struct {
	j, k int // jurisdiction index, network index within it
	n    *Network
}

// genHost is a host the plan adds.
type genHost struct {
	Name  string
	Role  Role
	Site  int      // index into Scenario.Sites for web hosts, else -1
	Zones []string // for name servers, fully qualified ("." or "com.")
	Why   string   // what it was generated for, for clash messages
}

// siteZone returns the zone of a domain: its last two labels. This is a
// known simplification: "news.example.co.uk" gets zone "co.uk".
func siteZone(domain string) string {
	last := strings.LastIndexByte(domain, '.')
	if last < 0 {
		return domain
	}
	return domain[strings.LastIndexByte(domain[:last], '.')+1:]
}

func tldOf(domain string) string {
	return domain[strings.LastIndexByte(domain, '.')+1:]
}

// webHostName is the generated web host of a site.
func webHostName(domain string) string {
	return "web-" + strings.ReplaceAll(domain, ".", "-")
}

// ccJurisdiction returns the index of the jurisdiction whose code is the
// upper-cased tld, when the tld is two letters, else -1.
func (s *Scenario) ccJurisdiction(tld string) int {
	if len(tld) != 2 {
		return -1
	}
	for i := range s.Jurisdictions {
		if strings.EqualFold(s.Jurisdictions[i].Code, tld) {
			return i
		}
	}
	return -1
}

func (l *layout) firstNet(s *Scenario, j int, kind NetworkKind) int {
	for i, r := range l.nets {
		if r.j == j && (kind == "" || r.n.Kind == kind) {
			return i
		}
	}
	return -1
}

// hostingOrFirst returns the first hosting network of jurisdiction j, else
// its first network, else -1.
func (l *layout) hostingOrFirst(s *Scenario, j int) int {
	if i := l.firstNet(s, j, Hosting); i >= 0 {
		return i
	}
	return l.firstNet(s, j, "")
}

// uncensoredHosting returns the first hosting network, in scenario order,
// of a jurisdiction whose border applies no policy and that has no border
// policy of its own, or -1.
func (l *layout) uncensoredHosting() int {
	for i, r := range l.nets {
		if r.n.Kind == Hosting && r.n.Border.Policy == "" && l.jurPolicy[r.j] == "" {
			return i
		}
	}
	return -1
}

func (s *Scenario) layout() *layout {
	l := &layout{netByName: make(map[string]int), rootNet: -1, jurPolicy: make([]string, len(s.Jurisdictions))}
	for j := range s.Jurisdictions {
		ju := &s.Jurisdictions[j]
		l.jurPolicy[j] = ju.Border.Policy
		for k := range ju.Networks {
			n := &ju.Networks[k]
			if _, dup := l.netByName[n.Name]; !dup {
				l.netByName[n.Name] = len(l.nets)
			}
			l.nets = append(l.nets, netRef{j: j, k: k, n: n})
		}
	}
	l.gen = make([][]genHost, len(l.nets))
	add := func(net int, h genHost) {
		if net >= 0 {
			if h.Role != RoleWeb {
				h.Site = -1
			}
			l.gen[net] = append(l.gen[net], h)
		}
	}

	if s.RootNetwork != "" {
		if i, ok := l.netByName[s.RootNetwork]; ok {
			l.rootNet = i
		}
	} else {
		for j := range s.Jurisdictions {
			if s.Jurisdictions[j].Border.Policy != "" {
				continue
			}
			if i := l.firstNet(s, j, Hosting); i >= 0 {
				l.rootNet = i
				break
			}
		}
	}

	// TLDs used by sites.
	generic, cc := map[string]bool{}, map[string]bool{}
	for _, site := range s.Sites {
		if site.Domain == "" || !strings.Contains(site.Domain, ".") {
			continue
		}
		tld := tldOf(site.Domain)
		if s.ccJurisdiction(tld) >= 0 {
			cc[tld] = true
		} else {
			generic[tld] = true
		}
	}
	l.genericTLDs = sortedKeys(generic)
	l.ccTLDs = sortedKeys(cc)

	for i, r := range l.nets {
		if r.n.Kind == Access {
			add(i, genHost{Name: r.n.Name + "-resolver", Role: RoleResolver, Why: "the resolver of access network " + quote(r.n.Name)})
		}
	}
	for j := range s.Jurisdictions {
		ju := &s.Jurisdictions[j]
		if ju.PublicResolver {
			add(l.hostingOrFirst(s, j), genHost{Name: strings.ToLower(ju.Code) + "-public-resolver", Role: RolePublicResolver, Why: "the public resolver of " + quote(ju.Code)})
		}
	}
	anyControl := false
	for j := range s.Jurisdictions {
		ju := &s.Jurisdictions[j]
		if ju.Control {
			anyControl = true
			add(l.firstNet(s, j, Hosting), genHost{Name: strings.ToLower(ju.Code) + "-control", Role: RoleControl, Why: "the test helper of " + quote(ju.Code)})
		}
	}
	add(l.rootNet, genHost{Name: "root-ns", Role: RoleRootNS, Zones: []string{"."}, Why: "the root zone"})
	if len(l.genericTLDs) > 0 {
		zones := make([]string, len(l.genericTLDs))
		for i, t := range l.genericTLDs {
			zones[i] = t + "."
		}
		add(l.rootNet, genHost{Name: "gtld-ns", Role: RoleTLDNS, Zones: zones, Why: "the generic TLDs"})
	}
	for _, t := range l.ccTLDs {
		add(l.hostingOrFirst(s, s.ccJurisdiction(t)), genHost{Name: t + "-tld-ns", Role: RoleTLDNS, Zones: []string{t + "."}, Why: "the ccTLD " + quote(t)})
	}
	// Per hosting network: its name server, then one web host per site.
	// A zone is kept once per network: zoneSeen is keyed by network and
	// zone, so the layout stays linear in the number of sites.
	type netZone struct {
		net  int
		zone string
	}
	zones := make([][]string, len(l.nets))
	webs := make([][]int, len(l.nets))
	seen := make(map[string]bool, len(s.Sites))
	zoneSeen := make(map[netZone]bool, len(s.Sites))
	for si, site := range s.Sites {
		i, ok := l.netByName[site.Network]
		if !ok || l.nets[i].n.Kind != Hosting || site.Domain == "" || seen[site.Domain] {
			continue // Validate reports it
		}
		seen[site.Domain] = true
		z := siteZone(site.Domain) + "."
		if nz := (netZone{i, z}); !zoneSeen[nz] {
			zoneSeen[nz] = true
			zones[i] = append(zones[i], z)
		}
		webs[i] = append(webs[i], si)
	}
	for i, r := range l.nets {
		if len(webs[i]) == 0 {
			continue
		}
		z := zones[i]
		slices.Sort(z)
		add(i, genHost{Name: r.n.Name + "-ns", Role: RoleAuthNS, Zones: z, Why: "the name server of network " + quote(r.n.Name)})
		for _, si := range webs[i] {
			d := s.Sites[si].Domain
			add(i, genHost{Name: webHostName(d), Role: RoleWeb, Site: si, Why: "the web host of site " + quote(d)})
		}
	}
	if !anyControl {
		// Measurements need a control: without one declared, the first
		// uncensored hosting network holds it, after its other hosts, so
		// that their addresses are those they had without it.
		if i := l.uncensoredHosting(); i >= 0 {
			code := s.Jurisdictions[l.nets[i].j].Code
			add(i, genHost{Name: strings.ToLower(code) + "-control", Role: RoleControl, Why: "the test helper (no jurisdiction sets control; the first uncensored hosting network holds it)"})
		}
	}
	return l
}

func sortedKeys(m map[string]bool) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}
