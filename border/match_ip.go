package border

import (
	"net/netip"

	"github.com/splinter-lab/splinter/policy"
)

// IPMatch matches the address of one end of a flow against prefixes: a
// prefixes list, inline prefixes, or both. It needs at least one.
type IPMatch struct {
	List     string         `yaml:"list"`
	Prefixes []netip.Prefix `yaml:"prefixes"`
	// Side is the end whose address is matched; "" means dst.
	Side policy.Side `yaml:"side"`
}

func init() {
	RegisterMatcher("ip", "Source or destination address in a prefixes list or inline prefixes.",
		func() MatcherConfig { return &IPMatch{} })
}

// Kind implements policy.Matcher.
func (*IPMatch) Kind() string { return "ip" }

// Validate implements policy.Matcher.
func (m *IPMatch) Validate(c *policy.Checker) {
	policy.OneOf(c, "side", m.Side, true, policy.Src, policy.Dst, policy.Either)
	c.AddrSetOf("", m.List, m.Prefixes)
	if m.List == "" && len(m.Prefixes) == 0 {
		c.Errorf("", "ip needs a list or prefixes")
	}
}

// Compile implements MatcherConfig.
func (m *IPMatch) Compile(c *Compiler) (Matcher, error) {
	set, err := c.addrSet(policy.AddrSet{List: m.List, Prefixes: m.Prefixes})
	return &ipMatcher{set: set, side: m.Side}, err
}

type ipMatcher struct {
	set  addrSet
	side policy.Side
}

func (*ipMatcher) Traits() Traits { return Traits{Layer: LayerIP, Header: true} }

func (im *ipMatcher) Match(in *Inspection) Result {
	aps, n := sideAddrs(im.side, in)
	for _, ap := range aps[:n] {
		if pfx, ok := im.set.match(ap.Addr()); ok {
			in.Evidence(EvidencePrefix, pfx.String())
			return Match
		}
	}
	return NoMatch
}
