package probe

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"time"
)

// ControlRequest is what a probe posts to the test helper: OONI's
// oohelperd request (probe-cli's model.THRequest), field for field.
type ControlRequest struct {
	HTTPRequest        string              `json:"http_request"`
	HTTPRequestHeaders map[string][]string `json:"http_request_headers"`
	// TCPConnect are the endpoints ("ip:port") the probe resolved; the
	// helper takes their addresses, not their ports.
	TCPConnect   []string `json:"tcp_connect"`
	XQUICEnabled bool     `json:"x_quic_enabled"`
	// XSplinterQUIC is splinter's extension: hand-shake QUIC with every
	// port-443 endpoint even when the site advertised no HTTP/3 endpoint
	// on the URL's first response (our sites, like most, advertise h3 only
	// over HTTPS, so an http:// input would never get a QUIC control).
	// oohelperd ignores the field; OONI's probes never send it, and the
	// answer to a request without it is oohelperd's.
	XSplinterQUIC bool `json:"x_splinter_quic,omitempty"`
}

// ControlResponse is the test helper's answer: OONI's oohelperd response
// (probe-cli's model.THResponse), field for field and in the same order.
// tls_handshake and ip_info are left out when empty, as oohelperd does;
// http3_request is null unless the helper fetched the URL over HTTP/3.
type ControlResponse struct {
	TCPConnect    map[string]ControlTCP    `json:"tcp_connect"`
	TLSHandshake  map[string]ControlTLS    `json:"tls_handshake,omitempty"`
	QUICHandshake map[string]ControlTLS    `json:"quic_handshake"`
	HTTPRequest   ControlHTTP              `json:"http_request"`
	HTTP3Request  *ControlHTTP             `json:"http3_request"`
	DNS           ControlDNS               `json:"dns"`
	IPInfo        map[string]ControlIPInfo `json:"ip_info,omitempty"`
}

// ControlTCP is the helper's connect to one endpoint. Failure is one of
// the helper's names (ControlFailures): generic_timeout_error,
// connection_refused_error or connect_error.
type ControlTCP struct {
	Status  bool    `json:"status"`
	Failure *string `json:"failure"`
}

// ControlTLS is the helper's TLS (or QUIC) handshake with one endpoint;
// Failure is a df-007 name.
type ControlTLS struct {
	ServerName string  `json:"server_name"`
	Status     bool    `json:"status"`
	Failure    *string `json:"failure"`
}

// ControlHTTP is the helper's fetch of the URL, redirects followed. On
// failure BodyLength and StatusCode are -1 and Headers is empty.
type ControlHTTP struct {
	BodyLength int64 `json:"body_length"`
	// DiscoveredH3Endpoint is the "host:port" the first response of the
	// redirect chain advertised with Alt-Svc h3, or "".
	DiscoveredH3Endpoint string            `json:"discovered_h3_endpoint"`
	Failure              *string           `json:"failure"`
	Title                string            `json:"title"`
	Headers              map[string]string `json:"headers"`
	StatusCode           int64             `json:"status_code"`
}

// ControlDNS is the helper's resolution of the URL's host. For an IP
// literal the helper does not resolve: no failure, no addresses.
type ControlDNS struct {
	Failure *string      `json:"failure"`
	Addrs   []netip.Addr `json:"addrs"`
}

// ControlIPInfo is what the helper knows of an address: its ASN (0 when
// unknown) and ip_info flags.
type ControlIPInfo struct {
	ASN   uint32 `json:"asn"`
	Flags int64  `json:"flags"`
}

// ip_info flags, as oohelperd sets them (probe-cli's model.THIPInfoFlag*).
const (
	// IPFlagResolvedByProbe: the address is one of the probe's tcp_connect.
	IPFlagResolvedByProbe = 1 << iota
	// IPFlagResolvedByTH: the helper's own lookup returned the address.
	IPFlagResolvedByTH
	// IPFlagBogon: the address is a bogon; the helper does not connect to it.
	IPFlagBogon
	// IPFlagValidForDomain: a TLS handshake with the address, with the
	// URL's host as SNI, succeeded.
	IPFlagValidForDomain
)

// Controller gets a control measurement for a URL.
type Controller interface {
	Control(ctx context.Context, req ControlRequest) (*ControlResponse, error)
}

// helperServer is the Server header of the helper's answers, in
// oohelperd's form.
const helperServer = "oohelperd/" + SoftwareVersion + "-splinter ooniprobe-engine/" + SoftwareVersion + "-splinter"

// maxControlBody bounds a request to the helper, as oohelperd does (16 MiB).
const maxControlBody = 1 << 24

// ServeControl runs OONI's test helper protocol (oohelperd: POST a JSON
// ControlRequest, get a ControlResponse) over plain HTTP on h's port 80
// until ctx ends, measuring with a Prober on h configured by cfg. It
// returns the address it serves on.
func ServeControl(ctx context.Context, h ControlHost, cfg Config) (netip.AddrPort, error) {
	return serveControl(ctx, h, cfg, 80, nil)
}

// ServeControlTLS is ServeControl over HTTPS on h's port 443, presenting
// the certificates of tlsConf (the scenario CA's ServerTLSConfig()).
func ServeControlTLS(ctx context.Context, h ControlHost, cfg Config, tlsConf *tls.Config) (netip.AddrPort, error) {
	if tlsConf == nil {
		return netip.AddrPort{}, fmt.Errorf("probe: control over HTTPS needs a TLS configuration")
	}
	return serveControl(ctx, h, cfg, 443, tlsConf)
}

func serveControl(ctx context.Context, h ControlHost, cfg Config, port uint16, tlsConf *tls.Config) (netip.AddrPort, error) {
	ln, err := h.Listen("tcp", ":"+strconv.Itoa(int(port)))
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("probe: control listen: %w", err)
	}
	srv := &http.Server{Handler: ControlHandler(New(h, cfg)), ReadHeaderTimeout: 10 * time.Second}
	if tlsConf != nil {
		srv.TLSConfig = tlsConf.Clone()
		go srv.ServeTLS(ln, "", "")
	} else {
		go srv.Serve(ln)
	}
	context.AfterFunc(ctx, func() { srv.Close() })
	var addr netip.AddrPort
	if ap, err := netip.ParseAddrPort(ln.Addr().String()); err == nil {
		addr = ap
	}
	if !addr.Addr().IsValid() || addr.Addr().IsUnspecified() {
		if a, ok := h.(interface{ Addrs() []netip.Addr }); ok && len(a.Addrs()) > 0 {
			addr = netip.AddrPortFrom(a.Addrs()[0], port)
		}
	}
	return addr, nil
}

// ControlHandler is the test helper's HTTP handler, measuring with p. It
// answers as oohelperd's does: a GET is a health check ({"message": "Hello
// OONItarian!"}); any other method but POST, a body that is not a
// ControlRequest or a URL that does not parse get an empty 400; a
// measurement gets a 200 and its ControlResponse. Unlike oohelperd it
// never refuses a client with 503 for load: splinter's campaigns ask it
// hundreds of times at once.
func ControlHandler(p *Prober) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Add("Server", helperServer)
		switch r.Method {
		case http.MethodGet:
			w.Header().Add("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"message":"Hello OONItarian!"}`))
			return
		case http.MethodPost:
		default:
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		data, err := io.ReadAll(io.LimitReader(r.Body, maxControlBody))
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		var req ControlRequest
		if err := json.Unmarshal(data, &req); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		resp, err := p.Measure(r.Context(), req)
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		out, err := json.Marshal(resp)
		if err != nil {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		w.Header().Add("Content-Type", "application/json")
		_, _ = w.Write(out)
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

// URL is the helper's address as a test-helpers entry would give it.
func (c *ControlClient) URL() string { return "http://" + c.addr.String() }

// Control implements Controller. A failed request is not cached, nor is an
// answer with a step that timed out (controlTimeout: its lookup failed for
// no reason the name explains, the helper's unknown_error, or its fetch, or
// a connect or handshake with an address it resolved, timed out): a
// transient on the helper's side that would otherwise leave every vantage
// measuring the URL without a reference; the callers waiting on it get it,
// the next asks again.
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
	if e.err != nil || controlTimeout(e.resp) != "" {
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
