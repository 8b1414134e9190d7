package scenario

import (
	"net/netip"
	"strconv"
	"time"
)

// Scenario is the canonical, typed description of an emulated world. The YAML
// files are an adapter onto it (see Load); a scenario can equally be built in
// Go and passed to Validate and Plan. The zero value is not a usable scenario:
// Validate says what is missing.
type Scenario struct {
	// Name identifies the scenario ("splinternet").
	Name string
	// Description is one paragraph for people.
	Description string
	// At, if set, is the world's date: its clock starts there and every
	// border whose policy is a censor's history applies the version then in
	// force (a run's --at overrides it). Zero means now.
	At time.Time
	// Backbone describes the transit links that join jurisdiction borders.
	Backbone Link
	// BackbonePrefixes is the address space reserved for the backbone (the
	// transit router takes the first usable address of the first prefix of
	// each family). Empty means DefaultBackbonePrefixes. Jurisdiction
	// prefixes must not overlap it.
	BackbonePrefixes []netip.Prefix
	// RootNetwork names the hosting network that holds the root and generic
	// TLD name servers. "" means the first hosting network of the first
	// jurisdiction whose border applies no policy.
	RootNetwork string
	// Jurisdictions are the states of the world, each with its own border.
	Jurisdictions []Jurisdiction
	// Sites are the web sites of the world and their content.
	Sites []Site

	// Source is the file the scenario was read from ("" when built in Go).
	Source string
	// Pos is where the scenario document starts, for errors.
	Pos Pos

	// pos maps a value's path ("jurisdictions[0].prefixes[1]") to where
	// it was written, so that problems can point at the offending value
	// rather than at the object holding it. Nil when built in Go.
	pos map[string]Pos
}

// Jurisdiction is a state: it owns address space, contains networks and has a
// border through which all of its traffic to the rest of the world passes.
type Jurisdiction struct {
	// Code is a short upper-case code, ISO 3166-1 alpha-2 where one exists ("CN").
	Code string
	// Name is the jurisdiction's name for people ("China").
	Name string
	// Prefixes is the address space the jurisdiction owns. Networks that give
	// no prefixes of their own are allocated from it. Both an IPv4 and an IPv6
	// prefix are expected.
	Prefixes []netip.Prefix
	// Border is the jurisdiction's border gateway.
	Border Border
	// Networks are the ISPs and hosting networks inside the jurisdiction.
	Networks []Network
	// PublicResolver, when true, gives the jurisdiction an open recursive
	// resolver that any host in the world may query (like 8.8.8.8).
	PublicResolver bool
	// Control, when true, puts a measurement test helper (an uncensored
	// vantage) in this jurisdiction. When no jurisdiction sets it, the plan
	// puts one in the first uncensored hosting network (see
	// Plan.HasControl).
	Control bool

	// Pos is where the jurisdiction was declared, for errors.
	Pos Pos
}

// Border is a gateway on an uplink: a jurisdiction's link to the backbone, or
// a network's link to its jurisdiction's core. Its zero value is a border that
// applies no policy and does not impair traffic.
type Border struct {
	// Policy names the policy the border applies: an embedded profile ("CN")
	// or a path to a policy file relative to the scenario file. "" means none.
	Policy string
	// Link describes the uplink the border sits on.
	Link Link
}

// NetworkKind says what a network is for.
type NetworkKind string

const (
	// Access networks connect people: clients and the ISP's recursive resolver.
	Access NetworkKind = "access"
	// Hosting networks hold servers: web sites, name servers, VPSes.
	Hosting NetworkKind = "hosting"
)

// Firewall is what filters the TCP segments that reach a network's hosts.
type Firewall string

const (
	// FirewallNone lets every segment reach the host's TCP (the default).
	FirewallNone Firewall = ""
	// FirewallDropInvalid drops what netfilter's connection tracking
	// marks INVALID, as the default input rules of ufw and firewalld do:
	// invalid flag combinations, a RST, FIN or SYN+ACK of no connection,
	// segments outside the tracked windows.
	FirewallDropInvalid Firewall = "drop-invalid"
)

// Network is an ISP or a hosting network (an AS) inside a jurisdiction.
type Network struct {
	// Name is unique in the scenario ("cn-telecom").
	Name string
	// ASN is the network's autonomous system number.
	ASN uint32
	// Kind is Access or Hosting.
	Kind NetworkKind
	// Prefixes is the network's address space; if empty, one IPv4 and one
	// IPv6 prefix are allocated from the jurisdiction's.
	Prefixes []netip.Prefix
	// Border, when its Policy is set, is a second border on this network's
	// uplink to the jurisdiction core (a provincial firewall, an ISP's own
	// filtering). Traffic leaving the network crosses it.
	Border Border
	// Hosts are the hosts declared in this network. Access networks always
	// get a recursive resolver host in the plan, named "<network>-resolver".
	Hosts []Host
	// Firewall stands in front of every host of the network, declared or
	// planned (the web hosts of its sites among them).
	Firewall Firewall

	// Pos is where the network was declared, for errors.
	Pos Pos
}

// Role says what a host does in the world.
type Role string

// Host roles. Declared hosts are clients or servers; the plan adds the others.
const (
	RoleClient         Role = "client"          // a user's machine, a measurement vantage
	RoleServer         Role = "server"          // a generic server (a VPS for a proxy, say)
	RoleWeb            Role = "web"             // serves one or more sites
	RoleResolver       Role = "resolver"        // an ISP's recursive resolver
	RolePublicResolver Role = "public-resolver" // an open recursive resolver
	RoleRootNS         Role = "root-ns"         // serves the root zone
	RoleTLDNS          Role = "tld-ns"          // serves one or more TLD zones
	RoleAuthNS         Role = "auth-ns"         // serves sites' zones
	RoleControl        Role = "control"         // a measurement test helper
)

// Host is a machine with its own TCP/IP stack.
type Host struct {
	// Name is unique in the scenario ("cn-client-1").
	Name string
	// Role is RoleClient or RoleServer for declared hosts; it is required.
	Role Role
	// Addrs, if given, are the host's addresses; they must lie in the
	// network's prefixes. If empty, one IPv4 and one IPv6 address are
	// allocated.
	Addrs []netip.Addr
	// Link describes the host's access link to its network's router.
	Link Link

	// Pos is where the host was declared, for errors.
	Pos Pos
}

// Site is a web site: a domain with content, served by a web host.
type Site struct {
	// Domain is the site's host name ("www.example-news.com"); its zone is
	// the registrable part (the last two labels).
	Domain string
	// Category is a Citizen Lab category code ("NEWS", "POLR", ...).
	Category string
	// Network is the hosting network that serves the site.
	Network string
	// Title and Body are the site's content. When Title is empty, the plan
	// generates it from the domain and category (see PlannedSite); Body is
	// an HTML document as written, and Page generates one when it is empty.
	// The scenario itself is left as written.
	Title string
	Body  string
	// HTTP3 serves the site over QUIC as well (advertised with Alt-Svc).
	HTTP3 bool

	// Pos is where the site was declared, for errors.
	Pos Pos
}

// Link describes the impairment of a link, one way (both directions get the
// same), and how many routers it hides. Its zero value is a perfect link of
// one hop, which the fabric forwards on a fast path with no queue and no
// timer; Hops alone keeps it on that path.
type Link struct {
	// Delay is the one-way propagation delay.
	Delay time.Duration
	// Jitter is added to Delay, uniformly in [0, Jitter).
	Jitter time.Duration
	// Loss is the probability in [0, 1] that a packet is lost.
	Loss float64
	// Bandwidth is the link's rate in bits per second; 0 is unlimited.
	Bandwidth int64
	// Hops is the number of routers inside the link, between the nodes at
	// its ends (0 to MaxHops): each decrements the IP TTL (hop limit) and
	// answers a packet whose TTL runs out with an ICMP time exceeded from
	// its own address, which the plan allocates. On the backbone they are
	// the transit routers every packet between two jurisdictions crosses.
	Hops int
}

// MaxHops is the most routers a link (or the backbone) may hide: a path of
// more than 255 hops could not be crossed at all.
const MaxHops = 64

// IsZero reports whether the link is unimpaired.
func (l Link) IsZero() bool { return l == Link{} }

// Pos is a position in a scenario file. Its zero value means "unknown" (a
// scenario built in Go).
type Pos struct {
	File   string
	Line   int // 1-based; 0 when unknown
	Column int // 1-based; 0 when unknown
}

// IsValid reports whether the position is known.
func (p Pos) IsValid() bool { return p.Line > 0 }

// String returns "file:line:column", omitting the parts that are unknown,
// or "" for the zero Pos.
func (p Pos) String() string {
	if !p.IsValid() {
		return p.File
	}
	s := strconv.Itoa(p.Line)
	if p.Column > 0 {
		s += ":" + strconv.Itoa(p.Column)
	}
	if p.File != "" {
		s = p.File + ":" + s
	}
	return s
}

// PolicyRef is a policy a border names, with where it was first written.
type PolicyRef struct {
	// Policy is an embedded profile name or a path relative to the
	// scenario's folder, as written.
	Policy string
	// Pos is where the first border that names it was written (zero for a
	// scenario built in Go).
	Pos Pos
}

// PolicyRefs returns the distinct policies the scenario's borders name, in
// scenario order (jurisdictions, then each one's networks), so that a
// problem loading one can point at where it was named.
func (s *Scenario) PolicyRefs() []PolicyRef {
	var refs []PolicyRef
	seen := map[string]bool{}
	add := func(ref, path string, fallback Pos) {
		if ref == "" || seen[ref] {
			return
		}
		seen[ref] = true
		pos, ok := s.pos[path]
		if !ok {
			pos = fallback
		}
		refs = append(refs, PolicyRef{Policy: ref, Pos: pos})
	}
	for j := range s.Jurisdictions {
		ju := &s.Jurisdictions[j]
		path := "jurisdictions[" + strconv.Itoa(j) + "]"
		add(ju.Border.Policy, path+".border.policy", ju.Pos)
		for k := range ju.Networks {
			n := &ju.Networks[k]
			add(n.Border.Policy, path+".networks["+strconv.Itoa(k)+"].border.policy", n.Pos)
		}
	}
	return refs
}
