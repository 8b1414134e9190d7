package border

import (
	"fmt"

	"github.com/splinter-lab/splinter/packet"
	"github.com/splinter-lab/splinter/policy"
)

// ActionFreeze is the kind of FreezeAction.
const ActionFreeze ActionKind = "freeze"

// FreezeAction lets a flow carry about After bytes in Direction and then
// drops the rest of that direction, silently: the connection hangs rather
// than fails. Russia since 2025-06-09 (Cloudflare, Hetzner, DigitalOcean;
// DigitalOcean on Rostelecom since 2025-10-27): connections to listed
// hosting providers stall after about 16 KB (10-14 packets) over
// HTTP/1.1, h2 and h3 (ntc.party quoted in net4people/bbs#417, 2025-08-13;
// bbs#490); later reports give 16-20 KB and say not every connection is
// cut (bbs#662, hyperion-cs/dpi-checkers#44). Bytes are counted as IP
// packet bytes from the packet the rule fires on, the way a policer
// counts. After is required.
type FreezeAction struct {
	// After is how many bytes pass.
	After policy.ByteSize `yaml:"after"`
	// AfterMax, if more than After, makes each flow's allowance a uniform
	// draw in [After, AfterMax] (16-20 KB).
	AfterMax policy.ByteSize `yaml:"after-max"`
	// Direction whose bytes are counted and then dropped; "" means
	// server-to-client (what a download carries).
	Direction policy.FlowDir `yaml:"direction"`
}

func init() {
	RegisterAction(string(ActionFreeze), "Let the flow carry about N bytes in a direction, then drop the rest of it silently (the connection hangs).",
		func() ActionConfig { return &FreezeAction{} })
}

// Kind implements policy.Action.
func (*FreezeAction) Kind() string { return string(ActionFreeze) }

// Validate implements policy.Action.
func (a *FreezeAction) Validate(c *policy.Checker) {
	if a.After <= 0 {
		c.Errorf("after", "freeze needs a positive byte count")
	}
	if a.AfterMax != 0 && a.AfterMax < a.After {
		c.Errorf("after-max", "after-max %d is below after %d", a.AfterMax, a.After)
	}
	policy.OneOf(c, "direction", a.Direction, true, policy.ClientToServer, policy.ServerToClient, policy.BothWays)
}

// Compile implements ActionConfig.
func (a *FreezeAction) Compile(*Compiler) (Action, error) { return &freezeAct{cfg: a}, nil }

type freezeAct struct{ cfg *FreezeAction }

// Effect: the client's transfer stops; it times out. The decision is
// logged when it does.
func (*freezeAct) Effect() Effect { return EffectDrop }

func (fa *freezeAct) Apply(a *Act) packet.Verdict {
	n := float64(fa.cfg.After)
	if fa.cfg.AfterMax > fa.cfg.After {
		n += float64(a.e.uint32n(uint32(min(fa.cfg.AfterMax-fa.cfg.After, 1<<31)) + 1))
	}
	// The decision is logged when the flow freezes (its first packet
	// dropped), not when the rule fires: a flow that never carries its
	// allowance (a DNS exchange, a small page) is not blocked, and the
	// log says what the border did.
	e, r, f, kind, eff := a.e, a.r, a.f, a.kind, a.effect
	ev := append([]Evidence(nil), a.ev...)
	detail := fmt.Sprintf("freeze %s after %d bytes", dirName(fa.cfg.Direction), int64(n))
	logged := false
	froze := func() {
		if !logged {
			logged = true
			e.record(r, kind, eff, false, f, ev, detail, nil)
		}
	}
	// A bucket that never refills and queues nothing: the policer of a
	// throttle at rate zero.
	mk := func() *bucket { return &bucket{burst: n, tokens: n, last: a.now, dropped: froze} }
	set := func(side int) {
		if a.f.throttle[side] == nil {
			a.f.throttle[side] = mk()
		}
	}
	switch fa.cfg.Direction {
	case policy.ClientToServer:
		set(0)
	case policy.BothWays:
		set(0)
		set(1)
	default:
		set(1)
	}
	return packet.Verdict{}
}

func dirName(d policy.FlowDir) string {
	if d == "" {
		return string(policy.ServerToClient)
	}
	return string(d)
}
