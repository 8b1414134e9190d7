package lab

import (
	"fmt"
	"net/netip"
	"net/url"
	"reflect"
	"strings"

	"github.com/splinter-lab/splinter/policy"
	"github.com/splinter-lab/splinter/probe"
	"github.com/splinter-lab/splinter/scenario"
)

// WithNames returns a Spec whose plan has, besides the scenario's sites, a
// site for every name of inputs that the world does not know, so that a
// real test list (twitter.com, www.gov.cn) is measured against the censors
// instead of against names that exist nowhere, which would read as
// reachable. Each such name is hosted in the jurisdiction of its ccTLD if
// the scenario has one, else with the root name servers (see
// scenario.Plan.WithSites: addresses from the jurisdiction's space, clear
// of the free addresses the policies name, such as a censor's forged DNS
// answers; nothing of the plan moves; invented content); its category is the input's, or
// MISC when that is no Citizen Lab code. IP literals and the world's own
// names (hosts.splinter., the name servers') are left as they are. It
// returns the sites added, in input order (none: s itself). A name that
// cannot be a site of the world (not a host name) is an *InputError.
//
// What a censor does to such a name is what its policy says of the name:
// the profiles list the real names the literature documents as blocked
// beside the invented ones, and a policy file may list any.
func (s *Spec) WithNames(inputs []probe.Input) (*Spec, []*scenario.PlannedSite, error) {
	known := make(map[string]bool, len(s.Plan.Sites))
	for _, site := range s.Plan.Sites {
		known[site.Domain] = true
	}
	var sites []scenario.Site
	var bad []string
	for _, in := range inputs {
		u, err := url.Parse(in.URL)
		if err != nil {
			continue // CheckURL refused it already
		}
		name := strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
		if _, err := netip.ParseAddr(name); err == nil || name == "" || known[name] || worldName(name) {
			continue
		}
		known[name] = true
		cat := in.Category
		if _, ok := scenario.LookupCategory(cat); !ok {
			cat = "MISC"
		}
		sites = append(sites, scenario.Site{Domain: name, Category: cat})
		if !strings.Contains(name, ".") {
			bad = append(bad, fmt.Sprintf("%q (one label)", name))
		}
	}
	if len(bad) > 0 {
		return nil, nil, badInput(fmt.Errorf("test list: names that cannot be sites of the world: %s", strings.Join(bad, ", ")))
	}
	if len(sites) == 0 {
		return s, nil, nil
	}
	np, err := s.Plan.WithSites(sites, s.namedSpace())
	if err != nil {
		return nil, nil, badInput(fmt.Errorf("test list: making its names sites of the world: %w", err))
	}
	ns := &Spec{Scenario: s.Scenario, Plan: np, Borders: s.Borders, embedded: s.embedded}
	return ns, np.Sites[len(s.Plan.Sites):], nil
}

// namedSpace lists the addresses and prefixes the spec's policies name:
// every netip.Addr and netip.Prefix of their typed configs (rules'
// matchers, actions and scopes: a forged DNS answer's pool, a blocked
// address) and the items of their prefix lists. The sites WithNames adds
// keep clear of those that lie in free space.
func (s *Spec) namedSpace() []netip.Prefix {
	var out []netip.Prefix
	for _, b := range s.Borders {
		if b.Policy == nil {
			continue
		}
		collectPrefixes(reflect.ValueOf(b.Policy.Rules), &out, 0)
		for _, l := range b.Policy.Lists {
			if l.Kind != policy.Prefixes {
				continue
			}
			for _, it := range l.Items {
				if p, err := netip.ParsePrefix(it); err == nil {
					out = append(out, p.Masked())
				} else if a, err := netip.ParseAddr(it); err == nil {
					out = append(out, netip.PrefixFrom(a, a.BitLen()))
				}
			}
		}
	}
	return out
}

var (
	addrType   = reflect.TypeFor[netip.Addr]()
	prefixType = reflect.TypeFor[netip.Prefix]()
)

// collectPrefixes appends every netip.Addr (as a single-address prefix)
// and netip.Prefix that v holds in its exported fields, slices, maps,
// pointers and interfaces.
func collectPrefixes(v reflect.Value, out *[]netip.Prefix, depth int) {
	if depth > 16 || !v.IsValid() {
		return
	}
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			collectPrefixes(v.Elem(), out, depth+1)
		}
	case reflect.Slice, reflect.Array:
		for i := range v.Len() {
			collectPrefixes(v.Index(i), out, depth+1)
		}
	case reflect.Map:
		for it := v.MapRange(); it.Next(); {
			collectPrefixes(it.Value(), out, depth+1)
		}
	case reflect.Struct:
		switch {
		case v.Type() == addrType && v.CanInterface():
			if a := v.Interface().(netip.Addr); a.IsValid() {
				*out = append(*out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
			}
		case v.Type() == prefixType && v.CanInterface():
			if p := v.Interface().(netip.Prefix); p.IsValid() {
				*out = append(*out, p.Masked())
			}
		default:
			for i := range v.NumField() {
				if v.Type().Field(i).IsExported() {
					collectPrefixes(v.Field(i), out, depth+1)
				}
			}
		}
	}
}

// worldName reports whether name is one of the world's own: a host's
// (name.hosts.splinter) or a name server's (a.root-servers.net,
// ns1.nic.TLD).
func worldName(name string) bool {
	labels := strings.Split(name, ".")
	n := len(labels)
	return labels[n-1] == "splinter" ||
		n >= 2 && labels[n-2] == "root-servers" && labels[n-1] == "net" ||
		n >= 2 && labels[n-2] == "nic"
}
