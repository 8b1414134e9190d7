package scenario

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"html"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// golden compares got with the file, or rewrites the file with -update.
func golden(t *testing.T, file string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(file, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (run go test -update to accept):\n--- got\n%s\n--- want\n%s", file, got, want)
	}
}

// TestBadScenarios loads, validates and plans every testdata/bad/*.yaml and
// compares the error text with the .golden file beside it.
func TestBadScenarios(t *testing.T) {
	files, err := filepath.Glob("testdata/bad/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no bad scenarios: %v", err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			s, err := LoadFile(file)
			if err == nil {
				_, err = s.Plan()
			}
			if err == nil {
				t.Fatal("no error")
			}
			var e *Error
			if !errors.As(err, &e) || len(e.Problems) == 0 {
				t.Fatalf("error is %T, not an *Error with problems: %v", err, err)
			}
			golden(t, strings.TrimSuffix(file, ".yaml")+".golden", []byte(err.Error()+"\n"))
		})
	}
}

func TestProblemPositions(t *testing.T) {
	s, err := LoadFile("testdata/bad/invalid.yaml")
	if err != nil {
		t.Fatal(err)
	}
	err = s.Validate()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("Validate: %v", err)
	}
	tests := []struct {
		name string
		msg  string // a substring of the problem
		pos  string
	}{
		{"bad code", `jurisdiction code "cn"`, "testdata/bad/invalid.yaml:5:11"},
		{"prefix outside", `prefix "10.0.0.0/8" is outside`, "testdata/bad/invalid.yaml:6:31"},
		{"host bits", `"198.18.0.1/24" has bits set`, "testdata/bad/invalid.yaml:6:43"},
		{"loss", "loss 1.5", "testdata/bad/invalid.yaml:7:39"},
		{"access site", `site "news.example.com": network "cn-telecom" is an access network`, "testdata/bad/invalid.yaml:35:57"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, p := range e.Problems {
				if strings.Contains(p.Msg, tt.msg) {
					if p.Pos.String() != tt.pos {
						t.Errorf("%q at %s, want %s", p.Msg, p.Pos, tt.pos)
					}
					return
				}
			}
			t.Errorf("no problem mentions %q in:\n%v", tt.msg, err)
		})
	}
}

func TestParseBandwidth(t *testing.T) {
	tests := []struct {
		in      string
		want    int64
		wantErr bool
	}{
		{in: "1Gbit", want: 1_000_000_000},
		{in: "150kbit", want: 150_000},
		{in: "10Mbit", want: 10_000_000},
		{in: "10mbit", want: 10_000_000},
		{in: "1.5Mbit", want: 1_500_000},
		{in: "1500000", want: 1_500_000},
		{in: "64bit", want: 64},
		{in: "0", want: 0},
		{in: "10MB/s", wantErr: true},
		{in: "10Mbps", wantErr: true},
		{in: "-1Mbit", wantErr: true},
		{in: "Mbit", wantErr: true},
		{in: "", wantErr: true},
	}
	for _, tt := range tests {
		got, err := ParseBandwidth(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("ParseBandwidth(%q) = %d, %v; want %d, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestParseLoss(t *testing.T) {
	tests := []struct {
		in      string
		want    float64
		wantErr bool
	}{
		{in: "0.01", want: 0.01},
		{in: "1%", want: 0.01},
		{in: "0.5 %", want: 0.005},
		{in: "0", want: 0},
		{in: "lots", wantErr: true},
		{in: "NaN", wantErr: true},
	}
	for _, tt := range tests {
		got, err := parseLoss(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("parseLoss(%q) = %v, %v; want %v, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestLoadLink(t *testing.T) {
	s, err := Load("link.yaml", []byte("name: x\nbackbone: {delay: 50ms, jitter: 2ms, loss: 1%, bandwidth: 10Mbit}\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := Link{Delay: 50 * time.Millisecond, Jitter: 2 * time.Millisecond, Loss: 0.01, Bandwidth: 10_000_000}
	if s.Backbone != want {
		t.Errorf("backbone = %+v, want %+v", s.Backbone, want)
	}
}

func TestValidDomain(t *testing.T) {
	tests := []struct {
		domain string
		ok     bool
	}{
		{"www.example.com", true},
		{"example.com", true},
		{"a-b.c-d.example.org", true},
		{"localhost", false},
		{"Example.com", false},
		{"-bad.com", false},
		{"bad-.com", false},
		{"x..com", false},
		{"www.example.123", false},
		{"www.example.com.", false},
		{strings.Repeat("a", 64) + ".com", false},
	}
	for _, tt := range tests {
		if got := validDomain(tt.domain) == ""; got != tt.ok {
			t.Errorf("validDomain(%q) ok = %v, want %v (%s)", tt.domain, got, tt.ok, validDomain(tt.domain))
		}
	}
}

func TestSiteZone(t *testing.T) {
	tests := []struct{ domain, zone string }{
		{"www.example.com", "example.com"},
		{"example.com", "example.com"},
		{"a.b.news.example.co.uk", "co.uk"}, // the documented limitation
	}
	for _, tt := range tests {
		if got := siteZone(tt.domain); got != tt.zone {
			t.Errorf("siteZone(%q) = %q, want %q", tt.domain, got, tt.zone)
		}
	}
}

func TestAllowedPrefix(t *testing.T) {
	tests := []struct {
		prefix string
		ok     bool
	}{
		{"198.18.0.0/15", true},
		{"198.19.255.0/24", true},
		{"198.16.0.0/13", false},
		{"192.0.2.128/25", true},
		{"198.51.100.0/24", true},
		{"203.0.113.7/32", true},
		{"10.0.0.0/8", false},
		{"2001:db8:86::/48", true},
		{"2001:2::/48", true},
		{"2001:2::/32", false},
		{"2001:db9::/32", false},
		{"::ffff:198.18.0.0/112", false},
	}
	for _, tt := range tests {
		if got := AllowedPrefix(netip.MustParsePrefix(tt.prefix)); got != tt.ok {
			t.Errorf("AllowedPrefix(%s) = %v, want %v", tt.prefix, got, tt.ok)
		}
	}
}

func TestCategories(t *testing.T) {
	if len(Categories) != 31 {
		t.Errorf("%d categories, want the 31 Citizen Lab codes", len(Categories))
	}
	seen := map[string]bool{}
	for _, c := range Categories {
		if seen[c.Code] || c.Name == "" {
			t.Errorf("category %q repeated or unnamed", c.Code)
		}
		seen[c.Code] = true
	}
	for _, code := range strings.Fields("ALDR REL PORN PROV POLR HUMR HATE MMED NEWS ANON COMT SRCH CTRL IGO GOVT COMM LGBT HOST GRP CULTR ECON GMB GAME MILX FILE DATE ENV XED HACK PUBH MISC") {
		if !seen[code] {
			t.Errorf("category %q missing", code)
		}
	}
}

var readmeYAML = regexp.MustCompile("(?s)```yaml\n(.*?)```")

func TestREADMEExample(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := readmeYAML.FindAllSubmatch(readme, -1)
	if len(blocks) == 0 {
		t.Fatal("README.md has no yaml example")
	}
	for i, b := range blocks {
		s, err := Load(fmt.Sprintf("README.md#%d", i), b[1])
		if err != nil {
			t.Fatalf("example %d: %v", i, err)
		}
		p, err := s.Plan()
		if err != nil {
			t.Fatalf("example %d: %v", i, err)
		}
		checkPlan(t, p)
		if h := p.Host("cn-vps-1"); h == nil || h.Addrs[0] != netip.MustParseAddr("198.18.15.10") {
			t.Errorf("cn-vps-1 = %+v, want its declared address", h)
		}
		if site := p.Sites[2]; site.Title != "VPN Bastion" || !strings.Contains(site.Page(), "Get around") {
			t.Errorf("given title and body not kept: %+v", site.Site)
		}
	}
}

func TestEmbedded(t *testing.T) {
	names := Names()
	if !slices.Contains(names, Default) || !slices.Contains(names, "two-lands") {
		t.Fatalf("Names() = %v", names)
	}
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			s, err := Embedded(name)
			if err != nil {
				t.Fatal(err)
			}
			if s.Name != name {
				t.Errorf("scenario %q is named %q", name, s.Name)
			}
			p, err := s.Plan()
			if err != nil {
				t.Fatal(err)
			}
			checkPlan(t, p)
		})
	}
	if _, err := Embedded("nowhere"); err == nil {
		t.Error("Embedded(nowhere) did not fail")
	}
	if _, err := Open("nowhere"); err == nil || !strings.Contains(err.Error(), "splinternet") {
		t.Errorf("Open(nowhere) = %v, want an error listing the embedded scenarios", err)
	}
	if _, err := Open("testdata/bad/invalid.yaml"); err == nil {
		t.Error("Open of an invalid file did not fail")
	}
}

// TestSplinternet checks what the default world promises.
func TestSplinternet(t *testing.T) {
	s, err := Open(Default)
	if err != nil {
		t.Fatal(err)
	}
	p, err := s.Plan()
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Sites) < 150 {
		t.Errorf("%d sites, want at least 150", len(s.Sites))
	}
	policies := map[string]string{"CN": "CN", "IR": "IR", "RU": "RU", "TM": "TM", "KZ": "KZ", "IN": "", "US": "", "DE": ""}
	for code, policy := range policies {
		j := p.Jurisdiction(code)
		if j == nil {
			t.Errorf("no jurisdiction %s", code)
			continue
		}
		if j.Border.Policy != policy {
			t.Errorf("%s border policy %q, want %q", code, j.Border.Policy, policy)
		}
	}
	netPolicies := map[string]string{"in-airtel": "IN-airtel", "in-jio": "IN-jio", "cn-henan-unicom": "CN-henan"}
	for name, policy := range netPolicies {
		if n := p.Network(name); n == nil || n.Border.Policy != policy || n.Kind != Access {
			t.Errorf("network %s = %+v, want an access network with policy %q", name, n, policy)
		}
	}
	for _, code := range []string{"US", "DE"} {
		if p.Jurisdiction(code).PublicResolver == nil {
			t.Errorf("%s has no public resolver", code)
		}
	}
	if h := p.Host("de-control"); h == nil || h.Role != RoleControl {
		t.Errorf("de-control = %+v", h)
	}
	clients := map[string]int{}
	hostingJur := map[string]int{}
	for _, h := range p.Hosts {
		if h.Role == RoleClient && p.Network(h.Network).Kind == Access {
			clients[h.Jurisdiction]++
		}
	}
	for _, n := range p.Networks {
		if n.Kind == Hosting {
			hostingJur[n.Jurisdiction]++
		}
	}
	categories := map[string]bool{}
	siteJur := map[string]bool{}
	for _, site := range p.Sites {
		categories[site.Category] = true
		siteJur[p.Host(site.Host).Jurisdiction] = true
	}
	for _, j := range p.Jurisdictions {
		if clients[j.Code] == 0 || hostingJur[j.Code] == 0 {
			t.Errorf("%s: %d clients in access networks, %d hosting networks; want at least one of each", j.Code, clients[j.Code], hostingJur[j.Code])
		}
		if !siteJur[j.Code] {
			t.Errorf("%s hosts no site", j.Code)
		}
	}
	if len(categories) != len(Categories) {
		t.Errorf("sites use %d categories, want all %d", len(categories), len(Categories))
	}
	if c := p.Host("cn-client-1"); c == nil || !slices.Equal(c.Resolvers, p.Network("cn-telecom").Resolver) {
		t.Errorf("cn-client-1 = %+v, want cn-telecom's resolver", c)
	}
	// A jurisdiction cut off from the world still serves its ccTLD.
	if h := p.Host("cn-tld-ns"); h == nil || h.Jurisdiction != "CN" {
		t.Errorf("cn-tld-ns = %+v, want it in CN", h)
	}
}

// TestTwoLandsHosts pins the plan of two-lands (refresh with -update).
func TestTwoLandsHosts(t *testing.T) {
	s, err := Open("two-lands")
	if err != nil {
		t.Fatal(err)
	}
	p, err := s.Plan()
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := p.HostsTable(&b); err != nil {
		t.Fatal(err)
	}
	for _, z := range p.Zones {
		for _, ns := range z.NameServers {
			fmt.Fprintf(&b, "zone %s %s %s %v\n", z.Name, ns.Name, ns.Host, ns.Addrs)
		}
	}
	for _, h := range p.Hosts {
		fmt.Fprintf(&b, "resolvers %s %v\n", h.Name, h.Resolvers)
	}
	for _, j := range p.Jurisdictions {
		fmt.Fprintf(&b, "jurisdiction %s core %v router %v\n", j.Code, j.Core, j.Router)
	}
	for _, n := range p.Networks {
		fmt.Fprintf(&b, "network %s %v router %v\n", n.Name, n.Prefixes, n.Router)
	}
	fmt.Fprintf(&b, "backbone %v %v\n", p.BackbonePrefixes, p.Backbone)
	fmt.Fprintf(&b, "site %s %q\n%s", p.Sites[0].Domain, p.Sites[0].Title, p.Sites[0].Page())
	golden(t, "testdata/two-lands.golden", b.Bytes())
}

func TestPlanDeterministic(t *testing.T) {
	for _, name := range Names() {
		s1, err := Open(name)
		if err != nil {
			t.Fatal(err)
		}
		s2, _ := Open(name)
		p1, err := s1.Plan()
		if err != nil {
			t.Fatal(err)
		}
		p2, _ := s2.Plan()
		p3, _ := s1.Plan()
		p1.Scenario, p2.Scenario, p3.Scenario = nil, nil, nil
		if !reflect.DeepEqual(p1, p2) || !reflect.DeepEqual(p1, p3) {
			t.Errorf("%s: two plans of the same scenario differ", name)
		}
	}
}

func TestGoBuiltProblemsHaveNoPosition(t *testing.T) {
	s := &Scenario{Name: "go", Jurisdictions: []Jurisdiction{{Code: "xx"}}}
	err := s.Validate()
	if err == nil {
		t.Fatal("no error")
	}
	for _, line := range strings.Split(err.Error(), "\n") {
		if !strings.HasPrefix(line, "scenario: ") {
			t.Errorf("line %q does not start with the package prefix", line)
		}
	}
}

// checkPlan checks the invariants every plan keeps.
func checkPlan(t *testing.T, p *Plan) {
	t.Helper()
	owner := map[netip.Addr]string{}
	claim := func(a netip.Addr, who string) {
		t.Helper()
		if !a.IsValid() || !AllowedAddr(a) {
			t.Errorf("%s: address %v is not in the allowed ranges", who, a)
		}
		if prev, dup := owner[a]; dup {
			t.Errorf("%s: address %v is also %s's", who, a, prev)
		}
		owner[a] = who
	}
	claim(p.Backbone.V4, "backbone")
	claim(p.Backbone.V6, "backbone")
	for _, j := range p.Jurisdictions {
		claim(j.Router.V4, j.Code+" router")
		claim(j.Router.V6, j.Code+" router")
		if p.Jurisdiction(j.Code) != j {
			t.Errorf("Jurisdiction(%q) lookup broken", j.Code)
		}
	}
	for _, n := range p.Networks {
		claim(n.Router.V4, n.Name+" router")
		claim(n.Router.V6, n.Name+" router")
		if len(n.Prefixes) != 2 || !n.Prefixes[0].Addr().Is4() || !n.Prefixes[1].Addr().Is6() {
			t.Errorf("network %s prefixes %v, want one IPv4 and one IPv6", n.Name, n.Prefixes)
		}
		if p.Network(n.Name) != n {
			t.Errorf("Network(%q) lookup broken", n.Name)
		}
		if n.Kind == Access && len(n.Resolver) != 2 {
			t.Errorf("access network %s has resolver %v", n.Name, n.Resolver)
		}
	}
	for _, h := range p.Hosts {
		if p.Host(h.Name) != h {
			t.Errorf("Host(%q) lookup broken", h.Name)
		}
		n := p.Network(h.Network)
		if len(h.Addrs) != 2 || !n.Prefixes[0].Contains(h.Addrs[0]) || !n.Prefixes[1].Contains(h.Addrs[1]) {
			t.Errorf("host %s addresses %v, want one in each of %v", h.Name, h.Addrs, n.Prefixes)
		}
		for _, a := range h.Addrs {
			claim(a, h.Name)
		}
		isResolver := h.Role == RoleResolver || h.Role == RolePublicResolver
		if isResolver != (len(h.Resolvers) == 0) {
			t.Errorf("host %s (%s) has resolvers %v", h.Name, h.Role, h.Resolvers)
		}
	}
	if len(p.Zones) == 0 || p.Zones[0].Name != "." || !slices.Equal(p.RootHints, p.Zones[0].NameServers[0].Addrs) {
		t.Errorf("root zone missing or root hints wrong")
	}
	zones := map[string]bool{}
	for _, z := range p.Zones {
		zones[z.Name] = true
		for _, ns := range z.NameServers {
			h := p.Host(ns.Host)
			if h == nil || !slices.Contains(h.Zones, z.Name) || !slices.Equal(h.Addrs, ns.Addrs) {
				t.Errorf("zone %s: name server %+v does not match its host %+v", z.Name, ns, h)
			}
		}
	}
	for _, site := range p.Sites {
		h := p.Host(site.Host)
		if h == nil || h.Role != RoleWeb || !slices.Equal(h.Sites, []string{site.Domain}) || !slices.Equal(h.Addrs, site.Addrs) {
			t.Errorf("site %s: web host %+v does not serve it", site.Domain, h)
		}
		if !zones[siteZone(site.Domain)+"."] || !zones[tldOf(site.Domain)+"."] {
			t.Errorf("site %s: its zone or TLD is missing", site.Domain)
		}
		if site.Title == "" || !strings.Contains(site.Page(), html.EscapeString(site.Title)) && !strings.Contains(site.Page(), site.Title) {
			t.Errorf("site %s: title %q not in body", site.Domain, site.Title)
		}
	}
}

// synthetic builds a world of nj jurisdictions, each with nn access
// networks of nh clients, a hosting network and a few sites.
func synthetic(nj, nn, nh int) *Scenario {
	s := &Scenario{Name: "synthetic"}
	for j := range nj {
		code := fmt.Sprintf("J%d", j)
		ju := Jurisdiction{
			Code:           code,
			Prefixes:       []netip.Prefix{netip.PrefixFrom(netip.AddrFrom4([4]byte{198, 18 + byte(j/16), byte(j%16) * 16, 0}), 20), netip.MustParsePrefix(fmt.Sprintf("2001:db8:%x::/48", j))},
			PublicResolver: j == 0,
		}
		for k := range nn {
			n := Network{Name: fmt.Sprintf("j%d-isp%d", j, k), ASN: uint32(64512 + j*nn + k), Kind: Access}
			for h := range nh {
				n.Hosts = append(n.Hosts, Host{Name: fmt.Sprintf("j%d-isp%d-c%d", j, k, h), Role: RoleClient})
			}
			ju.Networks = append(ju.Networks, n)
		}
		hosting := fmt.Sprintf("j%d-hosting", j)
		ju.Networks = append(ju.Networks, Network{Name: hosting, ASN: uint32(4200000000 + j), Kind: Hosting})
		for i := range 5 {
			s.Sites = append(s.Sites, Site{Domain: fmt.Sprintf("www.site%d-%d.com", j, i), Category: Categories[(j+i)%len(Categories)].Code, Network: hosting})
		}
		s.Jurisdictions = append(s.Jurisdictions, ju)
	}
	return s
}

func TestPlanLarge(t *testing.T) {
	s := synthetic(10, 10, 100)
	p, err := s.Plan()
	if err != nil {
		t.Fatal(err)
	}
	clients := 0
	for _, h := range p.Hosts {
		if h.Role == RoleClient {
			clients++
		}
	}
	if clients != 10_000 {
		t.Errorf("%d clients, want 10000", clients)
	}
	checkPlan(t, p)
}

func BenchmarkPlan10k(b *testing.B) {
	s := synthetic(10, 10, 100)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Plan(); err != nil {
			b.Fatal(err)
		}
	}
}

// TestRepeatedKeys: a repeated key is reported at its position, in a
// small mapping (found by looking back) and in a large one (found with a
// map, so that a huge hostile mapping is not quadratic).
func TestRepeatedKeys(t *testing.T) {
	for _, n := range []int{0, 40} {
		var b strings.Builder
		b.WriteString("name: x\njurisdictions: []\n")
		for i := range n {
			fmt.Fprintf(&b, "k%d: 1\n", i)
		}
		b.WriteString("name: y\n")
		_, err := Load("keys.yaml", []byte(b.String()))
		want := fmt.Sprintf(`keys.yaml:%d:1: key "name" is repeated in the scenario (first at line 1)`, n+3)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%d other keys: %v\nwant %s", n, err, want)
		}
	}
}

// TestAt: a scenario's at: is a day (midnight UTC) or an RFC 3339 instant.
func TestAt(t *testing.T) {
	for in, want := range map[string]time.Time{
		"2022-06-01":                time.Date(2022, 6, 1, 0, 0, 0, 0, time.UTC),
		"2025-08-20T00:34:00+08:00": time.Date(2025, 8, 19, 16, 34, 0, 0, time.UTC),
	} {
		data, err := os.ReadFile("testdata/bad/at.yaml")
		if err != nil {
			t.Fatal(err)
		}
		s, err := Load("at.yaml", []byte(strings.Replace(string(data), "2022-13-01", in, 1)))
		if err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		if !s.At.Equal(want) {
			t.Errorf("at %s = %v, want %v", in, s.At, want)
		}
		if got, err := ParseDate(in); err != nil || !got.Equal(want) {
			t.Errorf("ParseDate(%s) = %v, %v", in, got, err)
		}
	}
	if _, err := ParseDate("June 2022"); err == nil {
		t.Error("ParseDate accepted prose")
	}
}
