package scenario

import "net/netip"

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
	// RootHints are the addresses of the root name servers.
	RootHints []netip.Addr
	// Backbone is the addressing of the transit router.
	Backbone RouterAddrs
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
	Router   RouterAddrs // the jurisdiction's border router
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
	Router       RouterAddrs
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
	// Resolvers are the recursive resolvers the host is configured with
	// (its network's, or its jurisdiction's nearest).
	Resolvers []netip.Addr
	// Sites are the domains a web host serves.
	Sites []string
	// Zones are the zones a name server serves ("." for the root).
	Zones []string
}

// PlannedSite is a site with the host that serves it.
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
	Name  string // "a.root-servers.splinter." style host name
	Host  string // the host that serves it
	Addrs []netip.Addr
}
