// Package backend is the OONI backend a probe inside the world talks to,
// and the third-party services OONI's probes use to learn where they stand:
// the probe services API (the test helpers list, check-in, registration
// and login), a collector that keeps every submitted measurement as a line
// of JSON, a STUN server (RFC 5389 binding responses) and IP-lookup
// endpoints in the formats probe-cli's geolocation reads. With a test
// helper handler (probe.ControlHandler) it serves the helper beside them,
// so one host is all an unmodified OONI Probe (miniooni) needs.
//
// The endpoints, as probe-cli (7cb22410c) calls them:
//
//	GET  /api/v1/test-helpers       {"web-connectivity": [{"address", "type"}...]}
//	POST /api/v1/check-in           test list, test helpers, feature flags, a report ID
//	POST /api/v1/register           {"client_id"}
//	POST /api/v1/login              {"expire", "token"}
//	GET  /api/v1/test-list/urls     {"metadata": {"count"}, "results": [...]}
//	POST /report                    open a report: {"report_id", "supported_formats"}
//	POST /report/{id}               submit {"format": "json", "content": {...}}
//	POST /report/{id}/close         close it
//	POST /api/v1/submit_measurement submit {"format": "json", "content": "..."}: to the
//	                                report its report_id names, or, without one (probe-cli
//	                                since July 2026), to one the collector opens for the run
//	GET  /cdn-cgi/trace             Cloudflare's trace: "ip=ADDR" among other lines
//	GET  /lookup                    Ubuntu's GeoIP: <Response><Ip>ADDR</Ip>...</Response>
//	GET  /ip                        the client's address, as plain text
//	POST /, GET /                   the test helper, when Config.Helper is set
//	UDP  STUN                       binding requests answered with XOR-MAPPED-ADDRESS
//
// Everything else is 404, as a manifest request is: a probe then submits
// without anonymous credentials. Nothing is authenticated: the lab trusts
// its probes.
//
// The package runs on any Host that can listen (the world's hosts, or the
// machine's own network); it opens no socket of its own accord, issues no
// certificate (Config.TLS comes from the scenario CA), and measures
// nothing. STUN messages are parsed and built with pion/stun, the library
// OONI's probe uses too.
package backend

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"time"
)

// Host is what the services run on: a machine that can accept TCP
// connections and open UDP sockets. The world's hosts implement it.
type Host interface {
	Listen(network, address string) (net.Listener, error)
	ListenPacket(network, address string) (net.PacketConn, error)
}

// Clock tells the time (report IDs, check-in's utc_time, login expiry).
type Clock interface{ Now() time.Time }

// Service is an entry of the test helpers list: OONI's OOAPIService.
// Type is OONI's access method ("https": reach Address directly), which
// probe-cli requires of every entry it uses.
type Service struct {
	Address string `json:"address"`
	Type    string `json:"type"`
	Front   string `json:"front,omitempty"`
}

// URL is an entry of the test list check-in hands out: OONI's
// OOAPIURLInfo.
type URL struct {
	CategoryCode string `json:"category_code"`
	CountryCode  string `json:"country_code"`
	URL          string `json:"url"`
}

// Config tunes the services. The zero value serves the API over plain
// HTTP on port 80 and STUN on 3478 and 19302, keeps no reports and lists
// no test helper.
type Config struct {
	// TLS is the HTTPS endpoint's server configuration (the scenario CA's
	// ServerTLSConfig()); nil serves no HTTPS.
	TLS *tls.Config
	// HTTP and HTTPS are the addresses the API listens on; "" means ":80"
	// and ":443", "-" not at all.
	HTTP, HTTPS string
	// STUN are the UDP addresses the STUN server answers on; nil means
	// ":3478" and ":19302" (the ports of stun.ekiga.net and
	// stun.l.google.com, which probe-cli asks).
	STUN []string
	// Advertise is the host name or address the services' URLs carry (the
	// test helpers list, URLs()); "" means the listener's address, or the
	// host's first address (Addrs() []netip.Addr) when it listens on all.
	Advertise string
	// Helper, if not nil, answers the web connectivity test helper's
	// requests (POST /, and its GET / health check).
	Helper http.Handler
	// TestHelpers is what /api/v1/test-helpers and check-in list; nil
	// means Helper on this host, over HTTPS then HTTP (both typed "https",
	// probe-cli's direct access), when Helper is set.
	TestHelpers map[string][]Service
	// URLs is the test list check-in and /api/v1/test-list/urls hand out.
	URLs []URL
	// Features are check-in's feature flags ("webconnectivity_0.5": true
	// makes probe-cli run web_connectivity 0.5); nil is none.
	Features map[string]bool
	// Reports is the directory the collector writes a REPORT_ID.jsonl file
	// to for every report; "" accepts measurements and keeps none.
	Reports string
	// Country names the jurisdiction of an address for the IP lookups
	// ("" for unknown); nil knows none.
	Country func(netip.Addr) string
	// Clock is the time; nil is the real clock.
	Clock Clock
	// Rand draws report IDs, client IDs and tokens; nil is crypto/rand.
	Rand io.Reader
}

// Backend is the running services. Its methods are safe for concurrent
// use.
type Backend struct {
	cfg       Config
	mux       *http.ServeMux
	col       *collector
	http      net.Addr
	https     net.Addr
	stun      []net.Addr
	advertise string

	cancel context.CancelFunc
	wg     sync.WaitGroup
	closes []func()
	once   sync.Once
}

// realClock is the machine's clock.
type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

// Start serves the services on h until ctx ends or Close is called.
func Start(ctx context.Context, h Host, cfg Config) (*Backend, error) {
	if cfg.Clock == nil {
		cfg.Clock = realClock{}
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Reader
	}
	if cfg.HTTP == "" {
		cfg.HTTP = ":80"
	}
	if cfg.HTTPS == "" {
		cfg.HTTPS = ":443"
	}
	if cfg.TLS == nil {
		cfg.HTTPS = "-"
	}
	if cfg.STUN == nil {
		cfg.STUN = []string{":3478", ":19302"}
	}
	col, err := newCollector(cfg.Reports, cfg.Clock, cfg.Rand)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	b := &Backend{cfg: cfg, col: col, cancel: cancel}
	fail := func(err error) (*Backend, error) {
		b.Close()
		return nil, err
	}
	type listener struct {
		ln  net.Listener
		tls bool
	}
	var lns []listener
	closeAll := func() {
		for _, l := range lns {
			l.ln.Close()
		}
	}
	for _, l := range []struct {
		addr string
		tls  bool
	}{{cfg.HTTP, false}, {cfg.HTTPS, true}} {
		if l.addr == "-" {
			continue
		}
		ln, err := h.Listen("tcp", l.addr)
		if err != nil {
			closeAll()
			return fail(fmt.Errorf("backend: listen on %s: %w", l.addr, err))
		}
		lns = append(lns, listener{ln, l.tls})
		if l.tls {
			b.https = ln.Addr()
		} else {
			b.http = ln.Addr()
		}
	}
	for _, a := range cfg.STUN {
		pc, err := h.ListenPacket("udp", a)
		if err != nil {
			closeAll()
			return fail(fmt.Errorf("backend: STUN on %s: %w", a, err))
		}
		b.stun = append(b.stun, pc.LocalAddr())
		b.closes = append(b.closes, func() { pc.Close() })
		b.wg.Go(func() { serveSTUN(pc) })
	}
	b.advertise = cfg.Advertise
	if b.advertise == "" {
		for _, a := range []net.Addr{b.http, b.https} {
			if ap, err := netip.ParseAddrPort(addrString(a)); err == nil && !ap.Addr().IsUnspecified() {
				b.advertise = ap.Addr().String()
				break
			}
		}
	}
	if a, ok := h.(interface{ Addrs() []netip.Addr }); ok && b.advertise == "" && len(a.Addrs()) > 0 {
		b.advertise = a.Addrs()[0].String() // a world host listens on ":80"
	}
	b.mux = b.routes()
	for _, l := range lns {
		srv := &http.Server{Handler: b.mux, ReadHeaderTimeout: 10 * time.Second, ErrorLog: log.New(io.Discard, "", 0)}
		if l.tls {
			srv.TLSConfig = cfg.TLS.Clone()
			srv.TLSConfig.NextProtos = []string{"h2", "http/1.1"}
		}
		b.wg.Go(func() {
			// Serve returns http.ErrServerClosed, or the error of a
			// listener closed under it: the end either way.
			if l.tls {
				_ = srv.ServeTLS(l.ln, "", "")
			} else {
				_ = srv.Serve(l.ln)
			}
		})
		b.closes = append(b.closes, func() { srv.Close() })
	}
	context.AfterFunc(ctx, func() { b.stop() })
	return b, nil
}

func addrString(a net.Addr) string {
	if a == nil {
		return ""
	}
	return a.String()
}

// stop closes every listener and socket.
func (b *Backend) stop() {
	b.once.Do(func() {
		for _, c := range b.closes {
			c()
		}
	})
}

// Close stops the services and waits for them.
func (b *Backend) Close() error {
	b.cancel()
	b.stop()
	b.wg.Wait()
	return nil
}

// Handler is the services' HTTP handler (API, collector, IP lookups and
// the helper), for serving elsewhere too.
func (b *Backend) Handler() http.Handler { return b.mux }

// HTTPAddr and HTTPSAddr are the API's listening addresses (nil when not
// served); STUNAddrs the STUN server's.
func (b *Backend) HTTPAddr() net.Addr    { return b.http }
func (b *Backend) HTTPSAddr() net.Addr   { return b.https }
func (b *Backend) STUNAddrs() []net.Addr { return append([]net.Addr(nil), b.stun...) }

// URLs are where a probe finds the services.
type URLs struct {
	// ProbeServices is the base URL for probe-cli's --probe-services:
	// HTTPS when served, else HTTP.
	ProbeServices string `json:"probe_services"`
	// HTTP and HTTPS are the API's base URLs ("" when not served).
	HTTP  string `json:"http,omitempty"`
	HTTPS string `json:"https,omitempty"`
	// TestHelpers is the test helpers list.
	TestHelpers map[string][]Service `json:"test_helpers"`
	// STUN are "host:port" STUN endpoints.
	STUN []string `json:"stun"`
}

// URLs returns the services' URLs, with Config.Advertise as their host.
func (b *Backend) URLs() URLs {
	u := URLs{HTTP: b.baseURL("http", b.http, 80), HTTPS: b.baseURL("https", b.https, 443), TestHelpers: b.testHelpers()}
	u.ProbeServices = u.HTTPS
	if u.ProbeServices == "" {
		u.ProbeServices = u.HTTP
	}
	for _, a := range b.stun {
		u.STUN = append(u.STUN, net.JoinHostPort(b.advertise, strconv.Itoa(port(a))))
	}
	return u
}

func (b *Backend) baseURL(scheme string, a net.Addr, dflt int) string {
	if a == nil || b.advertise == "" {
		return ""
	}
	host := b.advertise
	if ip, err := netip.ParseAddr(host); err == nil && ip.Is6() {
		host = "[" + host + "]"
	}
	if p := port(a); p != dflt {
		host = net.JoinHostPort(b.advertise, strconv.Itoa(p))
	}
	return scheme + "://" + host
}

// port is the port of a listening address ("198.18.96.67:80", ":80").
func port(a net.Addr) int {
	_, p, err := net.SplitHostPort(addrString(a))
	if err != nil {
		return 0
	}
	n, err := strconv.Atoi(p)
	if err != nil {
		return 0
	}
	return n
}

// testHelpers is Config.TestHelpers, or the helper on this host.
func (b *Backend) testHelpers() map[string][]Service {
	if b.cfg.TestHelpers != nil {
		return b.cfg.TestHelpers
	}
	out := map[string][]Service{}
	if b.cfg.Helper == nil {
		return out
	}
	for _, u := range []string{b.baseURL("https", b.https, 443), b.baseURL("http", b.http, 80)} {
		if u != "" {
			out["web-connectivity"] = append(out["web-connectivity"], Service{Address: u, Type: "https"})
		}
	}
	return out
}

// errBadRequest is a request the services refuse.
var errBadRequest = errors.New("backend: bad request")
