package website

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"
	"github.com/splinter-lab/splinter/pki"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var testSites = []Site{
	{Domain: "www.news.test", Title: "Daily <News>", Body: "<h1>Daily &lt;News&gt;</h1>\n<p>First paragraph.</p>\n<p>Second &amp; last.</p>", Category: "NEWS", HTTP3: true},
	{Domain: "blog.test", Body: "<p>A blog.</p>", Category: "POLR"},
}

// plainPacketConn hides *net.UDPConn, as the world's userspace UDP conns do.
type plainPacketConn struct{ net.PacketConn }

type running struct {
	ca                  *pki.CA
	httpAddr, httpsAddr string
	h3Addr              *net.UDPAddr
	stop                func()
	srv                 *Server
}

func start(t *testing.T) *running {
	t.Helper()
	ca, err := pki.NewCA("Splinter Test Root", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := New(testSites, ca.GetCertificate)
	if err != nil {
		t.Fatal(err)
	}
	httpLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	httpsLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, httpLn, httpsLn, plainPacketConn{pc}) }()
	r := &running{
		ca: ca, srv: srv,
		httpAddr: httpLn.Addr().String(), httpsAddr: httpsLn.Addr().String(),
		h3Addr: pc.LocalAddr().(*net.UDPAddr),
	}
	var once sync.Once
	r.stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Serve: %v", err)
			}
			pc.Close()
		})
	}
	t.Cleanup(r.stop)
	return r
}

// client makes an HTTP client that reaches addr whatever the URL's host,
// speaking only the given protocols over TCP.
func (r *running) client(t *testing.T, addr string, protos ...string) *http.Client {
	var p http.Protocols
	for _, proto := range protos {
		switch proto {
		case "h1":
			p.SetHTTP1(true)
		case "h2":
			p.SetHTTP2(true)
		}
	}
	tr := &http.Transport{
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		},
		TLSClientConfig: r.ca.ClientTLSConfig(),
		Protocols:       &p,
	}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

// h3client makes an HTTP/3 client whose QUIC connections go to the server's
// UDP address whatever the URL's host.
func (r *running) h3client(t *testing.T) *http.Client {
	var (
		mu  sync.Mutex
		trs []*quic.Transport
	)
	tr := &http3.Transport{
		TLSClientConfig: r.ca.ClientTLSConfig(),
		Dial: func(ctx context.Context, _ string, tlsCfg *tls.Config, cfg *quic.Config) (*quic.Conn, error) {
			udp, err := net.ListenPacket("udp", "127.0.0.1:0")
			if err != nil {
				return nil, err
			}
			qt := &quic.Transport{Conn: udp}
			mu.Lock()
			trs = append(trs, qt)
			mu.Unlock()
			return qt.DialEarly(ctx, r.h3Addr, tlsCfg, cfg)
		},
	}
	t.Cleanup(func() {
		tr.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, qt := range trs {
			qt.Close()
			qt.Conn.Close()
		}
	})
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

func get(t *testing.T, c *http.Client, url string) (*http.Response, []byte) {
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
	return resp, b
}

func TestProtocols(t *testing.T) {
	r := start(t)
	tests := []struct {
		name   string
		client *http.Client
		scheme string
		proto  string
	}{
		{name: "HTTP/1.1", client: r.client(t, r.httpAddr, "h1"), scheme: "http", proto: "HTTP/1.1"},
		{name: "HTTPS h1", client: r.client(t, r.httpsAddr, "h1"), scheme: "https", proto: "HTTP/1.1"},
		{name: "HTTPS h2", client: r.client(t, r.httpsAddr, "h2"), scheme: "https", proto: "HTTP/2.0"},
		{name: "HTTP/3", client: r.h3client(t), scheme: "https", proto: "HTTP/3.0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := get(t, tt.client, tt.scheme+"://www.news.test/")
			if resp.StatusCode != http.StatusOK || resp.Proto != tt.proto {
				t.Fatalf("status %d proto %s, want 200 %s", resp.StatusCode, resp.Proto, tt.proto)
			}
			for _, want := range []string{
				"<title>Daily &lt;News&gt;</title>", "<h1>Daily &lt;News&gt;</h1>",
				"<p>First paragraph.</p>", "<p>Second &amp; last.</p>", `<a href="/robots.txt">`,
			} {
				if !bytes.Contains(body, []byte(want)) {
					t.Errorf("page lacks %q:\n%s", want, body)
				}
			}
			if !bytes.Equal(body, r.srv.sites["www.news.test"].page) {
				t.Error("page differs from the rendered one")
			}
			alt := resp.Header.Get("Alt-Svc")
			wantAlt := tt.scheme == "https" && tt.proto != "HTTP/3.0"
			if (alt != "") != wantAlt || (wantAlt && !strings.Contains(alt, `h3=":`)) {
				t.Errorf("Alt-Svc = %q", alt)
			}
			if tt.scheme == "https" {
				chain := resp.TLS.VerifiedChains[0]
				if !chain[len(chain)-1].Equal(r.ca.Certificate()) {
					t.Error("certificate does not chain to the scenario CA")
				}
			}
			// The same bytes /download serves on every protocol.
			resp, body = get(t, tt.client, tt.scheme+"://www.news.test/download?bytes=100000")
			want, _ := io.ReadAll(Download("www.news.test", 100000))
			if resp.StatusCode != http.StatusOK || !bytes.Equal(body, want) {
				t.Errorf("download: status %d, %d bytes, content match %v", resp.StatusCode, len(body), bytes.Equal(body, want))
			}
		})
	}
}

func TestRouting(t *testing.T) {
	r := start(t)
	c := r.client(t, r.httpAddr, "h1")
	tests := []struct {
		url    string
		status int
		want   string
	}{
		{url: "http://www.news.test/robots.txt", status: 200, want: "User-agent: *"},
		{url: "http://blog.test/", status: 200, want: "<title>blog.test</title>"},
		{url: "http://BLOG.test./", status: 200, want: "<title>blog.test</title>"},
		{url: "http://blog.test/nope", status: 404, want: "Not found: /nope"},
		{url: "http://blog.test" + CopyPath("/", 2), status: 200, want: "<title>blog.test</title>"},
		{url: "http://blog.test/r/41/robots.txt", status: 200, want: "User-agent: *"},
		{url: "http://blog.test/r/3/download?bytes=0", status: 200},
		{url: "http://blog.test/r/1/", status: 404, want: "Not found: /r/1/"},
		{url: "http://blog.test/r/02/", status: 404, want: "Not found: /r/02/"},
		{url: "http://blog.test/r/x/", status: 404, want: "Not found: /r/x/"},
		{url: "http://blog.test/r/2", status: 404, want: "Not found: /r/2"},
		{url: "http://blog.test/r/2/nope", status: 404, want: "Not found: /r/2/nope"},
		{url: "http://unknown.test/", status: 404, want: "No such site"},
		{url: "http://blog.test/download?bytes=-1", status: 400},
		{url: "http://blog.test/download?bytes=2000000000", status: 400},
		{url: "http://blog.test/download?bytes=0", status: 200},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			resp, body := get(t, c, tt.url)
			if resp.StatusCode != tt.status || !strings.Contains(string(body), tt.want) {
				t.Errorf("status %d body %q, want %d containing %q", resp.StatusCode, body, tt.status, tt.want)
			}
		})
	}
	// No Alt-Svc for a site without HTTP/3.
	resp, _ := get(t, r.client(t, r.httpsAddr, "h2"), "https://blog.test/")
	if alt := resp.Header.Get("Alt-Svc"); alt != "" {
		t.Errorf("blog.test Alt-Svc = %q", alt)
	}
}

func TestMisdirected(t *testing.T) {
	r := start(t)
	cfg := r.ca.ClientTLSConfig()
	cfg.ServerName = "blog.test"
	conn, err := tls.Dial("tcp", r.httpsAddr, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	io.WriteString(conn, "GET / HTTP/1.1\r\nHost: www.news.test\r\nConnection: close\r\n\r\n")
	b, _ := io.ReadAll(conn)
	if !bytes.HasPrefix(b, []byte("HTTP/1.1 421 ")) {
		t.Errorf("got %q, want a 421", b)
	}
}

func TestDeterministic(t *testing.T) {
	a, _ := New(testSites, nil)
	b, _ := New(testSites, nil)
	if !bytes.Equal(a.sites["blog.test"].page, b.sites["blog.test"].page) {
		t.Error("same site, different pages")
	}
	x, _ := io.ReadAll(Download("blog.test", 1000))
	y, _ := io.ReadAll(Download("www.news.test", 1000))
	if bytes.Equal(x, y) {
		t.Error("two sites serve the same download")
	}
	if _, err := New([]Site{{Domain: "a.test"}, {Domain: "A.test"}}, nil); err == nil {
		t.Error("duplicate site accepted")
	}
	if _, err := New([]Site{{}}, nil); err == nil {
		t.Error("site without a domain accepted")
	}
}

func TestLargeDownload(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	r := start(t)
	resp, err := r.client(t, r.httpsAddr, "h2").Get("https://www.news.test/download?bytes=67108864")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	h := sha256.New()
	n, err := io.Copy(h, resp.Body)
	if err != nil || n != 64<<20 {
		t.Fatalf("read %d bytes: %v", n, err)
	}
	w := sha256.New()
	io.Copy(w, Download("www.news.test", 64<<20))
	if !bytes.Equal(h.Sum(nil), w.Sum(nil)) {
		t.Error("download content differs")
	}
}

func BenchmarkDownload(b *testing.B) {
	s, _ := New(testSites, nil)
	h := s.Handler()
	req, _ := http.NewRequest("GET", "http://blog.test/download?bytes=1048576", nil)
	b.ReportAllocs()
	b.SetBytes(1 << 20)
	for b.Loop() {
		h.ServeHTTP(discard{h: http.Header{}}, req)
	}
}

type discard struct{ h http.Header }

func (d discard) Header() http.Header       { return d.h }
func (discard) Write(b []byte) (int, error) { return len(b), nil }
func (discard) WriteHeader(int)             {}

// TestPageHTML: a site's Body is its page's HTML: a whole document as is,
// a fragment inside a page with the site's title, nothing escaped (the
// world once had its generated documents escaped into a paragraph of
// another page, when Body was text).
func TestPageHTML(t *testing.T) {
	const doc = "<!DOCTYPE html>\n<html><head><title>Own</title></head><body><p>x &amp; y</p></body></html>\n"
	for _, tc := range []struct {
		name      string
		site      Site
		want      []string
		notWanted []string
	}{
		{"document", Site{Domain: "a.test", Title: "Ignored", Body: doc}, []string{doc}, []string{"Ignored", "&lt;"}},
		{"document-after-comment", Site{Domain: "a.test", Body: "<!-- made by hand -->\n<HTML lang=en><title>T</title></HTML>"}, []string{"<!-- made by hand -->\n<HTML lang=en><title>T</title></HTML>"}, []string{"<!DOCTYPE"}},
		{"fragment", Site{Domain: "b.test", Title: "VPN Bastion", Body: "<h1>VPN Bastion</h1><p>Get around the wall.</p>"},
			[]string{"<title>VPN Bastion</title>", "<body>\n<h1>VPN Bastion</h1><p>Get around the wall.</p>\n"}, []string{"&lt;"}},
		{"empty", Site{Domain: "c.test", Title: "A <T>"}, []string{"<title>A &lt;T&gt;</title>", "<h1>A &lt;T&gt;</h1>"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, err := New([]Site{tc.site}, nil)
			if err != nil {
				t.Fatal(err)
			}
			rec := httptest.NewRecorder()
			srv.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "http://"+tc.site.Domain+"/", nil))
			body := rec.Body.String()
			if tc.name == "document" && body != doc {
				t.Errorf("page %q, want the document as is", body)
			}
			for _, w := range tc.want {
				if !strings.Contains(body, w) {
					t.Errorf("page lacks %q:\n%s", w, body)
				}
			}
			for _, w := range tc.notWanted {
				if strings.Contains(body, w) {
					t.Errorf("page has %q:\n%s", w, body)
				}
			}
			if n := strings.Count(strings.ToLower(body), "<html"); n != 1 {
				t.Errorf("page has %d <html> elements:\n%s", n, body)
			}
		})
	}
}
