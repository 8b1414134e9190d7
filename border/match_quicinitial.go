package border

import (
	"strconv"

	"github.com/splinter-lab/splinter/policy"
)

// QUICInitialMatch matches a UDP datagram that starts with a QUIC
// long-header packet of one of Versions (any version when empty) whose
// type is Initial: QUIC as such, read off the clear header, nothing
// decrypted. Only a datagram of at least 1200 bytes is taken for a client's
// Initial: RFC 9000 (§14.1) has a client pad every datagram that carries an
// Initial to that size, and a QUIC-aware box reads the size before the
// header, so that the rest of UDP (a DNS query whose ID happens to start
// with the long-header bits) is not mistaken for QUIC. Russia has blocked HTTP/3 to foreign sites since 2022-03-04 by
// leaving the Initial unanswered (net4people/bbs#108); Iran switched QUIC
// off on every ISP after the June 2025 shutdown (bbs#489). Its zero value
// matches any version.
type QUICInitialMatch struct {
	Versions []uint32 `yaml:"versions"`
}

func init() {
	RegisterMatcher("quic-initial", "A QUIC long-header Initial packet of the given versions (any when empty), read off the clear header.",
		func() MatcherConfig { return &QUICInitialMatch{} })
}

// Kind implements policy.Matcher.
func (*QUICInitialMatch) Kind() string { return "quic-initial" }

// Validate implements policy.Matcher.
func (m *QUICInitialMatch) Validate(c *policy.Checker) {
	for i, v := range m.Versions {
		if v == 0 {
			c.Errorf("versions["+strconv.Itoa(i)+"]", "version 0 is version negotiation, not QUIC")
		}
	}
}

// Compile implements MatcherConfig.
func (m *QUICInitialMatch) Compile(*Compiler) (Matcher, error) {
	return &quicInitialMatcher{versions: m.Versions}, nil
}

type quicInitialMatcher struct{ versions []uint32 }

func (*quicInitialMatcher) Traits() Traits { return Traits{Layer: LayerQUIC, Protocols: OnlyUDP} }

// minQUICInitialDatagram is the least size of a UDP payload carrying a
// client's Initial (RFC 9000, §14.1).
const minQUICInitialDatagram = 1200

// QUIC versions whose Initial type bits are known (RFC 9000, RFC 9369).
const (
	quicV1 = 0x00000001
	quicV2 = 0x6b3343cf
)

func (qm *quicInitialMatcher) Match(in *Inspection) Result {
	d := in.data
	if len(d) < minQUICInitialDatagram || d[0]&0xc0 != 0xc0 {
		return NoMatch // not a long header with the fixed bit
	}
	v := uint32(d[1])<<24 | uint32(d[2])<<16 | uint32(d[3])<<8 | uint32(d[4])
	if v == 0 {
		return NoMatch
	}
	ok := len(qm.versions) == 0
	for _, w := range qm.versions {
		ok = ok || w == v
	}
	if !ok {
		return NoMatch
	}
	typ := (d[0] >> 4) & 3
	if v == quicV1 && typ != 0 || v == quicV2 && typ != 1 {
		return NoMatch
	}
	in.Evidence(EvidenceQUICVersion, "0x"+strconv.FormatUint(uint64(v), 16))
	return Match
}

// EvidenceQUICVersion is the evidence of a quic-initial matcher.
const EvidenceQUICVersion EvidenceKind = "quic-version"
