package score

import (
	"net/netip"
	"testing"

	"github.com/splinter-lab/splinter/border"
	"github.com/splinter-lab/splinter/probe"
)

func TestClass(t *testing.T) {
	srv := netip.MustParseAddrPort("198.18.96.5:443")
	for _, c := range []struct {
		name string
		d    border.Decision
		want probe.Verdict
	}{
		{"dns inject", border.Decision{Effect: border.EffectForgedAnswer, Layer: border.LayerDNS, Proto: "udp"}, probe.DNS},
		{"dns-over-tcp reset", border.Decision{Effect: border.EffectReset, Layer: border.LayerDNS, Proto: "tcp"}, probe.DNS},
		{"sni rst", border.Decision{Effect: border.EffectReset, Layer: border.LayerTLS, Proto: "tcp", Server: srv}, probe.TLS},
		{"esni drop", border.Decision{Effect: border.EffectDrop, Layer: border.LayerTLS, Proto: "tcp", Server: srv}, probe.TLS},
		{"host rst", border.Decision{Effect: border.EffectReset, Layer: border.LayerHTTP, Proto: "tcp"}, probe.HTTPFailure},
		{"block page", border.Decision{Effect: border.EffectPage, Layer: border.LayerHTTP, Proto: "tcp", Blockpage: &border.BlockpageFacts{Status: 200}}, probe.HTTPDiff},
		{"block page in rst", border.Decision{Effect: border.EffectReset, Layer: border.LayerHTTP, Proto: "tcp", Blockpage: &border.BlockpageFacts{Status: 403, InRST: true}}, probe.HTTPFailure},
		{"quic", border.Decision{Effect: border.EffectDrop, Layer: border.LayerQUIC, Proto: "udp"}, probe.QUIC},
		{"throttle", border.Decision{Effect: border.EffectThrottle, Layer: border.LayerTLS, Proto: "tcp"}, probe.Throttled},
		{"residual enforced", border.Decision{Effect: border.EffectReset, Enforced: true, Layer: border.LayerTLS, Proto: "tcp"}, probe.Residual},
		{"ip drop", border.Decision{Effect: border.EffectDrop, Layer: border.LayerIP, Proto: "tcp"}, probe.TCPIP},
		{"dns query dropped by an ip rule", border.Decision{Effect: border.EffectDrop, Layer: border.LayerIP, Proto: "udp",
			Evidence: []border.Evidence{{Kind: "unlisted", Value: "not ip in list allowed-sources"}, {Kind: border.EvidenceQName, Value: "www.example.ir"}}}, probe.DNS},
		{"dns query dropped by a null route", border.Decision{Effect: border.EffectDrop, Enforced: true, Layer: border.LayerIP, Proto: "udp",
			Evidence: []border.Evidence{{Kind: border.EvidenceQName, Value: "www.example.ir"}}}, probe.DNS},
		{"fully encrypted", border.Decision{Effect: border.EffectBlock, Layer: border.LayerPayload, Proto: "tcp"}, probe.TCPIP},
	} {
		if got := Class(c.d); got != c.want {
			t.Errorf("%s: Class = %s, want %s", c.name, got, c.want)
		}
		// Detail is for people: rewording it changes nothing.
		for _, detail := range []string{"", "HTTP 403 block page, 900 bytes, rst-psh-ack", "then rst, dns-inject, sni"} {
			d := c.d
			d.Detail = detail
			if got := Class(d); got != c.want {
				t.Errorf("%s with detail %q: Class = %s, want %s", c.name, detail, got, c.want)
			}
		}
	}
}

func TestTruthPrecedence(t *testing.T) {
	ds := []border.Decision{
		{Effect: border.EffectReset, Layer: border.LayerTLS, Proto: "tcp"},
		{Effect: border.EffectForgedAnswer, Layer: border.LayerDNS, Proto: "udp"},
	}
	if got := Truth(ds); got != probe.DNS {
		t.Errorf("Truth = %s, want dns", got)
	}
	if got := Truth(nil); got != probe.Accessible {
		t.Errorf("Truth(nil) = %s, want accessible", got)
	}
}
