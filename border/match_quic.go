package border

import (
	"bytes"
	"errors"

	"github.com/splinter-lab/splinter/dissect"
	"github.com/splinter-lab/splinter/policy"
)

// QUICSNIMatch matches the SNI of a QUIC Initial, decrypted with the keys
// derived from its Destination Connection ID. List is required.
type QUICSNIMatch struct {
	List string            `yaml:"list"`
	Mode policy.DomainMode `yaml:"mode"`
	// Versions are the QUIC versions decrypted; default [1] (QUIC v2
	// evades the GFW).
	Versions []uint32 `yaml:"versions"`
	// MaxFrames is how many frames are scanned for the CRYPTO frame before
	// giving up; 0 means all (a CRYPTO frame buried behind many PING and
	// PADDING frames evades the GFW).
	MaxFrames int `yaml:"max-frames"`
}

func init() {
	RegisterMatcher("quic-sni", "SNI of a decrypted QUIC Initial against a list.",
		func() MatcherConfig { return &QUICSNIMatch{Versions: []uint32{1}} })
}

// Kind implements policy.Matcher.
func (*QUICSNIMatch) Kind() string { return "quic-sni" }

// Validate implements policy.Matcher.
func (m *QUICSNIMatch) Validate(c *policy.Checker) {
	c.NameList("list", m.List, true, m.Mode)
	if m.MaxFrames < 0 {
		c.Errorf("max-frames", "max-frames %d is negative", m.MaxFrames)
	}
	if len(m.Versions) == 0 {
		c.Errorf("versions", "quic-sni needs at least one version")
	}
}

// Compile implements MatcherConfig.
func (m *QUICSNIMatch) Compile(c *Compiler) (Matcher, error) {
	l, err := c.List(m.List)
	return &quicMatcher{cfg: m, list: l}, err
}

type quicMatcher struct {
	cfg  *QUICSNIMatch
	list *policy.Compiled
}

func (*quicMatcher) Traits() Traits { return Traits{Layer: LayerQUIC, Protocols: OnlyUDP} }

func (qm *quicMatcher) Match(in *Inspection) Result {
	q := &in.sc.quic
	err := dissect.ParseQUICInitial(in.data, dissect.QUICOptions{MaxFrames: qm.cfg.MaxFrames}, q)
	if err != nil && !(errors.Is(err, dissect.ErrIncomplete) && q.Hello.HasSNI) {
		return NoMatch
	}
	ok := false
	for _, v := range qm.cfg.Versions {
		ok = ok || v == q.Version
	}
	if !ok {
		return NoMatch
	}
	sni := q.Hello.ServerName()
	if item, hit := qm.list.MatchDomain(sni, qm.cfg.Mode); hit && sni != nil {
		in.Evidence(EvidenceQUICSNI, string(bytes.ToLower(sni)))
		in.Evidence(EvidenceListItem, item)
		return Match
	}
	return NoMatch
}
