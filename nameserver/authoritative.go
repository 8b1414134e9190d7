package nameserver

import (
	"errors"
	"net"
	"net/netip"
	"sort"
	"strings"

	"github.com/miekg/dns"
)

// maxUDPSize is the largest UDP response the servers of this package send,
// whatever a client's EDNS0 buffer size (the DNS Flag Day 2020 value).
const maxUDPSize = 1232

// maxChase bounds CNAME chains, in a zone and across a resolution.
const maxChase = 8

// Authoritative is an authoritative name server for a set of zones: it
// answers with AA=1 from its zones, refers queries below a delegation to the
// child's name servers (AA=0, NS in the authority section, glue in the
// additional section), answers NXDOMAIN or NODATA with the zone's SOA, and
// REFUSED for names outside its zones. Make one with [NewAuthoritative]; it is
// read-only and safe for concurrent use.
//
// ANY queries get every RRset at the name. A query with EDNS0 gets an OPT
// record back (buffer size 1232, the DO bit echoed); over UDP a response
// larger than the client's buffer (512 bytes without EDNS0) is truncated with
// TC=1 so that the client retries over TCP.
type Authoritative struct {
	zones map[string]*zoneData
}

var _ dns.Handler = (*Authoritative)(nil)

// NewAuthoritative compiles zones into a server. It reports every problem of
// every zone (see [Zone.Validate]), and a zone given twice.
func NewAuthoritative(zones ...*Zone) (*Authoritative, error) {
	a := &Authoritative{zones: make(map[string]*zoneData)}
	var errs []error
	for _, z := range zones {
		zd, err := z.compile()
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if a.zones[zd.origin] != nil {
			errs = append(errs, errors.New("nameserver: zone "+zd.origin+" given twice"))
			continue
		}
		a.zones[zd.origin] = zd
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return a, nil
}

// ServeDNS answers one query.
func (a *Authoritative) ServeDNS(w dns.ResponseWriter, req *dns.Msg) {
	var asker netip.Addr
	if ap, err := netip.ParseAddrPort(w.RemoteAddr().String()); err == nil {
		asker = ap.Addr().Unmap()
	}
	resp := a.answer(req, asker)
	if resp == nil {
		return
	}
	finish(resp, req, isUDP(w))
	_ = w.WriteMsg(resp)
}

// Answer is the response to req, without EDNS0 or truncation: what ServeDNS
// sends before transport concerns. It is nil for a message that is not a
// query (a response, say), which gets no answer.
func (a *Authoritative) Answer(req *dns.Msg) *dns.Msg {
	return a.answer(req, netip.Addr{})
}

// answer is Answer for a query from asker (invalid: unknown), who is the
// answer at a Whoami name.
func (a *Authoritative) answer(req *dns.Msg, asker netip.Addr) *dns.Msg {
	if req.Response {
		return nil
	}
	resp := new(dns.Msg)
	if rc, ok := checkQuery(req); !ok {
		return resp.SetRcode(req, rc)
	}
	resp.SetReply(req)
	resp.RecursionAvailable = false
	q := req.Question[0]
	qname := canonical(q.Name)
	zd := a.zoneFor(qname, q.Qtype)
	if zd == nil {
		resp.Rcode = dns.RcodeRefused
		return resp
	}
	if q.Qtype == dns.TypeAXFR || q.Qtype == dns.TypeIXFR {
		resp.Rcode = dns.RcodeRefused
		return resp
	}
	resp.Authoritative = true
	seen := map[string]bool{}
	for range maxChase {
		seen[qname] = true
		// Below a delegation: refer.
		if cut := zd.cutAbove(qname); cut != "" && !(cut == qname && q.Qtype == dns.TypeDS) {
			if len(resp.Answer) > 0 {
				return resp // a CNAME led out of our authority
			}
			resp.Authoritative = false
			resp.Ns = append(resp.Ns, zd.names[cut][dns.TypeNS]...)
			resp.Extra = append(resp.Extra, zd.addrsOf(zd.names[cut][dns.TypeNS])...)
			return resp
		}
		rrsets := zd.names[qname]
		if zd.whoami[qname] && asker.IsValid() && (q.Qtype == dns.TypeA && asker.Is4() || q.Qtype == dns.TypeAAAA && asker.Is6() || q.Qtype == dns.TypeANY) {
			resp.Answer = append(resp.Answer, addrRR(qname, 0, asker))
			return resp
		}
		if rrsets == nil {
			// When a CNAME target does not exist the answer is NXDOMAIN
			// too, with the chain (RFC 6604).
			if !zd.nonTerminal[qname] {
				resp.Rcode = dns.RcodeNameError
			}
			resp.Ns = append(resp.Ns, zd.negativeSOA())
			return resp
		}
		if q.Qtype == dns.TypeANY {
			resp.Answer = append(resp.Answer, allRRsets(rrsets)...)
			return resp
		}
		if rrs := rrsets[q.Qtype]; len(rrs) > 0 {
			resp.Answer = append(resp.Answer, rrs...)
			if q.Qtype == dns.TypeNS && qname == zd.origin {
				resp.Extra = append(resp.Extra, zd.addrsOf(rrs)...)
			}
			return resp
		}
		cname := rrsets[dns.TypeCNAME]
		if len(cname) == 0 {
			resp.Ns = append(resp.Ns, zd.negativeSOA()) // NODATA
			return resp
		}
		resp.Answer = append(resp.Answer, cname[0])
		target := canonical(cname[0].(*dns.CNAME).Target)
		next := a.zoneFor(target, q.Qtype)
		if next == nil || seen[target] {
			return resp // the resolver follows the chain elsewhere
		}
		qname, zd = target, next
	}
	return resp
}

// checkQuery is the rcode for a malformed or unsupported query.
func checkQuery(req *dns.Msg) (int, bool) {
	switch {
	case req.Opcode != dns.OpcodeQuery:
		return dns.RcodeNotImplemented, false
	case len(req.Question) != 1:
		return dns.RcodeFormatError, false
	case req.Question[0].Qclass != dns.ClassINET && req.Question[0].Qclass != dns.ClassANY:
		return dns.RcodeRefused, false
	}
	if opt := req.IsEdns0(); opt != nil && opt.Version() != 0 {
		return dns.RcodeBadVers, false
	}
	return dns.RcodeSuccess, true
}

// zoneFor is the closest enclosing zone of name; for DS the parent side of a
// cut is preferred when the server holds both.
func (a *Authoritative) zoneFor(name string, qtype uint16) *zoneData {
	for n := name; n != ""; n = parent(n) {
		if zd := a.zones[n]; zd != nil {
			if qtype == dns.TypeDS && n == name && n != "." {
				if p := a.zoneFor(parent(n), 0); p != nil {
					return p
				}
			}
			return zd
		}
	}
	return nil
}

// addrsOf is the zone's addresses (glue included) for the targets of NS records.
func (zd *zoneData) addrsOf(nss []dns.RR) []dns.RR {
	var out []dns.RR
	for _, rr := range nss {
		ns, ok := rr.(*dns.NS)
		if !ok {
			continue
		}
		m := zd.names[canonical(ns.Ns)]
		out = append(out, m[dns.TypeA]...)
		out = append(out, m[dns.TypeAAAA]...)
	}
	return out
}

// negativeSOA is the SOA for a negative answer; its TTL is the negative
// caching TTL (RFC 2308 section 3).
func (zd *zoneData) negativeSOA() dns.RR {
	soa := *zd.soa
	soa.Hdr.Ttl = min(soa.Hdr.Ttl, soa.Minttl)
	return &soa
}

func allRRsets(m map[uint16][]dns.RR) []dns.RR {
	types := make([]int, 0, len(m))
	for t := range m {
		types = append(types, int(t))
	}
	sort.Ints(types)
	var out []dns.RR
	for _, t := range types {
		out = append(out, m[uint16(t)]...)
	}
	return out
}

// finish adds EDNS0 to resp when req had it and truncates a UDP response to
// the client's buffer size.
func finish(resp, req *dns.Msg, udp bool) {
	size := dns.MinMsgSize
	if opt := req.IsEdns0(); opt != nil {
		size = max(int(opt.UDPSize()), dns.MinMsgSize)
		if resp.IsEdns0() == nil {
			resp.SetEdns0(maxUDPSize, opt.Do())
		}
	}
	if udp {
		resp.Truncate(min(size, maxUDPSize))
	} else {
		resp.Truncate(dns.MaxMsgSize)
	}
}

// isUDP tells whether the query came over UDP (or another datagram
// transport): anything but a stream.
func isUDP(w dns.ResponseWriter) bool {
	switch w.RemoteAddr().(type) {
	case *net.TCPAddr:
		return false
	case *net.UDPAddr:
		return true
	}
	return !strings.HasPrefix(w.RemoteAddr().Network(), "tcp")
}
