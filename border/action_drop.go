package border

import (
	"github.com/splinter-lab/splinter/packet"
	"github.com/splinter-lab/splinter/policy"
)

// ActionDrop is the kind of DropAction.
const ActionDrop ActionKind = "drop"

// DropAction drops packets: the triggering packet only, or with Flow the
// rest of the flow in Direction. Its zero value drops the triggering packet.
type DropAction struct {
	Flow      bool           `yaml:"flow"`
	Direction policy.FlowDir `yaml:"direction"`
}

func init() {
	RegisterAction(string(ActionDrop), "Drop the triggering packet, or the rest of the flow in a direction.",
		func() ActionConfig { return &DropAction{} })
}

// Kind implements policy.Action.
func (*DropAction) Kind() string { return string(ActionDrop) }

// Validate implements policy.Action.
func (a *DropAction) Validate(c *policy.Checker) {
	policy.OneOf(c, "direction", a.Direction, true, policy.ClientToServer, policy.ServerToClient, policy.BothWays)
	if a.Direction != "" && !a.Flow {
		c.Errorf("direction", "direction %q needs flow: true", a.Direction)
	}
}

// Compile implements ActionConfig.
func (a *DropAction) Compile(*Compiler) (Action, error) {
	detail := "drop packet"
	if a.Flow {
		detail = "drop flow " + string(a.Direction)
		if a.Direction == "" {
			detail = "drop flow"
		}
	}
	return &dropAct{cfg: a, detail: detail}, nil
}

type dropAct struct {
	cfg    *DropAction
	detail string
}

func (*dropAct) Effect() Effect { return EffectDrop }

func (d *dropAct) Apply(a *Act) packet.Verdict {
	if d.cfg.Flow {
		a.DropFlow(d.cfg.Direction)
	}
	a.Record(d.detail)
	return packet.Verdict{Drop: true}
}
