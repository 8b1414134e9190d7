package border_test

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/splinter-lab/splinter/packet"
	"github.com/splinter-lab/splinter/world"
)

const dnsPolicy = `
lists:
  names: {kind: regexes, items: ['(^|\.)blocked\.com$']}
rules:
  - id: dns
    source: test
    year: 2024
    scope: {protocols: [udp], ports: [53]}
    match: [{dns: {list: names, mode: regex, require-qdcount1: true}}]
    actions:
      - dns-inject:
          injectors:
            - name: one
              aa: true
              rr-ttl: 60s
              a-for-any-qtype: true
              fingerprint: {df: false, ipid: zero, ttl: 200}
              answer: {pool: [198.18.99.1, 198.18.99.2, "2001:db8:99::1"]}
            - name: two
              fingerprint: {df: true, ttl: 99}
              answer: {addrs: [198.18.98.1]}
`

// answers sends q to server from h and collects every answer that arrives
// within wait.
func answers(t *testing.T, h *world.Host, server netip.AddrPort, q *dns.Msg, wait time.Duration) []*dns.Msg {
	t.Helper()
	c, err := h.DialAddr(context.Background(), "udp", server)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	b, err := q.Pack()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write(b); err != nil {
		t.Fatal(err)
	}
	var out []*dns.Msg
	c.SetReadDeadline(time.Now().Add(wait))
	buf := make([]byte, 2048)
	for {
		n, err := c.Read(buf)
		if err != nil {
			return out
		}
		m := new(dns.Msg)
		if err := m.Unpack(buf[:n]); err != nil {
			t.Fatalf("unpack answer: %v", err)
		}
		out = append(out, m)
	}
}

func firstAddr(m *dns.Msg) string {
	for _, rr := range m.Answer {
		switch v := rr.(type) {
		case *dns.A:
			return v.A.String()
		case *dns.AAAA:
			return v.AAAA.String()
		}
	}
	return ""
}

func TestDNSInjectionRacesAndWins(t *testing.T) {
	l := newLab(t, dnsPolicy, false)
	resolver := netip.AddrPortFrom(l.w.Host("yy-public-resolver").Addr(4), 53)
	site := l.site("www.blocked.com")
	cap := l.capture("client")

	q := new(dns.Msg)
	q.SetQuestion("www.blocked.com.", dns.TypeA)
	got := answers(t, l.client, resolver, q, 500*time.Millisecond)
	if len(got) != 3 {
		t.Fatalf("got %d answers, want 2 forged then the real one", len(got))
	}
	for i, want := range []string{"198.18.99.1", "198.18.98.1", site.Addr(4).String()} {
		if a := firstAddr(got[i]); a != want {
			t.Errorf("answer %d: %s, want %s", i, a, want)
		}
	}
	if !got[0].Authoritative || got[1].Authoritative || got[0].Answer[0].Header().Ttl != 60 {
		t.Errorf("injector fingerprints in DNS: AA %v %v, TTL %d", got[0].Authoritative, got[1].Authoritative, got[0].Answer[0].Header().Ttl)
	}
	// The IP fingerprints, as the client's link saw them (one router hop
	// after the border).
	var seen []packet.IP
	for _, pkt := range cap.packets(t) {
		p := parse(t, pkt)
		if p.Proto == packet.UDP && p.SrcPort == 53 {
			seen = append(seen, *p)
		}
	}
	if len(seen) != 3 {
		t.Fatalf("captured %d answers", len(seen))
	}
	if seen[0].TTL != 199 || seen[0].DF || seen[0].ID != 0 {
		t.Errorf("injector one: TTL %d DF %v ID %d, want 199 false 0", seen[0].TTL, seen[0].DF, seen[0].ID)
	}
	if seen[1].TTL != 98 || !seen[1].DF {
		t.Errorf("injector two: TTL %d DF %v, want 98 true", seen[1].TTL, seen[1].DF)
	}

	// Round robin through the pool; AAAA from the pool's IPv6 part; an A
	// record for any other type.
	got = answers(t, l.client, resolver, q, 300*time.Millisecond)
	if a := firstAddr(got[0]); a != "198.18.99.2" {
		t.Errorf("second query: first forged answer %s, want the pool's next", a)
	}
	q6 := new(dns.Msg)
	q6.SetQuestion("www.blocked.com.", dns.TypeAAAA)
	got = answers(t, l.client, resolver, q6, 300*time.Millisecond)
	if a := firstAddr(got[0]); a != "2001:db8:99::1" || len(got) != 2 {
		t.Errorf("AAAA: %d answers, first %s", len(got), a)
	}
	qtxt := new(dns.Msg)
	qtxt.SetQuestion("www.blocked.com.", dns.TypeTXT)
	got = answers(t, l.client, resolver, qtxt, 300*time.Millisecond)
	if len(got) == 0 || got[0].Answer == nil || got[0].Answer[0].Header().Rrtype != dns.TypeA {
		t.Errorf("TXT query: want an A record from injector one, got %v", got)
	}

	// An allowed name gets only the real answer; QDCOUNT=2 evades.
	qa := new(dns.Msg)
	qa.SetQuestion("www.allowed.com.", dns.TypeA)
	if got = answers(t, l.client, resolver, qa, 300*time.Millisecond); len(got) != 1 {
		t.Errorf("allowed name: %d answers", len(got))
	}
	q2 := new(dns.Msg)
	q2.SetQuestion("www.blocked.com.", dns.TypeA)
	q2.Question = append(q2.Question, q2.Question[0])
	for _, m := range answers(t, l.client, resolver, q2, 300*time.Millisecond) {
		if a := firstAddr(m); a == "198.18.99.1" || a == "198.18.99.2" || a == "198.18.98.1" {
			t.Errorf("QDCOUNT=2 query got a forged answer %s", a)
		}
	}
	for _, d := range l.decisions() {
		if d.Rule != "dns" || d.Action != "dns-inject" || d.Evidence[0].Kind != "qname" {
			t.Errorf("decision %+v", d)
		}
	}
}

func TestResolverCachesForgedAnswer(t *testing.T) {
	// The client's own ISP resolver, inside the border, asks abroad: the
	// injected answer wins the race and is what the client gets.
	l := newLab(t, dnsPolicy, false)
	addrs, err := l.client.Resolve(context.Background(), "www.blocked.com")
	if err != nil {
		t.Fatal(err)
	}
	if addrs[0].String() != "198.18.99.1" && addrs[0].String() != "198.18.99.2" {
		t.Fatalf("resolved %v, want a forged address", addrs)
	}
}
