package border

import (
	"bytes"

	"github.com/splinter-lab/splinter/policy"
)

// TLSHelloMatch matches a TLS ClientHello, whatever its server name: the
// trigger of a censor that treats every TLS connection alike. Iran's MCI
// and TCI after the June 2025 shutdown let the ClientHello reach the
// server and dropped what came back ("ClientHello is ok, but ServerHello
// is blocked": net4people/bbs#489). Its zero value is usable.
type TLSHelloMatch struct{}

func init() {
	RegisterMatcher("tls-hello", "A TLS ClientHello, whatever its server name.",
		func() MatcherConfig { return &TLSHelloMatch{} })
}

// Kind implements policy.Matcher.
func (*TLSHelloMatch) Kind() string { return "tls-hello" }

// Validate implements policy.Matcher: there is nothing to check.
func (*TLSHelloMatch) Validate(*policy.Checker) {}

// Compile implements MatcherConfig.
func (*TLSHelloMatch) Compile(c *Compiler) (Matcher, error) {
	return &helloMatcher{reassemble: c.Rule().Inspect.ReassembleTLS}, nil
}

type helloMatcher struct{ reassemble bool }

func (*helloMatcher) Traits() Traits { return Traits{Layer: LayerTLS, Protocols: OnlyTCP} }

func (hm *helloMatcher) Match(in *Inspection) Result {
	h, res := parseHello(in, hm.reassemble)
	if res != Match {
		return res
	}
	if h.HasSNI {
		in.Evidence(EvidenceSNI, string(bytes.ToLower(h.ServerName())))
	}
	return Match
}

// OpensRequest implements RequestOpener: a TLS handshake record.
func (*helloMatcher) OpensRequest(data []byte) bool { return opensTLS(data) }
