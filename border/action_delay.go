package border

import (
	"fmt"

	"github.com/splinter-lab/splinter/packet"
	"github.com/splinter-lab/splinter/policy"
)

// ActionDelay is the kind of DelayAction.
const ActionDelay ActionKind = "delay"

// DelayAction holds the flow's packets for a while before they go on
// (Turkmenistan's block fires 5-29 s after the trigger). It needs a delay.
type DelayAction struct {
	Delay policy.DurationRange `yaml:"delay"`
}

func init() {
	RegisterAction(string(ActionDelay), "Hold the flow's packets for a fixed or random delay.",
		func() ActionConfig { return &DelayAction{} })
}

// Kind implements policy.Action.
func (*DelayAction) Kind() string { return string(ActionDelay) }

// Validate implements policy.Action.
func (a *DelayAction) Validate(c *policy.Checker) {
	if a.Delay.Max <= 0 {
		c.Errorf("delay", "delay needs a positive delay")
	}
}

// Compile implements ActionConfig.
func (a *DelayAction) Compile(*Compiler) (Action, error) { return &delayAct{cfg: a}, nil }

type delayAct struct{ cfg *DelayAction }

func (*delayAct) Effect() Effect { return EffectDelay }

func (d *delayAct) Apply(a *Act) packet.Verdict {
	dl := a.Duration(d.cfg.Delay)
	a.f.delay = dl
	a.Record(fmt.Sprintf("delay flow by %v", dl))
	return packet.Verdict{Delay: dl}
}
