package probe

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"
)

// The helper's bounds, oohelperd's: a connect with its TLS handshake, a
// QUIC handshake and a fetch each have their own (stretched by the
// prober's pacer, Config.Pacer, as its own timeouts are). A lookup is bounded by
// the prober's DNS timeouts (oohelperd gives it 4 s, which a cold cache on
// a loaded machine, a query timed out and asked again, overruns).
const (
	helperTCPTimeout  = 15 * time.Second
	helperHTTPTimeout = 15 * time.Second
	helperQUICTimeout = 15 * time.Second
)

// Measure is the test helper's side of web_connectivity, as oohelperd
// measures it (probe-cli's internal/oohelperd, read at 7cb22410c):
//
//  1. Resolve the URL's host through the prober's resolver (A and AAAA at
//     once; the A query's failure when both fail), unless it is an IP
//     literal. Failures get the helper's names (dns_name_error…).
//  2. ip_info: the probe's addresses (from its tcp_connect) flagged 1, the
//     helper's flagged 2, bogons 4, each with its ASN.
//  3. Endpoints: every address that is not a bogon, on the URL's port, or
//     443 for https://, or both 80 and 443 for http://. Connect to each
//     (failures: generic_timeout_error, connection_refused_error,
//     connect_error) and hand-shake TLS on port 443 (SNI the URL's host,
//     ALPN h2 and http/1.1); a handshake that succeeds flags its address
//     valid for the domain (8).
//  4. Meanwhile fetch the URL with a cookie jar, following redirects, with
//     the probe's User-Agent, Accept and Accept-Language; keep the final
//     response's status, first header values, body length and title, and
//     the h3 endpoint the first response advertised with Alt-Svc.
//  5. When the probe enabled QUIC and an h3 endpoint was found: QUIC
//     handshakes with every endpoint and a fetch of https://ENDPOINT over
//     HTTP/3 (http3_request).
//
// It differs from oohelperd only where the emulated world requires it: the
// lookup goes to the prober's recursive resolver over UDP (oohelperd asks
// dns.google over DNS-over-HTTPS), bogons and ASNs come from Config.Geo
// (the scenario's plan, not OONI's fixed list and MaxMind), certificates are
// checked against Config.RootCAs (not Mozilla's bundle), QUIC is on as with
// OOHELPERD_ENABLE_QUIC=1, connects and handshakes use the prober's
// timeouts, and the request may ask for splinter's extension
// (ControlRequest.XSplinterQUIC). It fails only when the URL does not
// parse.
func (p *Prober) Measure(ctx context.Context, req ControlRequest) (*ControlResponse, error) {
	u, err := url.Parse(req.HTTPRequest)
	if err != nil {
		return nil, fmt.Errorf("probe: control URL: %w", err)
	}
	host := u.Hostname()
	resp := &ControlResponse{
		TCPConnect: map[string]ControlTCP{}, TLSHandshake: map[string]ControlTLS{},
		QUICHandshake: map[string]ControlTLS{}, DNS: ControlDNS{Addrs: []netip.Addr{}},
	}
	lookups := &helperLookups{p: p, m: map[string]*helperLookup{}}
	if net.ParseIP(host) == nil {
		resp.DNS = lookups.control(ctx, host)
	}
	resp.IPInfo = p.helperIPInfo(req.TCPConnect, resp.DNS.Addrs)
	eps := helperEndpoints(u, resp.IPInfo)

	var wg sync.WaitGroup
	var mu sync.Mutex
	quic := func(ep helperEndpoint) {
		wg.Go(func() {
			q := p.helperQUIC(ctx, ep, host)
			mu.Lock()
			resp.QUICHandshake[ep.endpoint] = q
			mu.Unlock()
		})
	}
	for _, ep := range eps {
		wg.Go(func() {
			tcp, tls := p.helperTCPTLS(ctx, ep, host)
			mu.Lock()
			defer mu.Unlock()
			resp.TCPConnect[ep.endpoint] = tcp
			if tls != nil {
				resp.TLSHandshake[ep.endpoint] = *tls
				if info, ok := resp.IPInfo[ep.addr]; ok && tls.Failure == nil {
					info.Flags |= IPFlagValidForDomain
					resp.IPInfo[ep.addr] = info
				}
			}
		})
		// Splinter's extension: QUIC with the port-443 endpoints, along
		// with the rest (it waits for no discovery).
		if req.XSplinterQUIC && ep.tls {
			quic(ep)
		}
	}
	resp.HTTPRequest = p.helperFetch(ctx, lookups, req.HTTPRequest, req.HTTPRequestHeaders, true, false)

	// oohelperd's QUIC: once the site advertised h3, with every endpoint
	// (those the extension has not done yet), and the fetch over HTTP/3.
	if req.XQUICEnabled && resp.HTTPRequest.DiscoveredH3Endpoint != "" {
		for _, ep := range eps {
			if !(req.XSplinterQUIC && ep.tls) {
				quic(ep)
			}
		}
		r := p.helperFetch(ctx, lookups, "https://"+resp.HTTPRequest.DiscoveredH3Endpoint, req.HTTPRequestHeaders, false, true)
		resp.HTTP3Request = &r
	}
	wg.Wait()
	if len(resp.TLSHandshake) == 0 {
		resp.TLSHandshake = nil
	}
	if len(resp.IPInfo) == 0 {
		resp.IPInfo = nil
	}
	return resp, nil
}

// helperLookups are the lookups of one measurement: oohelperd resolves the
// URL's host for its DNS step and again for each fetch, and the world's
// names do not change within a measurement, so an answer (addresses,
// NXDOMAIN, no answer, a refusal) is shared, sparing the helper's resolver.
// A lookup that failed for no reason the name gives (a timeout, a SERVFAIL)
// is not: the fetch asks again, as oohelperd's does.
type helperLookups struct {
	p  *Prober
	mu sync.Mutex
	m  map[string]*helperLookup
}

type helperLookup struct {
	done    chan struct{}
	addrs   []netip.Addr
	failure *string // df-007's name
}

// lookup resolves host, or waits for the lookup of it in flight.
func (l *helperLookups) lookup(ctx context.Context, host string) ([]netip.Addr, *string) {
	l.mu.Lock()
	e, ok := l.m[host]
	if !ok {
		e = &helperLookup{done: make(chan struct{})}
		l.m[host] = e
	}
	l.mu.Unlock()
	if ok {
		select {
		case <-e.done:
			if e.failure == nil || helperDNSFailure(e.failure) == nil || *helperDNSFailure(e.failure) != ControlFailureUnknown {
				return e.addrs, e.failure
			}
			return l.p.lookupHost(ctx, host) // a transient: ask again
		case <-ctx.Done():
			return nil, Classify(ctx.Err())
		}
	}
	e.addrs, e.failure = l.p.lookupHost(ctx, host)
	close(e.done)
	return e.addrs, e.failure
}

// control is the DNS step of the helper's answer: oohelperd's lookup with
// its failures named the helper's way. Bogons are answers here, not
// failures.
func (l *helperLookups) control(ctx context.Context, host string) ControlDNS {
	addrs, failure := l.lookup(ctx, host)
	out := ControlDNS{Failure: helperDNSFailure(failure), Addrs: append([]netip.Addr{}, addrs...)}
	return out
}

// lookupHost is a getaddrinfo-like lookup through the prober's resolver:
// A and AAAA at once, the addresses of both (A first); when both fail, the
// A query's failure (dns_no_answer when neither had an address).
func (p *Prober) lookupHost(ctx context.Context, host string) ([]netip.Addr, *string) {
	qs, _ := p.Resolve(ctx, p.resolver(), host)
	var addrs []netip.Addr
	for _, q := range qs {
		if q.Failure == nil || *q.Failure == FailureDNSBogon {
			addrs = appendUnique(addrs, q.Addrs()...)
		}
	}
	if len(addrs) > 0 {
		return addrs, nil
	}
	if len(qs) > 0 && qs[0].Failure != nil {
		return nil, qs[0].Failure
	}
	return nil, str(FailureDNSNoAnswer)
}

// helperIPInfo is oohelperd's ip_info: the probe's addresses and the
// helper's, flagged by who found them and whether they are bogons, each
// keyed as it was written.
func (p *Prober) helperIPInfo(probeEndpoints []string, addrs []netip.Addr) map[string]ControlIPInfo {
	flags := map[string]int64{}
	for _, ep := range probeEndpoints {
		a, _, err := net.SplitHostPort(ep)
		if err != nil || net.ParseIP(a) == nil {
			continue
		}
		flags[a] |= IPFlagResolvedByProbe
	}
	for _, a := range addrs {
		flags[a.String()] |= IPFlagResolvedByTH
	}
	out := make(map[string]ControlIPInfo, len(flags))
	for s, f := range flags {
		a, err := netip.ParseAddr(s)
		if err != nil {
			continue
		}
		if p.cfg.Geo.Bogon(a) {
			f |= IPFlagBogon
		}
		asn, _ := p.cfg.Geo.ASN(a)
		out[s] = ControlIPInfo{ASN: asn, Flags: f}
	}
	return out
}

// helperEndpoint is one endpoint the helper measures.
type helperEndpoint struct {
	addr     string // the ip_info key
	endpoint string // "ip:port", as the response's keys
	tls      bool   // port 443: hand-shake TLS too
}

// helperEndpoints lists oohelperd's endpoints: every address that is not
// a bogon, on the URL's port, else 443 for https and 80 and 443 for http,
// sorted.
func helperEndpoints(u *url.URL, info map[string]ControlIPInfo) []helperEndpoint {
	var ports []string
	switch {
	case u.Port() != "":
		ports = []string{u.Port()}
	case u.Scheme == "https":
		ports = []string{"443"}
	case u.Scheme == "http":
		ports = []string{"80", "443"}
	}
	var out []helperEndpoint
	for a, in := range info {
		if in.Flags&IPFlagBogon != 0 {
			continue
		}
		for _, port := range ports {
			out = append(out, helperEndpoint{addr: a, endpoint: net.JoinHostPort(a, port), tls: port == "443"})
		}
	}
	slices.SortFunc(out, func(a, b helperEndpoint) int { return strings.Compare(a.endpoint, b.endpoint) })
	return out
}

// helperTCPTLS connects to ep and, on port 443, hand-shakes TLS over the
// same connection with host as SNI.
func (p *Prober) helperTCPTLS(ctx context.Context, ep helperEndpoint, host string) (ControlTCP, *ControlTLS) {
	ctx, cancel := context.WithTimeout(ctx, p.scale(helperTCPTimeout))
	defer cancel()
	ap, err := netip.ParseAddrPort(ep.endpoint)
	if err != nil {
		return ControlTCP{Failure: str(ControlFailureConnectError)}, nil
	}
	r, c := p.Connect(ctx, ap)
	out := ControlTCP{Status: r.Status.Success, Failure: helperTCPFailure(r.Status.Failure)}
	if c == nil || !ep.tls {
		if c != nil {
			c.Close()
		}
		return out, nil
	}
	defer c.Close()
	hctx, hcancel := context.WithTimeout(ctx, p.scale(p.cfg.HandshakeTimeout))
	defer hcancel()
	err = tls.Client(c, p.tlsConfig(host, []string{"h2", "http/1.1"})).HandshakeContext(hctx)
	return out, &ControlTLS{ServerName: host, Status: err == nil, Failure: Classify(err)}
}

// helperQUIC hand-shakes QUIC with ep, SNI host, ALPN h3.
func (p *Prober) helperQUIC(ctx context.Context, ep helperEndpoint, host string) ControlTLS {
	ctx, cancel := context.WithTimeout(ctx, p.scale(helperQUICTimeout))
	defer cancel()
	ap, err := netip.ParseAddrPort(ep.endpoint)
	if err != nil {
		return ControlTLS{ServerName: host, Failure: str(FailureUnknown)}
	}
	q := p.QUIC(ctx, ap, host)
	return ControlTLS{ServerName: host, Status: q.Failure == nil, Failure: q.Failure}
}

// helperResolveError is a lookup of the helper's fetch that failed, named
// by df-007.
type helperResolveError struct{ failure string }

func (e *helperResolveError) Error() string { return "probe: helper lookup: " + e.failure }

// helperFetch is oohelperd's fetch of rawURL: a client with a cookie jar
// that follows up to 10 redirects, resolving names through the prober's
// resolver (a bogon answer fails the lookup), over HTTP/1.1 and HTTP/2, or
// HTTP/3 only when h3 is set. It forwards only the User-Agent, Accept and
// Accept-Language of headers, reads at most 16 MiB of the final body, and
// when searchH3 is set looks for the h3 endpoint the first response of the
// redirect chain advertised.
func (p *Prober) helperFetch(ctx context.Context, lookups *helperLookups, rawURL string, headers map[string][]string, searchH3, h3 bool) ControlHTTP {
	ctx, cancel := context.WithTimeout(ctx, p.scale(helperHTTPTimeout))
	defer cancel()
	failed := func(err error) ControlHTTP {
		var re *helperResolveError
		var f *string
		if errors.As(err, &re) {
			f = helperHTTPFailure(&re.failure, true)
		} else {
			f = helperHTTPFailure(Classify(err), false)
		}
		return ControlHTTP{BodyLength: -1, Failure: f, Headers: map[string]string{}, StatusCode: -1}
	}
	req, err := http.NewRequestWithContext(ctx, "GET", rawURL, nil)
	if err != nil {
		return failed(err)
	}
	for k, vs := range headers {
		switch strings.ToLower(k) {
		case "user-agent", "accept", "accept-language":
			for _, v := range vs {
				req.Header.Add(k, v)
			}
		}
	}
	jar, _ := cookiejar.New(nil)
	var rt http.RoundTripper
	if h3 {
		t := &http3.Transport{
			TLSClientConfig: p.tlsConfig("", nil),
			Dial: func(ctx context.Context, addr string, tc *tls.Config, qc *quic.Config) (*quic.Conn, error) {
				ep, err := lookups.dialAddrs(ctx, addr)
				if err != nil {
					return nil, err
				}
				pc, err := p.net.ListenPacket("udp", ":0")
				if err != nil {
					return nil, err
				}
				tr := &quic.Transport{Conn: pc}
				var last error
				for _, a := range ep {
					c, err := tr.DialEarly(ctx, net.UDPAddrFromAddrPort(a), tc, qc)
					if err == nil {
						context.AfterFunc(c.Context(), func() { tr.Close(); pc.Close() })
						return c, nil
					}
					if last == nil {
						last = err
					}
				}
				tr.Close()
				pc.Close()
				return nil, last
			},
		}
		defer t.Close()
		rt = t
	} else {
		t := &http.Transport{
			DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				eps, err := lookups.dialAddrs(ctx, addr)
				if err != nil {
					return nil, err
				}
				var first error
				for _, a := range eps {
					c, err := p.net.DialContext(ctx, "tcp", a.String())
					if err == nil {
						return c, nil
					}
					if first == nil {
						first = err
					}
				}
				return nil, first
			},
			TLSClientConfig:   p.tlsConfig("", nil),
			ForceAttemptHTTP2: true,
		}
		defer t.CloseIdleConnections()
		rt = t
	}
	client := &http.Client{Transport: rt, Jar: jar}
	resp, err := client.Do(req)
	if err != nil {
		return failed(err)
	}
	defer resp.Body.Close()
	out := ControlHTTP{Headers: map[string]string{}, StatusCode: int64(resp.StatusCode)}
	for k := range resp.Header {
		out.Headers[k] = resp.Header.Get(k)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxControlBody))
	out.BodyLength = int64(len(data))
	out.Failure = helperHTTPFailure(Classify(err), false)
	out.Title = webTitle(string(data))
	if searchH3 {
		out.DiscoveredH3Endpoint = discoverH3Endpoint(resp, req)
	}
	return out
}

// dialAddrs resolves the host of addr ("host:port") for the helper's
// fetch: an IP literal as is, a name through the prober's resolver, a
// bogon answer a failure.
func (l *helperLookups) dialAddrs(ctx context.Context, addr string) ([]netip.AddrPort, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	pn, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		return nil, err
	}
	if a, err := netip.ParseAddr(host); err == nil {
		return []netip.AddrPort{netip.AddrPortFrom(a, uint16(pn))}, nil
	}
	addrs, failure := l.lookup(ctx, host)
	if failure != nil {
		return nil, &helperResolveError{failure: *failure}
	}
	out := make([]netip.AddrPort, 0, len(addrs))
	for _, a := range addrs {
		if l.p.cfg.Geo.Bogon(a) {
			return nil, &helperResolveError{failure: FailureDNSBogon}
		}
		out = append(out, netip.AddrPortFrom(a, uint16(pn)))
	}
	return out, nil
}

// discoverH3Endpoint is the h3 endpoint the first response of resp's
// redirect chain advertised with Alt-Svc, as "host:port" (the initial
// request's host when the advertisement names none), or "".
func discoverH3Endpoint(resp *http.Response, initial *http.Request) string {
	first := resp
	for i := 0; ; i++ {
		if i > 10 {
			return ""
		}
		if first.Request == nil || first.Request.Response == nil {
			break
		}
		first = first.Request.Response
	}
	alt := parseAltSvcH3(first.Header.Get("Alt-Svc"))
	if alt == "" {
		return ""
	}
	host, port, err := net.SplitHostPort(alt)
	if err != nil {
		return ""
	}
	if host == "" {
		host = initial.URL.Host
	}
	return net.JoinHostPort(host, port)
}

// parseAltSvcH3 is the authority of the first h3 alternative of an Alt-Svc
// header value ("h3=\":443\"; ma=86400" gives ":443"), or "".
func parseAltSvcH3(v string) string {
	for _, entry := range strings.Split(v, ",") {
		first, _, _ := strings.Cut(entry, ";")
		_, auth, _ := strings.Cut(first, "h3=")
		if auth == "" {
			continue
		}
		return strings.TrimSuffix(strings.TrimPrefix(auth, `"`), `"`)
	}
	return ""
}

// webTitleRE is OONI's title pattern (probe-cli's measurexlite): the text
// of the first title element, up to 512 characters, taken as it is.
var webTitleRE = regexp.MustCompile(`(?i)<title>([^<]{1,512})</title>`)

// webTitle is a page's title as OONI's probe and helper read it.
func webTitle(body string) string {
	m := webTitleRE.FindStringSubmatch(body)
	if len(m) < 2 {
		return ""
	}
	return m[1]
}
