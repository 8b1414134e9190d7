package probe

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"sync"
	"time"
)

// ControlRequest is what a probe posts to the test helper: OONI's
// oohelperd request.
type ControlRequest struct {
	HTTPRequest        string              `json:"http_request"`
	HTTPRequestHeaders map[string][]string `json:"http_request_headers"`
	TCPConnect         []string            `json:"tcp_connect"`
	XQUICEnabled       bool                `json:"x_quic_enabled"`
}

// ControlResponse is the test helper's answer: OONI's oohelperd response,
// plus the QUIC handshakes splinter's helper makes.
type ControlResponse struct {
	TCPConnect    map[string]ControlTCP    `json:"tcp_connect"`
	TLSHandshake  map[string]ControlTLS    `json:"tls_handshake"`
	QUICHandshake map[string]ControlTLS    `json:"quic_handshake"`
	HTTPRequest   ControlHTTP              `json:"http_request"`
	DNS           ControlDNS               `json:"dns"`
	IPInfo        map[string]ControlIPInfo `json:"ip_info"`
}

// ControlTCP is the helper's connect to one endpoint.
type ControlTCP struct {
	Status  bool    `json:"status"`
	Failure *string `json:"failure"`
}

// ControlTLS is the helper's TLS (or QUIC) handshake with one endpoint.
type ControlTLS struct {
	ServerName string  `json:"server_name"`
	Status     bool    `json:"status"`
	Failure    *string `json:"failure"`
}

// ControlHTTP is the helper's fetch of the URL.
type ControlHTTP struct {
	BodyLength           int64             `json:"body_length"`
	DiscoveredH3Endpoint string            `json:"discovered_h3_endpoint"`
	Failure              *string           `json:"failure"`
	Title                string            `json:"title"`
	Headers              map[string]string `json:"headers"`
	StatusCode           int               `json:"status_code"`
}

// ControlDNS is the helper's resolution of the URL's host.
type ControlDNS struct {
	Failure *string      `json:"failure"`
	Addrs   []netip.Addr `json:"addrs"`
}

// ControlIPInfo is what the helper knows of an address.
type ControlIPInfo struct {
	ASN   uint32 `json:"asn"`
	Flags int    `json:"flags"`
}

// ip_info flags, as oohelperd sets them.
const (
	IPFlagResolver = 1 << iota
	IPFlagProbe
	IPFlagBogon
	IPFlagValidForDomain
)

// Controller gets a control measurement for a URL.
type Controller interface {
	Control(ctx context.Context, req ControlRequest) (*ControlResponse, error)
}

// Measure runs the test helper's side of web_connectivity on p: resolve the
// URL's host, connect to every address (the request's and its own), TLS and
// QUIC handshakes on port 443, and fetch the URL.
func (p *Prober) Measure(ctx context.Context, req ControlRequest) (*ControlResponse, error) {
	u, err := url.Parse(req.HTTPRequest)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" {
		return nil, fmt.Errorf("probe: bad control URL %q", req.HTTPRequest)
	}
	host := u.Hostname()
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	resp := &ControlResponse{
		TCPConnect: map[string]ControlTCP{}, TLSHandshake: map[string]ControlTLS{},
		QUICHandshake: map[string]ControlTLS{}, IPInfo: map[string]ControlIPInfo{},
	}
	qs, addrs := p.Resolve(ctx, p.resolver(), host)
	resp.DNS.Addrs = addrs
	resp.DNS.Failure = lookupFailure(qs, addrs)
	if resp.DNS.Addrs == nil {
		resp.DNS.Addrs = []netip.Addr{}
	}
	eps := map[netip.AddrPort]bool{}
	pn, _ := strconv.ParseUint(port, 10, 16)
	for _, a := range addrs {
		eps[netip.AddrPortFrom(a, uint16(pn))] = true
		resp.IPInfo[a.String()] = p.ipInfo(a, IPFlagResolver)
	}
	for _, s := range req.TCPConnect {
		if ep, err := netip.ParseAddrPort(s); err == nil {
			eps[ep] = true
			info := resp.IPInfo[ep.Addr().String()]
			resp.IPInfo[ep.Addr().String()] = p.ipInfo(ep.Addr(), info.Flags|IPFlagProbe)
		}
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for ep := range eps {
		wg.Go(func() {
			r, c := p.Connect(ctx, ep)
			if c != nil {
				c.Close()
			}
			mu.Lock()
			resp.TCPConnect[ep.String()] = ControlTCP{Status: r.Status.Success, Failure: r.Status.Failure}
			mu.Unlock()
			if !r.Status.Success {
				return
			}
			tep := netip.AddrPortFrom(ep.Addr(), 443)
			hs, tc := p.TLS(ctx, tep, host, []string{"h2", "http/1.1"})
			if tc != nil {
				tc.Close()
			}
			mu.Lock()
			resp.TLSHandshake[tep.String()] = ControlTLS{ServerName: host, Status: hs.Failure == nil, Failure: hs.Failure}
			if hs.Failure == nil {
				info := resp.IPInfo[ep.Addr().String()]
				info.Flags |= IPFlagValidForDomain
				resp.IPInfo[ep.Addr().String()] = info
			}
			mu.Unlock()
			if req.XQUICEnabled {
				qh := p.QUIC(ctx, tep, host)
				mu.Lock()
				resp.QUICHandshake[tep.String()] = ControlTLS{ServerName: host, Status: qh.Failure == nil, Failure: qh.Failure}
				mu.Unlock()
			}
		})
	}
	var first netip.Addr
	if len(addrs) > 0 {
		first = addrs[0]
	}
	reqs := p.Fetch(ctx, req.HTTPRequest, first)
	wg.Wait()
	last := reqs[len(reqs)-1]
	resp.HTTPRequest = ControlHTTP{
		BodyLength: int64(len(last.Response.Body)), Failure: last.Failure,
		Title: Title(last.Response.Body), Headers: last.Response.Headers, StatusCode: last.Response.Code,
	}
	if last.Failure != nil {
		resp.HTTPRequest.BodyLength = -1
		resp.HTTPRequest.StatusCode = -1
	}
	if resp.HTTPRequest.Headers == nil {
		resp.HTTPRequest.Headers = map[string]string{}
	}
	return resp, nil
}

func (p *Prober) ipInfo(a netip.Addr, flags int) ControlIPInfo {
	asn, _ := p.cfg.Geo.ASN(a)
	if p.cfg.Geo.Bogon(a) {
		flags |= IPFlagBogon
	}
	return ControlIPInfo{ASN: asn, Flags: flags}
}

// ServeControl runs OONI's test helper protocol (oohelperd: POST a JSON
// ControlRequest, get a ControlResponse) on h's port 80 until ctx ends,
// measuring with a Prober on h configured by cfg. It returns the address it
// serves on.
func ServeControl(ctx context.Context, h ControlHost, cfg Config) (netip.AddrPort, error) {
	ln, err := h.Listen("tcp", ":80")
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("probe: control listen: %w", err)
	}
	p := New(h, cfg)
	srv := &http.Server{Handler: ControlHandler(p), ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	context.AfterFunc(ctx, func() { srv.Close() })
	var addr netip.AddrPort
	if ap, err := netip.ParseAddrPort(ln.Addr().String()); err == nil {
		addr = ap
	}
	if !addr.Addr().IsValid() || addr.Addr().IsUnspecified() {
		if a, ok := h.(interface{ Addrs() []netip.Addr }); ok && len(a.Addrs()) > 0 {
			addr = netip.AddrPortFrom(a.Addrs()[0], 80)
		}
	}
	return addr, nil
}

// ControlHandler is the test helper's HTTP handler, measuring with p.
func ControlHandler(p *Prober) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			http.Error(w, "POST a web_connectivity control request", http.StatusMethodNotAllowed)
			return
		}
		var req ControlRequest
		if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&req); err != nil {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), 15*time.Second)
		defer cancel()
		resp, err := p.Measure(ctx, req)
		if err != nil {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(resp)
	})
}

// ControlClient asks a test helper over HTTP, through a Network, and caches
// the answer per URL: every vantage measuring the same URL shares one
// control measurement. The zero value is not usable.
type ControlClient struct {
	net  Network
	addr netip.AddrPort
	http *http.Client

	mu    sync.Mutex
	cache map[string]*controlEntry
}

type controlEntry struct {
	done chan struct{}
	resp *ControlResponse
	err  error
}

var _ Controller = (*ControlClient)(nil)

// NewControlClient returns a client of the test helper at addr, reached
// through n.
func NewControlClient(n Network, addr netip.AddrPort) *ControlClient {
	tr := &http.Transport{
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return n.DialContext(ctx, network, addr.String())
		},
		MaxIdleConnsPerHost: 64,
	}
	return &ControlClient{net: n, addr: addr, http: &http.Client{Transport: tr, Timeout: 30 * time.Second}, cache: map[string]*controlEntry{}}
}

// Addr is the helper's address.
func (c *ControlClient) Addr() netip.AddrPort { return c.addr }

// Control implements Controller. A failed request is not cached, nor is an
// answer whose own lookup timed out (a transient on the helper's side that
// would otherwise leave every vantage measuring the URL without a DNS
// reference); the callers waiting on it get it, the next asks again.
func (c *ControlClient) Control(ctx context.Context, req ControlRequest) (*ControlResponse, error) {
	c.mu.Lock()
	e, ok := c.cache[req.HTTPRequest]
	if !ok {
		e = &controlEntry{done: make(chan struct{})}
		c.cache[req.HTTPRequest] = e
	}
	c.mu.Unlock()
	if ok {
		select {
		case <-e.done:
			return e.resp, e.err
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	e.resp, e.err = c.ask(ctx, req)
	if e.err != nil || (e.resp.DNS.Failure != nil && *e.resp.DNS.Failure == FailureTimeout) {
		c.mu.Lock()
		delete(c.cache, req.HTTPRequest)
		c.mu.Unlock()
	}
	close(e.done)
	return e.resp, e.err
}

func (c *ControlClient) ask(ctx context.Context, req ControlRequest) (*ControlResponse, error) {
	body, _ := json.Marshal(req)
	hr, err := http.NewRequestWithContext(ctx, "POST", "http://"+c.addr.String()+"/", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	hr.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(hr)
	if err != nil {
		return nil, fmt.Errorf("probe: control: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return nil, fmt.Errorf("probe: control: status %d", resp.StatusCode)
	}
	var out ControlResponse
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return nil, fmt.Errorf("probe: control: %w", err)
	}
	return &out, nil
}
