package probe

import (
	"net/netip"
	"sort"

	"github.com/splinter-lab/splinter/scenario"
)

// Geo maps addresses to their autonomous system and country, and says which
// addresses are bogons. In the emulated world both come from the scenario's
// address plan (PlanGeo): the plan's prefixes are the public Internet and
// anything else (127.0.0.1, 10.10.34.34) is a bogon, whereas OONI's fixed list
// would call the whole of 198.18.0.0/15 a bogon. A nil *Geo knows no ASNs and
// uses the usual special-purpose ranges as bogons.
type Geo struct {
	nets   []geoNet // most specific first
	public []netip.Prefix
}

type geoNet struct {
	prefix netip.Prefix
	asn    uint32
	cc     string
	name   string
}

// PlanGeo builds a Geo from a scenario plan: each network's prefixes carry its
// ASN and jurisdiction; the jurisdictions' and backbone's prefixes are public.
func PlanGeo(p *scenario.Plan) *Geo {
	g := &Geo{}
	for _, n := range p.Networks {
		for _, pf := range n.Prefixes {
			g.nets = append(g.nets, geoNet{prefix: pf, asn: n.ASN, cc: n.Jurisdiction, name: n.Name})
		}
	}
	for _, j := range p.Jurisdictions {
		g.public = append(g.public, j.Prefixes...)
		for _, pf := range j.Prefixes {
			g.nets = append(g.nets, geoNet{prefix: pf, cc: j.Code})
		}
	}
	g.public = append(g.public, p.BackbonePrefixes...)
	sort.SliceStable(g.nets, func(i, j int) bool { return g.nets[i].prefix.Bits() > g.nets[j].prefix.Bits() })
	return g
}

// ASN returns the autonomous system number of a and the name of its network
// (0 and "" when unknown).
func (g *Geo) ASN(a netip.Addr) (uint32, string) {
	if g == nil {
		return 0, ""
	}
	a = a.Unmap()
	for _, n := range g.nets {
		if n.asn != 0 && n.prefix.Contains(a) {
			return n.asn, n.name
		}
	}
	return 0, ""
}

// Unassigned reports whether a is public but in no network of g: an address
// of a jurisdiction's block that no autonomous system announces, so no host
// can answer at it (Iran's block-page range is such a place). A nil *Geo, or
// one that knows no ASNs, knows of no unassigned address.
func (g *Geo) Unassigned(a netip.Addr) bool {
	if g == nil || g.Bogon(a) {
		return false
	}
	known := false
	for _, n := range g.nets {
		known = known || n.asn != 0
	}
	asn, _ := g.ASN(a)
	return known && asn == 0
}

// CC returns the jurisdiction code of a ("" when unknown).
func (g *Geo) CC(a netip.Addr) string {
	if g == nil {
		return ""
	}
	a = a.Unmap()
	for _, n := range g.nets {
		if n.prefix.Contains(a) {
			return n.cc
		}
	}
	return ""
}

// Bogon reports whether a is not a public address: outside the plan's address
// space when g comes from a plan, else in a special-purpose range.
func (g *Geo) Bogon(a netip.Addr) bool {
	a = a.Unmap()
	if !a.IsValid() {
		return true
	}
	if g != nil && len(g.public) > 0 {
		for _, p := range g.public {
			if p.Contains(a) {
				return false
			}
		}
		return true
	}
	if a.IsLoopback() || a.IsPrivate() || a.IsUnspecified() || a.IsLinkLocalUnicast() ||
		a.IsMulticast() || a.IsInterfaceLocalMulticast() || a.IsLinkLocalMulticast() {
		return true
	}
	for _, p := range specialRanges {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

var specialRanges = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("100.64.0.0/10"),
	netip.MustParsePrefix("192.0.0.0/24"),
	netip.MustParsePrefix("192.0.2.0/24"),
	netip.MustParsePrefix("198.18.0.0/15"),
	netip.MustParsePrefix("198.51.100.0/24"),
	netip.MustParsePrefix("203.0.113.0/24"),
	netip.MustParsePrefix("240.0.0.0/4"),
	netip.MustParsePrefix("2001:db8::/32"),
	netip.MustParsePrefix("100::/64"),
	netip.MustParsePrefix("d0::/8"),
}
