package world

import (
	"context"
	"net"
	"net/netip"

	"github.com/miekg/dns"

	"github.com/splinter-lab/splinter/nameserver"
)

// Resolve looks name up (A and AAAA) through the host's first recursive
// resolver, as a stub resolver does, and returns IPv4 addresses first. A name
// that does not exist gives a *net.DNSError with IsNotFound set.
func (h *Host) Resolve(ctx context.Context, name string) ([]netip.Addr, error) {
	if a, err := netip.ParseAddr(name); err == nil {
		return []netip.Addr{a}, nil
	}
	if h == nil {
		return nil, errNilHost
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
			_, m, err := nameserver.Lookup(ctx, h, server, name, qt)
			if m == nil {
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
