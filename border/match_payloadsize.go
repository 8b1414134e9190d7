package border

import (
	"strconv"

	"github.com/splinter-lab/splinter/policy"
)

// PayloadSizeMatch matches a client packet carrying between Min and Max
// bytes of data (Max 0: no upper bound): any data at all with its
// defaults. It makes a rule act on data rather than on the handshake: on
// Russia's mobile allowlists the SYN to an unlisted host passes and the
// ClientHello does not (net4people/bbs#516); the GFW replays only first
// packets of 160 to 700 bytes (IMC 2020 §4.2). The registered default has
// Min 1.
type PayloadSizeMatch struct {
	Min int `yaml:"min"`
	Max int `yaml:"max"`
}

func init() {
	RegisterMatcher("payload-size", "A client packet carrying between min and max bytes of data (any data by default).",
		func() MatcherConfig { return &PayloadSizeMatch{Min: 1} })
}

// Kind implements policy.Matcher.
func (*PayloadSizeMatch) Kind() string { return "payload-size" }

// Validate implements policy.Matcher.
func (m *PayloadSizeMatch) Validate(c *policy.Checker) {
	if m.Min < 1 {
		c.Errorf("min", "min %d: want at least 1 byte (a packet without data is matched by header matchers)", m.Min)
	}
	if m.Max != 0 && m.Max < m.Min {
		c.Errorf("max", "max %d is below min %d", m.Max, m.Min)
	}
}

// Compile implements MatcherConfig.
func (m *PayloadSizeMatch) Compile(*Compiler) (Matcher, error) {
	return &sizeMatcher{min: m.Min, max: m.Max}, nil
}

type sizeMatcher struct{ min, max int }

func (*sizeMatcher) Traits() Traits { return Traits{Layer: LayerPayload} }

func (sm *sizeMatcher) Match(in *Inspection) Result {
	n := len(in.p.Payload)
	if n == 0 {
		return NeedMore
	}
	if n < sm.min || sm.max > 0 && n > sm.max {
		return NoMatch
	}
	in.Evidence(EvidencePayloadSize, strconv.Itoa(n))
	return Match
}

// EvidencePayloadSize is the evidence of a payload-size matcher: the
// packet's data length.
const EvidencePayloadSize EvidenceKind = "payload-size"
