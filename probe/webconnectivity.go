package probe

import (
	"context"
	"html"
	"net"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/miekg/dns"

	"github.com/splinter-lab/splinter/clock"
)

// attempt is one attempt of WebConnectivity: the whole measurement, once.
// answered holds the addresses that answered the benign request made
// before an earlier attempt's own (ResidualCheck.Before).
func (p *Prober) attempt(ctx context.Context, rawURL, reportID string, answered map[netip.Addr]bool) *Measurement {
	start := p.now()
	m := newMeasurement(rawURL, start, p.cfg.Vantage, reportID)
	tk := &TestKeys{Agent: "redirect", ClientResolver: p.cfg.Vantage.Resolver, Vantage: p.cfg.Vantage, Start: start}
	m.TestKeys = tk
	if p.cfg.Control != nil {
		addr := "splinter control"
		if u, ok := p.cfg.Control.(interface{ URL() string }); ok {
			addr = u.URL()
		}
		m.TestHelpers = map[string]any{"backend": map[string]string{"address": addr, "type": "http"}}
	}
	defer func() { m.TestRuntime = p.since(start) }()

	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" {
		tk.HTTPExperimentFailure = str(FailureUnknown)
		tk.Verdict, tk.Blocking, tk.VerdictReason = Unknown, BlockingUnknown, "input is not an http or https URL"
		return m
	}
	host := u.Hostname()
	port := uint16(80)
	if u.Scheme == "https" {
		port = 443
	}
	// TLS handshakes go to port 443, or to the explicit port of an
	// https:// URL; an http:// URL with an explicit port gets none
	// (ts-017's extension E001).
	tlsPort := uint16(443)
	if u.Port() != "" {
		pn, err := strconv.ParseUint(u.Port(), 10, 16)
		if err != nil || pn == 0 {
			tk.HTTPExperimentFailure = str(FailureUnknown)
			tk.Verdict, tk.Blocking, tk.VerdictReason = Unknown, BlockingUnknown, "input has a bad port"
			return m
		}
		port = uint16(pn)
		tlsPort = 0
		if u.Scheme == "https" {
			tlsPort = port
		}
	}
	literal, lerr := netip.ParseAddr(host)
	isLiteral := lerr == nil

	// DNS: the vantage's own resolver, then (concurrently) a foreign one;
	// none for an IP literal (ts-017: the address is the lookup's result).
	var foreign *DNSQuery
	var fwg sync.WaitGroup
	var addrs []netip.Addr
	if isLiteral {
		addrs = []netip.Addr{literal.Unmap()}
	} else {
		if p.cfg.ForeignResolver.IsValid() {
			fwg.Go(func() {
				q := p.DNS(ctx, p.cfg.ForeignResolver, "udp", host, dns.TypeA)
				foreign = &q
			})
		}
		var qs []DNSQuery
		qs, addrs = p.Resolve(ctx, p.resolver(), host)
		tk.Queries = qs
		tk.DNSExperimentFailure = lookupFailure(qs, addrs)
	}

	// The control, concurrently with the rest.
	var ctrl *ControlResponse
	var ctrlErr error
	ctrlDone := make(chan struct{})
	go func() {
		defer close(ctrlDone)
		if p.cfg.Control == nil {
			ctrlErr = errNoControl{}
			return
		}
		req := ControlRequest{HTTPRequest: rawURL, XQUICEnabled: p.quicEnabled(), XSplinterQUIC: p.quicEnabled(),
			HTTPRequestHeaders: map[string][]string{"User-Agent": {userAgent}, "Accept": {"text/html"}}}
		for _, a := range addrs {
			req.TCPConnect = append(req.TCPConnect, netip.AddrPortFrom(a, port).String())
		}
		ctrl, ctrlErr = p.cfg.Control.Control(ctx, req)
	}()

	var wg sync.WaitGroup
	var mu sync.Mutex
	var extraTLS []TLSHandshake
	// Chain 1: connect to every address, make a benign request to the
	// first that answered (port 80: chain 2 names the site on 443 at
	// once), then fetch through it.
	wg.Go(func() {
		before := func(a netip.Addr) {
			ep := netip.AddrPortFrom(a, 80)
			tk.baseline = &benignOutcome{addr: ep, failure: p.benign(ctx, ep, "http")}
		}
		tk.TCPConnect, tk.Requests, tk.HTTPExperimentFailure = p.connectAndFetch(ctx, rawURL, addrs, port, tk.DNSExperimentFailure, before)
	})
	// Chain 2: TLS with every address.
	wg.Go(func() { tk.TLSHandshakes = p.handshakes(ctx, addrs, host, tlsPort) })
	// Chain 3: TLS with the addresses only the control found (as OONI's
	// web_connectivity does: SNI filtering behind DNS poisoning shows), then
	// QUIC where the control saw it work.
	wg.Go(func() {
		<-ctrlDone
		if ctrl == nil {
			return
		}
		var extra []netip.Addr
		for _, a := range ctrl.DNS.Addrs {
			if !slices.Contains(addrs, a) {
				extra = append(extra, a)
			}
		}
		if len(extra) > 0 {
			hss := p.handshakes(ctx, extra, host, tlsPort)
			mu.Lock()
			extraTLS = hss
			mu.Unlock()
		}
		if !p.quicEnabled() {
			return
		}
		var qeps []netip.AddrPort
		for _, a := range addrs {
			ep := netip.AddrPortFrom(a, 443)
			if c, ok := ctrl.QUICHandshake[ep.String()]; ok && c.Status {
				qeps = append(qeps, ep)
			}
		}
		if len(qeps) == 0 {
			return
		}
		hs := make([]QUICHandshake, len(qeps))
		var qwg sync.WaitGroup
		for i, ep := range qeps {
			qwg.Go(func() { hs[i] = p.QUIC(ctx, ep, host) })
		}
		qwg.Wait()
		tk.QUICHandshakes = hs
	})
	wg.Wait()
	fwg.Wait()
	<-ctrlDone
	tk.TLSHandshakes = append(tk.TLSHandshakes, extraTLS...)
	if foreign != nil {
		tk.Queries = append(tk.Queries, *foreign)
		tk.DNSRace = foreign.Raced()
	}
	if ctrlErr != nil {
		tk.ControlFailure = Classify(ctrlErr)
		tk.Verdict, tk.Blocking, tk.VerdictReason = Unknown, BlockingUnknown, "no control measurement"
		return m
	}
	tk.Control = ctrl
	p.analyze(tk, addrs, foreign, isLiteral)
	if tk.Verdict == TCPIP && p.retryConnects(ctx, tk, rawURL, addrs, port, host) {
		p.analyze(tk, addrs, foreign, isLiteral)
	}

	// The throughput test, where nothing else was found: throttling is the
	// last blocking verdict in precedence, and the test is costly on a slow
	// link.
	if tk.Verdict == Accessible && p.cfg.ThroughputBytes > 0 {
		for _, hs := range tk.TLSHandshakes {
			if hs.Failure != nil {
				continue
			}
			t := p.Throughput(ctx, hs.Address, host)
			tk.Throughput = &t
			c, ok := ctrl.TLSHandshake[t.Address.String()]
			switch {
			case t.Failure != nil && *t.Failure != FailureTimeout && ok && c.Status && t.Bytes == 0:
				tk.Methods = append(tk.Methods, TLS)
				tk.Verdict, tk.VerdictReason = TLS, "TLS handshake with "+t.Address.String()+" (throughput test) failed ("+*t.Failure+") while the control's succeeded"
			case t.Stalled == StalledAll:
				// Not slow: frozen, and not by the name. Any request to
				// the address that carries some KB stops (OONI would see
				// the fetch time out): the address is blocked.
				tk.Methods = append(tk.Methods, TCPIP)
				tk.Verdict, tk.VerdictReason = TCPIP, "downloads from "+t.Address.String()+" froze after a few KB (no byte more, never completed), with SNI and without: the address's connections stall whatever they carry ("+t.summary()+")"
			case t.Stalled == StalledSNI:
				tk.Methods = append(tk.Methods, TLS)
				tk.Verdict, tk.VerdictReason = TLS, "downloads from "+t.Address.String()+" with SNI "+host+" froze after a few KB while those without SNI beside them completed ("+t.summary()+")"
			case t.Throttled:
				tk.Methods = append(tk.Methods, Throttled)
				tk.Verdict, tk.VerdictReason = Throttled, t.summary()
			}
			switch {
			case tk.Verdict == Accessible && t.Inconclusive:
				tk.VerdictReason += "; the throughput test could not tell: " + t.summary()
			case tk.Verdict == Accessible && len(t.Baselines) > 0:
				tk.VerdictReason += "; not throttled: " + t.summary()
			}
			tk.Blocking = tk.Verdict.Blocking()
			acc := tk.Verdict.Reachable()
			tk.Accessible = &acc
			break
		}
	}

	// The residual test, after an HTTP or TLS block.
	if ep, proto := residualTarget(tk); ep.IsValid() {
		r := p.ResidualTest(ctx, ep, proto)
		if b := tk.baseline; b != nil && b.addr.Addr() == ep.Addr() {
			r.BeforeAddress, r.Before, r.AnsweredEarlier = b.addr, b.failure, answered[ep.Addr()]
		}
		tk.Residual = &r
		switch {
		case r.Blocked && r.BeforeAddress.IsValid() && r.Before != nil && !r.AnsweredEarlier:
			// Not a block the trigger left behind: the address took no
			// benign request before the measurement's own either.
			tk.Methods = append([]Verdict{TCPIP}, tk.Methods...)
			tk.VerdictReason = "the address takes no request: " + tk.VerdictReason + "; a benign " + proto + " request to " + ep.String() + " right after failed too (" + *r.Immediate + "), and so did a benign http request to " + r.BeforeAddress.String() + " before the measurement's own (" + *r.Before + ")"
			tk.Verdict = TCPIP
			tk.Blocking = TCPIP.Blocking()
		case r.Blocked:
			tk.Methods = append([]Verdict{Residual}, tk.Methods...)
			tk.VerdictReason = tk.VerdictReason + "; a benign " + proto + " request to " + ep.String() + " right after failed too (" + *r.Immediate + ")"
			tk.Verdict = Residual
			tk.Blocking = Residual.Blocking()
		}
	}
	return m
}

// connectAndFetch connects to every address and fetches rawURL through the
// first that answered, calling before (when not nil) with that address
// first. It returns the connects, the requests (OONI's order: last first)
// and the HTTP experiment's failure.
func (p *Prober) connectAndFetch(ctx context.Context, rawURL string, addrs []netip.Addr, port uint16, dnsFailure *string, before func(netip.Addr)) ([]TCPConnect, []HTTPRequest, *string) {
	conns := make([]TCPConnect, len(addrs))
	var cwg sync.WaitGroup
	for i, a := range addrs {
		cwg.Go(func() {
			r, c := p.Connect(ctx, netip.AddrPortFrom(a, port))
			if c != nil {
				c.Close()
			}
			conns[i] = r
		})
	}
	cwg.Wait()
	var first netip.Addr
	for _, c := range conns {
		if c.Status.Success {
			first = c.IP
			break
		}
	}
	if !first.IsValid() {
		if len(conns) > 0 {
			return conns, nil, conns[0].Status.Failure
		}
		return conns, nil, dnsFailure
	}
	if before != nil {
		before(first)
	}
	reqs := p.Fetch(ctx, rawURL, first)
	slices.Reverse(reqs)
	return conns, reqs, reqs[0].Failure
}

// handshakes hand-shakes TLS with every address on port, with host as
// SNI; none when port is 0.
func (p *Prober) handshakes(ctx context.Context, addrs []netip.Addr, host string, port uint16) []TLSHandshake {
	if port == 0 {
		return nil
	}
	hss := make([]TLSHandshake, len(addrs))
	var hwg sync.WaitGroup
	for i, a := range addrs {
		hwg.Go(func() {
			hs, tc := p.TLS(ctx, netip.AddrPortFrom(a, port), host, []string{"h2", "http/1.1"})
			if tc != nil {
				tc.Close()
			}
			hss[i] = hs
		})
	}
	hwg.Wait()
	return hss
}

// retryConnects is the second chance a tcp_ip verdict gets when every
// connect timed out: after Config.ConnectRetryPause it connects (and
// fetches) again, and repeats the TLS handshakes that timed out at their
// connect. A censor that drops a site's packets drops them again; a
// connect lost to a transient (a loaded middlebox, a full queue) goes
// through. It reports whether it tried again.
func (p *Prober) retryConnects(ctx context.Context, tk *TestKeys, rawURL string, addrs []netip.Addr, port uint16, host string) bool {
	for _, c := range tk.TCPConnect {
		if c.Status.Success || c.Status.Failure == nil || *c.Status.Failure != FailureTimeout {
			return false
		}
	}
	if ctx.Err() != nil || clock.Sleep(ctx, p.cfg.Clock, p.scale(p.cfg.ConnectRetryPause)) != nil {
		return false
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		conns, reqs, failure := p.connectAndFetch(ctx, rawURL, addrs, port, tk.DNSExperimentFailure, nil)
		for i := range conns {
			conns[i].Retried = true
			conns[i].T += tk.TCPConnect[i].T
		}
		tk.TCPConnect, tk.Requests, tk.HTTPExperimentFailure = conns, reqs, failure
	})
	for i := range tk.TLSHandshakes {
		hs := &tk.TLSHandshakes[i]
		if hs.Failure == nil || *hs.Failure != FailureTimeout || hs.Operation != "connect" {
			continue
		}
		wg.Go(func() {
			again, tc := p.TLS(ctx, hs.Address, host, []string{"h2", "http/1.1"})
			if tc != nil {
				tc.Close()
			}
			again.T += hs.T
			again.Retried = true
			*hs = again
		})
	}
	wg.Wait()
	return true
}

type errNoControl struct{}

func (errNoControl) Error() string { return "probe: no control configured" }

func (p *Prober) quicEnabled() bool { return p.cfg.QUIC == nil || *p.cfg.QUIC }

// residualTarget is the endpoint whose block the residual test revisits.
func residualTarget(tk *TestKeys) (netip.AddrPort, string) {
	switch tk.Verdict {
	case HTTPFailure, HTTPDiff:
		if len(tk.Requests) > 0 && tk.Requests[0].Address.IsValid() {
			return tk.Requests[0].Address, "http"
		}
	case TLS:
		for _, hs := range tk.TLSHandshakes {
			if hs.Failure != nil && hs.Operation == "tls_handshake" {
				return hs.Address, "tls"
			}
		}
		if t := tk.Throughput; t != nil && t.Failure != nil {
			return t.Address, "tls"
		}
	}
	return netip.AddrPort{}, ""
}

// analyze compares probe and control, as ts-017 describes, and sets the
// verdict: the first, in Verdicts order, of what the steps showed. literal
// is set for an IP-literal URL, which had no DNS step.
func (p *Prober) analyze(tk *TestKeys, addrs []netip.Addr, foreign *DNSQuery, literal bool) {
	ctrl := tk.Control
	seen := map[Verdict]string{}

	// DNS consistency. An IP literal is consistent (OONI's v0.4 analysis
	// says so too: there was no lookup to tamper with).
	consistent := true
	if !literal {
		var why string
		consistent, why = p.dnsConsistent(tk.DNSExperimentFailure, addrs, ctrl, tk.TLSHandshakes)
		if foreign != nil && consistent {
			fc, fwhy := p.dnsConsistent(lookupFailure([]DNSQuery{*foreign}, foreign.Addrs()), foreign.Addrs(), ctrl, tk.TLSHandshakes)
			if !fc {
				consistent, why = false, "foreign resolver "+foreign.ResolverAddress.Addr().String()+": "+fwhy
			}
		}
		if !consistent {
			seen[DNS] = why
		}
		// A name no resolver knows: the probe's NXDOMAIN is the control's
		// dns_name_error.
		if f, cf := tk.DNSExperimentFailure, ctrl.DNS.Failure; consistent && f != nil && *f == FailureDNSNXDomain && cf != nil && *cf == ControlFailureDNSNameError {
			seen[NonExistent] = "the name does not exist: the probe's resolver answered NXDOMAIN and so did the control's (" + ControlFailureDNSNameError + ")"
		}
	}
	tk.DNSConsistency = str(map[bool]string{true: "consistent", false: "inconsistent"}[consistent])

	// TCP: each connect against the control's connect to the same
	// endpoint, or, where the control had none, to any address on the
	// same port.
	ctrlTCPOK := false
	for _, c := range tk.TCPConnect {
		ctrlTCPOK = ctrlTCPOK || controlConnected(ctrl, netip.AddrPortFrom(c.IP, c.Port))
	}
	if !ctrlTCPOK && len(tk.TCPConnect) > 0 {
		port := strconv.Itoa(int(tk.TCPConnect[0].Port))
		for ep, c := range ctrl.TCPConnect {
			if _, p, err := net.SplitHostPort(ep); err == nil && p == port && c.Status {
				ctrlTCPOK = true
			}
		}
	}
	anyOK := false
	for i := range tk.TCPConnect {
		c := &tk.TCPConnect[i]
		anyOK = anyOK || c.Status.Success
		b := !c.Status.Success && ctrlTCPOK
		c.Status.Blocked = &b
	}
	// Connect failures count as IP blocking only when the addresses are
	// the site's: a forged answer's address need not exist.
	if consistent && len(tk.TCPConnect) > 0 && !anyOK && ctrlTCPOK {
		again := ""
		if tk.TCPConnect[0].Retried {
			again = ", also when tried again,"
		}
		seen[TCPIP] = "no TCP connection to " + addrList(addrs) + " (" + deref(tk.TCPConnect[0].Status.Failure) + ")" + again + " while the control connected"
	}

	// HTTP. A fetch whose TLS handshake failed, where the control's
	// handshake with the same endpoint and name succeeded, is TLS
	// blocking: an https:// input blocked by its SNI gets the verdict of
	// its http:// form, whose TLS step fails alike.
	ctrlHTTPOK := ctrl.HTTPRequest.Failure == nil
	if len(tk.Requests) > 0 {
		last := tk.Requests[0]
		switch {
		case last.Failure != nil && ctrlHTTPOK:
			if last.FailedOperation == "tls_handshake" && controlHandshook(ctrl, last) {
				seen[TLS] = "TLS handshake of the fetch with " + last.Address.String() + " (SNI " + requestHost(last) + ") failed (" + *last.Failure + ") while the control's succeeded"
			} else {
				seen[HTTPFailure] = "HTTP request failed (" + *last.Failure + ") while the control's succeeded"
			}
		case last.Failure == nil && ctrlHTTPOK:
			p.compareHTTP(tk, last)
			if !(*tk.StatusCodeMatch && (*tk.BodyLengthMatch || *tk.HeadersMatch || *tk.TitleMatch)) {
				seen[HTTPDiff] = "HTTP answer differs from the control's (status " + itoa(last.Response.Code) + " vs " + itoa(int(ctrl.HTTPRequest.StatusCode)) + ", title " + quote(Title(last.Response.Body)) + ")"
			}
		}
	}

	// TLS: a handshake that failed where the control's succeeded.
	// Only a handshake that failed after the TCP connect: a censor reading
	// the SNI has seen the ClientHello.
	for _, hs := range tk.TLSHandshakes {
		if hs.Failure == nil || hs.Operation != "tls_handshake" || !(literal || consistentAddr(hs.Address.Addr(), ctrl)) {
			continue
		}
		if c, ok := ctrl.TLSHandshake[hs.Address.String()]; ok && c.Status {
			seen[TLS] = "TLS handshake with " + hs.Address.String() + " (SNI " + hs.ServerName + ") failed at " + hs.Operation + " (" + *hs.Failure + ") while the control's succeeded"
			break
		}
	}
	for _, q := range tk.QUICHandshakes {
		if q.Failure != nil {
			seen[QUIC] = "QUIC handshake with " + q.Address.String() + " failed (" + *q.Failure + ") while the control's succeeded"
			break
		}
	}

	// Down: the control could not fetch the page either, and the probe
	// got no page. OONI's reading of an expected failure: the website is
	// down, not blocked. Unless the control's own lookup failed for no
	// reason the name gives (unknown_error: a timeout, a SERVFAIL on the
	// helper's side): then there is nothing to judge by.
	probeOK := len(tk.Requests) > 0 && tk.Requests[0].Failure == nil
	ctrlLost := ctrl.DNS.Failure != nil && *ctrl.DNS.Failure == ControlFailureUnknown
	if !ctrlHTTPOK && !probeOK && !ctrlLost {
		seen[Down] = "the website is down: the control's fetch failed too (" + *ctrl.HTTPRequest.Failure + ")"
	}

	tk.Verdict, tk.VerdictReason = Accessible, "everything the control reached, the probe reached"
	switch {
	case !ctrlHTTPOK && probeOK:
		tk.VerdictReason = "the probe fetched the page; the control could not (" + *ctrl.HTTPRequest.Failure + ")"
	case !ctrlHTTPOK && ctrlLost:
		tk.Verdict, tk.VerdictReason = Unknown, "the control's lookup failed ("+ControlFailureUnknown+"), and the probe got no page: nothing to judge by"
	}
	tk.Methods = nil
	first := true
	for _, v := range Verdicts {
		if why, ok := seen[v]; ok {
			if first {
				tk.Verdict, tk.VerdictReason, first = v, why, false
			}
			if v.Blocked() {
				tk.Methods = append(tk.Methods, v)
			}
		}
	}
	tk.Blocking = tk.Verdict.Blocking()
	tk.Accessible = nil
	if tk.Verdict != Unknown {
		acc := tk.Verdict.Reachable()
		tk.Accessible = &acc
	}
}

// controlConnected reports whether the control connected to ep.
func controlConnected(ctrl *ControlResponse, ep netip.AddrPort) bool {
	c, ok := ctrl.TCPConnect[ep.String()]
	return ok && c.Status
}

// controlHandshook reports whether the control's TLS handshake with the
// endpoint of r, with r's host as SNI, succeeded.
func controlHandshook(ctrl *ControlResponse, r HTTPRequest) bool {
	c, ok := ctrl.TLSHandshake[r.Address.String()]
	return ok && c.Status && strings.EqualFold(c.ServerName, requestHost(r))
}

// requestHost is the host of a request's URL.
func requestHost(r HTTPRequest) string {
	u, err := url.Parse(r.Request.URL)
	if err != nil {
		return ""
	}
	return u.Hostname()
}

// dnsConsistent is ts-017's DNS consistency check. A failure is
// consistent when the control failed alike (the helper names failures its
// own way: dns_name_error is NXDOMAIN, no answer is no failure and no
// address), a bogon is never consistent, and a failure where the control
// resolved addresses is not. An answer is consistent when it shares an
// address or an ASN with the control's, or when one of its addresses
// presented a certificate valid for the name (to the probe or to the
// control: ip_info's valid-for-domain flag).
//
// When the control could not resolve the name there is nothing to compare:
// the answer is then judged by what needs no control. A valid certificate
// still makes it consistent; an address in no network (Geo.Unassigned: in a
// jurisdiction's block but announced by no one, so no host answers there)
// makes it inconsistent, since only a forger hands one out; anything else
// gets the benefit of the doubt.
func (p *Prober) dnsConsistent(failure *string, addrs []netip.Addr, ctrl *ControlResponse, hss []TLSHandshake) (bool, string) {
	cf := ctrl.DNS.Failure
	resolved := cf == nil && len(ctrl.DNS.Addrs) > 0
	if failure != nil {
		switch {
		case *failure == FailureDNSBogon:
			return false, "bogon answer " + addrList(addrs)
		case resolved:
			return false, "lookup failed (" + *failure + ") while the control resolved " + addrList(ctrl.DNS.Addrs)
		}
		return true, "" // the control failed too
	}
	if validForName(addrs, ctrl, hss) {
		return true, ""
	}
	if !resolved {
		for _, a := range addrs {
			if p.cfg.Geo.Unassigned(a) {
				return false, "answer " + addrList(addrs) + " holds " + a.String() + ", an address in no network (the control's lookup failed: " + deref(cf) + ")"
			}
		}
		return true, "" // the control failed: nothing to compare
	}
	casn := map[uint32]bool{}
	for _, a := range ctrl.DNS.Addrs {
		if slices.Contains(addrs, a) {
			return true, ""
		}
		if asn, _ := p.cfg.Geo.ASN(a); asn != 0 {
			casn[asn] = true
		}
	}
	for _, b := range addrs {
		if asn, _ := p.cfg.Geo.ASN(b); asn != 0 && casn[asn] {
			return true, ""
		}
	}
	return false, "answer " + addrList(addrs) + " shares no address or ASN with the control's " + addrList(ctrl.DNS.Addrs)
}

// validForName reports whether one of addrs presented a certificate valid
// for the measured name, in the probe's handshakes or the control's.
func validForName(addrs []netip.Addr, ctrl *ControlResponse, hss []TLSHandshake) bool {
	for _, b := range addrs {
		if info, ok := ctrl.IPInfo[b.String()]; ok && info.Flags&IPFlagValidForDomain != 0 {
			return true
		}
		for _, hs := range hss {
			if hs.Failure == nil && !hs.NoTLSVerify && hs.Address.Addr() == b {
				return true
			}
		}
	}
	return false
}

func consistentAddr(a netip.Addr, ctrl *ControlResponse) bool {
	for _, b := range ctrl.DNS.Addrs {
		if a == b {
			return true
		}
	}
	return false
}

// compareHTTP fills the body, status, header and title comparisons.
func (p *Prober) compareHTTP(tk *TestKeys, last HTTPRequest) {
	c := tk.Control.HTTPRequest
	pl, cl := float64(len(last.Response.Body)), float64(c.BodyLength)
	prop := 1.0
	if pl != cl {
		prop = min(pl, cl) / max(pl, cl)
	}
	blm := prop > 0.7
	scm := int64(last.Response.Code) == c.StatusCode
	hm := headersMatch(last.Response.Headers, c.Headers)
	pt, ct := webTitle(last.Response.Body), c.Title
	tm := titleMatch(pt, ct)
	tk.BodyProportion, tk.BodyLengthMatch, tk.StatusCodeMatch, tk.HeadersMatch, tk.TitleMatch = &prop, &blm, &scm, &hm, &tm
}

var commonHeaders = map[string]bool{
	"date": true, "content-type": true, "server": true, "cache-control": true, "vary": true,
	"set-cookie": true, "location": true, "expires": true, "x-powered-by": true, "content-encoding": true,
	"last-modified": true, "accept-ranges": true, "pragma": true, "x-frame-options": true, "etag": true,
	"x-content-type-options": true, "age": true, "via": true, "p3p": true, "x-xss-protection": true,
	"content-language": true, "cf-ray": true, "strict-transport-security": true, "link": true,
	"x-varnish": true, "content-length": true, "connection": true, "transfer-encoding": true,
	"keep-alive": true, "alt-svc": true,
}

// headersMatch: the uncommon header names agree (ts-017), or, when neither
// side has any, the header names agree.
func headersMatch(a, b map[string]string) bool {
	ua, ub := names(a, true), names(b, true)
	if len(ua) == 0 && len(ub) == 0 {
		return strings.Join(names(a, false), ",") == strings.Join(names(b, false), ",")
	}
	for _, x := range ua {
		for _, y := range ub {
			if x == y {
				return true
			}
		}
	}
	return false
}

func names(h map[string]string, uncommonOnly bool) []string {
	var out []string
	for k := range h {
		k = strings.ToLower(k)
		if !uncommonOnly || !commonHeaders[k] {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// titleMatch: the titles share a word of more than four letters (ts-017),
// or are both empty.
func titleMatch(a, b string) bool {
	if a == "" && b == "" {
		return true
	}
	wb := map[string]bool{}
	for _, w := range strings.Fields(strings.ToLower(b)) {
		wb[w] = true
	}
	for _, w := range strings.Fields(strings.ToLower(a)) {
		if len([]rune(w)) > 4 && wb[w] {
			return true
		}
	}
	return false
}

var titleRE = regexp.MustCompile(`(?is)<title[^>]*>(.*?)</title>`)

// Title returns the text of an HTML document's title element.
func Title(body string) string {
	if len(body) > 1<<16 {
		body = body[:1<<16]
	}
	m := titleRE.FindStringSubmatch(body)
	if m == nil {
		return ""
	}
	return strings.TrimSpace(html.UnescapeString(m[1]))
}

func addrList(as []netip.Addr) string {
	s := make([]string, len(as))
	for i, a := range as {
		s[i] = a.String()
	}
	return "[" + strings.Join(s, " ") + "]"
}

func deref(s *string) string {
	if s == nil {
		return "null"
	}
	return *s
}

func itoa(n int) string {
	neg := n < 0
	if neg {
		n = -n
	}
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			break
		}
	}
	if neg {
		i--
		b[i] = '-'
	}
	return string(b[i:])
}

func quote(s string) string { return `"` + s + `"` }
