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
// neither alone (since 2024-11-05; net4people/bbs#417). A ClientHello
// split across Initial packets (quic-go since v0.52; browsers with
// post-quantum key shares) is reassembled from up to four datagrams of the
// flow, with the keys of the first one's connection ID even when a slow
// client sends the rest to the server's (RFC 9001 5.2): give the rule
// `inspect: {packets: first-n, n: 4}`. Its zero value
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

// maxInitials is how many datagrams quic-ech reassembles a ClientHello
// from before it gives up on a flow.
const maxInitials = 4

func (qm *quicECHMatcher) Match(in *Inspection) Result {
	// The first datagram is parsed in scratch space; a ClientHello that
	// continues in later Initials is collected in the flow's own state.
	var q *dissect.QUICInitial
	if in.st != nil {
		q, _ = in.st.aux.(*dissect.QUICInitial)
	}
	opts := dissect.QUICOptions{MaxFrames: qm.cfg.MaxFrames, Continue: q != nil}
	if q == nil {
		q = &in.sc.quic
	}
	err := dissect.ParseQUICInitial(in.data, opts, q)
	if errors.Is(err, dissect.ErrIncomplete) && in.st != nil && !opts.Continue && in.Packets() < maxInitials {
		// Keep this datagram's CRYPTO data for the next ones.
		q = new(dissect.QUICInitial)
		in.st.aux = q
		err = dissect.ParseQUICInitial(in.data, dissect.QUICOptions{MaxFrames: qm.cfg.MaxFrames}, q)
	}
	done := func(r Result) Result {
		if in.st != nil {
			in.st.aux = nil
		}
		return r
	}
	switch {
	case err == nil:
	case errors.Is(err, dissect.ErrIncomplete) && in.Packets() < maxInitials:
		if sni := q.Hello.ServerName(); qm.outer != nil && q.Hello.HasSNI {
			if _, ok := qm.outer.MatchDomain(sni, qm.cfg.Mode); !ok {
				return done(NoMatch)
			}
		}
		return NeedMore
	case opts.Continue && in.Packets() < maxInitials:
		return NeedMore // another packet of the connection (a retransmission, a Handshake)
	default:
		return done(NoMatch)
	}
	if !q.Hello.ECH {
		return done(NoMatch)
	}
	if qm.outer == nil {
		in.Evidence(EvidenceECH, "present")
		return done(Match)
	}
	sni := q.Hello.ServerName()
	if item, ok := qm.outer.MatchDomain(sni, qm.cfg.Mode); ok && sni != nil {
		in.Evidence(EvidenceECHOuterSNI, string(bytes.ToLower(sni)))
		in.Evidence(EvidenceListItem, item)
		return done(Match)
	}
	return done(NoMatch)
}
