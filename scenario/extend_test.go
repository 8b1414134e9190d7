package scenario

import (
	"fmt"
	"net/netip"
	"reflect"
	"strings"
	"testing"
)

// TestWithSites: names from a test list become sites of the splinternet
// plan, hosted in their ccTLD's jurisdiction or else with the root name
// servers, with every name server they need, and nothing of the plan moves.
func TestWithSites(t *testing.T) {
	s, err := Embedded("splinternet")
	if err != nil {
		t.Fatal(err)
	}
	p, err := s.Plan()
	if err != nil {
		t.Fatal(err)
	}
	before, _ := s.Plan() // an identical plan, to compare p with afterwards
	long := "www." + strings.Repeat("very-long-name.", 5) + "example.org"
	sites := []Site{
		{Domain: "twitter.com", Category: "GRP"},
		{Domain: "www.facebook.com", Category: "GRP"},
		{Domain: "facebook.com", Category: "GRP"},
		{Domain: "www.gov.cn", Category: "GOVT"},
		{Domain: "news.example.io", Category: "NEWS"},
		{Domain: "www.bbc.co.uk", Category: "NEWS"},
		{Domain: long, Category: "MISC"},
	}
	np, err := p.WithSites(sites, nil)
	if err != nil {
		t.Fatal(err)
	}
	checkPlan(t, np)
	if !reflect.DeepEqual(p, before) {
		t.Fatal("WithSites changed the plan it was given")
	}
	// Everything of p is in np, the same.
	for i, h := range p.Hosts {
		if h.Name == "gtld-ns" {
			if !reflect.DeepEqual(h.Addrs, np.Hosts[i].Addrs) || !strings.Contains(strings.Join(np.Hosts[i].Zones, " "), "io.") {
				t.Errorf("gtld-ns: %+v, want its addresses and the new TLD io.", np.Hosts[i])
			}
			continue
		}
		if !reflect.DeepEqual(h, np.Hosts[i]) {
			t.Errorf("host %d changed: %+v, then %+v", i, h, np.Hosts[i])
		}
	}
	for i, n := range p.Networks {
		if !reflect.DeepEqual(n, np.Networks[i]) {
			t.Errorf("network %s changed", n.Name)
		}
	}
	for i, z := range p.Zones {
		if !reflect.DeepEqual(z, np.Zones[i]) {
			t.Errorf("zone %s changed", z.Name)
		}
	}
	// The new sites, where they belong.
	want := map[string]string{"twitter.com": "us-list-hosting", "www.gov.cn": "cn-list-hosting", "www.bbc.co.uk": "us-list-hosting", long: "us-list-hosting"}
	added := np.Sites[len(p.Sites):]
	if len(added) != len(sites) {
		t.Fatalf("%d sites added, want %d", len(added), len(sites))
	}
	for _, site := range added {
		web := np.Host(site.Host)
		if web == nil || web.Role != RoleWeb || len(site.Host) > 63 || !reflect.DeepEqual(web.Addrs, site.Addrs) {
			t.Errorf("site %s: web host %q %+v", site.Domain, site.Host, web)
		}
		if n, ok := want[site.Domain]; ok && site.Network != n {
			t.Errorf("site %s hosted in %s, want %s", site.Domain, site.Network, n)
		}
		if !strings.Contains(site.Page(), "<title>") || site.Title == "" {
			t.Errorf("site %s has no content: %q", site.Domain, site.Page())
		}
	}
	for _, n := range np.Networks[len(p.Networks):] {
		j := np.Jurisdiction(n.Jurisdiction)
		in := false
		for _, jp := range j.Prefixes {
			in = in || jp.Contains(n.Prefixes[0].Addr()) || jp.Contains(n.Prefixes[1].Addr())
		}
		if !in || n.Kind != Hosting || n.ASN < ListASN || n.ASN > ListASN+15 {
			t.Errorf("added network %+v: not a hosting network in %s's prefixes with a documentation ASN", n, j.Code)
		}
		for _, o := range np.Networks {
			if o != n && (o.Prefixes[0].Overlaps(n.Prefixes[0]) || o.Prefixes[1].Overlaps(n.Prefixes[1])) {
				t.Errorf("added network %s overlaps %s", n.Name, o.Name)
			}
		}
	}
	// The new zones and their servers: cn. existed, io. is new (gtld-ns),
	// the site zones are the new networks' name servers'.
	for zone, server := range map[string]string{"io.": "gtld-ns", "twitter.com.": "us-list-hosting-ns", "gov.cn.": "cn-list-hosting-ns", "co.uk.": "us-list-hosting-ns"} {
		var got string
		for _, z := range np.Zones {
			if z.Name == zone {
				got = z.NameServers[0].Host
			}
		}
		if got != server {
			t.Errorf("zone %s served by %q, want %s", zone, got, server)
		}
	}
	// Their resolvers are those of the jurisdiction's other hosting hosts.
	if got, want := np.Host("web-twitter-com").Resolvers, np.Host("gtld-ns").Resolvers; !reflect.DeepEqual(got, want) {
		t.Errorf("web-twitter-com resolvers %v, want %v", got, want)
	}

	// Deterministic, and a second list goes after the first.
	np2, _ := p.WithSites(sites, nil)
	if !reflect.DeepEqual(np, np2) {
		t.Error("WithSites is not deterministic")
	}
	np3, err := np.WithSites([]Site{{Domain: "www.weibo.cn", Category: "GRP"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	checkPlan(t, np3)
	if h := np3.Host("web-www-weibo-cn"); h == nil || h.Network != "cn-list-hosting-2" {
		t.Errorf("a second list's .cn site: %+v", h)
	}
}

func TestWithSitesRefuses(t *testing.T) {
	s, _ := Embedded("two-lands")
	p, err := s.Plan()
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.WithSites([]Site{
		{Domain: "www.people-daily.cn", Category: "NEWS"},
		{Domain: "Bad_Name.com", Category: "NEWS"},
		{Domain: "ns1.nic.com", Category: "NEWS"},
		{Domain: "cn-client-1.hosts.splinter", Category: "NEWS"},
		{Domain: "ok.example.com", Category: "NOPE"},
	}, nil)
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{`"www.people-daily.cn" is already a site`, `"Bad_Name.com" must be lower-case`, `"ns1.nic.com" is in a zone the world reserves`, `"cn-client-1.hosts.splinter" is in a zone the world reserves`, `category "NOPE"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	if np, err := p.WithSites(nil, nil); err != nil || np != p {
		t.Errorf("no sites: %v, %v", np, err)
	}
}

// TestWithSitesAvoids: the added networks keep clear of the addresses
// policies name in free space, but not of a prefix aimed at networks; and
// a long list is spread over networks of a /24 each.
func TestWithSitesAvoids(t *testing.T) {
	s, _ := Embedded("two-lands")
	p, err := s.Plan()
	if err != nil {
		t.Fatal(err)
	}
	sites := make([]Site, 300)
	for i := range sites {
		sites[i] = Site{Domain: fmt.Sprintf("www.site-%d.com", i), Category: "NEWS"}
	}
	free, err := p.WithSites(sites[:1], nil)
	if err != nil {
		t.Fatal(err)
	}
	first := free.Network("us-list-hosting").Prefixes[0]
	forged := netip.PrefixFrom(first.Addr().Next().Next(), 32) // a forged answer there
	wide := netip.MustParsePrefix("198.18.96.0/20")            // all of US: aimed at its networks
	np, err := p.WithSites(sites, []netip.Prefix{forged, wide, netip.MustParsePrefix("2001:db8:1::/48")})
	if err != nil {
		t.Fatal(err)
	}
	checkPlan(t, np)
	var nets []string
	for _, n := range np.Networks[len(p.Networks):] {
		nets = append(nets, n.Name+" "+n.Prefixes[0].String())
		if n.Prefixes[0].Overlaps(forged) {
			t.Errorf("%s %v holds the avoided %v", n.Name, n.Prefixes, forged)
		}
		if n.Prefixes[0].Bits() < 24 {
			t.Errorf("%s is a /%d, want at most a /24", n.Name, n.Prefixes[0].Bits())
		}
	}
	if len(nets) != 2 || !strings.HasPrefix(nets[0], "us-list-hosting ") || !strings.HasPrefix(nets[1], "us-list-hosting-2 ") {
		t.Errorf("added networks %v, want us-list-hosting and us-list-hosting-2", nets)
	}
}
