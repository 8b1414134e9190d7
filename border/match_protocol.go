package border

import (
	"strconv"

	"github.com/splinter-lab/splinter/policy"
)

// ProtocolMatch matches the transport protocol. It needs at least one.
type ProtocolMatch struct {
	Protocols []policy.Protocol `yaml:"protocols"`
}

func init() {
	RegisterMatcher("protocol", "Transport protocol is one of tcp, udp, icmp.",
		func() MatcherConfig { return &ProtocolMatch{} })
}

// Kind implements policy.Matcher.
func (*ProtocolMatch) Kind() string { return "protocol" }

// Validate implements policy.Matcher.
func (m *ProtocolMatch) Validate(c *policy.Checker) {
	if len(m.Protocols) == 0 {
		c.Errorf("protocols", "protocol needs at least one protocol")
	}
	for i, p := range m.Protocols {
		policy.OneOf(c, "protocols["+strconv.Itoa(i)+"]", p, false, policy.TCP, policy.UDP, policy.ICMP)
	}
}

// Compile implements MatcherConfig.
func (m *ProtocolMatch) Compile(*Compiler) (Matcher, error) {
	var pm protoMatcher
	for _, p := range m.Protocols {
		switch p {
		case policy.TCP:
			pm |= protoMatcher(OnlyTCP)
		case policy.UDP:
			pm |= protoMatcher(OnlyUDP)
		case policy.ICMP:
			pm |= protoMatcher(OnlyICMP)
		}
	}
	return pm, nil
}

// protoMatcher narrows its rule to its transports; the engine never shows
// it another.
type protoMatcher Protocols

func (pm protoMatcher) Traits() Traits {
	return Traits{Layer: LayerIP, Header: true, Protocols: Protocols(pm)}
}

func (pm protoMatcher) Match(in *Inspection) Result {
	if Protocols(pm)&protoBit(in.p.Proto) != 0 {
		return Match
	}
	return NoMatch
}
