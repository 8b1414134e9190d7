// Package website owns the content of the emulated world's web sites and
// serves it: plain HTTP/1.1, HTTPS with HTTP/1.1 and HTTP/2, and HTTP/3 over
// QUIC, each on a listener or packet connection the caller hands over (the
// world's userspace network stacks provide them; the package opens no socket).
// One [Server] serves many sites, chosen by the Host header (and SNI, through
// the certificates the caller's GetCertificate returns, normally the
// scenario CA's from package pki).
//
// Every site has a home page (a real HTML document), /robots.txt, and
// /download?bytes=N streaming N pseudo-random bytes for throughput and
// throttling measurements. Content is deterministic: the same site always
// gives the same bytes. Every path is served again under /r/N/ for N from
// 2 up (CopyPath): /r/2/ is the home page at a URL of its own, so that a
// campaign can measure a site many times as distinct inputs.
//
// Package website does not build clients, resolve names, or issue
// certificates, and it knows nothing of censorship.
package website

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"errors"
	"fmt"
	"html"
	"io"
	"log"
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"
)

// MaxDownload is the largest /download the server streams (1 GiB).
const MaxDownload = 1 << 30

// shutdownGrace is how long Serve lets requests in progress finish.
const shutdownGrace = 2 * time.Second

// Site is a web site: a domain with content. Its zero value is not usable: a
// site needs a Domain.
type Site struct {
	// Domain is the host name the site answers to ("www.example-news.com").
	Domain string
	// Title is the page title; empty means one made from the domain.
	Title string
	// Body is the home page's HTML, as a scenario writes or generates it:
	// a whole document (starting with <!DOCTYPE or <html) is served as
	// is; a fragment becomes the body of a page titled Title; empty, the
	// page has the title for its heading.
	Body string
	// Category is a Citizen Lab category code ("NEWS"), shown in a meta tag.
	Category string
	// HTTP3 serves the site over QUIC too, advertised with Alt-Svc on HTTPS.
	HTTP3 bool
}

// Server serves a set of sites. Make one with [New]; a Server is safe for
// concurrent use and may Serve more than once (one call at a time).
type Server struct {
	sites          map[string]*site
	getCertificate func(*tls.ClientHelloInfo) (*tls.Certificate, error)
	// altSvcPort is the UDP port Alt-Svc advertises while HTTP/3 runs; 0
	// while it does not.
	mu         sync.Mutex
	altSvcPort uint16
}

type site struct {
	Site
	page   []byte
	robots []byte
	seed   [32]byte
}

// New makes a server for sites. getCertificate provides the certificates of
// HTTPS and HTTP/3 (pki's (*CA).GetCertificate); it may be nil when the
// server is only ever given a plain HTTP listener.
func New(sites []Site, getCertificate func(*tls.ClientHelloInfo) (*tls.Certificate, error)) (*Server, error) {
	s := &Server{sites: make(map[string]*site), getCertificate: getCertificate}
	var errs []error
	for _, st := range sites {
		d := normalizeHost(st.Domain)
		switch {
		case d == "":
			errs = append(errs, errors.New("website: site with no domain"))
			continue
		case s.sites[d] != nil:
			errs = append(errs, fmt.Errorf("website: site %q given twice", st.Domain))
			continue
		}
		st.Domain = d
		if st.Title == "" {
			st.Title = d
		}
		s.sites[d] = &site{Site: st, page: renderPage(st), robots: renderRobots(st), seed: sha256.Sum256([]byte(d))}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return s, nil
}

func normalizeHost(h string) string {
	if host, _, err := net.SplitHostPort(h); err == nil {
		h = host
	}
	return strings.TrimSuffix(strings.ToLower(h), ".")
}

func renderPage(st Site) []byte {
	if isDocument(st.Body) {
		return []byte(st.Body)
	}
	var b strings.Builder
	title := html.EscapeString(st.Title)
	fmt.Fprintf(&b, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>%s</title>\n", title)
	if st.Category != "" {
		fmt.Fprintf(&b, "<meta name=\"category\" content=\"%s\">\n", html.EscapeString(st.Category))
	}
	fmt.Fprintf(&b, "</head>\n<body>\n")
	if body := strings.TrimSpace(st.Body); body != "" {
		b.WriteString(body)
		b.WriteString("\n")
	} else {
		fmt.Fprintf(&b, "<h1>%s</h1>\n", title)
	}
	fmt.Fprintf(&b, "<ul>\n<li><a href=\"/\">Home</a></li>\n<li><a href=\"/robots.txt\">robots.txt</a></li>\n"+
		"<li><a href=\"/download?bytes=1048576\">Download 1 MiB</a></li>\n<li><a href=\"https://%s/\">%s over HTTPS</a></li>\n</ul>\n",
		html.EscapeString(st.Domain), html.EscapeString(st.Domain))
	b.WriteString("</body>\n</html>\n")
	return []byte(b.String())
}

// isDocument reports whether page is a whole HTML document rather than a
// fragment: it starts (after blanks and comments) with a doctype or an
// html element.
func isDocument(page string) bool {
	for {
		page = strings.TrimLeft(page, " \t\r\n\ufeff")
		rest, ok := strings.CutPrefix(page, "<!--")
		if !ok {
			break
		}
		_, page, ok = strings.Cut(rest, "-->")
		if !ok {
			return false
		}
	}
	lower := strings.ToLower(page[:min(len(page), 9)])
	return strings.HasPrefix(lower, "<!doctype") || strings.HasPrefix(lower, "<html") && (len(lower) == 5 || strings.ContainsAny(lower[5:6], " \t\r\n>"))
}

func renderRobots(st Site) []byte {
	return fmt.Appendf(nil, "User-agent: *\nDisallow: /download\n\n# %s\n", st.Domain)
}

// Handler is the HTTP handler of all the sites, the one Serve uses.
func (s *Server) Handler() http.Handler { return http.HandlerFunc(s.serveHTTP) }

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	host := normalizeHost(r.Host)
	st := s.sites[host]
	w.Header().Set("Server", "splinter")
	if st == nil {
		notFound(w, http.StatusNotFound, "No such site: "+host)
		return
	}
	if r.TLS != nil && r.TLS.ServerName != "" && normalizeHost(r.TLS.ServerName) != host {
		notFound(w, http.StatusMisdirectedRequest, "This connection was made for "+r.TLS.ServerName+", not "+host)
		return
	}
	if r.TLS != nil && r.ProtoMajor < 3 && st.HTTP3 {
		s.mu.Lock()
		port := s.altSvcPort
		s.mu.Unlock()
		if port != 0 {
			w.Header().Set("Alt-Svc", fmt.Sprintf(`h3=":%d"; ma=86400`, port))
		}
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	path := r.URL.Path
	if rest, ok := copyOf(path); ok {
		path = rest
	}
	switch path {
	case "/", "/index.html":
		writeBody(w, r, "text/html; charset=utf-8", st.page)
	case "/robots.txt":
		writeBody(w, r, "text/plain; charset=utf-8", st.robots)
	case "/download":
		st.download(w, r)
	default:
		notFound(w, http.StatusNotFound, "Not found: "+r.URL.Path)
	}
}

// CopyPath is path (absolute, as a URL's) under copy n's prefix: "/" and
// 2 give "/r/2/". A site serves at CopyPath(p, n) what it serves at p.
// Copy 1 is the original: CopyPath(p, 1) is p. n must be positive.
func CopyPath(path string, n int) string {
	if n == 1 {
		return path
	}
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	return "/r/" + strconv.Itoa(n) + path
}

// copyOf reports whether path is a copy's (CopyPath, n > 1), and the
// original path it copies.
func copyOf(path string) (string, bool) {
	rest, ok := strings.CutPrefix(path, "/r/")
	if !ok {
		return "", false
	}
	num, rest, ok := strings.Cut(rest, "/")
	if !ok || num == "" || num[0] < '1' || num[0] > '9' || len(num) > 9 {
		return "", false
	}
	if n, err := strconv.Atoi(num); err != nil || n < 2 {
		return "", false
	}
	return "/" + rest, true
}

func writeBody(w http.ResponseWriter, r *http.Request, contentType string, b []byte) {
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(b)
	}
}

func notFound(w http.ResponseWriter, code int, msg string) {
	b := fmt.Appendf(nil, "<!DOCTYPE html>\n<html>\n<head><title>%d %s</title></head>\n<body>\n<h1>%s</h1>\n<p>%s</p>\n</body>\n</html>\n",
		code, http.StatusText(code), http.StatusText(code), html.EscapeString(msg))
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(code)
	_, _ = w.Write(b)
}

// download streams the bytes=N first bytes of the site's pseudo-random
// stream (ChaCha8 seeded with the SHA-256 of the domain).
func (st *site) download(w http.ResponseWriter, r *http.Request) {
	n, err := strconv.ParseInt(r.URL.Query().Get("bytes"), 10, 64)
	if err != nil || n < 0 || n > MaxDownload {
		http.Error(w, fmt.Sprintf("bytes must be an integer from 0 to %d", MaxDownload), http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", strconv.FormatInt(n, 10))
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead {
		return
	}
	_, _ = io.CopyBuffer(w, io.LimitReader(rand.NewChaCha8(st.seed), n), make([]byte, 32<<10))
}

// Download is the content /download?bytes=n serves for domain: what a
// client should receive when nothing tampers with it.
func Download(domain string, n int64) io.Reader {
	return io.LimitReader(rand.NewChaCha8(sha256.Sum256([]byte(normalizeHost(domain)))), n)
}

// Serve serves the sites: plain HTTP on httpLn, HTTPS (HTTP/2 and HTTP/1.1)
// on httpsLn, HTTP/3 on h3; any of them may be nil. It returns when ctx is
// cancelled (nil) or a server fails (the error), after stopping every server
// and waiting for its goroutines. Like net/http, Serve closes the listeners;
// like quic-go, it does not close h3, which the caller still owns.
//
// Alt-Svc advertises the port of h3's local address.
func (s *Server) Serve(ctx context.Context, httpLn, httpsLn net.Listener, h3 net.PacketConn) error {
	if httpLn == nil && httpsLn == nil && h3 == nil {
		return errors.New("website: nothing to serve on")
	}
	if (httpsLn != nil || h3 != nil) && s.getCertificate == nil {
		return errors.New("website: HTTPS and HTTP/3 need a GetCertificate function")
	}
	handler := s.Handler()
	tlsConf := &tls.Config{
		GetCertificate: s.getCertificate,
		NextProtos:     []string{"h2", "http/1.1"},
		MinVersion:     tls.VersionTLS12,
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg     sync.WaitGroup
		errMu  sync.Mutex
		failed error
	)
	fail := func(err error) {
		if err == nil || errors.Is(err, http.ErrServerClosed) || errors.Is(err, quic.ErrServerClosed) {
			return
		}
		errMu.Lock()
		if failed == nil && ctx.Err() == nil {
			failed = err
		}
		errMu.Unlock()
		cancel()
	}
	var stops []func()

	// HTTP/3 first: Alt-Svc names its port from the first HTTPS answer on.
	if h3 != nil {
		tr := &quic.Transport{Conn: h3}
		ln, err := tr.ListenEarly(http3.ConfigureTLSConfig(tlsConf.Clone()), &quic.Config{})
		if err != nil {
			_ = tr.Close()
			return fmt.Errorf("website: HTTP/3 listener: %w", err)
		}
		port := uint16(443)
		if ap, err := netip.ParseAddrPort(h3.LocalAddr().String()); err == nil {
			port = ap.Port()
		}
		s.mu.Lock()
		s.altSvcPort = port
		s.mu.Unlock()
		srv := &http3.Server{Handler: handler}
		wg.Go(func() { fail(srv.ServeListener(ln)) })
		stops = append(stops, func() {
			s.mu.Lock()
			s.altSvcPort = 0
			s.mu.Unlock()
			sctx, scancel := context.WithTimeout(context.Background(), shutdownGrace)
			defer scancel()
			_ = srv.Shutdown(sctx)
			_ = ln.Close()
			_ = tr.Close()
		})
	}

	for _, l := range []struct {
		ln  net.Listener
		tls bool
	}{{httpLn, false}, {httpsLn, true}} {
		if l.ln == nil {
			continue
		}
		// Clients reset by censors are the point of the exercise, not news.
		srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second, ErrorLog: log.New(io.Discard, "", 0)}
		if l.tls {
			srv.TLSConfig = tlsConf.Clone() // net/http edits it
		}
		wg.Go(func() {
			if l.tls {
				fail(srv.ServeTLS(l.ln, "", ""))
			} else {
				fail(srv.Serve(l.ln))
			}
		})
		stops = append(stops, func() {
			sctx, scancel := context.WithTimeout(context.Background(), shutdownGrace)
			defer scancel()
			if srv.Shutdown(sctx) != nil {
				_ = srv.Close()
			}
		})
	}

	<-ctx.Done()
	var swg sync.WaitGroup
	for _, stop := range stops {
		swg.Go(stop)
	}
	swg.Wait()
	wg.Wait()
	return failed
}
