package scenario

import (
	"cmp"
	"fmt"
	"math"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/splinter-lab/splinter/internal/userfile"
)

var (
	codeRE = regexp.MustCompile(`^[A-Z][A-Z0-9]{1,7}$`)
	nameRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)
)

// Validate checks the scenario and returns an *Error listing every problem
// found, or nil. It does not check that policy names exist (the policy
// package does, through the CLI). Problems point at the offending value when
// the scenario was loaded from YAML, else at nothing; their messages name the
// object and quote the value either way.
func (s *Scenario) Validate() error {
	_, err := s.validate()
	return err
}

// validate is Validate that also returns the layout it computed, for Plan.
func (s *Scenario) validate() (*layout, error) {
	v := &validator{s: s, names: make(map[string]Pos), addrs: make(map[netip.Addr]string)}
	l := v.scenario()
	return l, v.probs.err()
}

type validator struct {
	s     *Scenario
	probs problems
	names map[string]Pos        // host and network names, with where declared
	addrs map[netip.Addr]string // declared host addresses, with their host
	top   []ownedPrefix         // jurisdiction and backbone prefixes
	nets  []ownedPrefix         // network prefixes
}

type ownedPrefix struct {
	p     netip.Prefix
	pos   Pos
	owner string
}

// at returns where the value at path was written, else fallback.
func (v *validator) at(fallback Pos, path string) Pos {
	if p, ok := v.s.pos[path]; ok {
		return p
	}
	return fallback
}

func (v *validator) errorf(pos Pos, format string, args ...any) {
	v.probs.add(pos, fmt.Sprintf(format, args...))
}

func (v *validator) scenario() *layout {
	s := v.s
	if s.Name == "" {
		v.errorf(s.Pos, "the scenario has no name")
	}
	if len(s.Jurisdictions) == 0 {
		v.errorf(v.at(s.Pos, "jurisdictions"), "the scenario has no jurisdictions; it needs at least one")
	}
	v.link(s.Pos, "backbone", "backbone", s.Backbone)
	if len(s.BackbonePrefixes) > 0 {
		v.prefixes(v.at(s.Pos, "backbone"), "backbone.prefixes", "the backbone", s.BackbonePrefixes, &v.top)
	}

	for j := range s.Jurisdictions {
		v.jurisdiction(j)
	}
	v.overlaps(v.top)
	v.overlaps(v.nets)

	l := s.layout()
	if s.RootNetwork != "" {
		pos := v.at(s.Pos, "root_network")
		if i, ok := l.netByName[s.RootNetwork]; !ok {
			v.errorf(pos, "root_network %q is not a network of the scenario", s.RootNetwork)
		} else if l.nets[i].n.Kind != Hosting {
			v.errorf(pos, "root_network %q is an %s network; the root name servers need a hosting network", s.RootNetwork, l.nets[i].n.Kind)
		}
	} else if l.rootNet < 0 && len(s.Jurisdictions) > 0 {
		v.errorf(s.Pos, "no jurisdiction without a border policy has a hosting network to hold the root name servers; set root_network")
	}

	v.sites(l)

	// Generated host names share the namespace of declared names.
	for i, r := range l.nets {
		for _, g := range l.gen[i] {
			if prev, dup := v.names[g.Name]; dup {
				v.errorf(r.n.Pos, "name %q, generated for %s, is already taken (at %s)", g.Name, g.Why, posOrUnknown(prev))
				continue
			}
			v.names[g.Name] = r.n.Pos
		}
	}
	return l
}

func posOrUnknown(p Pos) string {
	if s := p.String(); s != "" {
		return s
	}
	return "a position unknown"
}

func (v *validator) name(pos Pos, what, name string) {
	switch {
	case name == "":
		v.errorf(pos, "%s has no name", what)
		return
	case !nameRE.MatchString(name):
		v.errorf(pos, "%s name %q must be lower-case letters, digits and inner hyphens, at most 63 long", what, name)
	}
	if prev, dup := v.names[name]; dup {
		v.errorf(pos, "%s name %q is already used (at %s); host and network names must be unique", what, name, posOrUnknown(prev))
		return
	}
	v.names[name] = pos
}

func (v *validator) link(pos Pos, path, what string, l Link) {
	if l.Delay < 0 {
		v.errorf(v.at(pos, path+".delay"), "%s delay %q is negative", what, l.Delay)
	}
	if l.Jitter < 0 {
		v.errorf(v.at(pos, path+".jitter"), "%s jitter %q is negative", what, l.Jitter)
	}
	if math.IsNaN(l.Loss) || l.Loss < 0 || l.Loss > 1 {
		v.errorf(v.at(pos, path+".loss"), "%s loss %v is not in [0, 1]", what, l.Loss)
	}
	if l.Bandwidth < 0 {
		v.errorf(v.at(pos, path+".bandwidth"), "%s bandwidth %d is negative", what, l.Bandwidth)
	}
	if l.Hops < 0 || l.Hops > MaxHops {
		v.errorf(v.at(pos, path+".hops"), "%s hops %d is not in [0, %d]", what, l.Hops, MaxHops)
	}
}

// prefixes checks each prefix alone and that there is one of each family,
// and appends the good ones to into.
func (v *validator) prefixes(pos Pos, path, owner string, ps []netip.Prefix, into *[]ownedPrefix) (v4, v6 int) {
	for i, p := range ps {
		ppos := v.at(pos, fmt.Sprintf("%s[%d]", path, i))
		switch {
		case !p.IsValid():
			v.errorf(ppos, "%s: prefix %q is not valid", owner, p)
			continue
		case p.Addr().Zone() != "" || p.Addr().Is4In6():
			v.errorf(ppos, "%s: prefix %q must be a plain IPv4 or IPv6 prefix", owner, p)
			continue
		case p != p.Masked():
			v.errorf(ppos, "%s: prefix %q has bits set after the mask (did you mean %q?)", owner, p, p.Masked())
			continue
		case !AllowedPrefix(p):
			v.errorf(ppos, "%s: prefix %q is outside the allowed ranges (%s)", owner, p, allowedList())
			continue
		}
		if p.Addr().Is4() {
			v4++
		} else {
			v6++
		}
		*into = append(*into, ownedPrefix{p: p, pos: ppos, owner: owner})
	}
	if v4 == 0 {
		v.errorf(v.at(pos, path), "%s needs an IPv4 prefix", owner)
	}
	if v6 == 0 {
		v.errorf(v.at(pos, path), "%s needs an IPv6 prefix", owner)
	}
	return v4, v6
}

func allowedList() string {
	s := make([]string, len(AllowedRanges))
	for i, r := range AllowedRanges {
		s[i] = r.String()
	}
	return strings.Join(s, ", ")
}

// overlaps reports every prefix that overlaps one before it (by address).
// Prefixes are either nested or disjoint, so after sorting, a prefix overlaps
// an earlier one exactly when it overlaps the earlier one reaching furthest.
func (v *validator) overlaps(ps []ownedPrefix) {
	ps = slices.Clone(ps)
	slices.SortStableFunc(ps, func(a, b ownedPrefix) int {
		if c := a.p.Addr().Compare(b.p.Addr()); c != 0 {
			return c
		}
		return cmp.Compare(a.p.Bits(), b.p.Bits())
	})
	var reach *ownedPrefix
	for i := range ps {
		q := &ps[i]
		if reach != nil && reach.p.Addr().Is4() == q.p.Addr().Is4() && reach.p.Overlaps(q.p) {
			v.errorf(q.pos, "%s: prefix %q overlaps %q of %s (at %s)", q.owner, q.p, reach.p, reach.owner, posOrUnknown(reach.pos))
			continue
		}
		if reach == nil || reach.p.Addr().Is4() != q.p.Addr().Is4() || lastAddr(q.p).Compare(lastAddr(reach.p)) > 0 {
			reach = q
		}
	}
}

func (v *validator) jurisdiction(j int) {
	ju := &v.s.Jurisdictions[j]
	path := fmt.Sprintf("jurisdictions[%d]", j)
	owner := "jurisdiction " + quote(ju.Code)
	cpos := v.at(ju.Pos, path+".code")
	switch {
	case ju.Code == "":
		v.errorf(ju.Pos, "jurisdiction has no code")
	case !codeRE.MatchString(ju.Code):
		v.errorf(cpos, "jurisdiction code %q must be 2 to 8 upper-case letters or digits, starting with a letter (e.g. \"CN\")", ju.Code)
	}
	for i := range j {
		if ju.Code != "" && v.s.Jurisdictions[i].Code == ju.Code {
			v.errorf(cpos, "jurisdiction code %q is already used (at %s)", ju.Code, posOrUnknown(v.s.Jurisdictions[i].Pos))
			break
		}
	}
	v.prefixes(ju.Pos, path+".prefixes", owner, ju.Prefixes, &v.top)
	v.policyRef(ju.Pos, path+".border.policy", owner, ju.Border.Policy)
	v.link(ju.Pos, path+".border.link", owner+" border", ju.Border.Link)

	hosting := false
	for _, n := range ju.Networks {
		hosting = hosting || n.Kind == Hosting
	}
	if ju.PublicResolver && len(ju.Networks) == 0 {
		v.errorf(v.at(ju.Pos, path+".public_resolver"), "%s has a public resolver but no network to put it in", owner)
	}
	if ju.Control && !hosting {
		v.errorf(v.at(ju.Pos, path+".control"), "%s has the control but no hosting network to put it in", owner)
	}
	for k := range ju.Networks {
		v.network(ju, fmt.Sprintf("%s.networks[%d]", path, k), &ju.Networks[k])
	}
}

// policyRef checks that a border's policy, when it is a file, lies in the
// scenario's folder: an absolute path or one that climbs out with ".." is
// refused here, a symbolic link leading out when the file is opened.
// (Whether an embedded profile of that name exists is the policy package's
// to say.)
func (v *validator) policyRef(pos Pos, path, owner, ref string) {
	if ref == "" {
		return
	}
	if err := userfile.CheckRef(ref); err != nil {
		v.errorf(v.at(pos, path), "%s border: policy %q must be an embedded profile or a file in the scenario's folder; it %s", owner, ref, err.(*userfile.Error).Detail)
	}
}

func (v *validator) network(ju *Jurisdiction, path string, n *Network) {
	v.name(v.at(n.Pos, path+".name"), "network", n.Name)
	owner := "network " + quote(n.Name)
	if n.ASN == 0 {
		v.errorf(n.Pos, "%s has no asn", owner)
	}
	if n.Kind != Access && n.Kind != Hosting {
		v.errorf(v.at(n.Pos, path+".kind"), "%s: kind %q must be %q or %q", owner, n.Kind, Access, Hosting)
	}
	if n.Firewall != FirewallNone && n.Firewall != FirewallDropInvalid {
		v.errorf(v.at(n.Pos, path+".firewall"), "%s: firewall %q must be %q (or left out)", owner, n.Firewall, FirewallDropInvalid)
	}
	if len(n.Prefixes) > 0 {
		var mine []ownedPrefix
		v4, v6 := v.prefixes(n.Pos, path+".prefixes", owner, n.Prefixes, &mine)
		if v4 > 1 || v6 > 1 {
			v.errorf(v.at(n.Pos, path+".prefixes"), "%s gives %d IPv4 and %d IPv6 prefixes; a network has one of each", owner, v4, v6)
		}
		for _, op := range mine {
			inside := false
			for _, jp := range ju.Prefixes {
				if jp.IsValid() && jp.Bits() <= op.p.Bits() && jp.Contains(op.p.Addr()) {
					inside = true
				}
			}
			if !inside {
				v.errorf(op.pos, "%s: prefix %q is outside the prefixes of jurisdiction %q", owner, op.p, ju.Code)
			}
			v.nets = append(v.nets, op)
		}
	}
	v.policyRef(n.Pos, path+".border.policy", owner, n.Border.Policy)
	v.link(n.Pos, path+".border.link", owner+" border", n.Border.Link)
	for i := range n.Hosts {
		v.host(n, fmt.Sprintf("%s.hosts[%d]", path, i), &n.Hosts[i])
	}
}

func (v *validator) host(n *Network, path string, h *Host) {
	v.name(v.at(h.Pos, path+".name"), "host", h.Name)
	owner := "host " + quote(h.Name)
	switch h.Role {
	case RoleClient, RoleServer:
	case "":
		v.errorf(h.Pos, "%s has no role (want %q or %q)", owner, RoleClient, RoleServer)
	default:
		v.errorf(v.at(h.Pos, path+".role"), "%s: role %q must be %q or %q (the plan adds the other roles)", owner, h.Role, RoleClient, RoleServer)
	}
	v.link(h.Pos, path+".link", owner+" link", h.Link)
	if len(h.Addrs) > 0 && len(n.Prefixes) == 0 {
		v.errorf(v.at(h.Pos, path+".addrs"), "%s gives addresses but its network %q gives no prefixes to check them against", owner, n.Name)
		return
	}
	var v4, v6 int
	for i, a := range h.Addrs {
		apos := v.at(h.Pos, fmt.Sprintf("%s.addrs[%d]", path, i))
		if !a.IsValid() {
			v.errorf(apos, "%s: address %q is not valid", owner, a)
			continue
		}
		if a.Is4() {
			v4++
		} else {
			v6++
		}
		var in netip.Prefix
		for _, p := range n.Prefixes {
			if p.Contains(a) {
				in = p
			}
		}
		switch {
		case !in.IsValid():
			v.errorf(apos, "%s: address %q is outside the prefixes of network %q", owner, a, n.Name)
		case a == in.Addr() || a == in.Addr().Next() || (a.Is4() && a == lastAddr(in)):
			v.errorf(apos, "%s: address %q is reserved in %q (network address, router or broadcast)", owner, a, in)
		}
		if other, dup := v.addrs[a]; dup {
			v.errorf(apos, "%s: address %q is already used by host %q", owner, a, other)
		} else {
			v.addrs[a] = h.Name
		}
	}
	if v4 > 1 || v6 > 1 {
		v.errorf(v.at(h.Pos, path+".addrs"), "%s gives %d IPv4 and %d IPv6 addresses; give at most one of each", owner, v4, v6)
	}
}

// isLabel reports whether l is a label of a site's domain: lower-case
// letters, digits and inner hyphens, 1 to 63 long. It and isTLD are loops,
// not regexps, because they run for every label of every site.
func isLabel(l string) bool {
	if len(l) == 0 || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
		return false
	}
	for i := 0; i < len(l); i++ {
		if c := l[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// isTLD reports whether l is a top-level domain: 2 to 63 lower-case letters.
func isTLD(l string) bool {
	if len(l) < 2 || len(l) > 63 {
		return false
	}
	for i := 0; i < len(l); i++ {
		if c := l[i]; c < 'a' || c > 'z' {
			return false
		}
	}
	return true
}

// validDomain reports why a site's domain is not a valid host name, or "".
func validDomain(d string) string {
	if len(d) > 253 {
		return "is longer than 253 characters"
	}
	if d != strings.ToLower(d) {
		return "must be lower-case"
	}
	labels := strings.Split(d, ".")
	if len(labels) < 2 {
		return "needs at least two labels (e.g. \"example.com\")"
	}
	for _, l := range labels {
		if !isLabel(l) {
			return fmt.Sprintf("has a bad label %q (want letters, digits and inner hyphens, 1 to 63 long)", l)
		}
	}
	if !isTLD(labels[len(labels)-1]) {
		return fmt.Sprintf("has a bad top-level domain %q (want letters only)", labels[len(labels)-1])
	}
	return ""
}

func (v *validator) sites(l *layout) {
	s := v.s
	domains := make(map[string]int, len(s.Sites))    // domain -> index of its first site
	zoneNet := make(map[string]string, len(s.Sites)) // zone -> network of its first site
	// Positions and names are only worked out for a site with a problem:
	// the loop runs for every site of the scenario.
	fieldPos := func(i int, field string) Pos {
		return v.at(s.Sites[i].Pos, "sites["+strconv.Itoa(i)+"]."+field)
	}
	for i := range s.Sites {
		site := &s.Sites[i]
		owner := func() string { return "site " + quote(site.Domain) }
		dpos := func() Pos { return fieldPos(i, "domain") }
		domainOK := false
		switch {
		case site.Domain == "":
			v.errorf(site.Pos, "site has no domain")
		case validDomain(site.Domain) != "":
			v.errorf(dpos(), "site domain %q %s", site.Domain, validDomain(site.Domain))
		default:
			domainOK = true
		}
		if prev, dup := domains[site.Domain]; dup && site.Domain != "" {
			v.errorf(dpos(), "site domain %q is already used (at %s)", site.Domain, posOrUnknown(fieldPos(prev, "domain")))
		} else if !dup {
			domains[site.Domain] = i
		}
		if domainOK {
			zone, tld := siteZone(site.Domain), tldOf(site.Domain)
			if zone == "root-servers.net" || zone == "nic."+tld {
				v.errorf(dpos(), "%s: zone %q is reserved for the world's name servers", owner(), zone)
			}
			if cj := s.ccJurisdiction(tld); cj >= 0 && len(s.Jurisdictions[cj].Networks) == 0 {
				v.errorf(dpos(), "%s: its ccTLD %q is served in jurisdiction %q, which has no network", owner(), tld, s.Jurisdictions[cj].Code)
			}
			if prev, ok := zoneNet[zone]; ok && prev != site.Network {
				v.errorf(fieldPos(i, "network"), "%s is in zone %q, whose other sites are on network %q; the sites of a zone share one network", owner(), zone, prev)
			} else if !ok {
				zoneNet[zone] = site.Network
			}
		}

		if site.Category == "" {
			v.errorf(site.Pos, "%s has no category", owner())
		} else if _, ok := LookupCategory(site.Category); !ok {
			hint := ""
			if _, ok := LookupCategory(strings.ToUpper(site.Category)); ok {
				hint = fmt.Sprintf(" (did you mean %q?)", strings.ToUpper(site.Category))
			}
			v.errorf(fieldPos(i, "category"), "%s: category %q is not a Citizen Lab category code%s", owner(), site.Category, hint)
		}

		if site.Network == "" {
			v.errorf(site.Pos, "%s has no network", owner())
		} else if ni, ok := l.netByName[site.Network]; !ok {
			v.errorf(fieldPos(i, "network"), "%s: network %q does not exist", owner(), site.Network)
		} else if k := l.nets[ni].n.Kind; k != Hosting {
			v.errorf(fieldPos(i, "network"), "%s: network %q is an %s network; sites need a hosting network", owner(), site.Network, k)
		}
	}
}

// lastAddr returns the last address of p.
func lastAddr(p netip.Prefix) netip.Addr {
	a := p.Masked().Addr()
	b := a.AsSlice()
	bits := p.Bits()
	for i := range b {
		hostBits := len(b)*8 - bits - (len(b)-1-i)*8 // host bits in byte i, from its low end
		switch {
		case hostBits >= 8:
			b[i] = 0xff
		case hostBits > 0:
			b[i] |= byte(1<<hostBits) - 1
		}
	}
	r, _ := netip.AddrFromSlice(b)
	return r
}

// PosOf returns where the value at path ("jurisdictions[0].border.policy")
// was written, or the scenario's own position when it is not known.
func (s *Scenario) PosOf(path string) Pos {
	if p, ok := s.pos[path]; ok {
		return p
	}
	return s.Pos
}
