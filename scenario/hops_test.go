package scenario

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
)

const hopsYAML = `
name: hops
backbone: {hops: 3}
jurisdictions:
  - code: AA
    prefixes: [198.18.0.0/20, "2001:db8:a::/48"]
    border: {link: {hops: 14}}
    public_resolver: true
    networks:
      - name: aa-net
        asn: 64500
        kind: access
        border: {link: {hops: 2}}
        hosts:
          - {name: aa-one, role: client, link: {hops: 1}}
          - {name: aa-two, role: client}
      - name: aa-fixed
        asn: 64501
        kind: hosting
        prefixes: [198.18.15.0/28, "2001:db8:a:ff::/64"]
        border: {link: {hops: 3}}
        hosts:
          - {name: aa-vps, role: server, addrs: [198.18.15.3, "2001:db8:a:ff::3"]}
sites:
  - {domain: www.example.com, category: NEWS, network: aa-fixed}
`

func TestHopsPlan(t *testing.T) {
	s, err := Load("hops.yaml", []byte(hopsYAML))
	if err != nil {
		t.Fatal(err)
	}
	p, err := s.Plan()
	if err != nil {
		t.Fatal(err)
	}
	addrs := func(rs []RouterAddrs) string {
		var b strings.Builder
		for _, r := range rs {
			b.WriteString(r.V4.String() + " " + r.V6.String() + "; ")
		}
		return b.String()
	}
	aa, net, fixed := p.Jurisdiction("AA"), p.Network("aa-net"), p.Network("aa-fixed")
	tests := []struct {
		name string
		got  []RouterAddrs
		want string
	}{
		{"backbone: after the transit router", p.BackboneHops, "192.0.2.2 2001:2::2; 192.0.2.3 2001:2::3; 192.0.2.4 2001:2::4; "},
		// 14 hops do not fit a /28 with the router: the core grows to a /27.
		{"jurisdiction: in its core, after the border router", aa.Hops[:2], "198.18.0.2 2001:db8:a::2; 198.18.0.3 2001:db8:a::3; "},
		{"jurisdiction: the last", aa.Hops[13:], "198.18.0.15 2001:db8:a::f; "},
		// aa-net (198.18.0.64/26, after the /27 core): router .65, aa-one
		// .66, aa-two .67, aa-net-resolver .68; then its hops.
		{"network: after its hosts", net.Hops, "198.18.0.69 2001:db8:a:1::5; 198.18.0.70 2001:db8:a:1::6; "},
		{"host: after its network's", p.Host("aa-one").Hops, "198.18.0.71 2001:db8:a:1::7; "},
		// aa-fixed: aa-vps .3 (declared), six generated hosts .2, .4-.8
		// (the last the control the plan adds, as no jurisdiction sets
		// one).
		{"declared prefix: after every host", fixed.Hops, "198.18.15.9 2001:db8:a:ff::9; 198.18.15.10 2001:db8:a:ff::a; 198.18.15.11 2001:db8:a:ff::b; "},
	}
	for _, tt := range tests {
		if got := addrs(tt.got); got != tt.want {
			t.Errorf("%s: %s, want %s", tt.name, got, tt.want)
		}
	}
	if aa.Core[0].Bits() != 27 || aa.Router.V4 != netip.MustParseAddr("198.18.0.1") {
		t.Errorf("core %v, router %v: want a /27 and .1", aa.Core, aa.Router)
	}
	if len(p.Host("aa-two").Hops) != 0 {
		t.Errorf("aa-two's link hides no router, got %v", p.Host("aa-two").Hops)
	}
	// Every address is unique, in the allowed ranges, in the prefix of its
	// owner.
	used := map[netip.Addr]string{p.Backbone.V4: "backbone", p.Backbone.V6: "backbone"}
	for _, h := range p.Hosts {
		for _, a := range h.Addrs {
			used[a] = h.Name
		}
	}
	for _, n := range p.Networks {
		used[n.Router.V4], used[n.Router.V6] = n.Name, n.Name
	}
	for _, j := range p.Jurisdictions {
		used[j.Router.V4], used[j.Router.V6] = j.Code, j.Code
	}
	check := func(owner string, rs []RouterAddrs, in []netip.Prefix) {
		for _, r := range rs {
			for _, a := range []netip.Addr{r.V4, r.V6} {
				if prev, dup := used[a]; dup {
					t.Errorf("%s hop %v is already %s's", owner, a, prev)
				}
				used[a] = owner + " hop"
				if !AllowedAddr(a) || !(in[0].Contains(a) || in[1].Contains(a)) {
					t.Errorf("%s hop %v outside %v or the allowed ranges", owner, a, in)
				}
			}
		}
	}
	check("backbone", p.BackboneHops, p.BackbonePrefixes)
	check("AA", aa.Hops, aa.Core)
	check("aa-net", net.Hops, net.Prefixes)
	check("aa-one", p.Host("aa-one").Hops, net.Prefixes)
	check("aa-fixed", fixed.Hops, fixed.Prefixes)
}

func TestHopsProblemPositions(t *testing.T) {
	tests := []struct {
		file, msg, pos string
	}{
		{"hops-decode", `hops "four" is not a whole number`, "2:30"},
		{"hops-decode", `hops "2.5" is not a whole number`, "6:40"},
		{"hops-decode", `hops "3" is not a whole number`, "12:31"},
		{"hops-decode", `hops must be a single value, not a list`, "14:57"},
		{"hops-range", `backbone hops 65 is not in [0, 64]`, "2:30"},
		{"hops-range", `jurisdiction "US" border hops -1 is not in [0, 64]`, "6:40"},
		{"hops-range", `host "us-vps-1" link hops 100 is not in [0, 64]`, "14:57"},
		{"hops-room", `backbone: prefixes "192.0.2.0/30" and "2001:2::/64" have no room for 2 hops`, "2:18"},
		{"hops-room", `network "us-cloud": prefixes "198.18.15.0/29" and "2001:db8:1:5::/64" have no room left for 3 hops`, "15:57"},
	}
	for _, tt := range tests {
		file := "testdata/bad/" + tt.file + ".yaml"
		s, err := LoadFile(file)
		if err == nil {
			_, err = s.Plan()
		}
		var e *Error
		if !errors.As(err, &e) {
			t.Fatalf("%s: %v", file, err)
		}
		found := false
		for _, p := range e.Problems {
			if strings.Contains(p.Msg, tt.msg) {
				found = true
				if want := file + ":" + tt.pos; p.Pos.String() != want {
					t.Errorf("%q at %s, want %s", p.Msg, p.Pos, want)
				}
			}
		}
		if !found {
			t.Errorf("%s: no problem mentions %q in:\n%v", file, tt.msg, err)
		}
	}
	// The 64 hops of hops-range's network uplink are allowed.
	s, _ := LoadFile("testdata/bad/hops-range.yaml")
	if err := s.Validate(); strings.Contains(err.Error(), "hops 64") {
		t.Errorf("64 hops refused: %v", err)
	}
}

// pathHops returns, for the path from host to server, the hop of the
// border router whose gateway the host meets first, of its jurisdiction's
// border router, and of the server, from the plan alone.
func pathHops(t *testing.T, scenario, host, serverName string) (border, national, total int) {
	t.Helper()
	s, err := Open(scenario)
	if err != nil {
		t.Fatal(err)
	}
	p, err := s.Plan()
	if err != nil {
		t.Fatal(err)
	}
	h, server := p.Host(host), p.Host(serverName)
	n, j := p.Network(h.Network), p.Jurisdiction(h.Jurisdiction)
	sn, sj := p.Network(server.Network), p.Jurisdiction(server.Jurisdiction)
	hop := len(h.Hops) + 1 // the network router
	border = hop
	hop += len(n.Hops) + 1 // the jurisdiction's border router
	national = hop
	if n.Border.Policy == "" {
		border = hop
	}
	hop += len(j.Hops) + 1 + len(p.BackboneHops) + len(sj.Hops) + 1 + len(sn.Hops) + 1 + len(server.Hops) + 1
	return border, national, hop
}

// TestSplinternetPaths keeps the hop table in splinternet.yaml's header
// true: for each client, the hop of the border router whose gateway it
// meets first, and of a server abroad (us-vps-1); and two-lands' header.
func TestSplinternetPaths(t *testing.T) {
	tests := []struct {
		host                   string
		border, national, hops int
	}{
		{"cn-client-1", 7, 7, 24},
		{"cn-client-2", 7, 7, 24},
		{"cn-henan-client-1", 1, 7, 24},
		{"ru-client-1", 2, 2, 20},
		{"ru-client-2", 2, 2, 20},
		{"ir-client-1", 5, 5, 20},
		{"ir-mobile-client-1", 5, 5, 20},
		{"kz-client-1", 5, 5, 20},
		{"tm-client-1", 4, 4, 18},
		{"in-airtel-client-1", 1, 5, 20},
		{"in-jio-client-1", 1, 5, 20},
		{"de-client-1", 5, 5, 19},
	}
	for _, tt := range tests {
		b, n, total := pathHops(t, Default, tt.host, "us-vps-1")
		if b != tt.border || n != tt.national || total != tt.hops {
			t.Errorf("%s: first border at hop %d, national border at hop %d, us-vps-1 at hop %d; want %d, %d, %d",
				tt.host, b, n, total, tt.border, tt.national, tt.hops)
		}
	}
	if b, n, total := pathHops(t, "two-lands", "cn-client-1", "web-www-freepress-herald-com"); b != 7 || n != 7 || total != 24 {
		t.Errorf("two-lands: cn-client-1's border at hop %d (%d), a US server at %d; want 7 and 24", b, n, total)
	}
}
