package border

import "github.com/splinter-lab/splinter/policy"

// ESNIMatch matches a ClientHello carrying the encrypted_server_name
// extension. Its default is the draft code point 0xffce.
type ESNIMatch struct {
	Extension uint16 `yaml:"extension"`
}

func init() {
	RegisterMatcher("esni", "TLS ClientHello carries the ESNI extension (0xffce).",
		func() MatcherConfig { return &ESNIMatch{Extension: 0xffce} })
}

// Kind implements policy.Matcher.
func (*ESNIMatch) Kind() string { return "esni" }

// Validate implements policy.Matcher.
func (m *ESNIMatch) Validate(c *policy.Checker) {
	if m.Extension == 0 {
		c.Errorf("extension", "extension code point is 0")
	}
}

// Compile implements MatcherConfig.
func (m *ESNIMatch) Compile(c *Compiler) (Matcher, error) {
	return &esniMatcher{ext: m.Extension, reassemble: c.Rule().Inspect.ReassembleTLS}, nil
}

type esniMatcher struct {
	ext        uint16
	reassemble bool
}

func (*esniMatcher) Traits() Traits { return Traits{Layer: LayerTLS, Protocols: OnlyTCP} }

func (em *esniMatcher) Match(in *Inspection) Result {
	h, res := parseHello(in, em.reassemble)
	if res == Match && !h.Complete {
		return NeedMore
	}
	if res != Match {
		return res
	}
	if h.ESNI {
		in.Evidence(EvidenceESNI, "0xffce")
		return Match
	}
	return NoMatch
}

// OpensRequest implements RequestOpener: a TLS handshake record.
func (*esniMatcher) OpensRequest(data []byte) bool { return opensTLS(data) }
