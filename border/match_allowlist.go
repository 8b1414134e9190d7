package border

import (
	"bytes"
	"strconv"

	"github.com/splinter-lab/splinter/policy"
)

// AppProtocol is an application protocol a payload may look like.
type AppProtocol string

// Application protocols recognised by ProtocolAllowlistMatch.
const (
	AppDNS  AppProtocol = "dns"
	AppHTTP AppProtocol = "http"
	AppTLS  AppProtocol = "tls"
)

// ProtocolAllowlistMatch matches a flow none of whose first Packets client
// data packets looks like one of Allow (Iran's protocol filter, FOCI 2020:
// DNS >= 12 bytes, QR=0, QDCOUNT<15, ANCOUNT=0, no length prefix; HTTP >= 8
// bytes starting with a method and a space; TLS >= 41 bytes, record length
// equal to ClientHello length, version 0x0301-0x0303). The registered
// default has Packets 2 and all three protocols.
type ProtocolAllowlistMatch struct {
	Packets int           `yaml:"packets"`
	Allow   []AppProtocol `yaml:"allow"`
}

func init() {
	RegisterMatcher("protocol-allowlist", "None of the first N client data packets looks like an allowed protocol (dns, http, tls).",
		func() MatcherConfig {
			return &ProtocolAllowlistMatch{Packets: 2, Allow: []AppProtocol{AppDNS, AppHTTP, AppTLS}}
		})
}

// Kind implements policy.Matcher.
func (*ProtocolAllowlistMatch) Kind() string { return "protocol-allowlist" }

// Validate implements policy.Matcher.
func (m *ProtocolAllowlistMatch) Validate(c *policy.Checker) {
	if m.Packets <= 0 {
		c.Errorf("packets", "packets %d: want at least 1", m.Packets)
	}
	if len(m.Allow) == 0 {
		c.Errorf("allow", "protocol-allowlist needs at least one allowed protocol")
	}
	for i, p := range m.Allow {
		policy.OneOf(c, "allow["+strconv.Itoa(i)+"]", p, false, AppDNS, AppHTTP, AppTLS)
	}
}

// Compile implements MatcherConfig.
func (m *ProtocolAllowlistMatch) Compile(*Compiler) (Matcher, error) {
	am := &allowMatcher{n: m.Packets}
	for _, a := range m.Allow {
		switch a {
		case AppDNS:
			am.dns = true
		case AppHTTP:
			am.http = true
		case AppTLS:
			am.tls = true
		}
	}
	am.evidence = "none of the first " + strconv.Itoa(am.n) + " packets is an allowed protocol"
	return am, nil
}

type allowMatcher struct {
	n              int
	dns, http, tls bool
	evidence       string
}

func (*allowMatcher) Traits() Traits {
	return Traits{Layer: LayerPayload, Protocols: OnlyTCP, CountsPackets: true}
}

var httpMethods = [][]byte{[]byte("GET "), []byte("POST "), []byte("HEAD "), []byte("CONNECT "), []byte("OPTIONS "), []byte("DELETE "), []byte("PUT ")}

func (am *allowMatcher) looksAllowed(b []byte) bool {
	if am.dns && len(b) >= 12 && b[2]&0x80 == 0 && uint16(b[4])<<8|uint16(b[5]) < 15 && b[6] == 0 && b[7] == 0 {
		return true
	}
	if am.http && len(b) >= 8 {
		for _, p := range httpMethods {
			if bytes.HasPrefix(b, p) {
				return true
			}
		}
	}
	if am.tls && len(b) >= 41 && b[0] == 0x16 && b[1] == 3 && b[2] >= 1 && b[2] <= 3 && b[5] == 1 {
		rl := int(b[3])<<8 | int(b[4])
		hl := int(b[6])<<16 | int(b[7])<<8 | int(b[8])
		if rl == hl+4 {
			return true
		}
	}
	return false
}

func (am *allowMatcher) Match(in *Inspection) Result {
	if am.looksAllowed(in.p.Payload) {
		return NoMatch
	}
	if in.Packets() < am.n {
		return NeedMore
	}
	in.Evidence(EvidenceProtocol, am.evidence)
	return Match
}
