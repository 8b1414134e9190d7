package nameserver

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"

	"github.com/miekg/dns"
)

// DefaultTTL is the TTL of records a Zone builds when Zone.TTL is zero.
const DefaultTTL = 3600

// Zone is the canonical, typed description of one DNS zone. Build it in Go
// (fields, or the Add* helpers), then hand it to [NewAuthoritative], which
// validates it. The zero value is not a valid zone: it needs an Origin and at
// least one name server. A zone must not be modified once served.
type Zone struct {
	// Origin is the zone's apex ("." for the root, "com.", "example.com.").
	// A missing final dot is added; case does not matter.
	Origin string
	// TTL is the TTL of the SOA, NS and glue records, and of records added
	// with the Add* helpers. Zero means DefaultTTL.
	TTL uint32
	// NegativeTTL is the SOA minimum: how long resolvers cache NXDOMAIN and
	// NODATA answers. Zero means 300 seconds.
	NegativeTTL uint32
	// Serial is the SOA serial.
	Serial uint32
	// NameServers are the zone's own name servers (the apex NS RRset). The
	// addresses of in-bailiwick ones become A/AAAA records of the zone.
	NameServers []NameServer
	// Records are the zone's other data: A, AAAA, CNAME, TXT, MX, ... Each
	// owner must be at or below Origin and not below a delegation.
	Records []dns.RR
	// Delegations are child zones, served elsewhere.
	Delegations []Delegation
	// Whoami are names whose address is the asker's: an A query from an
	// IPv4 address is answered with that address, an AAAA query from an
	// IPv6 one with that, an ANY query with either, with TTL 0; other
	// queries get NODATA. A resolver
	// that asks learns its own address, as from PowerDNS's
	// whoami.v4.powerdns.org, which OONI Probe asks to learn its
	// resolver's. Answer, which knows no asker, gives NODATA.
	Whoami []string
}

// NameServer is a name server's host name and addresses.
type NameServer struct {
	Name  string // "ns1.example.com."
	Addrs []netip.Addr
}

// Delegation hands a child zone to other name servers: the parent serves the
// child's NS RRset and, for in-bailiwick name servers, glue addresses.
type Delegation struct {
	Name        string // the child zone, "example.com."
	NameServers []NameServer
}

// AddAddr adds A and AAAA records for name.
func (z *Zone) AddAddr(name string, addrs ...netip.Addr) {
	for _, a := range addrs {
		z.Records = append(z.Records, addrRR(dns.Fqdn(name), z.ttl(), a))
	}
}

// AddCNAME adds a CNAME record from name to target.
func (z *Zone) AddCNAME(name, target string) {
	z.Records = append(z.Records, &dns.CNAME{
		Hdr:    dns.RR_Header{Name: dns.Fqdn(name), Rrtype: dns.TypeCNAME, Class: dns.ClassINET, Ttl: z.ttl()},
		Target: dns.Fqdn(target),
	})
}

// AddTXT adds one TXT record for name holding the given strings.
func (z *Zone) AddTXT(name string, txt ...string) {
	z.Records = append(z.Records, &dns.TXT{
		Hdr: dns.RR_Header{Name: dns.Fqdn(name), Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: z.ttl()},
		Txt: txt,
	})
}

func (z *Zone) ttl() uint32 {
	if z.TTL == 0 {
		return DefaultTTL
	}
	return z.TTL
}

func (z *Zone) negTTL() uint32 {
	if z.NegativeTTL == 0 {
		return 300
	}
	return z.NegativeTTL
}

func addrRR(name string, ttl uint32, a netip.Addr) dns.RR {
	a = a.Unmap()
	if a.Is4() {
		return &dns.A{Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: ttl}, A: net.IP(a.AsSlice())}
	}
	return &dns.AAAA{Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeAAAA, Class: dns.ClassINET, Ttl: ttl}, AAAA: net.IP(a.AsSlice())}
}

// canonical is the lower-case, fully-qualified form of a name.
func canonical(name string) string { return strings.ToLower(dns.Fqdn(name)) }

// zoneData is a compiled, read-only Zone.
type zoneData struct {
	origin string
	soa    *dns.SOA
	// names maps an owner name to its RRsets by type. It holds glue below
	// delegations too; lookups check cuts first.
	names map[string]map[uint16][]dns.RR
	// cuts are the delegation points (owners of NS RRsets other than the apex).
	cuts map[string]bool
	// nonTerminal are names with no data but with data below them.
	nonTerminal map[string]bool
	// whoami are the Zone's Whoami names.
	whoami map[string]bool
}

// Validate reports every problem of the zone, joined.
func (z *Zone) Validate() error {
	_, err := z.compile()
	return err
}

func (z *Zone) compile() (*zoneData, error) {
	var errs []error
	origin := canonical(z.Origin)
	if z.Origin == "" {
		errs = append(errs, errors.New("nameserver: zone has no origin"))
		origin = "."
	} else if _, ok := dns.IsDomainName(origin); !ok {
		errs = append(errs, fmt.Errorf("nameserver: zone origin %q is not a domain name", z.Origin))
	}
	zd := &zoneData{
		origin:      origin,
		names:       make(map[string]map[uint16][]dns.RR),
		cuts:        make(map[string]bool),
		nonTerminal: make(map[string]bool),
		whoami:      make(map[string]bool),
	}
	if len(z.NameServers) == 0 {
		errs = append(errs, fmt.Errorf("nameserver: zone %s has no name servers", origin))
	}
	ttl := z.ttl()
	add := func(rr dns.RR) {
		h := rr.Header()
		owner := canonical(h.Name)
		if !dns.IsSubDomain(origin, owner) {
			errs = append(errs, fmt.Errorf("nameserver: zone %s: record %q is outside the zone", origin, rr.String()))
			return
		}
		if h.Class == 0 {
			h.Class = dns.ClassINET
		}
		h.Name = owner
		m := zd.names[owner]
		if m == nil {
			m = make(map[uint16][]dns.RR)
			zd.names[owner] = m
		}
		m[h.Rrtype] = append(m[h.Rrtype], rr)
	}
	addNS := func(owner string, nss []NameServer, isGlue func(string) bool) {
		for _, ns := range nss {
			target := canonical(ns.Name)
			if _, ok := dns.IsDomainName(target); !ok || ns.Name == "" {
				errs = append(errs, fmt.Errorf("nameserver: zone %s: name server name %q is not a domain name", origin, ns.Name))
				continue
			}
			add(&dns.NS{Hdr: dns.RR_Header{Name: owner, Rrtype: dns.TypeNS, Class: dns.ClassINET, Ttl: ttl}, Ns: target})
			if !isGlue(target) {
				continue // out of bailiwick: its own zone serves its addresses
			}
			if len(ns.Addrs) == 0 {
				errs = append(errs, fmt.Errorf("nameserver: zone %s: in-bailiwick name server %s has no addresses", origin, target))
			}
			for _, a := range ns.Addrs {
				if !a.IsValid() {
					errs = append(errs, fmt.Errorf("nameserver: zone %s: name server %s has an invalid address", origin, target))
					continue
				}
				if !hasAddr(zd.names[target], a) {
					add(addrRR(target, ttl, a))
				}
			}
		}
	}
	zd.soa = &dns.SOA{
		Hdr:     dns.RR_Header{Name: origin, Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: ttl},
		Ns:      ".",
		Mbox:    "hostmaster." + strings.TrimPrefix(origin, "."),
		Serial:  z.Serial,
		Refresh: 3600,
		Retry:   600,
		Expire:  86400 * 14,
		Minttl:  z.negTTL(),
	}
	if origin == "." {
		zd.soa.Mbox = "hostmaster.root-servers.invalid."
	}
	if len(z.NameServers) > 0 {
		zd.soa.Ns = canonical(z.NameServers[0].Name)
	}
	add(zd.soa)
	addNS(origin, z.NameServers, func(n string) bool { return dns.IsSubDomain(origin, n) })
	for _, d := range z.Delegations {
		child := canonical(d.Name)
		if child == origin || !dns.IsSubDomain(origin, child) {
			errs = append(errs, fmt.Errorf("nameserver: zone %s: delegation %q is not below the zone", origin, d.Name))
			continue
		}
		if len(d.NameServers) == 0 {
			errs = append(errs, fmt.Errorf("nameserver: zone %s: delegation %s has no name servers", origin, child))
		}
		zd.cuts[child] = true
		// Glue: addresses of name servers in the child zone or elsewhere in
		// this zone; others are resolved through their own zones.
		addNS(child, d.NameServers, func(n string) bool { return dns.IsSubDomain(origin, n) })
	}
	for _, rr := range z.Records {
		if rr == nil {
			continue
		}
		switch rr.Header().Rrtype {
		case dns.TypeSOA:
			errs = append(errs, fmt.Errorf("nameserver: zone %s: SOA is built from the Zone fields; remove %q", origin, rr.String()))
			continue
		case dns.TypeNS:
			if o := canonical(rr.Header().Name); o != origin {
				zd.cuts[o] = true
			}
		}
		add(dns.Copy(rr))
	}
	for _, n := range z.Whoami {
		owner := canonical(n)
		if _, ok := dns.IsDomainName(owner); !ok || n == "" || !dns.IsSubDomain(origin, owner) {
			errs = append(errs, fmt.Errorf("nameserver: zone %s: whoami name %q is not a name in the zone", origin, n))
			continue
		}
		zd.whoami[owner] = true
		if zd.names[owner] == nil {
			zd.names[owner] = make(map[uint16][]dns.RR) // it exists: NODATA, not NXDOMAIN
		}
	}
	for owner, m := range zd.names {
		if c := zd.cutAbove(owner); c != "" && !isGlueOnly(m) && !(c == owner && m[dns.TypeNS] != nil) {
			errs = append(errs, fmt.Errorf("nameserver: zone %s: %s has data below the delegation %s", origin, owner, c))
		}
		if len(m[dns.TypeCNAME]) > 0 && len(m) > 1 {
			errs = append(errs, fmt.Errorf("nameserver: zone %s: %s has a CNAME and other data", origin, owner))
		}
		for p := parent(owner); p != "" && dns.IsSubDomain(origin, p) && p != origin; p = parent(p) {
			if zd.names[p] == nil {
				zd.nonTerminal[p] = true
			}
		}
	}
	for p := range zd.nonTerminal {
		if zd.names[p] != nil {
			delete(zd.nonTerminal, p)
		}
	}
	return zd, errors.Join(errs...)
}

func hasAddr(m map[uint16][]dns.RR, a netip.Addr) bool {
	for _, rr := range append(append([]dns.RR(nil), m[dns.TypeA]...), m[dns.TypeAAAA]...) {
		if b, ok := rrAddr(rr); ok && b == a.Unmap() {
			return true
		}
	}
	return false
}

func isGlueOnly(m map[uint16][]dns.RR) bool {
	for t := range m {
		if t != dns.TypeA && t != dns.TypeAAAA {
			return false
		}
	}
	return true
}

// cutAbove is the delegation point at or above name (but below the origin),
// or "".
func (zd *zoneData) cutAbove(name string) string {
	cut := ""
	for n := name; n != "" && n != zd.origin; n = parent(n) {
		if zd.cuts[n] {
			cut = n // keep the highest one
		}
	}
	return cut
}

// parent is name without its first label; "" for the root.
func parent(name string) string {
	if name == "." {
		return ""
	}
	i, end := dns.NextLabel(name, 0)
	if end {
		return "."
	}
	return name[i:]
}

// rrAddr is the address of an A or AAAA record.
func rrAddr(rr dns.RR) (netip.Addr, bool) {
	switch rr := rr.(type) {
	case *dns.A:
		a, ok := netip.AddrFromSlice(rr.A.To4())
		return a, ok
	case *dns.AAAA:
		a, ok := netip.AddrFromSlice(rr.AAAA.To16())
		return a.Unmap(), ok
	}
	return netip.Addr{}, false
}
