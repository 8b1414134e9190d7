package border

import (
	"time"

	"github.com/splinter-lab/splinter/packet"
	"github.com/splinter-lab/splinter/policy"
)

// ActionNullRoute is the kind of NullRouteAction.
const ActionNullRoute ActionKind = "null-route"

// RouteKey says what a null route covers.
type RouteKey string

// Null-route keys. The zero value means KeyDstIP.
const (
	KeyDstIP  RouteKey = "dst-ip"
	Key3Tuple RouteKey = "3-tuple"
	Key4Tuple RouteKey = "4-tuple"
	// KeySrcIP: every packet from or to the client's address (Iran 2025:
	// ICMP cut after 2-3 packets, then all traffic).
	KeySrcIP RouteKey = "src-ip"
)

// NullRouteAction silently discards all traffic of a key in both directions
// (Iran after a block page: the 4-tuple for 180s, restarted by new
// packets). It needs a duration.
type NullRouteAction struct {
	Key      RouteKey      `yaml:"key"`
	Duration time.Duration `yaml:"duration"`
	Restart  bool          `yaml:"restart"`
}

func init() {
	RegisterAction(string(ActionNullRoute), "Discard all traffic of the destination, the client, the 3- or 4-tuple for a duration.",
		func() ActionConfig { return &NullRouteAction{} })
}

// Kind implements policy.Action.
func (*NullRouteAction) Kind() string { return string(ActionNullRoute) }

// Validate implements policy.Action.
func (a *NullRouteAction) Validate(c *policy.Checker) {
	policy.OneOf(c, "key", a.Key, true, KeyDstIP, Key3Tuple, Key4Tuple, KeySrcIP)
	if a.Duration <= 0 {
		c.Errorf("duration", "null-route needs a positive duration")
	}
}

// Compile implements ActionConfig.
func (a *NullRouteAction) Compile(*Compiler) (Action, error) {
	key := a.Key
	if key == "" {
		key = KeyDstIP
	}
	return &nullRouteAct{cfg: a, detail: "null route by " + string(key) + " for " + a.Duration.String()}, nil
}

type nullRouteAct struct {
	cfg    *NullRouteAction
	detail string
}

func (*nullRouteAct) Effect() Effect { return EffectBlock }

func (n *nullRouteAct) Apply(a *Act) packet.Verdict {
	c := n.cfg
	k := blockKeyOf(keyDstIP, a.f)
	switch c.Key {
	case Key4Tuple:
		k = blockKeyOf(key4, a.f)
	case Key3Tuple:
		k = blockKeyOf(key3, a.f)
	case KeySrcIP:
		k = blockKeyOf(keySrcIP, a.f)
	}
	b := &block{rule: a.r, action: ActionNullRoute, start: a.now, until: a.now.Add(c.Duration), dur: c.Duration, restart: c.Restart,
		enforce: EnforceDrop, c2s: true, s2c: true, hit: 1, origin: a.f, ev: append([]Evidence(nil), a.ev...)}
	a.e.blocks.add(k, b)
	a.Record(n.detail)
	return packet.Verdict{}
}
