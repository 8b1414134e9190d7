package policy

import (
	"net/netip"
	"strings"
	"testing"
)

func TestDomainSet(t *testing.T) {
	s, err := NewDomainSet([]string{"example.com", "*.wild.example", "Mixed.Case.ORG", "dot.example."})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name        string
		exact, suff string // "" for no match
	}{
		{name: "example.com", exact: "example.com", suff: "example.com"},
		{name: "EXAMPLE.com", exact: "example.com", suff: "example.com"},
		{name: "www.example.com", suff: "example.com"},
		{name: "notexample.com"},
		{name: "com"},
		{name: "wild.example"},
		{name: "a.wild.example", exact: "*.wild.example", suff: "*.wild.example"},
		{name: "a.b.wild.example", exact: "*.wild.example", suff: "*.wild.example"},
		{name: "mixed.case.org", exact: "Mixed.Case.ORG", suff: "Mixed.Case.ORG"},
		{name: "x.dot.example", suff: "dot.example."},
		{name: ""},
		{name: strings.Repeat("a", 300)},
	}
	for _, tt := range tests {
		got, ok := s.MatchExact([]byte(tt.name))
		if got != tt.exact || ok != (tt.exact != "") {
			t.Errorf("MatchExact(%q) = %q, %v; want %q", tt.name, got, ok, tt.exact)
		}
		got, ok = s.MatchSuffix([]byte(tt.name))
		if got != tt.suff || ok != (tt.suff != "") {
			t.Errorf("MatchSuffix(%q) = %q, %v; want %q", tt.name, got, ok, tt.suff)
		}
	}
	var zero DomainSet
	if _, ok := zero.MatchSuffix([]byte("example.com")); ok {
		t.Error("zero DomainSet matched")
	}
	if _, err := NewDomainSet([]string{"bad name"}); err == nil {
		t.Error("NewDomainSet accepted a bad name")
	}
}

func TestCompiledMatch(t *testing.T) {
	lists := map[string]*List{
		"d": {Name: "d", Kind: Domains, Items: []string{"example.com"}},
		"r": {Name: "r", Kind: Regexes, Items: []string{`(^|\.)example\.com$`, `^t\.co$`, `tw[il1]tter`}},
		"k": {Name: "k", Kind: Keywords, Items: []string{"falun", "t.co"}},
		"p": {Name: "p", Kind: Prefixes, Items: []string{"192.0.2.0/24", "192.0.2.128/25", "2001:db8::/32", "198.51.100.7"}},
		"n": {Name: "n", Kind: Ports, Items: []string{"80", "443", "8000-8100", "8090-8200"}},
	}
	c := map[string]*Compiled{}
	for n, l := range lists {
		var err error
		if c[n], err = l.Compile(); err != nil {
			t.Fatal(err)
		}
	}
	domain := []struct {
		list, name string
		mode       DomainMode
		want       string
	}{
		{"d", "www.example.com.", "", "example.com"},
		{"d", "www.example.com", Exact, ""},
		{"d", "example.com", Regex, ""}, // mode does not fit the list
		{"r", "WWW.Example.COM", "", `(^|\.)example\.com$`},
		{"r", "example.com.evil", "", ""},
		{"r", "t.co.", "", `^t\.co$`},
		{"r", "www.t.co", "", ""},
		{"r", "www.TW1TTER.com", "", `tw[il1]tter`},
		{"k", "example.org", "", ""},
		{"k", "microsoft.com", "", "t.co"},
	}
	for _, tt := range domain {
		got, ok := c[tt.list].MatchDomain([]byte(tt.name), tt.mode)
		if got != tt.want || ok != (tt.want != "") {
			t.Errorf("%s.MatchDomain(%q, %q) = %q, %v; want %q", tt.list, tt.name, tt.mode, got, ok, tt.want)
		}
	}
	text := []struct{ list, text, want string }{
		{"k", "GET /search?q=FALUN HTTP/1.1", "falun"},
		{"k", "GET / HTTP/1.1", ""},
		{"r", "Host: www.example.com", `(^|\.)example\.com$`},
		{"d", "example.com", ""},
	}
	for _, tt := range text {
		got, ok := c[tt.list].MatchText([]byte(tt.text))
		if got != tt.want || ok != (tt.want != "") {
			t.Errorf("%s.MatchText(%q) = %q, %v; want %q", tt.list, tt.text, got, ok, tt.want)
		}
	}
	addrs := []struct{ addr, want string }{
		{"192.0.2.1", "192.0.2.0/24"},
		{"192.0.2.200", "192.0.2.128/25"},
		{"::ffff:192.0.2.1", "192.0.2.0/24"},
		{"198.51.100.7", "198.51.100.7/32"},
		{"198.51.100.8", ""},
		{"2001:db8::1", "2001:db8::/32"},
	}
	for _, tt := range addrs {
		got, ok := c["p"].MatchAddr(netip.MustParseAddr(tt.addr))
		if (tt.want == "" && ok) || (tt.want != "" && got != netip.MustParsePrefix(tt.want)) {
			t.Errorf("MatchAddr(%s) = %v, %v; want %s", tt.addr, got, ok, tt.want)
		}
	}
	ports := []struct {
		port uint16
		want PortRange
		ok   bool
	}{{80, Port(80), true}, {81, PortRange{}, false}, {8150, PortRange{8000, 8200}, true}, {0, PortRange{}, false}, {65535, PortRange{}, false}}
	for _, tt := range ports {
		got, ok := c["n"].MatchPort(tt.port)
		if got != tt.want || ok != tt.ok {
			t.Errorf("MatchPort(%d) = %v, %v; want %v, %v", tt.port, got, ok, tt.want, tt.ok)
		}
	}
	if _, ok := c["d"].MatchAddr(netip.MustParseAddr("192.0.2.1")); ok {
		t.Error("a domains list matched an address")
	}
}

// TestLookupAllocs pins the fast path: domain, regex, prefix and port
// lookups do not allocate.
func TestLookupAllocs(t *testing.T) {
	ds, _ := NewDomainSet([]string{"example.com", "*.wild.example"})
	rs, _ := NewRegexSet([]string{`(^|\.)example\.com$`})
	ps := NewPrefixSet([]netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")})
	pt := NewPortSet([]PortRange{Port(443)})
	name := []byte("WWW.Sub.Example.COM")
	addr := netip.MustParseAddr("192.0.2.9")
	for _, tt := range []struct {
		name string
		f    func()
	}{
		{"DomainSet.MatchSuffix", func() { ds.MatchSuffix(name) }},
		{"DomainSet.MatchExact", func() { ds.MatchExact(name) }},
		{"RegexSet.Match", func() { rs.Match(name) }},
		{"PrefixSet.Match", func() { ps.Match(addr) }},
		{"PortSet.Match", func() { pt.Match(443) }},
	} {
		if n := testing.AllocsPerRun(100, tt.f); n != 0 {
			t.Errorf("%s: %v allocs per lookup, want 0", tt.name, n)
		}
	}
}
