package border

import (
	"bytes"
	"errors"

	"github.com/splinter-lab/splinter/dissect"
	"github.com/splinter-lab/splinter/policy"
)

// QUICECHMatch matches a QUIC v1 Initial whose ClientHello, decrypted with
// the keys of its Destination Connection ID, carries the
// encrypted_client_hello extension, and, if OuterList is set, an outer SNI
// in that list. Russia drops Cloudflare's ECH over HTTP/3 as over TCP: only
// when the SNI is cloudflare-ech.com and an ECH extension is present,
// neither alone (since 2024-11-05; net4people/bbs#417). Its zero value
// matches any ECH Initial.
type QUICECHMatch struct {
	OuterList string            `yaml:"outer-list"`
	Mode      policy.DomainMode `yaml:"mode"`
	// MaxFrames bounds the frames walked for the CRYPTO frame; 0 means all.
	MaxFrames int `yaml:"max-frames"`
}

func init() {
	RegisterMatcher("quic-ech", "A decrypted QUIC Initial whose ClientHello carries ECH, optionally with an outer SNI in a list.",
		func() MatcherConfig { return &QUICECHMatch{} })
}

// Kind implements policy.Matcher.
func (*QUICECHMatch) Kind() string { return "quic-ech" }

// Validate implements policy.Matcher.
func (m *QUICECHMatch) Validate(c *policy.Checker) {
	c.NameList("outer-list", m.OuterList, false, m.Mode)
	if m.MaxFrames < 0 {
		c.Errorf("max-frames", "max-frames %d is negative", m.MaxFrames)
	}
}

// Compile implements MatcherConfig.
func (m *QUICECHMatch) Compile(c *Compiler) (Matcher, error) {
	l, err := c.List(m.OuterList)
	return &quicECHMatcher{cfg: m, outer: l}, err
}

type quicECHMatcher struct {
	cfg   *QUICECHMatch
	outer *policy.Compiled
}

func (*quicECHMatcher) Traits() Traits { return Traits{Layer: LayerQUIC, Protocols: OnlyUDP} }

func (qm *quicECHMatcher) Match(in *Inspection) Result {
	q := &in.sc.quic
	err := dissect.ParseQUICInitial(in.data, dissect.QUICOptions{MaxFrames: qm.cfg.MaxFrames}, q)
	if err != nil && !errors.Is(err, dissect.ErrIncomplete) {
		return NoMatch
	}
	if !q.Hello.ECH {
		return NoMatch
	}
	if qm.outer == nil {
		in.Evidence(EvidenceECH, "present")
		return Match
	}
	sni := q.Hello.ServerName()
	if item, ok := qm.outer.MatchDomain(sni, qm.cfg.Mode); ok && sni != nil {
		in.Evidence(EvidenceECHOuterSNI, string(bytes.ToLower(sni)))
		in.Evidence(EvidenceListItem, item)
		return Match
	}
	return NoMatch
}
