package profiles_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/splinter-lab/splinter/border"
	"github.com/splinter-lab/splinter/profiles"
	"github.com/splinter-lab/splinter/scenario"
	"github.com/splinter-lab/splinter/world"
)

// The 2019-2026 versions of the CN, RU and IR histories (the rules of
// border/testdata/censors2025, mapped onto the profiles' lists and the
// default scenario), each seen with real clients in a lab that starts
// before the version and is moved to its date (Lab.SetDate), so that a
// test shows both that the version applies the behaviour and that the one
// before did not.

// dialAddr opens a TCP connection from host to dst within limit.
func dialAddr(l *lab, host string, dst netip.AddrPort, limit time.Duration) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	return l.w.Host(host).DialAddr(ctx, "tcp", dst)
}

// getAddr fetches http://domain/ from host at the address addr, without a
// lookup, and returns the response's status code (0 and the error if none
// came within limit).
func getAddr(l *lab, host string, addr netip.Addr, domain string, limit time.Duration) (int, error) {
	c, err := dialAddr(l, host, netip.AddrPortFrom(addr, 80), limit)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(limit))
	if _, err := c.Write(httpGet(domain, "/")); err != nil {
		return 0, err
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

// TestCNPort443Block2025: at 2025-08-20 00:40 CST (16:40 UTC on the 19th)
// a connection from cn-client-1 to port 443 abroad is refused by the
// forged RST+ACKs that its SYN and the server's SYN+ACK draw (CN-2025-08),
// while port 80 works; a day later, in the same version, 443 works again.
func TestCNPort443Block2025(t *testing.T) {
	t.Parallel()
	l := newLab(t, time.Date(2025, 8, 19, 16, 40, 0, 0, time.UTC), nil)
	site := l.site(t, "www.plain-control-page.com")
	dial := func(port uint16) error {
		c, err := dialAddr(l, "cn-client-1", netip.AddrPortFrom(site, port), 3*time.Second)
		if err == nil {
			c.Close()
		}
		return err
	}
	if v := inForce(l, "CN"); v != "CN-2025-08" {
		t.Fatalf("CN applies %q, want CN-2025-08", v)
	}
	if err := dial(443); err == nil || !strings.Contains(err.Error(), "refused") {
		t.Errorf("443 at 00:40 CST: %v, want connection refused", err)
	}
	if err := dial(80); err != nil {
		t.Errorf("80 at 00:40 CST: %v", err)
	}
	time.Sleep(200 * time.Millisecond) // the SYN+ACK's resets
	for _, rule := range []string{"cn-443-syn", "cn-443-syn-ack"} {
		if ds := l.decisions(rule, 0); len(ds) != 1 || ds[0].Action != border.ActionRST {
			t.Errorf("%s: %d decisions (%v), want one rst", rule, len(ds), ds)
		}
	}

	if err := l.SetDate(time.Date(2025, 8, 20, 16, 40, 0, 0, time.UTC)); err != nil { // 2025-08-21 00:40 CST
		t.Fatal(err)
	}
	if err := dial(443); err != nil {
		t.Errorf("443 on 2025-08-21 00:40 CST: %v", err)
	}
	if n := len(l.decisions("cn-443-syn", 0)); n != 1 {
		t.Errorf("cn-443-syn decided %d times, want once (the first day only)", n)
	}
}

// inForce returns the version the border named applies now.
func inForce(l *lab, border string) string {
	for _, v := range l.Versions() {
		if v.Border == border {
			return v.Policy
		}
	}
	return ""
}

// TestCNActiveProbing: a Shadowsocks-like first packet (256 random bytes,
// no exemption) from cn-client-1 to a server abroad draws the GFW's
// probes once CN-2019-09 is in force, from addresses of the free /28 of
// cn-telecom, whose handshakes complete (their replies came back through
// the border); on 2019-09-10 (CN-2019) the same flow draws nothing. The
// server is a sink (it reads and never answers, as IMC 2020's did); the
// clock is stepped 15 minutes past each trigger, within which about 75% of
// the probes leave (IMC 2020, Figure 5).
func TestCNActiveProbing(t *testing.T) {
	t.Parallel()
	l := newLab(t, time.Date(2019, 9, 10, 12, 0, 0, 0, time.UTC), nil)
	probers := netip.MustParsePrefix("198.18.0.112/28")
	probes := make(chan netip.Addr, 64)
	server := listenAccept(t, l, "de-vps-1", 8388, func(c net.Conn) {
		if a := c.RemoteAddr().(*net.TCPAddr).AddrPort().Addr(); probers.Contains(a) {
			probes <- a
		}
		c.SetReadDeadline(time.Now().Add(30 * time.Second))
		io.Copy(io.Discard, c)
	})
	rng := rand.New(rand.NewPCG(2019, 916))
	send := func() {
		c, err := dialAddr(l, "cn-client-1", server, 3*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		c.Write(fetPayload(t, rng, ""))
		time.Sleep(300 * time.Millisecond)
		c.Close()
	}
	suspected := func() []border.Decision {
		var out []border.Decision
		for _, d := range l.decisions("cn-ss-active-probing", 0) {
			if strings.HasPrefix(d.Detail, "suspected proxy") {
				out = append(out, d)
			}
		}
		return out
	}

	send()
	l.clk.Advance(15 * time.Minute)
	select {
	case a := <-probes:
		t.Fatalf("CN-2019 probed from %v", a)
	case <-time.After(time.Second):
	}
	if ds := l.decisions("cn-ss-active-probing", 0); len(ds) != 0 {
		t.Fatalf("CN-2019 took %d active-probing decisions", len(ds))
	}

	if err := l.SetDate(time.Date(2019, 9, 20, 12, 0, 0, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
	send()
	ds := suspected()
	if len(ds) != 1 || ds[0].Server != server || ds[0].Client.Addr() != l.addr(t, "cn-client-1") {
		t.Fatalf("suspicion decisions %v, want one for the flow to %v", ds, server)
	}
	l.clk.Advance(15 * time.Minute)
	select {
	case a := <-probes:
		t.Logf("probed from %v", a)
	case <-time.After(10 * time.Second):
		t.Fatal("no probe reached the server within 15 minutes of the trigger")
	}
	// The sink never answers: past the prober's 10 s timeout the probes
	// sent so far are recorded, with the trigger's flow id.
	time.Sleep(500 * time.Millisecond)
	l.clk.Advance(11 * time.Second)
	probed := 0
	for deadline := time.Now().Add(5 * time.Second); probed == 0 && time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		for _, d := range l.decisions("cn-ss-active-probing", 0) {
			if strings.HasPrefix(d.Detail, "probe ") {
				probed++
				if d.FlowID != ds[0].FlowID || !probers.Contains(d.Client.Addr()) || !strings.Contains(d.Detail, "timeout") {
					t.Errorf("probe decision %q from %v, flow %d: want a timeout from a prober address, of the trigger's flow %d", d.Detail, d.Client, d.FlowID, ds[0].FlowID)
				}
			}
		}
	}
	if probed == 0 {
		t.Error("no probe recorded after the prober's timeout")
	}
	t.Logf("%d probes recorded", probed)
}

// TestProberAddressesFree: the GFW's prober addresses are a block inside a
// CN access network of the default scenario (so replies to the probes are
// routed back through the border) that no host, router or hop of the plan
// uses.
func TestProberAddressesFree(t *testing.T) {
	sc, err := scenario.Embedded("splinternet")
	if err != nil {
		t.Fatal(err)
	}
	plan, err := sc.Plan()
	if err != nil {
		t.Fatal(err)
	}
	h, err := profiles.History("CN")
	if err != nil {
		t.Fatal(err)
	}
	var used []netip.Addr
	for _, n := range plan.Networks {
		used = append(used, n.Router.V4, n.Router.V6)
		for _, r := range n.Hops {
			used = append(used, r.V4, r.V6)
		}
	}
	for _, hst := range plan.Hosts {
		used = append(used, hst.Addrs...)
		for _, r := range hst.Hops {
			used = append(used, r.V4, r.V6)
		}
	}
	found := 0
	for _, r := range h.Latest().Policy.Rules {
		for _, a := range r.Actions {
			ap, ok := a.(*border.ActiveProbeAction)
			if !ok {
				continue
			}
			for _, p := range ap.From {
				found++
				inside := false
				for _, n := range plan.Networks {
					for _, np := range n.Prefixes {
						if n.Jurisdiction == "CN" && n.Kind == scenario.Access && np.Overlaps(p) && np.Bits() <= p.Bits() {
							inside = true
						}
					}
				}
				if !inside {
					t.Errorf("rule %s: prober block %v is not inside a CN access network", r.ID, p)
				}
				for _, u := range used {
					if p.Contains(u) {
						t.Errorf("rule %s: prober block %v holds %v, an address of the plan", r.ID, p, u)
					}
				}
			}
		}
	}
	if found == 0 {
		t.Fatal("no active-probe action in the latest CN version")
	}
}

// download fetches 64 KiB of https://domain/download from host and
// returns the body bytes that arrived before the transfer ended or stalled
// for 2 s.
func download(t *testing.T, l *lab, host, domain string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c := l.w.Host(host).HTTPClient()
	c.Transport.(*http.Transport).ForceAttemptHTTP2 = false
	c.Transport.(*http.Transport).TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+domain+"/download?bytes=65536", nil)
	resp, err := c.Do(req)
	if err != nil {
		t.Logf("download from %s: %v", domain, err)
		return 0
	}
	defer resp.Body.Close()
	n := 0
	buf := make([]byte, 4096)
	for {
		got := make(chan int, 1)
		go func() {
			k, _ := resp.Body.Read(buf)
			got <- k
		}()
		select {
		case k := <-got:
			if k == 0 {
				return n
			}
			n += k
		case <-time.After(2 * time.Second):
			cancel()
			<-got
			return n
		}
	}
}

// TestRU2025: on 2024-07-01 (RU-2024) a 64 KiB download over HTTPS from a
// site in the Hetzner stand-in (de-hosting) completes; on 2025-07-01
// (RU-2025-06) it stalls within the first 16-20 KiB, while one from the
// Amazon stand-in (us-cloud, not listed) still completes; on 2025-10-01
// (RU-2025-09) the mobile subscriber ru-client-2, under an allowlist,
// connects to a foreign site but gets no TLS handshake through, and its
// DNS reaches the allowlisted public resolver (8.8.8.8's stand-in) only.
func TestRU2025(t *testing.T) {
	t.Parallel()
	l := newLab(t, time.Date(2024, 7, 1, 12, 0, 0, 0, time.UTC), nil)
	const hetzner, amazon = "www.nachrichten-aktuell.de", "www.daily-ledger-online.com"
	if n := download(t, l, "ru-client-1", hetzner); n != 65536 {
		t.Errorf("2024-07-01: %d of 65536 bytes from %s", n, hetzner)
	}
	handshake := func() error {
		c, err := dialAddr(l, "ru-client-2", netip.AddrPortFrom(l.site(t, amazon), 443), 3*time.Second)
		if err != nil {
			return err
		}
		defer c.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		return tls.Client(c, l.w.Host("ru-client-2").TLSConfig(amazon)).HandshakeContext(ctx)
	}
	if err := handshake(); err != nil {
		t.Errorf("2024-07-01: ru-client-2's handshake with %s: %v", amazon, err)
	}

	if err := l.SetDate(time.Date(2025, 7, 1, 12, 0, 0, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
	n := download(t, l, "ru-client-1", hetzner)
	t.Logf("2025-07-01: %d body bytes from %s before the stall", n, hetzner)
	if n == 0 || n >= 20<<10 {
		t.Errorf("2025-07-01: %d bytes from %s, want a stall within 16-20 KiB (handshake and headers included)", n, hetzner)
	}
	if n := download(t, l, "ru-client-1", amazon); n != 65536 {
		t.Errorf("2025-07-01: %d of 65536 bytes from %s (not a listed provider)", n, amazon)
	}
	if len(l.decisions("ru-freeze-hosting", 0)) == 0 {
		t.Error("no ru-freeze-hosting decision")
	}

	if err := l.SetDate(time.Date(2025, 10, 1, 12, 0, 0, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
	if err := handshake(); err == nil {
		t.Error("2025-10-01: ru-client-2's handshake with a foreign site succeeded under the allowlist")
	} else if strings.Contains(err.Error(), "refused") {
		t.Errorf("2025-10-01: the connect failed (%v); the SYN should pass", err)
	}
	if !dnsAnswers(t, l.w.Host("ru-client-2"), l.addr(t, "us-public-resolver")) {
		t.Error("2025-10-01: no answer from the allowlisted public resolver")
	}
	if dnsAnswers(t, l.w.Host("ru-client-2"), l.addr(t, "de-public-resolver")) {
		t.Error("2025-10-01: an answer from a public resolver off the allowlist")
	}
	if len(l.decisions("ru-mobile-allowlist-tcp", 0)) == 0 || len(l.decisions("ru-mobile-allowlist-udp-icmp", 0)) == 0 {
		t.Error("no mobile allowlist decisions")
	}
}

// dnsAnswers reports whether server answers an A query for
// www.plain-control-page.com from h within a second.
func dnsAnswers(t *testing.T, h *world.Host, server netip.Addr) bool {
	t.Helper()
	pc, err := h.ListenPacket("udp", ":0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	q := []byte{0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0}
	for _, label := range []string{"www", "plain-control-page", "com"} {
		q = append(append(q, byte(len(label))), label...)
	}
	q = append(q, 0, 0, 1, 0, 1)
	if _, err := pc.WriteTo(q, net.UDPAddrFromAddrPort(netip.AddrPortFrom(server, 53))); err != nil {
		return false
	}
	pc.SetReadDeadline(time.Now().Add(time.Second))
	buf := make([]byte, 1500)
	n, _, err := pc.ReadFrom(buf)
	return err == nil && n >= 12 && buf[0] == 0x12 && buf[1] == 0x34
}

// TestIR2025And2026: ir-client-1 (TCI) fetches a foreign page on
// 2025-06-10 (IR-2022); during the shutdown (2025-06-20) it cannot, but
// reaches an allowlisted destination (the stand-in for Google's address);
// after it (2025-07-01) the page is back over IPv4 and IPv6 is off; from
// 2026-01-20 (IR-2026) ir-client-1, not an allowlisted source, reaches
// nothing abroad, while the allowlisted ir-mobile-client-1 still fetches
// the page. Requests go to the sites' addresses, without lookups: the
// shutdown cuts the resolvers off too.
func TestIR2025And2026(t *testing.T) {
	t.Parallel()
	l := newLab(t, time.Date(2025, 6, 10, 12, 0, 0, 0, time.UTC), nil)
	const page, allowed = "www.shop-kaufhaus.de", "www.findall-search.com"
	fetch := func(host, domain string) error {
		_, err := getAddr(l, host, l.site(t, domain), domain, 2*time.Second)
		return err
	}
	if err := fetch("ir-client-1", page); err != nil {
		t.Errorf("2025-06-10: %v", err)
	}

	if err := l.SetDate(time.Date(2025, 6, 20, 12, 0, 0, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
	if err := fetch("ir-client-1", page); err == nil {
		t.Error("2025-06-20: fetched a foreign page during the shutdown")
	}
	if err := fetch("ir-client-1", allowed); err != nil {
		t.Errorf("2025-06-20: the allowlisted destination: %v", err)
	}

	if err := l.SetDate(time.Date(2025, 7, 1, 12, 0, 0, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
	if err := fetch("ir-client-1", page); err != nil {
		t.Errorf("2025-07-01: %v", err)
	}
	var v6 netip.Addr
	for _, s := range l.w.Plan().Sites {
		if s.Domain == page {
			v6 = s.Addrs[len(s.Addrs)-1]
		}
	}
	if c, err := dialAddr(l, "ir-client-1", netip.AddrPortFrom(v6, 80), 2*time.Second); err == nil {
		c.Close()
		t.Errorf("2025-07-01: connected to %v over IPv6", v6)
	}

	if err := l.SetDate(time.Date(2026, 1, 20, 12, 0, 0, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
	if err := fetch("ir-client-1", page); err == nil {
		t.Error("2026-01-20: ir-client-1, not allowlisted, fetched a foreign page")
	}
	if err := fetch("ir-mobile-client-1", page); err != nil {
		t.Errorf("2026-01-20: the allowlisted ir-mobile-client-1: %v", err)
	}
	for _, rule := range []string{"ir-2025-shutdown", "ir-2025-ipv6-off", "ir-2026-source-allowlist"} {
		if len(l.decisions(rule, 0)) == 0 {
			t.Errorf("no %s decision", rule)
		}
	}
}
