package world_test

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"

	"github.com/splinter-lab/splinter/nameserver"
	"github.com/splinter-lab/splinter/scenario"
	"github.com/splinter-lab/splinter/world"
)

// startEmbedded starts an embedded scenario with its borders open: these
// tests are about the fabric and its services, not the censors.
func startEmbedded(t testing.TB, name string) *world.World {
	t.Helper()
	sc, err := scenario.Embedded(name)
	if err != nil {
		t.Fatal(err)
	}
	open := func(world.BorderSpec) (world.Gateway, error) { return nil, nil }
	w, err := world.Start(sc, world.Options{Gateway: open})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	return w
}

func get(t *testing.T, c *http.Client, url string) (*http.Response, string) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: reading body: %v", url, err)
	}
	return resp, string(b)
}

func TestServicesAcrossBorders(t *testing.T) {
	w := startEmbedded(t, "two-lands")
	client := w.Host("cn-client-1")
	const site = "www.freepress-herald.com"
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	addrs, err := client.Resolve(ctx, site)
	if err != nil {
		t.Fatalf("resolve: %v", err)
	}
	web := w.Host("web-www-freepress-herald-com")
	if len(addrs) != 2 || addrs[0] != web.Addr(4) || addrs[1] != web.Addr(6) {
		t.Fatalf("resolved %v, want %v", addrs, web.Addrs())
	}
	// DNS over IPv6, to the resolver's IPv6 address.
	if rs := client.Resolvers(); len(rs) != 2 || !rs[1].Is6() {
		t.Fatalf("resolvers %v, want an IPv4 and an IPv6 one", rs)
	}
	for _, r := range client.Resolvers() {
		if r.Is6() {
			got, _, err := nameserver.Lookup(ctx, client, netip.AddrPortFrom(r, 53), site, dns.TypeAAAA)
			if err != nil || len(got) != 1 || got[0] != web.Addr(6) {
				t.Fatalf("AAAA over IPv6: %v %v", got, err)
			}
		}
	}
	if got, err := client.Resolve(ctx, "us-control."+world.HostsZone); err != nil || got[0] != w.Host("us-control").Addr(4) {
		t.Fatalf("host name: %v %v", got, err)
	}
	if _, err := client.Resolve(ctx, "nonexistent.freepress-herald.com"); err == nil || !isNotFound(err) {
		t.Fatalf("resolving a missing name: %v, want not found", err)
	}

	hc := client.HTTPClient()
	for _, tc := range []struct {
		name, url, proto string
	}{
		{"http", "http://" + site + "/", "HTTP/1.1"},
		{"https-h2", "https://" + site + "/", "HTTP/2.0"},
		{"http-ipv4", "http://" + web.Addr(4).String() + "/", "HTTP/1.1"},
		{"http-ipv6", "http://[" + web.Addr(6).String() + "]/", "HTTP/1.1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", tc.url, nil)
			req.Host = site
			resp, err := hc.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || resp.Proto != tc.proto {
				t.Fatalf("status %d proto %s, want 200 %s", resp.StatusCode, resp.Proto, tc.proto)
			}
			title := w.Plan().Sites[0].Title
			for _, s := range w.Plan().Sites {
				if s.Domain == site {
					title = s.Title
				}
			}
			if !strings.Contains(string(body), "<title>"+title+"</title>") {
				t.Fatalf("page lacks its title %q", title)
			}
		})
	}
	t.Run("https-h1-v6", func(t *testing.T) {
		tr := &http.Transport{TLSClientConfig: client.TLSConfig(""), DialContext: func(ctx context.Context, _, addr string) (net.Conn, error) {
			_, port, _ := net.SplitHostPort(addr)
			return client.DialContext(ctx, "tcp6", net.JoinHostPort(site, port))
		}}
		defer tr.CloseIdleConnections()
		resp, _ := get(t, &http.Client{Transport: tr}, "https://"+site+"/")
		if resp.Proto != "HTTP/1.1" || resp.TLS == nil || resp.TLS.Version != tls.VersionTLS13 {
			t.Fatalf("proto %s", resp.Proto)
		}
		if ra := resp.TLS.PeerCertificates[0].DNSNames; len(ra) == 0 || ra[0] != site {
			t.Fatalf("certificate names %v", ra)
		}
	})
	t.Run("http3", func(t *testing.T) {
		var h3site string
		for _, s := range w.Plan().Sites {
			if s.HTTP3 && w.Host(s.Host).Jurisdiction() != "CN" {
				h3site = s.Domain
			}
		}
		if h3site == "" {
			t.Skip("no HTTP/3 site abroad in two-lands")
		}
		c := client.HTTP3Client()
		defer c.Transport.(*http3.Transport).Close()
		resp, _ := get(t, c, "https://"+h3site+"/")
		if resp.Proto != "HTTP/3.0" || resp.StatusCode != 200 {
			t.Fatalf("proto %s status %d", resp.Proto, resp.StatusCode)
		}
		// The same over IPv6: dial the site's IPv6 address, SNI and Host
		// from the URL.
		var v6 netip.Addr
		for _, s := range w.Plan().Sites {
			if s.Domain == h3site {
				v6 = w.Host(s.Host).Addr(6)
			}
		}
		tr6 := &http3.Transport{TLSClientConfig: client.TLSConfig(""), Dial: func(ctx context.Context, _ string, tlsCfg *tls.Config, cfg *quic.Config) (*quic.Conn, error) {
			return client.DialQUIC(ctx, net.JoinHostPort(v6.String(), "443"), tlsCfg, cfg)
		}}
		defer tr6.Close()
		resp, _ = get(t, &http.Client{Transport: tr6, Timeout: 10 * time.Second}, "https://"+h3site+"/")
		if resp.Proto != "HTTP/3.0" || resp.StatusCode != 200 {
			t.Fatalf("IPv6: proto %s status %d", resp.Proto, resp.StatusCode)
		}
	})
}

func isNotFound(err error) bool {
	var de *net.DNSError
	return errorsAs(err, &de) && de.IsNotFound
}

// TestWhoamiAnswersTheResolver: whoami.v4.powerdns.org, which OONI Probe
// asks through the system resolver to learn that resolver's address, is
// answered with the address of the resolver that asked the authoritative
// server: each client's own ISP resolver.
func TestWhoamiAnswersTheResolver(t *testing.T) {
	w := startEmbedded(t, "splinternet")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, host := range []string{"cn-client-1", "us-client-1"} {
		c := w.Host(host)
		var want []netip.Addr
		for _, r := range c.Resolvers() {
			if r.Is4() {
				want = append(want, r)
			}
		}
		got, err := c.Resolve(ctx, "whoami.v4.powerdns.org")
		if err != nil || len(got) != 1 || len(want) != 1 || got[0] != want[0] {
			t.Errorf("%s: whoami.v4.powerdns.org = %v, %v; want its resolver %v", host, got, err, want)
		}
	}
}

func TestIsolatedJurisdictionKeepsDomesticService(t *testing.T) {
	w := startEmbedded(t, "two-lands")
	client := w.Host("cn-client-1")
	if err := w.Isolate("CN", true); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	hc := client.HTTPClient()
	hc.Timeout = 5 * time.Second
	resp, body := get(t, hc, "http://www.people-daily.cn/")
	if resp.StatusCode != 200 || !strings.Contains(body, "<title>") {
		t.Fatalf("domestic site: %d", resp.StatusCode)
	}
	if _, err := hc.Get("http://www.freepress-herald.com/"); err == nil {
		t.Fatal("a foreign site was reachable from an isolated jurisdiction")
	}
	dctx, dcancel := context.WithTimeout(ctx, time.Second)
	defer dcancel()
	if _, err := client.DialAddr(dctx, "tcp", netip.AddrPortFrom(w.Host("web-www-freepress-herald-com").Addr(4), 80)); err == nil {
		t.Fatal("dialled a foreign address from an isolated jurisdiction")
	}
}

// Example shows the Go API: start an embedded scenario, pick a host by name
// and fetch a site over HTTPS.
func Example() {
	sc, err := scenario.Embedded("two-lands")
	if err != nil {
		panic(err)
	}
	w, err := world.Start(sc, world.Options{})
	if err != nil {
		panic(err)
	}
	defer w.Close()

	client := w.Host("cn-client-1")
	resp, err := client.HTTPClient().Get("https://www.people-daily.cn/")
	if err != nil {
		panic(err)
	}
	resp.Body.Close()
	fmt.Println(client.Jurisdiction(), resp.Status, resp.Proto)
	// Output: CN 200 OK HTTP/2.0
}

// TestSitePagesAreHTML: every site's home page is its plan's page, served
// as HTML: one document, its title in <title>, none of it escaped into a
// paragraph of another page (as every generated page once was).
func TestSitePagesAreHTML(t *testing.T) {
	w := startEmbedded(t, "two-lands")
	c := w.Host("cn-client-1").HTTPClient()
	for _, s := range w.Plan().Sites {
		_, body := get(t, c, "http://"+s.Domain+"/")
		if body != s.Page() {
			t.Errorf("%s serves a page other than its plan's:\n%s", s.Domain, body)
		}
		if strings.Contains(body, "&lt;") || strings.Count(strings.ToLower(body), "<html") != 1 || !strings.Contains(body, "<title>"+html.EscapeString(s.Title)+"</title>") {
			t.Errorf("%s: the page is not one HTML document titled %q:\n%s", s.Domain, s.Title, body)
		}
	}
}

// TestNoHost: a name the world does not have is an error from LookupHost,
// and the nil *Host that Host returns for it fails its network calls with
// ErrNoHost instead of panicking.
func TestNoHost(t *testing.T) {
	w := startEmbedded(t, "two-lands")
	if _, err := w.LookupHost("cn-clinet-1"); !errors.Is(err, world.ErrNoHost) || !strings.Contains(err.Error(), `"cn-clinet-1"`) {
		t.Fatalf("LookupHost of a typo: %v", err)
	}
	h := w.Host("cn-clinet-1")
	if h != nil {
		t.Fatalf("Host of a typo: %v", h)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", "https://www.people-daily.cn/", nil)
	if _, err := h.HTTPClient().Do(req); !errors.Is(err, world.ErrNoHost) {
		t.Errorf("HTTPClient of a nil host: %v", err)
	}
	if _, err := h.Dial(ctx, "tcp", "www.people-daily.cn:80"); !errors.Is(err, world.ErrNoHost) {
		t.Errorf("Dial: %v", err)
	}
	if _, err := h.DialAddr(ctx, "udp", netip.MustParseAddrPort("198.18.0.1:53")); !errors.Is(err, world.ErrNoHost) {
		t.Errorf("DialAddr: %v", err)
	}
	if _, err := h.Listen("tcp", ":80"); !errors.Is(err, world.ErrNoHost) {
		t.Errorf("Listen: %v", err)
	}
	if _, err := h.ListenPacket("udp", ":53"); !errors.Is(err, world.ErrNoHost) {
		t.Errorf("ListenPacket: %v", err)
	}
	if _, err := h.Resolve(ctx, "www.people-daily.cn"); !errors.Is(err, world.ErrNoHost) {
		t.Errorf("Resolve: %v", err)
	}
}
