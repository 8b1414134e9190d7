package scenario

import (
	"fmt"
	"net/netip"
)

// The addresses of the routers that links hide (Link.Hops) come from the
// address space of whoever would run them, so that a traceroute maps each
// hop to its owner as the censorship papers map hops to ASes:
//
//   - a host's link and a network's uplink: the network's prefixes, after its
//     hosts (the network's hops first, then each declared host's, in order);
//   - a jurisdiction's uplink: its core segment, after the border router (the
//     core grows beyond a /28 when its hops need more room);
//   - the backbone: the backbone prefixes, after the transit router.
//
// Each router gets one IPv4 and one IPv6 address, which it answers from in
// both directions.

// coreBits returns the prefix length of a jurisdiction's IPv4 core segment:
// a /28, or larger when the border router and hops routers of its uplink do
// not fit in one with the network and broadcast addresses.
func coreBits(hops int) int {
	bits := coreBits4
	for bits > 0 && 1<<(32-bits) < hops+3 {
		bits--
	}
	return bits
}

// netHops is how many addresses a network's links need for their routers:
// its uplink's and its declared hosts' links'.
func netHops(n *Network) int {
	c := max(n.Border.Link.Hops, 0)
	for _, h := range n.Hosts {
		c += max(h.Link.Hops, 0)
	}
	return c
}

// hopAddrs allocates the addresses of count routers, one of each family,
// from v4 and v6; ok is false when either runs out.
func hopAddrs(count int, v4, v6 *hostAddrs) (out []RouterAddrs, ok bool) {
	if count <= 0 {
		return nil, true
	}
	out = make([]RouterAddrs, count)
	for i := range out {
		a4, ok4 := v4.alloc()
		a6, ok6 := v6.alloc()
		if !ok4 || !ok6 {
			return nil, false
		}
		out[i] = RouterAddrs{V4: a4, V6: a6}
	}
	return out, true
}

// backboneHops allocates the backbone's routers after the transit router.
func (pl *planner) backboneHops(p *Plan, b4, b6 netip.Prefix) {
	hops, ok := hopAddrs(pl.s.Backbone.Hops, newHostAddrs(b4, nil), newHostAddrs(b6, nil))
	if !ok {
		pl.errorf(pl.s.PosOf("backbone.hops"), "backbone: prefixes %q and %q have no room for %d hops", b4, b6, pl.s.Backbone.Hops)
	}
	p.BackboneHops = hops
}

// jurisdictionHops allocates the routers of a jurisdiction's uplink in its
// core segment, after the border router.
func (pl *planner) jurisdictionHops(j int, pj *PlannedJurisdiction) {
	n := pj.Border.Link.Hops
	hops, ok := hopAddrs(n, newHostAddrs(pj.Core[0], nil), newHostAddrs(pj.Core[1], nil))
	if !ok {
		pl.errorf(pl.s.PosOf(fmt.Sprintf("jurisdictions[%d].border.link.hops", j)), "jurisdiction %q: its core segment %q has no room for %d hops", pj.Code, pj.Core[0], n)
	}
	pj.Hops = hops
}

// networkHops allocates the routers of a network's uplink, then of each of
// its declared hosts' links (hosts holds the network's planned hosts,
// declared ones first), from the allocators that gave its hosts their
// addresses.
func (pl *planner) networkHops(r netRef, pn *PlannedNetwork, alloc [2]*hostAddrs, hosts []*PlannedHost) {
	n := r.n
	fail := func(path string, count int) {
		pl.errorf(pl.s.PosOf(path), "network %q: prefixes %q and %q have no room left for %d hops after its hosts", n.Name, pn.Prefixes[0], pn.Prefixes[1], count)
	}
	path := fmt.Sprintf("jurisdictions[%d].networks[%d]", r.j, r.k)
	var ok bool
	if pn.Hops, ok = hopAddrs(n.Border.Link.Hops, alloc[0], alloc[1]); !ok {
		fail(path+".border.link.hops", n.Border.Link.Hops)
		return
	}
	for i, h := range n.Hosts {
		if hosts[i].Hops, ok = hopAddrs(h.Link.Hops, alloc[0], alloc[1]); !ok {
			fail(fmt.Sprintf("%s.hosts[%d].link.hops", path, i), h.Link.Hops)
			return
		}
	}
}
