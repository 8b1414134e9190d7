package scenario

import (
	"net/netip"
	"slices"
)

// HasControl reports whether the plan has a control host: the test helper
// every measurement compares with. The plan adds one to each jurisdiction
// with Control set; when none sets it, to the first hosting network of a
// jurisdiction whose border applies no policy (a network with a border
// policy of its own is passed over); when there is no such network, the
// plan has none.
func (p *Plan) HasControl() bool {
	for _, h := range p.Hosts {
		if h.Role == RoleControl {
			return true
		}
	}
	return false
}

// lookupNames are the names of the third-party services OONI Probe asks
// where it stands, as probe-cli's internal/enginelocate calls them (the
// same since Cloudflare's was added in February 2022, to commit 7cb22410c
// of August 2026): Cloudflare's trace
// (https://www.cloudflare.com/cdn-cgi/trace), Ubuntu's GeoIP lookup
// (https://geoip.ubuntu.com/lookup) and two STUN servers
// (stun.ekiga.net:3478, stun.l.google.com:19302).
var lookupNames = []string{"geoip.ubuntu.com", "stun.ekiga.net", "stun.l.google.com", "www.cloudflare.com"}

// LookupNames are the names by which the plan also calls its control host
// (Plan.Names): those of the services a probe asks its own address
// (OONI Probe's IP lookups and STUN servers), which the control host
// serves in every world (package backend), so that a probe in the world
// learns where it stands as it would on the Internet.
func LookupNames() []string { return slices.Clone(lookupNames) }

// whoamiNames tell a resolver its own address (PowerDNS's whoami service:
// an A or AAAA answer that is the address of whoever asked). OONI Probe
// looks up whoami.v4.powerdns.org through the system resolver to learn
// the resolver's address (probe-cli's internal/enginelocate,
// resolverlookup.go); the v6 name is its IPv6 twin.
var whoamiNames = []string{"whoami.v4.powerdns.org", "whoami.v6.powerdns.org"}

// WhoamiNames are the names the world's DNS answers with the address of
// the resolver that asks (package world), so that a probe in the world
// learns its resolver's address as it would on the Internet.
func WhoamiNames() []string { return slices.Clone(whoamiNames) }

// PlannedName is a name of the world that is not a site: it resolves, in
// the world's DNS, to a host's addresses.
type PlannedName struct {
	Name  string // "www.cloudflare.com", without the final dot
	Host  string // the host it names
	Addrs []netip.Addr
}

// names gives the first control host the LookupNames, but those a site of
// the world has.
func (pl *planner) names(p *Plan) {
	var control *PlannedHost
	for _, h := range p.Hosts {
		if h.Role == RoleControl {
			control = h
			break
		}
	}
	if control == nil {
		return
	}
	for _, n := range lookupNames {
		if slices.ContainsFunc(p.Sites, func(s *PlannedSite) bool { return s.Domain == n }) {
			continue
		}
		p.Names = append(p.Names, &PlannedName{Name: n, Host: control.Name, Addrs: slices.Clone(control.Addrs)})
	}
}

// NamesOf are the names (Plan.Names) that name host.
func (p *Plan) NamesOf(host string) []string {
	var out []string
	for _, n := range p.Names {
		if n.Host == host {
			out = append(out, n.Name)
		}
	}
	return out
}
