package border

import (
	"time"

	"github.com/splinter-lab/splinter/packet"
	"github.com/splinter-lab/splinter/policy"
)

// ActionThrottle is the kind of ThrottleAction.
const ActionThrottle ActionKind = "throttle"

// ThrottleAction limits a flow's rate by dropping what exceeds it (Russia,
// 2021). It needs a rate.
type ThrottleAction struct {
	// Rate in bits per second ("150kbit").
	Rate policy.Rate `yaml:"rate"`
	// Burst is the bucket size; 0 means a tenth of a second of Rate, at
	// least 3000 bytes.
	Burst policy.ByteSize `yaml:"burst"`
	// IdleTimeout ends the throttling state after that long without
	// packets; 0 means never.
	IdleTimeout time.Duration `yaml:"idle-timeout"`
	// Direction throttled; "" means both.
	Direction policy.FlowDir `yaml:"direction"`
}

func init() {
	RegisterAction(string(ActionThrottle), "Limit the flow's rate by dropping what exceeds it.",
		func() ActionConfig { return &ThrottleAction{} })
}

// Kind implements policy.Action.
func (*ThrottleAction) Kind() string { return string(ActionThrottle) }

// Validate implements policy.Action.
func (a *ThrottleAction) Validate(c *policy.Checker) {
	if a.Rate <= 0 {
		c.Errorf("rate", "throttle needs a positive rate")
	}
	if a.Burst < 0 || a.IdleTimeout < 0 {
		c.Errorf("", "burst and idle-timeout must not be negative")
	}
	policy.OneOf(c, "direction", a.Direction, true, policy.ClientToServer, policy.ServerToClient, policy.BothWays)
}

// Compile implements ActionConfig.
func (a *ThrottleAction) Compile(*Compiler) (Action, error) { return &throttleAct{cfg: a}, nil }

type throttleAct struct{ cfg *ThrottleAction }

func (*throttleAct) Effect() Effect { return EffectThrottle }

func (t *throttleAct) Apply(a *Act) packet.Verdict {
	rate := float64(t.cfg.Rate) / 8
	burst := float64(t.cfg.Burst)
	if burst <= 0 {
		burst = max(3000, rate/10)
	}
	// Up to 250 ms of traffic waits; beyond that it is dropped.
	queue := max(3000, rate/4)
	mk := func() *bucket {
		return &bucket{rate: rate, burst: burst, queue: queue, tokens: burst, last: a.now, idle: t.cfg.IdleTimeout}
	}
	switch t.cfg.Direction {
	case policy.ClientToServer:
		a.f.throttle[0] = mk()
	case policy.ServerToClient:
		a.f.throttle[1] = mk()
	default:
		a.f.throttle[0], a.f.throttle[1] = mk(), mk()
	}
	a.Record("throttle to " + t.cfg.Rate.String())
	return packet.Verdict{}
}
