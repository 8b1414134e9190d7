package nameserver

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"

	"github.com/splinter-lab/splinter/clock"
)

// Resolver limits.
const (
	maxReferrals    = 16 // referrals followed for one name
	maxGluelessDeep = 4  // nested resolutions of name server addresses
	maxCacheEntries = 1 << 16
)

// Resolver is a recursive, caching resolver. It iterates from the root
// hints, following referrals, CNAME chains (at most 8 links) and name
// servers with or without glue (nested at most 4 deep), caches answers for
// their TTL and negative answers for the SOA's negative TTL (RFC 2308), and
// retries over TCP when a UDP answer is truncated. It serves clients as a
// dns.Handler with RA=1.
//
// Upstream queries go through Dialer, one connection per query, using
// [Exchange]: over UDP the first datagram that matches the query's ID and
// question is taken, so a censor's injected answer that arrives first wins.
//
// With LocalRoot set (RFC 8806), the resolver answers queries for the root
// zone from its own copy instead of asking root servers, so a jurisdiction
// cut off from the world's root servers still resolves names under zones
// whose servers it can reach.
//
// Set the fields before first use and do not change them afterwards; only
// Dialer is required (plus Roots unless LocalRoot is set). A Resolver is safe
// for concurrent use.
type Resolver struct {
	// Dialer reaches upstream name servers.
	Dialer Dialer
	// Roots are the root hints: the addresses of the root name servers.
	Roots []netip.Addr
	// Port is the port upstream name servers listen on; 0 means 53.
	Port uint16
	// LocalRoot, when set, is the root zone the resolver serves itself.
	LocalRoot *Zone
	// Clock is the clock of the cache; nil is the system clock. Exchange
	// timeouts are real time (they bound socket waits).
	Clock clock.Clock
	// Timeout bounds one exchange with one upstream server; 0 means 2s.
	Timeout time.Duration
	// QueryTimeout bounds the resolution of one client query; 0 means 10s.
	QueryTimeout time.Duration

	initOnce  sync.Once
	initErr   error
	localRoot *Authoritative

	mu    sync.Mutex
	cache map[cacheKey]*cacheEntry
}

var _ dns.Handler = (*Resolver)(nil)

type cacheKey struct {
	name  string
	qtype uint16 // 0 for a name that does not exist (NXDOMAIN)
}

type cacheEntry struct {
	rrs     []dns.RR // a positive RRset, TTLs as received
	soa     dns.RR   // a negative answer's SOA, when the server sent one
	rcode   int      // a negative answer's rcode: NXDOMAIN, or NOERROR for NODATA
	neg     bool
	stored  time.Time
	expires time.Time
}

// errResolve marks resolution failures, answered with SERVFAIL.
var errResolve = errors.New("nameserver: resolution failed")

func (r *Resolver) init() error {
	r.initOnce.Do(func() {
		r.cache = make(map[cacheKey]*cacheEntry)
		if r.Dialer == nil && r.LocalRoot == nil {
			r.initErr = errors.New("nameserver: Resolver has no Dialer")
		}
		if r.LocalRoot != nil {
			if canonical(r.LocalRoot.Origin) != "." {
				r.initErr = fmt.Errorf("nameserver: LocalRoot zone is %q, not the root", r.LocalRoot.Origin)
				return
			}
			r.localRoot, r.initErr = NewAuthoritative(r.LocalRoot)
		} else if len(r.Roots) == 0 {
			r.initErr = errors.New("nameserver: Resolver has neither Roots nor LocalRoot")
		}
	})
	return r.initErr
}

func (r *Resolver) now() time.Time { return clock.Or(r.Clock).Now() }

// ServeDNS resolves one client query.
func (r *Resolver) ServeDNS(w dns.ResponseWriter, req *dns.Msg) {
	if req.Response {
		return
	}
	resp := new(dns.Msg)
	if rc, ok := checkQuery(req); !ok {
		resp.SetRcode(req, rc)
	} else {
		timeout := r.QueryTimeout
		if timeout == 0 {
			timeout = 10 * time.Second
		}
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		answer, err := r.Resolve(ctx, req.Question[0].Name, req.Question[0].Qtype)
		cancel()
		if err != nil {
			resp.SetRcode(req, dns.RcodeServerFailure)
		} else {
			resp.SetRcode(req, answer.Rcode)
			resp.Answer, resp.Ns = answer.Answer, answer.Ns
		}
	}
	resp.RecursionAvailable = true
	finish(resp, req, isUDP(w))
	_ = w.WriteMsg(resp)
}

// Resolve resolves name's records of qtype and returns them as a response
// would carry them: the CNAME chain and the records in Answer, the SOA of a
// negative answer in Ns, NOERROR or NXDOMAIN in Rcode. TTLs are what remains
// of the cached ones. Failures to get an answer are errors.
func (r *Resolver) Resolve(ctx context.Context, name string, qtype uint16) (*dns.Msg, error) {
	if err := r.init(); err != nil {
		return nil, err
	}
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), qtype)
	m.Response = true
	m.RecursionDesired = true
	m.RecursionAvailable = true
	res, err := r.resolve(ctx, canonical(name), qtype, 0)
	if err != nil {
		return nil, err
	}
	m.Rcode = res.rcode
	m.Answer = res.answer
	if res.soa != nil {
		m.Ns = []dns.RR{res.soa}
	}
	return m, nil
}

// result is the outcome of a resolution.
type result struct {
	answer []dns.RR
	rcode  int
	soa    dns.RR
	// cname is the target a chain ended on without its data (iterate only).
	cname string
}

func (r *Resolver) resolve(ctx context.Context, name string, qtype uint16, depth int) (result, error) {
	var chain []dns.RR
	seen := map[string]bool{}
	for range maxChase + 1 {
		if seen[name] {
			return result{}, fmt.Errorf("%w: CNAME loop at %s", errResolve, name)
		}
		seen[name] = true
		if e, ok := r.lookup(name, qtype); ok {
			if e.neg {
				return result{answer: chain, rcode: e.rcode, soa: e.soa}, nil
			}
			return result{answer: append(chain, e.rrs...)}, nil
		}
		if qtype != dns.TypeCNAME && qtype != dns.TypeANY {
			if e, ok := r.lookup(name, dns.TypeCNAME); ok && !e.neg && len(e.rrs) > 0 {
				chain = append(chain, e.rrs[0])
				name = canonical(e.rrs[0].(*dns.CNAME).Target)
				continue
			}
		}
		res, err := r.iterate(ctx, name, qtype, depth)
		if err != nil {
			return result{}, err
		}
		chain = append(chain, res.answer...)
		if res.cname == "" {
			res.answer = chain
			return res, nil
		}
		name = res.cname
	}
	return result{}, fmt.Errorf("%w: CNAME chain longer than %d", errResolve, maxChase)
}

// lookup is the cached answer for (name, qtype), with TTLs lowered by the
// time spent in the cache. A cached NXDOMAIN answers every type.
func (r *Resolver) lookup(name string, qtype uint16) (*cacheEntry, bool) {
	now := r.now()
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, k := range []cacheKey{{name, qtype}, {name, 0}} {
		e, ok := r.cache[k]
		if !ok {
			continue
		}
		if !now.Before(e.expires) {
			delete(r.cache, k)
			continue
		}
		age := uint32(now.Sub(e.stored) / time.Second)
		out := &cacheEntry{neg: e.neg, rcode: e.rcode}
		for _, rr := range e.rrs {
			out.rrs = append(out.rrs, aged(rr, age))
		}
		if e.soa != nil {
			out.soa = aged(e.soa, age)
		}
		return out, true
	}
	return nil, false
}

func aged(rr dns.RR, age uint32) dns.RR {
	c := dns.Copy(rr)
	h := c.Header()
	if h.Ttl > age {
		h.Ttl -= age
	} else {
		h.Ttl = 0
	}
	return c
}

// store caches an entry for ttl seconds.
func (r *Resolver) store(k cacheKey, e *cacheEntry, ttl uint32) {
	if ttl == 0 {
		return
	}
	now := r.now()
	e.stored = now
	e.expires = now.Add(time.Duration(ttl) * time.Second)
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.cache) >= maxCacheEntries {
		for k, old := range r.cache {
			if !now.Before(old.expires) {
				delete(r.cache, k)
			}
		}
		if len(r.cache) >= maxCacheEntries {
			clear(r.cache)
		}
	}
	r.cache[k] = e
}

// storeRRsets caches the RRsets of rrs whose owners are within bailiwick.
func (r *Resolver) storeRRsets(rrs []dns.RR, bailiwick string) {
	sets := map[cacheKey][]dns.RR{}
	var order []cacheKey
	for _, rr := range rrs {
		h := rr.Header()
		if h.Rrtype == dns.TypeOPT || h.Class != dns.ClassINET {
			continue
		}
		owner := canonical(h.Name)
		if !dns.IsSubDomain(bailiwick, owner) {
			continue
		}
		k := cacheKey{owner, h.Rrtype}
		if sets[k] == nil {
			order = append(order, k)
		}
		c := dns.Copy(rr)
		c.Header().Name = owner
		sets[k] = append(sets[k], c)
	}
	for _, k := range order {
		ttl := sets[k][0].Header().Ttl
		for _, rr := range sets[k] {
			ttl = min(ttl, rr.Header().Ttl)
		}
		r.store(k, &cacheEntry{rrs: sets[k]}, ttl)
	}
}

// storeNegative caches a negative answer for the SOA's negative TTL.
func (r *Resolver) storeNegative(k cacheKey, rcode int, soa *dns.SOA) {
	if soa == nil {
		return // RFC 2308 section 5: no SOA, no negative caching
	}
	c := dns.Copy(soa).(*dns.SOA)
	c.Hdr.Ttl = min(c.Hdr.Ttl, c.Minttl)
	c.Hdr.Name = canonical(c.Hdr.Name)
	r.store(k, &cacheEntry{neg: true, rcode: rcode, soa: c}, c.Hdr.Ttl)
}

// iterate asks authoritative servers for (name, qtype), starting at the
// closest zone whose servers are known, and caches what it learns.
func (r *Resolver) iterate(ctx context.Context, name string, qtype uint16, depth int) (result, error) {
	zone, nsNames := r.closestServers(name)
	for range maxReferrals {
		q := new(dns.Msg)
		q.SetQuestion(name, qtype)
		q.RecursionDesired = false
		q.SetEdns0(maxUDPSize, false)
		var resp *dns.Msg
		if zone == "." && r.localRoot != nil {
			resp = r.localRoot.Answer(q)
		} else {
			addrs, err := r.serverAddrs(ctx, zone, nsNames, depth)
			if err != nil {
				return result{}, err
			}
			if resp, err = r.query(ctx, addrs, q); err != nil {
				return result{}, err
			}
		}

		// The answer, following a CNAME chain within the server's bailiwick.
		var res result
		cur := name
		for range maxChase + 1 {
			var rrs []dns.RR
			var cname *dns.CNAME
			for _, rr := range resp.Answer {
				h := rr.Header()
				if !strings.EqualFold(h.Name, cur) || !dns.IsSubDomain(zone, cur) {
					continue
				}
				if h.Rrtype == qtype || qtype == dns.TypeANY {
					rrs = append(rrs, rr)
				} else if c, ok := rr.(*dns.CNAME); ok && cname == nil {
					cname = c
				}
			}
			if len(rrs) > 0 {
				r.storeRRsets(rrs, zone)
				res.answer = append(res.answer, canonicalOwners(rrs)...)
				res.cname = ""
				break
			}
			if cname == nil {
				break
			}
			r.storeRRsets([]dns.RR{cname}, zone)
			res.answer = append(res.answer, canonicalOwners([]dns.RR{cname})...)
			cur = canonical(cname.Target)
			res.cname = cur
		}
		soa := soaOf(resp.Ns, zone)
		switch {
		case resp.Rcode == dns.RcodeNameError:
			r.storeNegative(cacheKey{cur, 0}, dns.RcodeNameError, soa)
			res.rcode, res.cname = dns.RcodeNameError, ""
			if soa != nil {
				res.soa = soa
			}
			return res, nil
		case len(res.answer) > 0 && res.cname == "":
			return res, nil
		case len(res.answer) > 0:
			// The chain leaves this server's data: the caller resolves the
			// target from the top, unless the server answered NODATA for it.
			if soa != nil && len(resp.Ns) > 0 && !hasNS(resp.Ns) && dns.IsSubDomain(zone, cur) {
				r.storeNegative(cacheKey{cur, qtype}, dns.RcodeSuccess, soa)
				res.cname, res.soa = "", soa
			}
			return res, nil
		}
		if child, ns := referral(resp, zone, name); child != "" {
			r.storeRRsets(ns, zone)
			r.storeRRsets(addrRecords(resp.Extra), zone) // glue, bailiwick-checked
			zone, nsNames = child, nsTargets(ns)
			continue
		}
		// NODATA.
		r.storeNegative(cacheKey{name, qtype}, dns.RcodeSuccess, soa)
		res.rcode = dns.RcodeSuccess
		if soa != nil {
			res.soa = soa
		}
		return res, nil
	}
	return result{}, fmt.Errorf("%w: more than %d referrals for %s", errResolve, maxReferrals, name)
}

// closestServers is the deepest zone enclosing name whose name servers are
// cached and reachable (an address is cached, or a name server lies outside
// the zone so that its address can be resolved), else the root.
func (r *Resolver) closestServers(name string) (string, []string) {
	for n := name; n != "" && n != "."; n = parent(n) {
		e, ok := r.lookup(n, dns.TypeNS)
		if !ok || e.neg {
			continue
		}
		names := nsTargets(e.rrs)
		for _, ns := range names {
			if !dns.IsSubDomain(n, ns) || len(r.cachedAddrs(ns)) > 0 {
				return n, names
			}
		}
	}
	return ".", nil
}

func (r *Resolver) cachedAddrs(name string) []netip.Addr {
	var out []netip.Addr
	for _, t := range []uint16{dns.TypeA, dns.TypeAAAA} {
		if e, ok := r.lookup(name, t); ok && !e.neg {
			for _, rr := range e.rrs {
				if a, ok := rrAddr(rr); ok {
					out = append(out, a)
				}
			}
		}
	}
	return out
}

// serverAddrs are the addresses of a zone's name servers, IPv4 first,
// resolving them when no glue was given.
func (r *Resolver) serverAddrs(ctx context.Context, zone string, nsNames []string, depth int) ([]netip.Addr, error) {
	if zone == "." {
		return r.Roots, nil
	}
	var addrs []netip.Addr
	for _, ns := range nsNames {
		addrs = append(addrs, r.cachedAddrs(ns)...)
	}
	if len(addrs) > 0 {
		return sortV4First(addrs), nil
	}
	if depth >= maxGluelessDeep {
		return nil, fmt.Errorf("%w: name servers of %s nested too deep", errResolve, zone)
	}
	var lastErr error
	for _, ns := range nsNames {
		if dns.IsSubDomain(zone, ns) {
			continue // in bailiwick without glue: unreachable
		}
		for _, t := range []uint16{dns.TypeA, dns.TypeAAAA} {
			res, err := r.resolve(ctx, ns, t, depth+1)
			if err != nil {
				lastErr = err
				continue
			}
			for _, rr := range res.answer {
				if a, ok := rrAddr(rr); ok {
					addrs = append(addrs, a)
				}
			}
		}
		if len(addrs) > 0 {
			return addrs, nil
		}
	}
	if lastErr != nil {
		return nil, lastErr
	}
	return nil, fmt.Errorf("%w: no address for the name servers of %s", errResolve, zone)
}

// query sends q to each server in turn until one answers NOERROR or
// NXDOMAIN, retrying over TCP when the UDP answer is truncated.
func (r *Resolver) query(ctx context.Context, addrs []netip.Addr, q *dns.Msg) (*dns.Msg, error) {
	port := r.Port
	if port == 0 {
		port = 53
	}
	timeout := r.Timeout
	if timeout == 0 {
		timeout = 2 * time.Second
	}
	lastErr := fmt.Errorf("%w: no servers to ask", errResolve)
	for _, a := range addrs {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		server := netip.AddrPortFrom(a, port)
		q.Id = dns.Id()
		qctx, cancel := context.WithTimeout(ctx, timeout)
		resp, err := Exchange(qctx, r.Dialer, "udp", server, q)
		if err == nil && resp.Truncated {
			resp, err = Exchange(qctx, r.Dialer, "tcp", server, q)
		}
		cancel()
		if err != nil {
			lastErr = err
			continue
		}
		if resp.Rcode != dns.RcodeSuccess && resp.Rcode != dns.RcodeNameError {
			lastErr = &RcodeError{Name: q.Question[0].Name, Rcode: resp.Rcode}
			continue
		}
		return resp, nil
	}
	return nil, lastErr
}

// referral is the child zone and its NS records when resp refers name from
// zone to a zone strictly below it.
func referral(resp *dns.Msg, zone, name string) (string, []dns.RR) {
	if len(resp.Answer) > 0 {
		return "", nil
	}
	var child string
	var ns []dns.RR
	for _, rr := range resp.Ns {
		if rr.Header().Rrtype != dns.TypeNS {
			continue
		}
		owner := canonical(rr.Header().Name)
		if owner == zone || !dns.IsSubDomain(zone, owner) || !dns.IsSubDomain(owner, name) {
			continue
		}
		if child != "" && owner != child {
			continue
		}
		child = owner
		ns = append(ns, rr)
	}
	return child, ns
}

func soaOf(rrs []dns.RR, zone string) *dns.SOA {
	for _, rr := range rrs {
		if soa, ok := rr.(*dns.SOA); ok && dns.IsSubDomain(zone, canonical(soa.Hdr.Name)) {
			c := dns.Copy(soa).(*dns.SOA)
			c.Hdr.Name = canonical(c.Hdr.Name)
			c.Hdr.Ttl = min(c.Hdr.Ttl, c.Minttl)
			return c
		}
	}
	return nil
}

func hasNS(rrs []dns.RR) bool {
	for _, rr := range rrs {
		if rr.Header().Rrtype == dns.TypeNS {
			return true
		}
	}
	return false
}

func nsTargets(rrs []dns.RR) []string {
	var out []string
	for _, rr := range rrs {
		if ns, ok := rr.(*dns.NS); ok {
			out = append(out, canonical(ns.Ns))
		}
	}
	return out
}

func addrRecords(rrs []dns.RR) []dns.RR {
	var out []dns.RR
	for _, rr := range rrs {
		if t := rr.Header().Rrtype; t == dns.TypeA || t == dns.TypeAAAA {
			out = append(out, rr)
		}
	}
	return out
}

func canonicalOwners(rrs []dns.RR) []dns.RR {
	out := make([]dns.RR, len(rrs))
	for i, rr := range rrs {
		out[i] = dns.Copy(rr)
		out[i].Header().Name = canonical(rr.Header().Name)
	}
	return out
}

func sortV4First(addrs []netip.Addr) []netip.Addr {
	out := make([]netip.Addr, 0, len(addrs))
	for _, a := range addrs {
		if a.Is4() {
			out = append(out, a)
		}
	}
	for _, a := range addrs {
		if !a.Is4() {
			out = append(out, a)
		}
	}
	return out
}
