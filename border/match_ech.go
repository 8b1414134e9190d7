package border

import (
	"bytes"

	"github.com/splinter-lab/splinter/policy"
)

// ECHMatch matches a ClientHello carrying the encrypted_client_hello
// extension (0xfe0d by default). If OuterList is set, the outer SNI must
// also match it (the GFW blocks ECH only for forbidden outer names).
type ECHMatch struct {
	Extension uint16            `yaml:"extension"`
	OuterList string            `yaml:"outer-list"`
	Mode      policy.DomainMode `yaml:"mode"`
}

func init() {
	RegisterMatcher("ech", "TLS ClientHello carries ECH (0xfe0d), optionally with an outer SNI in a list.",
		func() MatcherConfig { return &ECHMatch{Extension: 0xfe0d} })
}

// Kind implements policy.Matcher.
func (*ECHMatch) Kind() string { return "ech" }

// Validate implements policy.Matcher.
func (m *ECHMatch) Validate(c *policy.Checker) {
	if m.Extension == 0 {
		c.Errorf("extension", "extension code point is 0")
	}
	c.NameList("outer-list", m.OuterList, false, m.Mode)
}

// Compile implements MatcherConfig.
func (m *ECHMatch) Compile(c *Compiler) (Matcher, error) {
	l, err := c.List(m.OuterList)
	return &echMatcher{cfg: m, outer: l, reassemble: c.Rule().Inspect.ReassembleTLS}, err
}

type echMatcher struct {
	cfg        *ECHMatch
	outer      *policy.Compiled
	reassemble bool
}

func (*echMatcher) Traits() Traits { return Traits{Layer: LayerTLS, Protocols: OnlyTCP} }

func (em *echMatcher) Match(in *Inspection) Result {
	h, res := parseHello(in, em.reassemble)
	if res == Match && !h.Complete {
		return NeedMore
	}
	if res != Match {
		return res
	}
	if !h.ECH {
		return NoMatch
	}
	if em.outer == nil {
		in.Evidence(EvidenceECH, "present")
		return Match
	}
	sni := h.ServerName()
	if item, ok := em.outer.MatchDomain(sni, em.cfg.Mode); ok && sni != nil {
		in.Evidence(EvidenceECHOuterSNI, string(bytes.ToLower(sni)))
		in.Evidence(EvidenceListItem, item)
		return Match
	}
	return NoMatch
}

// OpensRequest implements RequestOpener: a TLS handshake record.
func (*echMatcher) OpensRequest(data []byte) bool { return opensTLS(data) }
