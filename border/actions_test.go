package border_test

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/quic-go/quic-go/http3"

	"github.com/splinter-lab/splinter/dissect"
	"github.com/splinter-lab/splinter/packet"
)

func TestThrottleHoldsRate(t *testing.T) {
	if testing.Short() {
		t.Skip("downloads for seconds")
	}
	const rate = 1_000_000 // bits/s
	l := newLab(t, `
lists:
  names: {kind: domains, items: [blocked.com]}
rules:
  - id: slow
    source: test
    year: 2024
    scope: {protocols: [tcp]}
    inspect: {reassemble-tcp: true}
    match: [{http: {list: names}}]
    actions: [{throttle: {rate: 1Mbit}}]
`, true)
	// measure downloads 600 kB from host and returns the goodput and the
	// rate on the wire (IP bytes toward the client, retransmissions
	// included), both past the first 100 kB (the bucket's burst).
	measure := func(host string) (goodput, wire float64) {
		cap := l.capture("client")
		c := l.client.HTTPClient()
		c.Timeout = 20 * time.Second
		defer c.CloseIdleConnections()
		resp, err := c.Get("http://" + host + "/download?bytes=600000")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if _, err := io.CopyN(io.Discard, resp.Body, 100000); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		n, err := io.Copy(io.Discard, resp.Body)
		end := time.Now()
		if err != nil || n != 500000 {
			t.Fatalf("download: %d bytes, %v", n, err)
		}
		var bytes int
		for _, r := range cap.records(t) {
			if !r.at.Before(start) && !r.at.After(end) && parse(t, r.pkt).SrcPort == 80 {
				bytes += len(r.pkt)
			}
		}
		el := end.Sub(start).Seconds()
		return float64(n*8) / el, float64(bytes*8) / el
	}
	// A loaded machine can only slow a download down: take the best of
	// three attempts for the lower bounds, and every attempt for the upper.
	var goodput, wire float64
	for try := 0; try < 3; try++ {
		g, w := measure("www.blocked.com")
		t.Logf("throttled: goodput %.0f kbit/s, wire %.0f kbit/s", g/1000, w/1000)
		if w > rate*1.15 {
			t.Fatalf("throttled flow on the wire at %.0f kbit/s, above 1000 +15%%", w/1000)
		}
		goodput, wire = max(goodput, g), max(wire, w)
		if wire >= rate*0.85 && goodput >= rate*0.7 {
			break
		}
	}
	if wire < rate*0.85 || wire > rate*1.15 {
		t.Fatalf("throttled flow on the wire at %.0f kbit/s, want 1000 ±15%%", wire/1000)
	}
	// TCP through a policer loses some of the rate to retransmissions, as
	// with real policers (Flach et al., SIGCOMM 2016).
	if goodput < rate*0.7 || goodput > rate*1.15 {
		t.Fatalf("throttled goodput %.0f kbit/s, want 700-1150", goodput/1000)
	}
	if free, _ := measure("www.allowed.com"); free < 10*rate {
		t.Fatalf("unthrottled download at only %.0f kbit/s", free/1000)
	}
}

func TestProbabilityBlocksShareOfFlows(t *testing.T) {
	l := newLab(t, `
lists:
  names: {kind: domains, items: [blocked.com]}
rules:
  - id: coin
    source: test
    year: 2024
    scope: {protocols: [tcp], probability: 0.263}
    inspect: {reassemble-tcp: true}
    match: [{tls-sni: {list: names}}]
    actions: [{rst: {to: both}}]
`, false)
	dst := netip.AddrPortFrom(l.site("www.blocked.com").Addr(4), 443)
	const n = 300
	blocked := 0
	for i := 0; i < n; i++ {
		if err := l.tlsDial(l.client, dst, "www.blocked.com", nil); err != nil {
			blocked++
		}
	}
	// Binomial(300, 0.263): mean 78.9, sd 7.6; accept ±4 sd.
	mean, sd := n*0.263, math.Sqrt(n*0.263*0.737)
	if math.Abs(float64(blocked)-mean) > 4*sd {
		t.Fatalf("blocked %d of %d flows, want %.0f ± %.0f", blocked, n, mean, 4*sd)
	}
	if len(l.decisions()) != blocked {
		t.Fatalf("%d decisions for %d blocked flows", len(l.decisions()), blocked)
	}
}

func TestQUICInitialPassesThenDrops(t *testing.T) {
	l := newLab(t, `
lists:
  names: {kind: domains, items: [blocked.com]}
rules:
  - id: quic
    source: test
    year: 2025
    scope: {protocols: [udp], direction: outbound, src-port-greater-than-dst: true}
    inspect: {packets: first}
    match: [{quic-sni: {list: names}}]
    actions:
      - residual: {tuple: 3, duration: 180s, enforce: drop, direction: client-to-server}
`, false)
	web := l.site("www.blocked.com")
	cap := l.capture(web.Name())
	get := func(host string) error {
		// A classic X25519 ClientHello fits in the first Initial; quic-go's
		// default post-quantum one spans several Initials, which a censor
		// that decrypts only the first one does not see (see
		// TestQUICSplitHelloEvades).
		cfg := l.client.TLSConfig("")
		cfg.CurvePreferences = []tls.CurveID{tls.X25519}
		tr := &http3.Transport{TLSClientConfig: cfg, Dial: l.client.DialQUIC}
		defer tr.Close()
		c := &http.Client{Transport: tr, Timeout: 1500 * time.Millisecond}
		resp, err := c.Get("https://" + host + "/")
		if err == nil {
			resp.Body.Close()
		}
		return err
	}
	if err := get("www.blocked.com"); err == nil {
		t.Fatal("HTTP/3 to a blocked name succeeded")
	}
	// Exactly the triggering Initial reached the server.
	in := 0
	for _, pkt := range cap.packets(t) {
		if p := parse(t, pkt); p.Proto == packet.UDP && p.Dst == web.Addr(4) {
			in++
		}
	}
	if in != 1 {
		t.Fatalf("%d client datagrams reached the server, want only the Initial", in)
	}
	if err := get("www.allowed.com"); err != nil {
		t.Fatalf("HTTP/3 to an allowed name: %v", err)
	}
	if got := rules(l.decisions()); got != "quic:residual" {
		t.Fatalf("decisions %q", got)
	}
	// TCP to the same server is untouched by a UDP block.
	if _, _, err := httpGet(l.client, "https://www.blocked.com/"); err != nil {
		t.Fatalf("HTTPS over TCP: %v", err)
	}
}

// splitConn re-frames the first write (a ClientHello) into two TLS records.
type splitConn struct {
	net.Conn
	done bool
}

func (c *splitConn) Write(b []byte) (int, error) {
	if !c.done {
		c.done = true
		s, err := dissect.SplitClientHelloRecords(b, 40)
		if err != nil {
			return 0, err
		}
		if _, err := c.Conn.Write(s); err != nil {
			return 0, err
		}
		return len(b), nil
	}
	return c.Conn.Write(b)
}

func TestTLSRecordSplit(t *testing.T) {
	for _, tc := range []struct {
		name       string
		reassemble bool
		wantBlock  bool
	}{
		{"no-record-reassembly-misses-split", false, false},
		{"record-reassembly-catches-split", true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := newLab(t, fmt.Sprintf(`
lists:
  names: {kind: domains, items: [blocked.com]}
rules:
  - id: sni
    source: test
    year: 2024
    scope: {protocols: [tcp]}
    inspect: {reassemble-tcp: true, reassemble-tls: %v}
    match: [{tls-sni: {list: names}}]
    actions: [{rst: {to: both}}]
`, tc.reassemble), false)
			dst := netip.AddrPortFrom(l.site("www.blocked.com").Addr(4), 443)
			if err := l.tlsDial(l.client, dst, "www.blocked.com", nil); err == nil {
				t.Fatal("plain ClientHello was not blocked")
			}
			err := l.tlsDial(l.client, dst, "www.blocked.com", func(c net.Conn) net.Conn { return &splitConn{Conn: c} })
			if blocked := err != nil; blocked != tc.wantBlock {
				t.Fatalf("split ClientHello: err %v, want blocked=%v", err, tc.wantBlock)
			}
		})
	}
}

func TestHTTPBlockPage(t *testing.T) {
	l := newLab(t, `
lists:
  names: {kind: domains, items: [blocked.com]}
  words: {kind: keywords, items: [forbidden]}
rules:
  - id: host
    source: test
    year: 2024
    scope: {protocols: [tcp], ports: [80]}
    inspect: {reassemble-tcp: true}
    match: [{http: {list: names, fields: [host]}}]
    actions:
      - blockpage: {status: 403, body: "<html><title>Blocked by XX</title>Access denied</html>", flags: fin-psh-ack, then-rst: true, drop-request: true}
  - id: keyword
    source: test
    year: 2024
    scope: {protocols: [tcp]}
    inspect: {reassemble-tcp: true}
    match: [{http: {list: words, fields: [path]}}]
    actions: [{rst: {to: client}}]
`, false)
	status, body, err := httpGet(l.client, "http://www.blocked.com/")
	if err != nil || status != 403 || !strings.Contains(body, "Blocked by XX") {
		t.Fatalf("block page: %d %q %v", status, body, err)
	}
	if _, _, err := httpGet(l.client, "http://www.allowed.com/forbidden"); !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("keyword in path: %v, want reset", err)
	}
	if status, _, err := httpGet(l.client, "http://www.allowed.com/fine"); err != nil || status != 404 {
		t.Fatalf("allowed path: %d %v", status, err)
	}
	if got := rules(l.decisions()); got != "host:blockpage keyword:rst" {
		t.Fatalf("decisions %q", got)
	}
}

func TestIPBlackholeAndNullRoute(t *testing.T) {
	l := newLab(t, `
lists:
  names: {kind: domains, items: [other.com]}
rules:
  - id: blackhole
    source: test
    year: 2024
    match: [{ip: {prefixes: [198.18.16.0/20], side: dst}}, {port: {ports: ["8080"]}}]
    actions: [{drop: {flow: true}}]
  - id: nullroute
    source: test
    year: 2020
    scope: {protocols: [tcp]}
    inspect: {reassemble-tcp: true}
    match: [{tls-sni: {list: names}}]
    actions:
      - drop: {}
      - null-route: {key: dst-ip, duration: 180s}
`, false)
	vps := l.w.Host("vps")
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	if _, err := l.client.DialAddr(ctx, "tcp", netip.AddrPortFrom(vps.Addr(4), 8080)); err == nil {
		t.Fatal("dial into a blackholed range succeeded")
	}
	other := l.site("www.other.com")
	dst := netip.AddrPortFrom(other.Addr(4), 443)
	if err := l.tlsDial(l.client, dst, "www.other.com", nil); err == nil {
		t.Fatal("null-routed SNI handshake succeeded")
	}
	// Everything to that address is gone now, even ping.
	pctx, pcancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer pcancel()
	if _, err := l.client.Ping(pctx, other.Addr(4)); err == nil {
		t.Fatal("ping through a null route")
	}
	l.clock.Advance(181 * time.Second)
	if _, err := l.client.Ping(context.Background(), other.Addr(4)); err != nil {
		t.Fatalf("ping after the null route expired: %v", err)
	}
	got := rules(l.decisions())
	if !strings.HasPrefix(got, "blackhole:drop nullroute:drop nullroute:null-route") {
		t.Fatalf("decisions %q", got)
	}
}

func TestDelayAction(t *testing.T) {
	l := newLab(t, `
rules:
  - id: slow
    source: test
    year: 2024
    scope: {protocols: [tcp], ports: [80]}
    match: [any]
    actions: [{delay: {delay: 100ms}}]
`, true)
	start := time.Now()
	if _, _, err := httpGet(l.client, "http://www.allowed.com/"); err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el < 200*time.Millisecond {
		t.Fatalf("fetch took %v through a 100 ms delay per client packet", el)
	}
}

// hello and ext build ClientHellos with extensions crypto/tls does not send.
var (
	hello = dissect.BuildClientHello
	ext   = dissect.TLSExtension
)

// sendRaw connects to dst, sends payload and reports whether the server
// connection survives (it reads until the server closes or resets, or a
// timeout).
func sendRaw(t *testing.T, l *lab, dst netip.AddrPort, payload []byte) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	c, err := l.client.DialAddr(ctx, "tcp", dst)
	if err != nil {
		return err
	}
	defer c.Close()
	if _, err := c.Write(payload); err != nil {
		return err
	}
	c.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
	_, err = c.Read(make([]byte, 100))
	return err
}

func TestESNIAndECH(t *testing.T) {
	l := newLab(t, `
lists:
  names: {kind: domains, items: [blocked.com]}
rules:
  - id: esni
    source: test
    year: 2020
    scope: {protocols: [tcp]}
    inspect: {reassemble-tcp: true}
    match: [esni]
    actions:
      - drop: {flow: true, direction: client-to-server}
  - id: ech
    source: test
    year: 2024
    scope: {protocols: [tcp]}
    inspect: {reassemble-tcp: true}
    match: [{ech: {outer-list: names}}]
    actions: [{rst: {to: both}}]
`, false)
	dst := netip.AddrPortFrom(l.site("www.allowed.com").Addr(4), 443)
	ech := ext(0xfe0d, []byte{0, 0, 1, 0, 1, 0, 0, 0, 0, 0})
	// A plain ClientHello gets the server's answer (a TLS alert or data).
	if err := sendRaw(t, l, dst, hello("www.allowed.com")); isBlocked(err) {
		t.Fatalf("plain hello: %v", err)
	}
	if err := sendRaw(t, l, dst, hello("www.allowed.com", ext(0xffce, []byte{1, 2, 3, 4}))); !isTimeout(err) {
		t.Fatalf("ESNI hello: %v, want a timeout (dropped)", err)
	}
	if err := sendRaw(t, l, dst, hello("www.allowed.com", ech)); isBlocked(err) {
		t.Fatalf("ECH with an allowed outer SNI: %v", err)
	}
	if err := sendRaw(t, l, dst, hello("www.blocked.com", ech)); !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("ECH with a blocked outer SNI: %v, want reset", err)
	}
	if got := rules(l.decisions()); got != "esni:drop ech:rst" {
		t.Fatalf("decisions %q", got)
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func isBlocked(err error) bool { return isTimeout(err) || errors.Is(err, syscall.ECONNRESET) }

func TestFullyEncryptedAndProtocolAllowlist(t *testing.T) {
	l := newLab(t, `
lists:
  cloud: {kind: prefixes, items: [198.18.16.0/20]}
rules:
  - id: fet
    source: test
    year: 2023
    scope: {protocols: [tcp], direction: outbound, ports: [443], destinations: {list: cloud}}
    inspect: {packets: first}
    match: [fully-encrypted]
    actions:
      - drop: {}
      - residual: {tuple: 3, duration: 180s, enforce: drop, direction: client-to-server}
  - id: allow
    source: test
    year: 2020
    scope: {protocols: [tcp], direction: outbound, ports: [80]}
    inspect: {packets: first-n, n: 2}
    match: [{protocol-allowlist: {packets: 2, allow: [dns, http, tls]}}]
    actions:
      - residual: {tuple: 4, duration: 60s, restart: true, enforce: drop, direction: client-to-server}
`, false)
	web := l.site("www.allowed.com")
	random := make([]byte, 300)
	rand.NewChaCha8([32]byte{1}).Read(random)
	// TLS (Ex5) is exempt; random bytes are not.
	if err := l.tlsDial(l.client, netip.AddrPortFrom(web.Addr(4), 443), "www.allowed.com", nil); err != nil {
		t.Fatalf("TLS to a cloud range: %v", err)
	}
	if err := sendRaw(t, l, netip.AddrPortFrom(web.Addr(4), 443), random); !isTimeout(err) {
		t.Fatalf("random first packet: %v, want dropped", err)
	}
	// The 3-tuple stays blocked, even for TLS.
	if err := l.tlsDial(l.client, netip.AddrPortFrom(web.Addr(4), 443), "www.allowed.com", nil); err == nil {
		t.Fatal("TLS inside the fully-encrypted residual window succeeded")
	}
	// Port 80: HTTP passes, two random packets do not.
	if _, _, err := httpGet(l.client, "http://www.other.com/"); err != nil {
		t.Fatalf("HTTP through the protocol filter: %v", err)
	}
	vps := l.w.Host("vps")
	ln, err := vps.Listen("tcp", ":80")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	received := make(chan int, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		c.SetReadDeadline(time.Now().Add(time.Second))
		n, _ := io.Copy(io.Discard, c)
		received <- int(n)
	}()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	c, err := l.client.DialAddr(ctx, "tcp", netip.AddrPortFrom(vps.Addr(4), 80))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write(random[:50])
	time.Sleep(20 * time.Millisecond)
	c.Write(random[50:100])
	time.Sleep(20 * time.Millisecond)
	c.Write([]byte("GET / HTTP/1.1\r\nHost: www.other.com\r\n\r\n"))
	if n := <-received; n != 100 {
		t.Fatalf("the server received %d bytes, want the two non-protocol packets (100) and nothing after", n)
	}
	// The residual also catches the teardown of the earlier, exempt flow.
	if got := rules(l.decisions()); !strings.HasPrefix(got, "fet:drop fet:residual fet:residual") || !strings.HasSuffix(got, "allow:residual") {
		t.Fatalf("decisions %q", got)
	}
	_ = tls.VersionTLS13
}

func TestProtocolAndPortMatchers(t *testing.T) {
	l := newLab(t, `
rules:
  - id: udp-9999
    source: test
    year: 2024
    match: [{protocol: {protocols: [udp]}}, {port: {ports: ["9999"], side: dst}}]
    actions: [{drop: {}}]
`, false)
	vps := l.w.Host("vps")
	pc, err := vps.ListenPacket("udp", ":9999")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	echo := func(pc net.PacketConn) {
		buf := make([]byte, 100)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			pc.WriteTo(buf[:n], from)
		}
	}
	go echo(pc)
	pc2, err := vps.ListenPacket("udp", ":9998")
	if err != nil {
		t.Fatal(err)
	}
	defer pc2.Close()
	go echo(pc2)
	ln, err := vps.Listen("tcp", ":9999")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	roundTrip := func(port uint16) error {
		c, err := l.client.DialAddr(context.Background(), "udp", netip.AddrPortFrom(vps.Addr(4), port))
		if err != nil {
			return err
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(300 * time.Millisecond))
		c.Write([]byte("ping"))
		_, err = c.Read(make([]byte, 10))
		return err
	}
	if err := roundTrip(9999); err == nil {
		t.Fatal("UDP to port 9999 passed")
	}
	if err := roundTrip(9998); err != nil {
		t.Fatalf("UDP to port 9998: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	c, err := l.client.DialAddr(ctx, "tcp", netip.AddrPortFrom(vps.Addr(4), 9999))
	if err != nil {
		t.Fatalf("TCP to port 9999: %v", err)
	}
	c.Close()
	if got := rules(l.decisions()); got != "udp-9999:drop" {
		t.Fatalf("decisions %q", got)
	}
}
