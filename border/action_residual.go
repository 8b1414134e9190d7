package border

import (
	"fmt"
	"time"

	"github.com/splinter-lab/splinter/packet"
	"github.com/splinter-lab/splinter/policy"
)

// ActionResidual is the kind of ResidualAction.
const ActionResidual ActionKind = "residual"

// Enforce says how a residual block treats later traffic.
type Enforce string

// Residual enforcement. The zero value means EnforceRST for TCP and
// EnforceDrop otherwise.
const (
	// EnforceRST resets follow-up connections once the client sends data.
	EnforceRST Enforce = "rst"
	// EnforceDrop drops follow-up packets.
	EnforceDrop Enforce = "drop"
)

// ResidualAction keeps blocking a tuple after the trigger. It needs a
// duration; the registered default has Tuple 3.
type ResidualAction struct {
	// Tuple is 3 (client IP, server IP, server port) or 4 (adds the client
	// port).
	Tuple int `yaml:"tuple"`
	// Duration of the block (GFW HTTP: 90s; ESNI: 120s or 180s).
	Duration time.Duration `yaml:"duration"`
	// Restart restarts the timer on each blocked packet.
	Restart bool `yaml:"restart"`
	// Enforce is how blocked traffic is treated.
	Enforce Enforce `yaml:"enforce"`
	// Direction of the packets blocked; "" means both.
	Direction policy.FlowDir `yaml:"direction"`
	// HitProbability is the chance a follow-up flow is hit (about half for
	// the GFW's HTTP residual); nil means 1.
	HitProbability *float64 `yaml:"hit-probability"`
	// StartDelay is how long after the trigger the block starts (QUIC:
	// about 110ms).
	StartDelay policy.DurationRange `yaml:"start-delay"`
}

func init() {
	RegisterAction(string(ActionResidual), "Keep blocking the 3- or 4-tuple for a duration after the trigger.",
		func() ActionConfig { return &ResidualAction{Tuple: 3} })
}

// Kind implements policy.Action.
func (*ResidualAction) Kind() string { return string(ActionResidual) }

// Validate implements policy.Action.
func (a *ResidualAction) Validate(c *policy.Checker) {
	if a.Tuple != 3 && a.Tuple != 4 {
		c.Errorf("tuple", "tuple %d: want 3 or 4", a.Tuple)
	}
	if a.Duration <= 0 {
		c.Errorf("duration", "residual needs a positive duration")
	}
	policy.OneOf(c, "enforce", a.Enforce, true, EnforceRST, EnforceDrop)
	policy.OneOf(c, "direction", a.Direction, true, policy.ClientToServer, policy.ServerToClient, policy.BothWays)
	c.Probability("hit-probability", a.HitProbability)
}

// Compile implements ActionConfig.
func (a *ResidualAction) Compile(*Compiler) (Action, error) { return &residualAct{cfg: a}, nil }

type residualAct struct{ cfg *ResidualAction }

func (*residualAct) Effect() Effect { return EffectBlock }

func (ra *residualAct) Apply(a *Act) packet.Verdict {
	c := ra.cfg
	k := blockKeyOf(key3, a.f)
	if c.Tuple == 4 {
		k = blockKeyOf(key4, a.f)
	}
	start := a.now.Add(a.Duration(c.StartDelay))
	b := &block{rule: a.r, action: ActionResidual, start: start, until: start.Add(c.Duration), dur: c.Duration, restart: c.Restart,
		enforce: c.Enforce, hit: policy.Prob(c.HitProbability), origin: a.f, ev: append([]Evidence(nil), a.ev...)}
	if b.enforce == "" {
		b.enforce = EnforceRST
		if a.f.proto != packet.TCP {
			b.enforce = EnforceDrop
		}
	}
	b.c2s, b.s2c = dirs(c.Direction)
	// Follow-ups are reset the way the rule resets: its rst action's shape.
	b.rst = &RSTAction{}
	for _, act := range a.r.actions {
		if r, ok := act.(*rstAct); ok {
			shape := *r.cfg
			shape.When, shape.Delay, shape.To = "", policy.DurationRange{}, policy.ToBoth
			b.rst = &shape
			break
		}
	}
	a.e.blocks.add(k, b)
	a.Record(fmt.Sprintf("%d-tuple for %v, %s", c.Tuple, c.Duration, b.enforce))
	return packet.Verdict{}
}

func dirs(d policy.FlowDir) (c2s, s2c bool) {
	switch d {
	case policy.ClientToServer:
		return true, false
	case policy.ServerToClient:
		return false, true
	}
	return true, true
}
