package probe

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/quic-go/quic-go"

	"github.com/splinter-lab/splinter/clock"
)

// TCPConnect is one TCP connect, in OONI's tcp_connect shape.
type TCPConnect struct {
	IP     netip.Addr `json:"ip"`
	Port   uint16     `json:"port"`
	Status TCPStatus  `json:"status"`
	// Retried is set when every connect timed out and this one is the
	// second try (splinter).
	Retried bool    `json:"x_retried,omitempty"`
	T0      float64 `json:"t0"`
	T       float64 `json:"t"`
}

// TCPStatus is a connect's outcome. Blocked is filled by web_connectivity's
// analysis (OONI's convention: it needs the control).
type TCPStatus struct {
	Blocked *bool   `json:"blocked"`
	Failure *string `json:"failure"`
	Success bool    `json:"success"`
}

// Connect opens a TCP connection to ep, records it and returns it (nil on
// failure); the caller closes it.
func (p *Prober) Connect(ctx context.Context, ep netip.AddrPort) (TCPConnect, net.Conn) {
	start := p.now()
	r := TCPConnect{IP: ep.Addr(), Port: ep.Port()}
	ctx, cancel := p.withTimeout(ctx, p.cfg.ConnectTimeout)
	defer cancel()
	c, err := p.net.DialContext(ctx, "tcp", ep.String())
	r.T = p.since(start)
	r.Status.Failure = Classify(err)
	r.Status.Success = err == nil
	return r, c
}

// TLSHandshake is one TLS handshake, in OONI's tls_handshakes shape.
type TLSHandshake struct {
	Address            netip.AddrPort `json:"address"`
	ServerName         string         `json:"server_name"`
	CipherSuite        string         `json:"cipher_suite"`
	NegotiatedProtocol string         `json:"negotiated_protocol"`
	NoTLSVerify        bool           `json:"no_tls_verify"`
	PeerCertificates   []Binary       `json:"peer_certificates"`
	TLSVersion         string         `json:"tls_version"`
	Failure            *string        `json:"failure"`
	// Retried is set when the handshake timed out at its connect, as every
	// connect of a tcp_ip verdict did, and was tried again (splinter).
	Retried bool `json:"x_retried,omitempty"`
	// Operation is the step that failed: "connect" or "tls_handshake"
	// (OONI's failed_operation).
	Operation string  `json:"failed_operation,omitempty"`
	T0        float64 `json:"t0"`
	T         float64 `json:"t"`
}

// Binary is OONI's encoding of bytes: {"format": "base64", "data": ...}.
type Binary struct {
	Format string `json:"format"`
	Data   []byte `json:"data"`
}

// TLS connects to ep and performs a TLS handshake with SNI serverName,
// offering alpn. It returns the connection on success (the caller closes it).
// A handshake that times out is not tried again here: a verdict that rests
// on it is, the whole measurement after a pause (WebConnectivity).
func (p *Prober) TLS(ctx context.Context, ep netip.AddrPort, serverName string, alpn []string) (TLSHandshake, *tls.Conn) {
	start := p.now()
	r := TLSHandshake{Address: ep, ServerName: serverName}
	tcp, c := p.Connect(ctx, ep)
	if c == nil {
		r.Failure, r.Operation, r.T = tcp.Status.Failure, "connect", p.since(start)
		return r, nil
	}
	ctx, cancel := p.withTimeout(ctx, p.cfg.HandshakeTimeout)
	defer cancel()
	tc := tls.Client(c, p.tlsConfig(serverName, alpn))
	err := tc.HandshakeContext(ctx)
	r.T = p.since(start)
	if err != nil {
		c.Close()
		r.Failure, r.Operation = Classify(err), "tls_handshake"
		return r, nil
	}
	st := tc.ConnectionState()
	r.CipherSuite = tls.CipherSuiteName(st.CipherSuite)
	r.NegotiatedProtocol = st.NegotiatedProtocol
	r.TLSVersion = strings.Replace(tls.VersionName(st.Version), "TLS ", "TLSv", 1)
	for _, cert := range st.PeerCertificates {
		r.PeerCertificates = append(r.PeerCertificates, Binary{Format: "base64", Data: cert.Raw})
	}
	return r, tc
}

func (p *Prober) tlsConfig(serverName string, alpn []string) *tls.Config {
	return &tls.Config{ServerName: serverName, RootCAs: p.cfg.RootCAs, NextProtos: alpn}
}

// QUICHandshake is one QUIC handshake (OONI's quic_handshakes shape).
type QUICHandshake struct {
	Address            netip.AddrPort `json:"address"`
	ServerName         string         `json:"server_name"`
	NegotiatedProtocol string         `json:"negotiated_protocol"`
	Failure            *string        `json:"failure"`
	T0                 float64        `json:"t0"`
	T                  float64        `json:"t"`
}

// QUIC performs a QUIC v1 handshake with ep offering ALPN h3.
func (p *Prober) QUIC(ctx context.Context, ep netip.AddrPort, serverName string) QUICHandshake {
	start := p.now()
	r := QUICHandshake{Address: ep, ServerName: serverName}
	pc, err := p.net.ListenPacket("udp", ":0")
	if err != nil {
		r.Failure = Classify(err)
		return r
	}
	tr := &quic.Transport{Conn: pc}
	defer pc.Close()
	defer tr.Close()
	ctx, cancel := p.withTimeout(ctx, p.cfg.HandshakeTimeout)
	defer cancel()
	// A classic X25519 key share keeps the ClientHello in the first
	// Initial, as most deployed clients still send it; quic-go's default
	// post-quantum one spans several, which a censor that decrypts only the
	// first Initial never sees.
	tcfg := p.tlsConfig(serverName, []string{"h3"})
	tcfg.CurvePreferences = []tls.CurveID{tls.X25519}
	qc, err := tr.Dial(ctx, net.UDPAddrFromAddrPort(ep), tcfg,
		&quic.Config{HandshakeIdleTimeout: p.scale(p.cfg.HandshakeTimeout), Versions: []quic.Version{quic.Version1}})
	r.T = p.since(start)
	if err != nil {
		r.Failure = Classify(err)
		return r
	}
	r.NegotiatedProtocol = qc.ConnectionState().TLS.NegotiatedProtocol
	qc.CloseWithError(0, "")
	return r
}

// HTTPRequest is one HTTP round trip, in OONI's requests shape.
type HTTPRequest struct {
	Failure  *string      `json:"failure"`
	Request  HTTPReqData  `json:"request"`
	Response HTTPRespData `json:"response"`
	// Address is the endpoint the request went to (splinter).
	Address netip.AddrPort `json:"x_address,omitzero"`
	// FailedOperation is the step of a failed request that failed, in
	// OONI's names: "resolve", "connect", "tls_handshake" or
	// "http_round_trip" (splinter).
	FailedOperation string  `json:"x_failed_operation,omitempty"`
	T0              float64 `json:"t0"`
	T               float64 `json:"t"`
}

// HTTPReqData is the request part of HTTPRequest.
type HTTPReqData struct {
	Body    string            `json:"body"`
	Headers map[string]string `json:"headers"`
	Method  string            `json:"method"`
	URL     string            `json:"url"`
	Tor     struct {
		ExitIP   *string `json:"exit_ip"`
		ExitName *string `json:"exit_name"`
		IsTor    bool    `json:"is_tor"`
	} `json:"tor"`
}

// HTTPRespData is the response part of HTTPRequest.
type HTTPRespData struct {
	Body            string            `json:"body"`
	BodyIsTruncated bool              `json:"body_is_truncated"`
	Code            int               `json:"code"`
	Headers         map[string]string `json:"headers"`
}

// MaxBody is how much of a response body the probe keeps.
const MaxBody = 1 << 17

var userAgent = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"

// Fetch gets rawURL, following redirects (at most 10), with connections to
// the first host going to first (if valid) and every other name resolved
// through the vantage's resolver. It returns one HTTPRequest per hop, last
// hop last.
func (p *Prober) Fetch(ctx context.Context, rawURL string, first netip.Addr) []HTTPRequest {
	ctx, cancel := p.withTimeout(ctx, p.cfg.HTTPTimeout)
	defer cancel()
	u0, _ := url.Parse(rawURL)
	firstHost := ""
	if u0 != nil {
		firstHost = u0.Hostname()
	}
	var reqs []HTTPRequest
	var last netip.AddrPort
	// op is the step the current hop reached: the dial sets "resolve" or
	// "connect" while it works, the TLS trace "tls_handshake" when the
	// handshake failed.
	var op atomic.Value
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		op.Store("resolve")
		host, port, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, err
		}
		var pn uint16
		fmt.Sscan(port, &pn)
		var addrs []netip.Addr
		if host == firstHost && first.IsValid() {
			addrs = []netip.Addr{first}
		} else {
			_, addrs = p.Resolve(ctx, p.resolver(), host)
			if len(addrs) == 0 {
				return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
			}
		}
		op.Store("connect")
		var err1 error
		for _, a := range addrs {
			ep := netip.AddrPortFrom(a, pn)
			last = ep
			c, err := p.net.DialContext(ctx, "tcp", ep.String())
			if err == nil {
				op.Store("http_round_trip")
				return c, nil
			}
			if err1 == nil {
				err1 = err
			}
		}
		return nil, err1
	}
	tr := &http.Transport{
		DialContext:       dial,
		TLSClientConfig:   p.tlsConfig("", nil),
		DisableKeepAlives: true,
		ForceAttemptHTTP2: true,
	}
	defer tr.CloseIdleConnections()
	u := rawURL
	for hop := 0; hop < 10; hop++ {
		start := p.now()
		r := HTTPRequest{Request: HTTPReqData{Method: "GET", URL: u, Headers: map[string]string{"User-Agent": userAgent, "Accept": "text/html"}}}
		op.Store("http_round_trip")
		trace := &httptrace.ClientTrace{TLSHandshakeDone: func(_ tls.ConnectionState, err error) {
			if err != nil {
				op.Store("tls_handshake")
			}
		}}
		req, err := http.NewRequestWithContext(httptrace.WithClientTrace(ctx, trace), "GET", u, nil)
		if err != nil {
			r.Failure = str(FailureUnknown)
			return append(reqs, r)
		}
		for k, v := range r.Request.Headers {
			req.Header.Set(k, v)
		}
		resp, err := tr.RoundTrip(req)
		r.Address = last
		if err != nil {
			r.Failure = Classify(err)
			r.FailedOperation = op.Load().(string)
			r.T = p.since(start)
			return append(reqs, r)
		}
		r.Response.Code = resp.StatusCode
		r.Response.Headers = map[string]string{}
		for k, v := range resp.Header {
			r.Response.Headers[k] = strings.Join(v, ", ")
		}
		body, err := io.ReadAll(io.LimitReader(resp.Body, MaxBody+1))
		resp.Body.Close()
		if len(body) > MaxBody {
			body, r.Response.BodyIsTruncated = body[:MaxBody], true
		}
		r.Response.Body = string(body)
		r.T = p.since(start)
		if err != nil {
			r.Failure = Classify(err)
			r.FailedOperation = "http_round_trip"
			return append(reqs, r)
		}
		reqs = append(reqs, r)
		loc := resp.Header.Get("Location")
		if resp.StatusCode < 300 || resp.StatusCode > 399 || loc == "" {
			return reqs
		}
		next, err := req.URL.Parse(loc)
		if err != nil {
			return reqs
		}
		u = next.String()
	}
	return reqs
}

// Throughput is the outcome of the throughput test (splinter).
type Throughput struct {
	Address  netip.AddrPort `json:"address"`
	URL      string         `json:"url"`
	Bytes    int64          `json:"bytes"`
	Wanted   int64          `json:"wanted"`
	Seconds  float64        `json:"seconds"`
	BitsPerS float64        `json:"bits_per_second"`
	// Baselines are the same download without SNI, made when the first
	// was slow: a censor that throttles by SNI cannot single them out.
	Baselines []Download `json:"baselines,omitempty"`
	// Repeats are the downloads with SNI again, each made alongside the
	// baseline of the same index: a pair shares the moment, the path,
	// the access link and the machine's load.
	Repeats []Download `json:"repeats,omitempty"`
	// BestBaseline is the fastest download without SNI, in bit/s.
	BestBaseline float64 `json:"best_baseline_bits_per_second,omitempty"`
	// MedianSNI is the (upper) median of the downloads with SNI, and
	// BestSNI the fastest, in bit/s. A censor that inspects a flow's first
	// packet misses one now and then, and a download it missed runs at the
	// path's speed, so one fast download does not clear a site.
	MedianSNI float64 `json:"median_sni_bits_per_second,omitempty"`
	BestSNI   float64 `json:"best_sni_bits_per_second,omitempty"`
	// Pairs is how many pairs judged (both downloads completed and the
	// baseline ran at least Config.ThrottledBelow: a slower baseline
	// shows a path or a machine too slow to tell), and Gaps how many of
	// them had the baseline at least Config.ThrottleRatio times as fast as
	// the download with SNI beside it, under Config.ThrottledBelow.
	Pairs int `json:"pairs"`
	Gaps  int `json:"gaps"`
	// Throttled is set by Judge: at least two pairs judged, the gap in
	// most of them, and the median download with SNI under
	// Config.ThrottledBelow.
	Throttled bool `json:"throttled"`
	// Inconclusive is set by Judge when the first download ran slow and
	// the test could not tell why: fewer than two pairs judged, and fewer
	// than two downloads with SNI ran fast (a path or a machine too slow,
	// or too many downloads lost). A verdict that rests on it is measured
	// again (TimeoutThroughput).
	Inconclusive bool `json:"inconclusive,omitempty"`
	// Stalled is set by Judge when most downloads with SNI stalled (see
	// Download.Stalled): StalledAll when most of those without SNI beside
	// them stalled too (the address's connections freeze, whatever they
	// carry), StalledSNI when those completed. A stalled download is not
	// slow: it is not judged for throttling.
	Stalled Stall `json:"stalled,omitempty"`
	// Stalled, Seconds: the first download's own.
	FirstStalled bool    `json:"first_stalled,omitempty"`
	Failure      *string `json:"failure"`
}

// Stall says which downloads of a throughput test froze.
type Stall string

// Stalls.
const (
	StalledAll Stall = "all" // with SNI and without: the address
	StalledSNI Stall = "sni" // with SNI only: the name
)

// Download is one transfer of the throughput test.
type Download struct {
	Bytes    int64   `json:"bytes"`
	Seconds  float64 `json:"seconds"`
	BitsPerS float64 `json:"bits_per_second"`
	// Stalled is set when the transfer received some bytes, then nothing
	// for at least half of its time, and did not complete: it froze. A
	// slow path or a throttle still delivers, packet after packet; a
	// freeze (Russia's ~16-20 KB cut, shared/censors.md) delivers
	// nothing more.
	Stalled bool    `json:"stalled,omitempty"`
	Failure *string `json:"failure"`
}

// Judge compares each download with SNI with the baseline made beside it
// at the same moment and sets the medians, Pairs, Gaps, Throttled and
// Inconclusive (see their docs), with below the rate under which a download may be throttled
// and ratio how many times faster its baseline must run. Downloads made
// at different moments are never compared: a busy machine slows all of
// them, by a factor that changes from one second to the next.
func (t *Throughput) Judge(below, ratio float64) {
	var sni []float64
	if t.Failure == nil && t.Bytes > 0 {
		sni = append(sni, t.BitsPerS)
	}
	t.BestBaseline, t.Pairs, t.Gaps = 0, 0, 0
	fast := 0
	for i := range min(len(t.Baselines), len(t.Repeats)) {
		b, s := t.Baselines[i], t.Repeats[i]
		if s.Failure == nil && s.BitsPerS >= below {
			fast++
		}
		if b.Failure != nil || s.Failure != nil {
			continue
		}
		sni = append(sni, s.BitsPerS)
		t.BestBaseline = max(t.BestBaseline, b.BitsPerS)
		if b.BitsPerS < below {
			continue
		}
		t.Pairs++
		if s.BitsPerS < below && b.BitsPerS >= ratio*s.BitsPerS {
			t.Gaps++
		}
	}
	t.BestSNI, t.MedianSNI = 0, 0
	if len(sni) > 0 {
		slices.Sort(sni)
		t.BestSNI, t.MedianSNI = sni[len(sni)-1], sni[len(sni)/2]
	}
	t.Stalled = t.stall()
	t.Throttled = t.Stalled == "" && t.Pairs >= 2 && 2*t.Gaps > t.Pairs && t.MedianSNI < below
	t.Inconclusive = t.Stalled == "" && t.Failure == nil && t.BitsPerS < below && t.Pairs < 2 && fast < 2
}

// stall is what froze: most downloads with SNI stalled (the first one
// included, and two at least), and most baselines beside them stalled too
// (StalledAll) or completed (StalledSNI); "" otherwise.
func (t *Throughput) stall() Stall {
	sni, n := 0, 1
	if t.FirstStalled {
		sni++
	}
	for _, d := range t.Repeats {
		n++
		if d.Stalled {
			sni++
		}
	}
	if !t.FirstStalled || sni < 2 || 2*sni <= n {
		return ""
	}
	stalled, done := 0, 0
	for _, b := range t.Baselines {
		switch {
		case b.Stalled:
			stalled++
		case b.Failure == nil && b.Bytes >= t.Wanted:
			done++
		}
	}
	switch {
	case 2*stalled > len(t.Baselines):
		return StalledAll
	case 2*done > len(t.Baselines):
		return StalledSNI
	}
	return ""
}

// throughputPairs is how many judged pairs of downloads (a baseline
// beside one with SNI) the throughput test wants after a slow first
// download; it makes at most throughputMaxPairs.
const (
	throughputPairs    = 2
	throughputMaxPairs = 4
)

// Throughput downloads Config.ThroughputBytes from https://serverName at ep
// (the scenario's sites serve /download?bytes=N) for at most
// Config.ThroughputTime. When that runs under Config.ThrottledBelow it
// downloads twice at once, with and without SNI (Host still names the site),
// and does so again: a slow path or a busy machine, which slows both alike
// and comes and goes, is told apart from SNI-triggered throttling, which
// caps the downloads with SNI and none without. It stops once two judged
// pairs agree (both with the gap, or both without), or two downloads with
// SNI ran fast, and makes at most four pairs; Judge gives the verdict.
func (p *Prober) Throughput(ctx context.Context, ep netip.AddrPort, serverName string) Throughput {
	want := int64(p.cfg.ThroughputBytes)
	r := Throughput{Address: ep, Wanted: want, URL: fmt.Sprintf("https://%s/download?bytes=%d", serverName, want)}
	select {
	case p.thru <- struct{}{}:
		defer func() { <-p.thru }()
	case <-ctx.Done():
		r.Failure = Classify(ctx.Err())
		return r
	}
	d := p.download(ctx, ep, serverName, true)
	r.Bytes, r.Seconds, r.BitsPerS, r.Failure, r.FirstStalled = d.Bytes, d.Seconds, d.BitsPerS, d.Failure, d.Stalled
	if d.Failure != nil || d.BitsPerS >= p.cfg.ThrottledBelow {
		r.Judge(p.cfg.ThrottledBelow, p.cfg.ThrottleRatio)
		return r
	}
	fast := 0
	for range throughputMaxPairs {
		// The baseline and a download with SNI run side by side, so the
		// path, the access link and the load are the same for both.
		var b, d2 Download
		var wg sync.WaitGroup
		wg.Go(func() { b = p.download(ctx, ep, serverName, false) })
		d2 = p.download(ctx, ep, serverName, true)
		wg.Wait()
		r.Baselines, r.Repeats = append(r.Baselines, b), append(r.Repeats, d2)
		if ctx.Err() != nil {
			break
		}
		if d2.Failure == nil && d2.BitsPerS >= p.cfg.ThrottledBelow {
			if fast++; fast == 2 {
				break // most downloads with SNI ran fast: not throttled
			}
		}
		r.Judge(p.cfg.ThrottledBelow, p.cfg.ThrottleRatio)
		if r.Pairs >= throughputPairs && (r.Gaps == 0 || r.Gaps == r.Pairs) {
			break
		}
		if len(r.Repeats) >= throughputPairs && r.Stalled != "" && r.consistentStall() {
			break // every download so far froze alike
		}
	}
	r.Judge(p.cfg.ThrottledBelow, p.cfg.ThrottleRatio)
	return r
}

// consistentStall reports whether every download with SNI stalled and
// the baselines all stalled (StalledAll) or all completed (StalledSNI).
func (t *Throughput) consistentStall() bool {
	if !t.FirstStalled {
		return false
	}
	for _, d := range t.Repeats {
		if !d.Stalled {
			return false
		}
	}
	for _, b := range t.Baselines {
		if b.Stalled != (t.Stalled == StalledAll) {
			return false
		}
	}
	return true
}

// summary lists the downloads' rates in kbit/s, with SNI and without, for
// a verdict's reason.
func (t *Throughput) summary() string {
	rate := func(bps float64, failure *string) string {
		if failure != nil {
			return *failure
		}
		return itoa(int(bps / 1000))
	}
	sni := []string{rate(t.BitsPerS, t.Failure)}
	for _, d := range t.Repeats {
		sni = append(sni, rate(d.BitsPerS, d.Failure))
	}
	var base []string
	for _, d := range t.Baselines {
		base = append(base, rate(d.BitsPerS, d.Failure))
	}
	return "downloads with SNI ran at " + strings.Join(sni, ", ") + " kbit/s (median " + itoa(int(t.MedianSNI/1000)) +
		"), without SNI beside them at " + strings.Join(base, ", ") + " kbit/s (best " + itoa(int(t.BestBaseline/1000)) +
		"); far faster without SNI in " + itoa(t.Gaps) + " of " + itoa(t.Pairs) + " pairs judged"
}

// download is one GET of /download over TLS, with or without SNI.
func (p *Prober) download(ctx context.Context, ep netip.AddrPort, serverName string, sni bool) Download {
	var d Download
	want := p.cfg.ThroughputBytes
	tcp, c := p.Connect(ctx, ep)
	if c == nil {
		d.Failure = tcp.Status.Failure
		return d
	}
	defer c.Close()
	hctx, cancel := p.withTimeout(ctx, p.cfg.HandshakeTimeout)
	defer cancel()
	cfg := p.tlsConfig(serverName, []string{"http/1.1"})
	if !sni {
		cfg.ServerName, cfg.InsecureSkipVerify = "", true
	}
	tc := tls.Client(c, cfg)
	if err := tc.HandshakeContext(hctx); err != nil {
		d.Failure = Classify(err)
		return d
	}
	start := p.now()
	tc.SetDeadline(time.Now().Add(p.scale(p.cfg.ThroughputTime))) // sockets keep real time
	fmt.Fprintf(tc, "GET /download?bytes=%d HTTP/1.1\r\nHost: %s\r\nUser-Agent: %s\r\nConnection: close\r\n\r\n", want, serverName, userAgent)
	lr := &lastRead{r: tc, last: time.Now()}
	resp, err := http.ReadResponse(bufio.NewReader(lr), nil)
	if err == nil {
		d.Bytes, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err == nil && resp.StatusCode != 200 {
			d.Failure = str(FailureHTTPRequestFailed)
		}
	}
	d.Seconds = p.now().Sub(start).Seconds()
	if quiet, ran := time.Since(lr.last), time.Since(lr.start); err != nil && lr.n > 0 && d.Bytes < int64(want) && 2*quiet >= ran {
		d.Stalled = true
	}
	if d.Seconds > 0 {
		d.BitsPerS = float64(d.Bytes*8) / d.Seconds
	}
	var ne net.Error
	if err != nil && !(errors.As(err, &ne) && ne.Timeout()) {
		d.Failure = Classify(err)
	}
	return d
}

// lastRead is a reader that notes when bytes last arrived (real time, as
// sockets keep).
type lastRead struct {
	r           io.Reader
	n           int64
	start, last time.Time
}

func (l *lastRead) Read(b []byte) (int, error) {
	if l.start.IsZero() {
		l.start = l.last
	}
	n, err := l.r.Read(b)
	if n > 0 {
		l.n += int64(n)
		l.last = time.Now()
	}
	return n, err
}

// ResidualCheck is the residual-censorship test (splinter): a control request
// with a benign Host or SNI to the endpoint that was just blocked, right away
// and, optionally, again after the censor's window.
type ResidualCheck struct {
	Address    netip.AddrPort `json:"address"`
	Protocol   string         `json:"protocol"` // "http" or "tls"
	ServerName string         `json:"server_name"`
	// Immediate is the outcome right after the block: nil when the endpoint
	// answered.
	Immediate *string `json:"immediate_failure"`
	// After is the outcome after Waited seconds (when the wait was made).
	After  *string `json:"after_failure,omitempty"`
	Waited float64 `json:"waited,omitempty"`
	// Blocked is true when the immediate request failed.
	Blocked bool `json:"blocked"`
	// BeforeAddress is where the measurement made a benign plain HTTP
	// request before any request of its own that names the site (port 80
	// of the address it fetched through), and Before its outcome: nil
	// when the address answered. A residual block is keyed on the
	// endpoint a trigger went to (the profiles' 3- and 4-tuples all hold
	// the server's port): the address answered before the trigger. An
	// address that took no benign request before and none right after is
	// blocked whatever the request: tcp_ip, not residual.
	BeforeAddress netip.AddrPort `json:"before_address,omitzero"`
	Before        *string        `json:"before_failure,omitempty"`
	// AnsweredEarlier is set when the address answered the benign request
	// of an earlier attempt of this measurement: this attempt's failed
	// because the earlier attempt's trigger blocked it (x_attempts).
	AnsweredEarlier bool `json:"answered_earlier,omitempty"`
}

// benignOutcome is the outcome of a benign request to an endpoint.
type benignOutcome struct {
	addr    netip.AddrPort
	failure *string
}

// ResidualTest sends a benign request to ep over proto ("http" or "tls"),
// and again after Config.ResidualWait when that is positive.
func (p *Prober) ResidualTest(ctx context.Context, ep netip.AddrPort, proto string) ResidualCheck {
	r := ResidualCheck{Address: ep, Protocol: proto, ServerName: p.cfg.BenignName}
	r.Immediate = p.benign(ctx, ep, proto)
	r.Blocked = r.Immediate != nil
	if p.cfg.ResidualWait > 0 {
		if err := clock.Sleep(ctx, p.cfg.Clock, p.cfg.ResidualWait); err == nil {
			r.After = p.benign(ctx, ep, proto)
			r.Waited = p.cfg.ResidualWait.Seconds()
		}
	}
	return r
}

// benign is one benign request: any answer from the server (a 404, a TLS
// alert for an unknown name) shows the endpoint is reachable.
func (p *Prober) benign(ctx context.Context, ep netip.AddrPort, proto string) *string {
	tcp, c := p.Connect(ctx, ep)
	if c == nil {
		return tcp.Status.Failure
	}
	defer c.Close()
	ctx, cancel := p.withTimeout(ctx, p.cfg.HandshakeTimeout)
	defer cancel()
	stop := context.AfterFunc(ctx, func() { c.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if proto == "tls" {
		cfg := p.tlsConfig(p.cfg.BenignName, nil)
		cfg.InsecureSkipVerify = true
		err := tls.Client(c, cfg).HandshakeContext(ctx)
		var alert tls.AlertError
		var unknown x509.UnknownAuthorityError
		if err == nil || errors.As(err, &alert) || errors.As(err, &unknown) || strings.Contains(err.Error(), "remote error") {
			return nil
		}
		return Classify(err)
	}
	fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: %s\r\nUser-Agent: %s\r\nConnection: close\r\n\r\n", p.cfg.BenignName, userAgent)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return Classify(err)
	}
	resp.Body.Close()
	return nil
}
