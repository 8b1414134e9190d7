package border

import (
	"bytes"

	"github.com/splinter-lab/splinter/policy"
)

// TLSSNIMatch matches the server_name of a TLS ClientHello against a list.
// Whether a ClientHello split over segments or records is seen is the
// rule's Inspect. List is required.
type TLSSNIMatch struct {
	List string            `yaml:"list"`
	Mode policy.DomainMode `yaml:"mode"`
	// MatchMissing also matches a ClientHello without SNI.
	MatchMissing bool `yaml:"match-missing"`
}

func init() {
	RegisterMatcher("tls-sni", "TLS ClientHello server_name against a list.",
		func() MatcherConfig { return &TLSSNIMatch{} })
}

// Kind implements policy.Matcher.
func (*TLSSNIMatch) Kind() string { return "tls-sni" }

// Validate implements policy.Matcher.
func (m *TLSSNIMatch) Validate(c *policy.Checker) { c.NameList("list", m.List, true, m.Mode) }

// Compile implements MatcherConfig.
func (m *TLSSNIMatch) Compile(c *Compiler) (Matcher, error) {
	l, err := c.List(m.List)
	return &sniMatcher{cfg: m, list: l, reassemble: c.Rule().Inspect.ReassembleTLS}, err
}

type sniMatcher struct {
	cfg        *TLSSNIMatch
	list       *policy.Compiled
	reassemble bool
}

func (*sniMatcher) Traits() Traits { return Traits{Layer: LayerTLS, Protocols: OnlyTCP} }

func (sm *sniMatcher) Match(in *Inspection) Result {
	h, res := parseHello(in, sm.reassemble)
	if res != Match {
		return res
	}
	sni := h.ServerName()
	if sni == nil {
		if sm.cfg.MatchMissing && h.Complete {
			in.Evidence(EvidenceSNI, "")
			return Match
		}
		if h.Complete {
			return NoMatch
		}
		return NeedMore
	}
	if item, ok := sm.list.MatchDomain(sni, sm.cfg.Mode); ok {
		in.Evidence(EvidenceSNI, string(bytes.ToLower(sni)))
		in.Evidence(EvidenceListItem, item)
		return Match
	}
	return NoMatch
}

// OpensRequest implements RequestOpener: a TLS handshake record.
func (*sniMatcher) OpensRequest(data []byte) bool { return opensTLS(data) }
