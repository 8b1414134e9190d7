package border

import (
	"strconv"

	"github.com/splinter-lab/splinter/packet"

	"github.com/splinter-lab/splinter/policy"
)

// AppProtocolMatch matches a packet whose data looks like one of Protocols,
// judged on the packet alone, over TCP or UDP: dns (a DNS header with QR=0,
// QDCOUNT < 15 and ANCOUNT 0, over TCP with its length prefix), http (a
// method and a space), tls (a handshake record whose length agrees with its
// ClientHello's, the tests of Iran's protocol filter, FOCI 2020), quic (a
// long-header packet with the fixed bit). Inverted with `not`, it is an
// allowlist of protocols: Iran blocked "unidentified UDP" on most ISPs
// after the June 2025 shutdown (net4people/bbs#489). Protocols is required.
type AppProtocolMatch struct {
	Protocols []AppProtocol `yaml:"protocols"`
}

// AppQUIC is QUIC, for AppProtocolMatch.
const AppQUIC AppProtocol = "quic"

func init() {
	RegisterMatcher("app-protocol", "The packet's data looks like one of dns, http, tls, quic (judged on the packet alone).",
		func() MatcherConfig { return &AppProtocolMatch{} })
}

// Kind implements policy.Matcher.
func (*AppProtocolMatch) Kind() string { return "app-protocol" }

// Validate implements policy.Matcher.
func (m *AppProtocolMatch) Validate(c *policy.Checker) {
	if len(m.Protocols) == 0 {
		c.Errorf("protocols", "app-protocol needs at least one protocol")
	}
	for i, p := range m.Protocols {
		policy.OneOf(c, "protocols["+strconv.Itoa(i)+"]", p, false, AppDNS, AppHTTP, AppTLS, AppQUIC)
	}
}

// Compile implements MatcherConfig.
func (m *AppProtocolMatch) Compile(*Compiler) (Matcher, error) {
	am := &appMatcher{}
	for _, p := range m.Protocols {
		switch p {
		case AppDNS:
			am.dns = true
		case AppHTTP:
			am.http = true
		case AppTLS:
			am.tls = true
		case AppQUIC:
			am.quic = true
		}
	}
	return am, nil
}

type appMatcher struct{ dns, http, tls, quic bool }

func (*appMatcher) Traits() Traits { return Traits{Layer: LayerPayload} }

// The protocol filter's tests (match_allowlist.go), one protocol each.
var (
	looksDNS  = allowMatcher{dns: true}
	looksHTTP = allowMatcher{http: true}
	looksTLS  = allowMatcher{tls: true}
)

func (am *appMatcher) Match(in *Inspection) Result {
	b := in.p.Payload
	if len(b) == 0 {
		return NeedMore
	}
	udp := in.p.Proto == packet.UDP
	name := ""
	switch {
	case am.dns && udp && looksDNS.looksAllowed(b):
		name = "dns"
	case am.dns && !udp && len(b) >= 14 && int(b[0])<<8|int(b[1]) == len(b)-2 && looksDNS.looksAllowed(b[2:]):
		name = "dns" // over TCP, after its length prefix
	case am.http && !udp && looksHTTP.looksAllowed(b):
		name = "http"
	case am.tls && !udp && looksTLS.looksAllowed(b):
		name = "tls"
	case am.quic && udp && len(b) >= 5 && b[0]&0xc0 == 0xc0:
		name = "quic"
	}
	if name == "" {
		return NoMatch
	}
	in.Evidence(EvidenceProtocol, name)
	return Match
}
