package probe

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"

	"github.com/splinter-lab/splinter/nameserver"
)

// DNSAnswer is one resource record of an answer, in OONI's shape.
type DNSAnswer struct {
	AnswerType string     `json:"answer_type"`
	IPv4       netip.Addr `json:"ipv4,omitzero"`
	IPv6       netip.Addr `json:"ipv6,omitzero"`
	Hostname   string     `json:"hostname,omitempty"`
	TTL        *uint32    `json:"ttl"`
	ASN        uint32     `json:"asn,omitempty"`
}

// DNSQuery is one DNS exchange, in the shape of OONI's queries entries. Over
// UDP the probe keeps listening for a short window after the first answer:
// an on-path injector's forged answer wins the race, and the genuine one that
// arrives after it is recorded in Late.
type DNSQuery struct {
	Engine          string         `json:"engine"` // "udp" or "tcp"
	ResolverAddress netip.AddrPort `json:"resolver_address"`
	Hostname        string         `json:"hostname"`
	QueryType       string         `json:"query_type"`
	Answers         []DNSAnswer    `json:"answers"`
	Failure         *string        `json:"failure"`
	Rcode           string         `json:"rcode,omitempty"`
	T0              float64        `json:"t0"`
	T               float64        `json:"t"`
	// Late are the further answers that arrived within the window (splinter).
	Late [][]DNSAnswer `json:"x_late_answers,omitempty"`
	// Retried is set when the query timed out once and was asked again,
	// with twice the timeout (splinter).
	Retried bool `json:"x_retried,omitempty"`
}

// Addrs are the addresses of the query's (first) answer.
func (q *DNSQuery) Addrs() []netip.Addr {
	var out []netip.Addr
	for _, a := range q.Answers {
		switch {
		case a.IPv4.IsValid():
			out = append(out, a.IPv4)
		case a.IPv6.IsValid():
			out = append(out, a.IPv6)
		}
	}
	return out
}

// Raced reports whether more than one answer arrived and they disagreed: the
// signature of an injector racing the real resolver.
func (q *DNSQuery) Raced() bool {
	first := addrKey(q.Answers)
	for _, l := range q.Late {
		if addrKey(l) != first {
			return true
		}
	}
	return false
}

func addrKey(as []DNSAnswer) string {
	var b strings.Builder
	for _, a := range as {
		b.WriteString(a.IPv4.String() + a.IPv6.String() + ",")
	}
	return b.String()
}

// DNS asks resolver for name's records of qtype over network ("udp" or
// "tcp") with one raw exchange, so forged answers are seen as they are. Over
// UDP it collects every matching answer arriving within Config.DNSWindow of
// the first. The query's Failure is set for a transport error, a non-NOERROR
// rcode, an empty answer or a bogon address.
//
// A query that timed out is asked once more with twice Config.DNSTimeout
// before the timeout is recorded: a cold cache on a loaded path (a recursive
// resolver walking a distant TLD's servers) is slow, not censored, and a
// censor that drops queries drops the second one too. Answers, forged or
// not, are never asked again.
func (p *Prober) DNS(ctx context.Context, resolver netip.AddrPort, network, name string, qtype uint16) DNSQuery {
	q := p.dns1(ctx, resolver, network, name, qtype, p.cfg.DNSTimeout)
	if q.Failure != nil && *q.Failure == FailureTimeout && len(q.Answers) == 0 && ctx.Err() == nil {
		t := q.T
		q = p.dns1(ctx, resolver, network, name, qtype, 2*p.cfg.DNSTimeout)
		q.T += t
		q.Retried = true
	}
	return q
}

// dns1 is one exchange of DNS, bounded by timeout.
func (p *Prober) dns1(ctx context.Context, resolver netip.AddrPort, network, name string, qtype uint16, timeout time.Duration) DNSQuery {
	start := p.now()
	q := DNSQuery{Engine: network, ResolverAddress: resolver, Hostname: name, QueryType: dns.TypeToString[qtype], T0: p.since(start)}
	ctx, cancel := p.withTimeout(ctx, timeout)
	defer cancel()
	msg := new(dns.Msg)
	msg.SetQuestion(dns.Fqdn(name), qtype)
	msg.RecursionDesired = true
	var (
		msgs []*dns.Msg
		err  error
	)
	if network == "tcp" {
		var m *dns.Msg
		m, err = nameserver.Exchange(ctx, p.net, "tcp", resolver, msg)
		if m != nil {
			msgs = append(msgs, m)
		}
	} else {
		msgs, err = p.exchangeUDP(ctx, resolver, msg)
	}
	q.T = p.since(start)
	if len(msgs) == 0 {
		if err == nil {
			err = context.DeadlineExceeded
		}
		q.Failure = Classify(err)
		return q
	}
	q.Answers = p.answers(msgs[0], name, qtype)
	for _, m := range msgs[1:] {
		q.Late = append(q.Late, p.answers(m, name, qtype))
	}
	q.Rcode = dns.RcodeToString[msgs[0].Rcode]
	switch msgs[0].Rcode {
	case dns.RcodeSuccess:
	case dns.RcodeNameError:
		q.Failure = str(FailureDNSNXDomain)
		return q
	case dns.RcodeRefused:
		q.Failure = str(FailureDNSRefused)
		return q
	case dns.RcodeServerFailure:
		q.Failure = str(FailureDNSServfail)
		return q
	default:
		q.Failure = str(FailureDNSMisbehaving)
		return q
	}
	addrs := q.Addrs()
	if len(addrs) == 0 {
		q.Failure = str(FailureDNSNoAnswer)
		return q
	}
	for _, a := range addrs {
		if p.cfg.Geo.Bogon(a) {
			q.Failure = str(FailureDNSBogon)
			break
		}
	}
	return q
}

// exchangeUDP sends msg and reads every matching answer until the window
// after the first one closes (or the context ends).
func (p *Prober) exchangeUDP(ctx context.Context, server netip.AddrPort, msg *dns.Msg) ([]*dns.Msg, error) {
	conn, err := p.net.DialContext(ctx, "udp", server.String())
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	wire, err := msg.Pack()
	if err != nil {
		return nil, err
	}
	if _, err := conn.Write(wire); err != nil {
		return nil, err
	}
	// Like a stub resolver, resend the query until an answer comes.
	got := make(chan struct{})
	go func() {
		t := time.NewTicker(p.scale(p.cfg.DNSRetry))
		defer t.Stop()
		for {
			select {
			case <-t.C:
				conn.Write(wire)
			case <-got:
				return
			case <-ctx.Done():
				return
			}
		}
	}()
	var once sync.Once
	defer once.Do(func() { close(got) })
	var out []*dns.Msg
	buf := make([]byte, 4096)
	for {
		n, err := conn.Read(buf)
		if err != nil {
			var ne net.Error
			if len(out) > 0 && errors.As(err, &ne) && ne.Timeout() {
				return out, nil
			}
			return out, err
		}
		m := new(dns.Msg)
		if m.Unpack(buf[:n]) != nil || !m.Response || m.Id != msg.Id || len(m.Question) != 1 ||
			!strings.EqualFold(m.Question[0].Name, msg.Question[0].Name) || m.Question[0].Qtype != msg.Question[0].Qtype {
			continue
		}
		out = append(out, m)
		if len(out) == 1 {
			once.Do(func() { close(got) })
			if p.cfg.DNSWindow <= 0 {
				return out, nil
			}
			conn.SetReadDeadline(time.Now().Add(p.cfg.DNSWindow)) // sockets keep real time
		}
	}
}

// answers lists the A, AAAA and CNAME records of m.
func (p *Prober) answers(m *dns.Msg, name string, qtype uint16) []DNSAnswer {
	var out []DNSAnswer
	for _, rr := range m.Answer {
		ttl := rr.Header().Ttl
		switch v := rr.(type) {
		case *dns.A:
			if a, ok := netip.AddrFromSlice(v.A.To4()); ok {
				asn, _ := p.cfg.Geo.ASN(a)
				out = append(out, DNSAnswer{AnswerType: "A", IPv4: a, TTL: &ttl, ASN: asn})
			}
		case *dns.AAAA:
			if a, ok := netip.AddrFromSlice(v.AAAA); ok {
				asn, _ := p.cfg.Geo.ASN(a)
				out = append(out, DNSAnswer{AnswerType: "AAAA", IPv6: a, TTL: &ttl, ASN: asn})
			}
		case *dns.CNAME:
			out = append(out, DNSAnswer{AnswerType: "CNAME", Hostname: strings.TrimSuffix(v.Target, "."), TTL: &ttl})
		}
	}
	return out
}

// Resolve looks name up (A and AAAA, in parallel) through resolver over UDP and
// returns both queries and the addresses, IPv4 first.
func (p *Prober) Resolve(ctx context.Context, resolver netip.AddrPort, name string) ([]DNSQuery, []netip.Addr) {
	if a, err := netip.ParseAddr(name); err == nil {
		return nil, []netip.Addr{a}
	}
	qs := make([]DNSQuery, 2)
	done := make(chan struct{})
	go func() {
		qs[1] = p.DNS(ctx, resolver, "udp", name, dns.TypeAAAA)
		close(done)
	}()
	qs[0] = p.DNS(ctx, resolver, "udp", name, dns.TypeA)
	<-done
	var addrs []netip.Addr
	for i := range qs {
		addrs = appendUnique(addrs, qs[i].Addrs()...)
	}
	return qs, addrs
}

// lookupFailure summarises an A+AAAA lookup: nil if any address came back
// (but dns_bogon_error if any is a bogon), else the A query's failure.
func lookupFailure(qs []DNSQuery, addrs []netip.Addr) *string {
	for _, q := range qs {
		if q.Failure != nil && *q.Failure == FailureDNSBogon {
			return q.Failure
		}
	}
	if len(addrs) > 0 {
		return nil
	}
	for _, q := range qs {
		if q.Failure != nil && *q.Failure != FailureDNSNoAnswer {
			return q.Failure
		}
	}
	return str(FailureDNSNoAnswer)
}

func appendUnique(dst []netip.Addr, as ...netip.Addr) []netip.Addr {
outer:
	for _, a := range as {
		for _, b := range dst {
			if a == b {
				continue outer
			}
		}
		dst = append(dst, a)
	}
	return dst
}
