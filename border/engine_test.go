package border_test

import (
	"errors"
	"net/netip"
	"syscall"
	"testing"
	"time"
)

const sniPolicy = `
lists:
  names: {kind: domains, items: [blocked.com]}
rules:
  - id: sni
    source: test
    year: 2024
    scope: {protocols: [tcp], direction: outbound}
    inspect: {reassemble-tcp: true, require-syn: true}
    match: [{tls-sni: {list: names}}]
    actions:
      - rst: {to: both, count: 3, flags: rst-ack}
      - residual: {tuple: 3, duration: 90s, enforce: rst}
`

func TestSNIResetAndResidual(t *testing.T) {
	l := newLab(t, sniPolicy, false)
	blocked := netip.AddrPortFrom(l.site("www.blocked.com").Addr(4), 443)
	allowed := netip.AddrPortFrom(l.site("www.allowed.com").Addr(4), 443)

	if err := l.tlsDial(l.client, allowed, "www.allowed.com", nil); err != nil {
		t.Fatalf("allowed site: %v", err)
	}
	if n := len(l.decisions()); n != 0 {
		t.Fatalf("allowed traffic logged %d decisions: %s", n, rules(l.decisions()))
	}
	err := l.tlsDial(l.client, blocked, "www.blocked.com", nil)
	if !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("blocked SNI: %v, want connection reset", err)
	}
	// Inside the window, even an allowed SNI to the same server:port is reset.
	l.clock.Advance(30 * time.Second)
	if err := l.tlsDial(l.client, blocked, "www.allowed.com", nil); !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("residual: %v, want connection reset", err)
	}
	// Another port of the same server is not covered by the 3-tuple.
	if _, _, err := httpGet(l.client, "http://"+blocked.Addr().String()+"/"); err != nil {
		t.Fatalf("port 80 of the blocked server: %v", err)
	}
	// After the window it works again.
	l.clock.Advance(61 * time.Second)
	if err := l.tlsDial(l.client, blocked, "www.allowed.com", nil); err != nil {
		t.Fatalf("after the window: %v", err)
	}
	got := rules(l.decisions())
	if want := "sni:rst sni:residual sni:residual"; got != want {
		for _, d := range l.decisions() {
			t.Logf("%+v", d)
		}
		t.Fatalf("decisions %q, want %q", got, want)
	}
	d := l.decisions()[0]
	if d.Evidence[0].Kind != "sni" || d.Evidence[0].Value != "www.blocked.com" || d.Border != "XX" || d.Direction != "outbound" {
		t.Fatalf("decision %+v", d)
	}
}
