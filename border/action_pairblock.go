package border

import (
	"fmt"
	"net/netip"
	"strconv"
	"time"

	"github.com/splinter-lab/splinter/packet"
	"github.com/splinter-lab/splinter/policy"
)

// ActionPairBlock is the kind of PairBlockAction.
const ActionPairBlock ActionKind = "pair-block"

// PairBlockAction blocks the client's traffic to the server's address on
// other transports and ports than the flow that triggered it, for a while:
// a filter the trigger arms. Russia since 2025-05-28: any UDP packet to
// some hosting addresses (OVH, Scaleway/Online.net) turns on, for about 10
// minutes, a filter that blocks HTTPS there entirely, again on every new
// UDP packet (ntc.party quoted in net4people/bbs#417, 2025-08-13).
// Protocol, Ports and Duration are required.
type PairBlockAction struct {
	// Protocol of the traffic blocked (tcp or udp).
	Protocol policy.Protocol `yaml:"protocol"`
	// Ports of the server blocked, each a block of its own.
	Ports []uint16 `yaml:"ports"`
	// Duration of the block.
	Duration time.Duration `yaml:"duration"`
	// Enforce is how blocked traffic is treated; "" means drop.
	Enforce Enforce `yaml:"enforce"`
	// Restart lets a repeated trigger restart a running block (a repeat
	// does not, by default).
	Restart bool `yaml:"restart"`
}

func init() {
	RegisterAction(string(ActionPairBlock), "Block the client's traffic to the server's address on another protocol and ports (a filter the trigger arms) for a duration.",
		func() ActionConfig { return &PairBlockAction{} })
}

// Kind implements policy.Action.
func (*PairBlockAction) Kind() string { return string(ActionPairBlock) }

// Validate implements policy.Action.
func (a *PairBlockAction) Validate(c *policy.Checker) {
	policy.OneOf(c, "protocol", a.Protocol, false, policy.TCP, policy.UDP)
	if len(a.Ports) == 0 {
		c.Errorf("ports", "pair-block needs the ports it blocks")
	}
	for i, p := range a.Ports {
		if p == 0 {
			c.Errorf("ports["+strconv.Itoa(i)+"]", "port 0")
		}
	}
	if a.Duration <= 0 {
		c.Errorf("duration", "pair-block needs a positive duration")
	}
	policy.OneOf(c, "enforce", a.Enforce, true, EnforceRST, EnforceDrop)
}

// Compile implements ActionConfig.
func (a *PairBlockAction) Compile(*Compiler) (Action, error) {
	proto := uint8(packet.TCP)
	if a.Protocol == policy.UDP {
		proto = packet.UDP
	}
	return &pairBlockAct{cfg: a, proto: proto}, nil
}

type pairBlockAct struct {
	cfg   *PairBlockAction
	proto uint8
}

func (*pairBlockAct) Effect() Effect { return EffectBlock }

func (pa *pairBlockAct) Apply(a *Act) packet.Verdict {
	c := pa.cfg
	enforce := c.Enforce
	if enforce == "" {
		enforce = EnforceDrop
	}
	client := netip.AddrPortFrom(a.f.client.Addr(), 0)
	for _, port := range c.Ports {
		k := blockKey{kind: key3, proto: pa.proto, client: client, server: netip.AddrPortFrom(a.f.server.Addr(), port)}
		b := &block{rule: a.r, action: ActionPairBlock, start: a.now, until: a.now.Add(c.Duration), dur: c.Duration,
			enforce: enforce, c2s: true, s2c: true, hit: 1, ev: append([]Evidence(nil), a.ev...), rst: &RSTAction{}}
		if c.Restart {
			a.e.blocks.replace(k, b)
		} else {
			a.e.blocks.add(k, b)
		}
	}
	a.Record(fmt.Sprintf("block %s to %s ports %v for %v", c.Protocol, a.f.server.Addr(), c.Ports, c.Duration))
	return packet.Verdict{}
}
