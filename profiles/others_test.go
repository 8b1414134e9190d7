package profiles_test

import (
	"bytes"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/splinter-lab/splinter/packet"
)

// TestHenan: outbound only, packets with a 20-byte TCP header only, one
// RST+ACK to the client (DF=0, IP-ID 1, payload 01..09 00), stateless.
func TestHenan(t *testing.T) {
	t.Parallel()
	l := newLab(t, t2024, nil)
	r := l.raw(t, "cn-henan-client-1")
	// A name Henan blocks and the GFW does not: a shopping site.
	srv := netip.AddrPortFrom(l.site(t, "www.shop-kaufhaus.de"), 80)
	c, ok := r.dial(srv, 0, 2*time.Second)
	if !ok {
		t.Fatal("handshake failed")
	}
	c.write(httpGet("www.shop-kaufhaus.de", "/"))
	got := c.collect(300 * time.Millisecond)
	rs := rsts(got)
	if len(rs) != 1 {
		t.Fatalf("%d RSTs, want 1", len(rs))
	}
	p := rs[0].p
	if p.Flags != packet.RST|packet.ACK || p.DF || p.ID != 1 || !bytes.Equal(p.Payload, []byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 0}) {
		t.Errorf("RST flags %#x DF %v IP-ID %d payload % x", p.Flags, p.DF, p.ID, p.Payload)
	}
	if d := l.decisions("henan-http", c.src.Port()); len(d) == 0 || d[0].Border != "CN/cn-henan-unicom" {
		t.Errorf("decisions %+v", d)
	}
	// Stateless: the request went on, the server's answer follows.
	if len(dataPkts(got)) == 0 {
		t.Log("no real answer after the RST (the server may have closed)")
	}
	t.Run("options-evade", func(t *testing.T) {
		// Henan parses only segments whose TCP header is exactly 20 bytes:
		// the same request with a timestamp option (a 32-byte header) is
		// not seen.
		c, ok := r.dial(srv, 0, 2*time.Second)
		if !ok {
			t.Fatal("handshake failed")
		}
		c.sendSeg(packet.TCPSegment{Flags: packet.PSH | packet.ACK, Options: []byte{8, 10, 0, 0, 0, 1, 0, 0, 0, 0}, Payload: httpGet("www.shop-kaufhaus.de", "/")})
		if n := len(rsts(c.collect(300 * time.Millisecond))); n != 0 {
			t.Fatalf("%d RSTs for a request in a segment with TCP options", n)
		}
	})
}

// TestIR: the protocol filter, the block page in a RST packet with a null
// route, DNS answers to the block-page host.
func TestIR(t *testing.T) {
	t.Parallel()
	l := newLab(t, t2024, nil)
	t.Run("protocol-filter", func(t *testing.T) {
		r := l.raw(t, "ir-mobile-client-1")
		srv := netip.AddrPortFrom(l.site(t, "www.plain-control-page.com"), 443)
		c, ok := r.dial(srv, 0, 2*time.Second)
		if !ok {
			t.Fatal("handshake failed")
		}
		junk := make([]byte, 64)
		rand.Read(junk)
		c.write(junk)
		c.write(junk)
		c.collect(time.Second) // the server's (delayed) acknowledgment of what passed
		if d := l.decisions("ir-protocol-filter", c.src.Port()); !hasAction(d, "drop", false) {
			t.Fatalf("no protocol-filter decision: %+v", d)
		}
		// The flow's 4-tuple is dropped client-to-server for 60 s, restarted
		// by each packet: a retry from the same port 50 s later, then again
		// 50 s later, still fails; 61 s of silence lifts it.
		for range 2 {
			l.clk.Advance(50 * time.Second)
			if _, ok := r.dial(srv, c.src.Port(), 500*time.Millisecond); ok {
				t.Fatal("handshake completed inside the restarted 60 s window")
			}
		}
		l.clk.Advance(61 * time.Second)
		// The server still holds the old connection: reset it at the
		// sequence number it expects (it acknowledged only what the filter
		// let through; a RST elsewhere in the window draws a challenge ACK,
		// RFC 5961 3.2, and a SYN on a live 4-tuple one too, 4.2), then retry.
		seq := c.seq
		if c.acked != 0 {
			seq = c.acked
		}
		c.sendSeg(packet.TCPSegment{Flags: packet.RST, Seq: seq})
		time.Sleep(100 * time.Millisecond)
		if _, ok := r.dial(srv, c.src.Port(), 2*time.Second); !ok {
			t.Error("after the restarted 60 s window lapsed, a new handshake on the same 4-tuple got no SYN/ACK")
		}
		// TLS first passes.
		c2, _ := r.dial(srv, 0, 2*time.Second)
		c2.write(clientHello(t, "www.plain-control-page.com"))
		if len(dataPkts(c2.collect(400*time.Millisecond))) == 0 {
			t.Error("a real ClientHello got no answer")
		}
	})
	t.Run("blockpage", func(t *testing.T) {
		r := l.raw(t, "ir-client-1")
		srv := netip.AddrPortFrom(l.site(t, "www.farsi-radio-free.com"), 80)
		c, ok := r.dial(srv, 0, 2*time.Second)
		if !ok {
			t.Fatal("handshake failed")
		}
		c.write(httpGet("www.farsi-radio-free.com", "/"))
		got := c.collect(300 * time.Millisecond)
		if len(got) == 0 || got[0].flags()&packet.RST == 0 || !bytes.Contains(got[0].p.Payload, []byte(`iframe src="http://198.18.16.34/`)) {
			t.Fatalf("first packet %+v, want the block page with RST set", got)
		}
		if !bytes.HasPrefix(got[0].p.Payload, []byte("HTTP/1.1 403")) {
			t.Errorf("block page status line %q", got[0].p.Payload[:20])
		}
		// Null route of the 4-tuple for 180 s.
		l.clk.Advance(170 * time.Second)
		if _, ok := r.dial(srv, c.src.Port(), 500*time.Millisecond); ok {
			t.Error("4-tuple not null-routed")
		}
		if _, ok := r.dial(srv, 0, 2*time.Second); !ok {
			t.Error("another source port is blocked too")
		}
	})
	t.Run("dns", func(t *testing.T) {
		r := l.raw(t, "ir-client-1")
		ps := dnsRaw(t, r, l.addr(t, "us-public-resolver"), query(t, "www.farsi-radio-free.com", dns.TypeA), 600*time.Millisecond)
		if len(ps) == 0 {
			t.Fatal("no answer")
		}
		a, _ := answerAddr(t, ps[0])
		if !netip.MustParsePrefix("198.18.16.34/31").Contains(a) && a != netip.MustParseAddr("198.18.16.36") {
			t.Errorf("first answer %v, want the block-page host", a)
		}
		ps = dnsRaw(t, r, l.addr(t, "us-public-resolver"), query(t, "www.farsi-radio-free.com", dns.TypeAAAA), 600*time.Millisecond)
		if a, _ := answerAddr(t, ps[0]); a != netip.MustParseAddr("2001:db8:98:d0::11") {
			t.Errorf("first AAAA answer %v", a)
		}
	})
}

// TestRU: SNI-triggered throttling of 2021 (loose patterns, collateral
// damage; a random first packet evades it); the TSPU's drops by SNI from
// 2022.
func TestRU(t *testing.T) {
	t.Parallel()
	l := newLab(t, time.Date(2021, 4, 1, 12, 0, 0, 0, time.UTC), nil)
	h := l.w.Host("ru-client-1")
	payload := make([]byte, 96<<10)
	srv := listenAccept(t, l, "us-vps-1", 9443, func(c net.Conn) {
		buf := make([]byte, 4096)
		if _, err := c.Read(buf); err != nil {
			return
		}
		c.Write(payload)
		// Read the rest of the request before closing: the hellos span two
		// segments, and a socket closed with unread data resets the
		// connection (RFC 1122 4.2.2.13), which cut transfers short here.
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		io.Copy(io.Discard, c)
	})
	fetch := func(first ...[]byte) (int, time.Duration) {
		c, err := h.DialAddr(t.Context(), "tcp", srv)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		for _, b := range first {
			c.Write(b)
			time.Sleep(20 * time.Millisecond)
		}
		start := time.Now()
		c.SetReadDeadline(time.Now().Add(1500 * time.Millisecond))
		n, _ := io.ReadFull(c, make([]byte, len(payload)))
		return n, time.Since(start)
	}
	stop := l.drive(10 * time.Millisecond)
	defer stop()
	if n, _ := fetch(clientHello(t, "www.plain-control-page.com")); n != len(payload) {
		t.Errorf("unthrottled: %d of %d bytes in 1.5 s", n, len(payload))
	}
	junk := make([]byte, 16)
	rand.Read(junk)
	before := len(l.decisions("ru-throttle", 0))
	if n, _ := fetch(append(junk, clientHello(t, "www.hashtag-square.com")...)); n != len(payload) {
		t.Errorf("random first packet: %d of %d bytes in 1.5 s although no throttle decision was taken", n, len(payload))
	}
	if after := len(l.decisions("ru-throttle", 0)); after != before {
		t.Error("a random first packet did not evade the throttling")
	}
	for _, name := range []string{"www.hashtag-square.com", "www.europa-news-digest.com"} { // the second: "t.co" collateral
		n, _ := fetch(clientHello(t, name))
		// 140 kbit/s is 17.5 kB/s: 16 KiB burst + at most ~30 kB in 1.5 s.
		if n > 60<<10 {
			t.Errorf("%s: %d bytes in 1.5 s, want throttled to 140 kbit/s", name, n)
		}
		if n < 8<<10 {
			t.Errorf("%s: only %d bytes: throttled, not blocked", name, n)
		}
	}
	t.Run("tspu-sni", func(t *testing.T) {
		l := newLab(t, t2024, nil)
		h := l.w.Host("ru-client-1")
		c, err := h.DialAddr(t.Context(), "tcp", netip.AddrPortFrom(l.site(t, "www.russia-free-media.com"), 443))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		tc := tlsClient(c, h.TLSConfig("www.russia-free-media.com"))
		c.SetDeadline(time.Now().Add(1500 * time.Millisecond))
		err = tc.Handshake()
		if err == nil || strings.Contains(err.Error(), "reset") {
			t.Errorf("handshake error %v, want a timeout (drop, no RST)", err)
		}
	})
}

// TestTM: 127.0.0.1 with TTL 300; one RST with window 0; IP-ID 30000 and
// initial TTL 128 on every injected packet.
func TestTM(t *testing.T) {
	t.Parallel()
	l := newLab(t, t2024, nil)
	r := l.raw(t, "tm-client-1")
	ps := dnsRaw(t, r, l.addr(t, "us-public-resolver"), query(t, "www.turkmen-chronicle.org", dns.TypeA), 600*time.Millisecond)
	if len(ps) == 0 {
		t.Fatal("no DNS answer")
	}
	a, m := answerAddr(t, ps[0])
	if a != netip.MustParseAddr("127.0.0.1") || m.Answer[0].Header().Ttl != 300 {
		t.Errorf("answer %v TTL %d, want 127.0.0.1 TTL 300", a, m.Answer[0].Header().Ttl)
	}
	checkTM := func(p packet.IP) {
		if p.ID != 30000 || p.TTL > 128 || p.TTL < 120 {
			t.Errorf("injected packet IP-ID %d TTL %d, want 30000 and 128 minus a few hops", p.ID, p.TTL)
		}
	}
	checkTM(ps[0].p)
	c, ok := r.dial(netip.AddrPortFrom(l.site(t, "www.turkmen-chronicle.org"), 80), 0, 2*time.Second)
	if !ok {
		t.Fatal("handshake failed")
	}
	c.write(httpGet("www.turkmen-chronicle.org", "/"))
	rs := rsts(c.collect(400 * time.Millisecond))
	if len(rs) != 1 {
		t.Fatalf("%d RSTs, want 1", len(rs))
	}
	checkTM(rs[0].p)
	if rs[0].p.Window != 0 || rs[0].flags() != packet.RST {
		t.Errorf("RST window %d flags %#x", rs[0].p.Window, rs[0].flags())
	}
	if rs[0].p.Seq != 0 {
		t.Errorf("RST sequence %d, want 0 (WWW 2023)", rs[0].p.Seq)
	}
}

// TestKZ: the flow is held 15 s, then a block page in one FIN+PSH+ACK; the
// 4-tuple stays blocked 120 s.
func TestKZ(t *testing.T) {
	t.Parallel()
	l := newLab(t, t2024, nil)
	r := l.raw(t, "kz-client-1")
	srv := netip.AddrPortFrom(l.site(t, "www.steppe-truth.org"), 80)
	c, ok := r.dial(srv, 0, 2*time.Second)
	if !ok {
		t.Fatal("handshake failed")
	}
	c.write(httpGet("www.steppe-truth.org", "/"))
	if got := c.collect(300 * time.Millisecond); len(dataPkts(got)) != 0 {
		t.Fatalf("an answer before the hold: %d packets", len(got))
	}
	l.clk.Advance(15 * time.Second)
	got := c.collect(300 * time.Millisecond)
	if len(got) != 1 || got[0].flags() != packet.FIN|packet.PSH|packet.ACK || !bytes.Contains(got[0].p.Payload, []byte("Kazakhstan")) {
		t.Fatalf("after the hold: %d packets, want one FIN+PSH+ACK block page", len(got))
	}
}

// TestKZ2019Interception: in July-August 2019 TLS to listed names was
// intercepted with the national "Qaznet Trust Network" root (IMC 2020);
// other TLS went through untouched.
func TestKZ2019Interception(t *testing.T) {
	t.Parallel()
	l := newLab(t, time.Date(2019, 7, 20, 12, 0, 0, 0, time.UTC), map[string]string{"KZ": "KZ-2019"})
	client := l.w.Host("kz-client-1")
	hc := client.HTTPClient()
	hc.Timeout = 5 * time.Second
	defer hc.CloseIdleConnections()
	var unknown x509.UnknownAuthorityError
	if _, err := hc.Get("https://www.chatterbox-messenger.com/"); !errors.As(err, &unknown) {
		t.Fatalf("a listed name without the national CA: %v, want an unknown authority", err)
	}
	if resp, err := hc.Get("https://www.freepress-herald.com/"); err != nil {
		t.Fatalf("an unlisted name through the interception box: %v", err)
	} else {
		resp.Body.Close()
	}
	// Users who installed the national root see the site, signed by it.
	ca, err := l.Engine("KZ").NationalCA("qaznet-trust-network")
	if err != nil {
		t.Fatal(err)
	}
	cfg := client.TLSConfig("")
	cfg.RootCAs.AddCert(ca.Certificate())
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DialContext: client.DialContext, TLSClientConfig: cfg}}
	resp, err := c.Get("https://www.chatterbox-messenger.com/")
	if err != nil {
		t.Fatalf("with the national CA installed: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(resp.TLS.PeerCertificates[0].Issuer.CommonName, "qaznet") {
		t.Fatalf("status %d, issuer %q", resp.StatusCode, resp.TLS.PeerCertificates[0].Issuer.CommonName)
	}
	n := 0
	for _, d := range l.Log().Decisions() {
		if d.Rule == "kz-intercept" && d.Action == "intercept" {
			n++
		}
	}
	if n != 2 {
		t.Fatalf("%d interception decisions, want 2", n)
	}
}

// TestIndia: Airtel's block page in FIN+PSH+ACK then RST, and one RST+ACK
// each way on SNI; Jio drops by SNI plus destination.
func TestIndia(t *testing.T) {
	t.Parallel()
	l := newLab(t, t2024, nil)
	t.Run("airtel-http", func(t *testing.T) {
		r := l.raw(t, "in-airtel-client-1")
		c, _ := r.dial(netip.AddrPortFrom(l.site(t, "www.kashmir-monitor-online.com"), 80), 0, 2*time.Second)
		c.write(httpGet("www.kashmir-monitor-online.com", "/"))
		got := c.collect(300 * time.Millisecond)
		if len(got) < 2 || got[0].flags() != packet.FIN|packet.PSH|packet.ACK || !bytes.HasPrefix(got[0].p.Payload, []byte("HTTP/1.1 200")) || got[1].flags()&packet.RST == 0 {
			t.Fatalf("got %d packets; want a 200 block page in FIN+PSH+ACK, then a RST", len(got))
		}
	})
	t.Run("airtel-sni", func(t *testing.T) {
		r := l.raw(t, "in-airtel-client-1")
		c, _ := r.dial(netip.AddrPortFrom(l.site(t, "www.torrent-harbor.net"), 443), 0, 2*time.Second)
		c.write(clientHello(t, "www.torrent-harbor.net"))
		rs := rsts(c.collect(300 * time.Millisecond))
		if len(rs) != 1 || rs[0].flags() != packet.RST|packet.ACK {
			t.Fatalf("%d RSTs, want one RST+ACK", len(rs))
		}
	})
	t.Run("jio", func(t *testing.T) {
		h := l.w.Host("in-jio-client-1")
		try := func(name string, dst netip.Addr) error {
			c, err := h.DialAddr(t.Context(), "tcp", netip.AddrPortFrom(dst, 443))
			if err != nil {
				return err
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(1500 * time.Millisecond))
			return tlsClient(c, h.TLSConfig(name)).Handshake()
		}
		if err := try("www.torrent-harbor.net", l.site(t, "www.torrent-harbor.net")); err == nil || !strings.Contains(err.Error(), "timeout") {
			t.Errorf("listed SNI to a listed address: %v, want a timeout", err)
		}
		// The same SNI towards an unlisted address is not matched.
		if len(l.decisions("jio-sni", 0)) != 1 {
			t.Errorf("jio decisions: %d", len(l.decisions("jio-sni", 0)))
		}
		err := try("www.torrent-harbor.net", l.site(t, "www.plain-control-page.com"))
		if err != nil && strings.Contains(err.Error(), "timeout") {
			t.Errorf("listed SNI to an unlisted address timed out")
		}
		t.Run("proxy-handshake", func(t *testing.T) {
			// 198.51.100.7 is listed and answered by no host: the border's
			// own handshake "succeeds", then TLS times out.
			if err := try("www.torrent-harbor.net", netip.MustParseAddr("198.51.100.7")); err == nil || !strings.Contains(err.Error(), "timeout") {
				t.Errorf("listed SNI to an unreachable listed address: %v, want a handshake then a timeout", err)
			}
		})
	})
}
