package border

import (
	"strconv"

	"github.com/splinter-lab/splinter/policy"
)

// PortMatch matches the port of one end of a flow. It needs ports or a
// ports list.
type PortMatch struct {
	Ports []policy.PortRange `yaml:"ports"`
	List  string             `yaml:"list"`
	// Side is the end whose port is matched; "" means dst.
	Side policy.Side `yaml:"side"`
}

func init() {
	RegisterMatcher("port", "Source or destination port in ports or a ports list.",
		func() MatcherConfig { return &PortMatch{} })
}

// Kind implements policy.Matcher.
func (*PortMatch) Kind() string { return "port" }

// Validate implements policy.Matcher.
func (m *PortMatch) Validate(c *policy.Checker) {
	policy.OneOf(c, "side", m.Side, true, policy.Src, policy.Dst, policy.Either)
	c.List("list", m.List, false, policy.Ports)
	if m.List == "" && len(m.Ports) == 0 {
		c.Errorf("", "port needs ports or a list")
	}
	for i, r := range m.Ports {
		if r.Lo == 0 || r.Lo > r.Hi {
			c.Errorf("ports["+strconv.Itoa(i)+"]", "invalid port range %q", r)
		}
	}
}

// Compile implements MatcherConfig.
func (m *PortMatch) Compile(c *Compiler) (Matcher, error) {
	l, err := c.List(m.List)
	return &portMatcher{ports: m.Ports, list: l, side: m.Side}, err
}

type portMatcher struct {
	ports []policy.PortRange
	list  *policy.Compiled
	side  policy.Side
}

func (*portMatcher) Traits() Traits { return Traits{Layer: LayerIP, Header: true} }

func (pm *portMatcher) Match(in *Inspection) Result {
	aps, n := sideAddrs(pm.side, in)
	for _, ap := range aps[:n] {
		port := ap.Port()
		hit := false
		for _, r := range pm.ports {
			hit = hit || r.Contains(port)
		}
		if !hit && pm.list != nil {
			_, hit = pm.list.MatchPort(port)
		}
		if hit {
			in.Evidence(EvidencePort, strconv.Itoa(int(port)))
			return Match
		}
	}
	return NoMatch
}
