package scenario

import (
	"fmt"
	"io"
	"net/netip"
	"strings"
	"text/tabwriter"
)

// Plan is a scenario with every address allocated and every generated host
// (resolvers, name servers, web hosts, the test helper) added: what the world
// is built from, and what `splinter scenarios --hosts` lists. Plans are made
// by (*Scenario).Plan and are deterministic: the same scenario always gives
// the same plan.
type Plan struct {
	Scenario *Scenario
	// Jurisdictions, in scenario order.
	Jurisdictions []*PlannedJurisdiction
	// Networks, in scenario order.
	Networks []*PlannedNetwork
	// Hosts, in a stable order: per jurisdiction, per network, declared hosts
	// first, then generated ones.
	Hosts []*PlannedHost
	// Sites, in scenario order, each with the web host that serves it.
	Sites []*PlannedSite
	// Zones lists every DNS zone of the world, root (".") first, then TLDs,
	// then site zones, each with its name servers.
	Zones []*PlannedZone
	// Names are the names of the world that are not sites, each naming a
	// host: the first control host is also called by the LookupNames that
	// no site has. The world's DNS answers each from the deepest zone of
	// the plan that contains it.
	Names []*PlannedName
	// RootHints are the addresses of the root name servers.
	RootHints []netip.Addr
	// Backbone is the addressing of the transit router: the first address
	// of the first IPv4 and the first IPv6 backbone prefix.
	Backbone RouterAddrs
	// BackbonePrefixes is the backbone's address space (the scenario's, or
	// DefaultBackbonePrefixes).
	BackbonePrefixes []netip.Prefix
	// BackboneHops are the backbone's own routers (Scenario.Backbone.Hops),
	// the addresses after the transit router's in its prefixes: every
	// packet from one jurisdiction to another crosses them, in order, after
	// the transit router.
	BackboneHops []RouterAddrs

	hosts         map[string]*PlannedHost
	networks      map[string]*PlannedNetwork
	jurisdictions map[string]*PlannedJurisdiction
}

// Host returns the planned host of that name, or nil.
func (p *Plan) Host(name string) *PlannedHost { return p.hosts[name] }

// Network returns the planned network of that name, or nil.
func (p *Plan) Network(name string) *PlannedNetwork { return p.networks[name] }

// Jurisdiction returns the planned jurisdiction with that code, or nil.
func (p *Plan) Jurisdiction(code string) *PlannedJurisdiction { return p.jurisdictions[code] }

// HostsTable writes one line per host, in plan order: its name, jurisdiction
// code, role and addresses (IPv4 first), in columns separated by spaces.
// The output is stable for a given scenario.
func (p *Plan) HostsTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	var addrs strings.Builder
	for _, h := range p.Hosts {
		addrs.Reset()
		for i, a := range h.Addrs {
			if i > 0 {
				addrs.WriteByte(' ')
			}
			addrs.WriteString(a.String())
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", h.Name, h.Jurisdiction, h.Role, addrs.String())
	}
	return tw.Flush()
}

// RouterAddrs are a router's own addresses (used as the source of ICMP errors
// so that a traceroute lists it).
type RouterAddrs struct {
	V4 netip.Addr
	V6 netip.Addr
}

// PlannedJurisdiction is a jurisdiction with its addressing.
type PlannedJurisdiction struct {
	Code     string
	Name     string
	Prefixes []netip.Prefix
	Border   Border
	// Core is the jurisdiction's core segment, an IPv4 /28 (larger when its
	// uplink hides more than 13 routers) and an IPv6 /64 taken at the start
	// of its prefixes; the border router takes the first address of each.
	Core   []netip.Prefix
	Router RouterAddrs // the jurisdiction's border router
	// Hops are the routers inside its uplink to the backbone
	// (Border.Link.Hops), from the border router's end: the addresses
	// after the border router's in its core segment.
	Hops []RouterAddrs
	// PublicResolver is the address of its open resolver, if it has one.
	PublicResolver []netip.Addr
}

// PlannedNetwork is a network with its addressing.
type PlannedNetwork struct {
	Name         string
	Jurisdiction string
	ASN          uint32
	Kind         NetworkKind
	Prefixes     []netip.Prefix // one IPv4 and one IPv6
	Border       Border
	Router       RouterAddrs // the first address of each prefix (.1, ::1)
	// Hops are the routers inside its uplink to the jurisdiction's border
	// router (Border.Link.Hops), from the network router's end, addressed
	// from its prefixes after its hosts.
	Hops []RouterAddrs
	// Resolver is the address(es) of the network's recursive resolver
	// (access networks only).
	Resolver []netip.Addr
}

// PlannedHost is a host with its addresses and what it runs.
type PlannedHost struct {
	Name         string
	Jurisdiction string
	Network      string
	Role         Role
	Addrs        []netip.Addr // IPv4 first, then IPv6
	Link         Link
	// Hops are the routers inside its link to the network router
	// (Link.Hops), from the host's end, addressed from the network's
	// prefixes after its hosts and the network's own hops.
	Hops []RouterAddrs
	// Resolvers are the recursive resolvers the host is configured with,
	// IPv4 first: its access network's resolver; in other networks, its
	// jurisdiction's public resolver, else the resolver of its
	// jurisdiction's first access network, else the first public resolver
	// of the world. Resolvers themselves have none.
	Resolvers []netip.Addr
	// Firewall is its network's (Network.Firewall).
	Firewall Firewall
	// Sites are the domains a web host serves.
	Sites []string
	// Zones are the zones a name server serves ("." for the root).
	Zones []string
}

// PlannedSite is a site with the host that serves it. Its Title and Body are
// filled in: as written in the scenario, or generated from the domain and
// category (the same every time).
type PlannedSite struct {
	Site
	Host  string       // the web host's name
	Addrs []netip.Addr // the web host's addresses
}

// PlannedZone is a DNS zone and where it is served.
type PlannedZone struct {
	Name        string // "." or "com." or "example-news.com."
	NameServers []NameServer
}

// NameServer is one of a zone's name servers.
type NameServer struct {
	Name  string // "a.root-servers.net.", "ns1.nic.com.", "ns1.example-news.com."
	Host  string // the host that serves it
	Addrs []netip.Addr
}
