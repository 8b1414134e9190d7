package world

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// Resolve looks name up (A and AAAA) through the host's first recursive
// resolver, as a stub resolver does, and returns IPv4 addresses first. A name
// that does not exist gives a *net.DNSError with IsNotFound set.
func (h *Host) Resolve(ctx context.Context, name string) ([]netip.Addr, error) {
	if a, err := netip.ParseAddr(name); err == nil {
		return []netip.Addr{a}, nil
	}
	if len(h.plan.Resolvers) == 0 {
		return nil, &net.DNSError{Err: "host has no resolver", Name: name}
	}
	server := netip.AddrPortFrom(h.plan.Resolvers[0], 53)
	type result struct {
		addrs []netip.Addr
		err   error
	}
	ch := make(chan result, 2)
	for _, qt := range []uint16{dns.TypeA, dns.TypeAAAA} {
		go func(qt uint16) {
			m, err := h.Exchange(ctx, server, name, qt)
			if err != nil {
				ch <- result{err: err}
				return
			}
			var r result
			if m.Rcode == dns.RcodeNameError {
				r.err = &net.DNSError{Err: "no such host", Name: name, Server: server.String(), IsNotFound: true}
			} else if m.Rcode != dns.RcodeSuccess {
				r.err = &net.DNSError{Err: "server misbehaving: " + dns.RcodeToString[m.Rcode], Name: name, Server: server.String()}
			}
			for _, rr := range m.Answer {
				switch v := rr.(type) {
				case *dns.A:
					if a, ok := netip.AddrFromSlice(v.A.To4()); ok {
						r.addrs = append(r.addrs, a)
					}
				case *dns.AAAA:
					if a, ok := netip.AddrFromSlice(v.AAAA); ok {
						r.addrs = append(r.addrs, a)
					}
				}
			}
			ch <- r
		}(qt)
	}
	var v4, v6 []netip.Addr
	var firstErr error
	for range 2 {
		r := <-ch
		if r.err != nil && firstErr == nil {
			firstErr = r.err
		}
		for _, a := range r.addrs {
			if a.Is4() {
				v4 = append(v4, a)
			} else {
				v6 = append(v6, a)
			}
		}
	}
	addrs := append(v4, v6...)
	if len(addrs) == 0 {
		if firstErr == nil {
			firstErr = &net.DNSError{Err: "no such host", Name: name, Server: server.String(), IsNotFound: true}
		}
		return nil, firstErr
	}
	return addrs, nil
}

// Exchange sends one DNS query for name and qtype to server over UDP (with
// the RD bit set) and returns the first answer that matches it, retrying
// once; a truncated answer is retried over TCP.
func (h *Host) Exchange(ctx context.Context, server netip.AddrPort, name string, qtype uint16) (*dns.Msg, error) {
	q := new(dns.Msg)
	q.SetQuestion(dns.Fqdn(strings.ToLower(name)), qtype)
	q.SetEdns0(1232, false)
	return h.ExchangeMsg(ctx, server, q)
}

// ExchangeMsg sends a prepared query to server over UDP, falling back to TCP
// on truncation.
func (h *Host) ExchangeMsg(ctx context.Context, server netip.AddrPort, q *dns.Msg) (*dns.Msg, error) {
	var lastErr error
	for try := 0; try < 2; try++ {
		m, err := h.exchange(ctx, "udp", server, q, 2*time.Second)
		if err == nil && m.Truncated {
			m, err = h.exchange(ctx, "tcp", server, q, 4*time.Second)
		}
		if err == nil {
			return m, nil
		}
		lastErr = err
		if ctx.Err() != nil {
			break
		}
		var ne net.Error
		if !errors.As(err, &ne) || !ne.Timeout() {
			break
		}
	}
	return nil, lastErr
}

func (h *Host) exchange(ctx context.Context, network string, server netip.AddrPort, q *dns.Msg, timeout time.Duration) (*dns.Msg, error) {
	c, err := h.DialAddr(ctx, network, server)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	dl := time.Now().Add(timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(dl) {
		dl = d
	}
	c.SetDeadline(dl)
	stop := context.AfterFunc(ctx, func() { c.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	dc := &dns.Conn{Conn: c}
	if err := dc.WriteMsg(q); err != nil {
		return nil, err
	}
	for {
		m, err := dc.ReadMsg()
		if err != nil {
			return nil, err
		}
		if m.Id == q.Id && len(m.Question) == 1 && len(q.Question) == 1 &&
			strings.EqualFold(m.Question[0].Name, q.Question[0].Name) && m.Question[0].Qtype == q.Question[0].Qtype {
			return m, nil
		}
	}
}
