package score

import (
	"net/netip"
	"testing"

	"github.com/splinter-lab/splinter/border"
	"github.com/splinter-lab/splinter/probe"
)

func TestClass(t *testing.T) {
	srv := netip.MustParseAddrPort("198.18.96.5:443")
	ev := func(kind, v string) []border.Evidence { return []border.Evidence{{Kind: kind, Value: v}} }
	for _, c := range []struct {
		name string
		d    border.Decision
		want probe.Verdict
	}{
		{"dns inject", border.Decision{Action: "dns-inject", Proto: "udp", Evidence: ev("qname", "a.com")}, probe.DNS},
		{"sni rst", border.Decision{Action: "rst", Proto: "tcp", Server: srv, Evidence: ev("sni", "a.com")}, probe.TLS},
		{"host rst", border.Decision{Action: "rst", Proto: "tcp", Evidence: ev("host", "a.com")}, probe.HTTPFailure},
		{"block page", border.Decision{Action: "blockpage", Proto: "tcp", Evidence: ev("host", "a.com"), Detail: "HTTP 200 block page, 368 bytes, fin-psh-ack"}, probe.HTTPDiff},
		{"block page then rst", border.Decision{Action: "blockpage", Proto: "tcp", Evidence: ev("host", "a.com"), Detail: "HTTP 200 block page, 520 bytes, fin-psh-ack, then rst"}, probe.HTTPDiff},
		{"block page in rst", border.Decision{Action: "blockpage", Proto: "tcp", Evidence: ev("host", "a.com"), Detail: "HTTP 403 block page, 900 bytes, rst-psh-ack"}, probe.HTTPFailure},
		{"quic", border.Decision{Action: "drop", Proto: "udp", Evidence: ev("quic-sni", "a.com")}, probe.QUIC},
		{"throttle", border.Decision{Action: "throttle", Proto: "tcp", Evidence: ev("sni", "a.com")}, probe.Throttled},
		{"residual enforced", border.Decision{Action: "residual", Enforced: true, Proto: "tcp", Evidence: ev("sni", "a.com")}, probe.Residual},
		{"ip drop", border.Decision{Action: "drop", Proto: "tcp", Evidence: ev("prefix", "198.18.96.0/24")}, probe.TCPIP},
	} {
		if got := Class(c.d); got != c.want {
			t.Errorf("%s: Class = %s, want %s", c.name, got, c.want)
		}
	}
}

func TestTruthPrecedence(t *testing.T) {
	ds := []border.Decision{
		{Action: "rst", Proto: "tcp", Evidence: []border.Evidence{{Kind: "sni", Value: "a.com"}}},
		{Action: "dns-inject", Proto: "udp", Evidence: []border.Evidence{{Kind: "qname", Value: "a.com"}}},
	}
	if got := Truth(ds); got != probe.DNS {
		t.Errorf("Truth = %s, want dns", got)
	}
	if got := Truth(nil); got != probe.Accessible {
		t.Errorf("Truth(nil) = %s, want accessible", got)
	}
}
