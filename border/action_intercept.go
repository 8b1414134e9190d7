package border

import (
	"github.com/splinter-lab/splinter/packet"
	"github.com/splinter-lab/splinter/policy"
)

// Kinds of the actions that make the border a transparent TCP proxy (see
// proxy.go).
const (
	ActionIntercept ActionKind = "intercept"
	ActionTerminate ActionKind = "terminate"
)

// InterceptAction terminates TLS at the border with a certificate issued by
// a national CA (Kazakhstan, 2019). It needs a CA name; the engine creates
// the CA on first use (Engine.NationalCA).
type InterceptAction struct {
	CA string `yaml:"ca"`
}

// TerminateAction makes the border a TCP-terminating proxy for the rule's
// scope (Reliance Jio): the border completes every handshake itself, even to
// an address nobody answers; a flow the rule's matchers hold on its first
// bytes is then held silently (the client's TLS times out), and the others
// are spliced to the server. Its zero value is usable.
type TerminateAction struct{}

func init() {
	RegisterAction(string(ActionIntercept), "Intercept TLS with a certificate from a national CA.",
		func() ActionConfig { return &InterceptAction{} })
	RegisterAction(string(ActionTerminate), "Terminate TCP at the border (a transparent proxy): every handshake completes; matching flows are then held, others spliced to the server.",
		func() ActionConfig { return &TerminateAction{} })
}

// Kind implements policy.Action.
func (*InterceptAction) Kind() string { return string(ActionIntercept) }

// Validate implements policy.Action.
func (a *InterceptAction) Validate(c *policy.Checker) {
	if a.CA == "" {
		c.Errorf("ca", "intercept needs a ca")
	}
}

// Compile implements ActionConfig: the rule's flows go to the proxy.
func (a *InterceptAction) Compile(c *Compiler) (Action, error) {
	c.proxy()
	return interceptAct{cfg: a}, nil
}

// Kind implements policy.Action.
func (*TerminateAction) Kind() string { return string(ActionTerminate) }

// Validate has nothing to check.
func (*TerminateAction) Validate(*policy.Checker) {}

// Compile implements ActionConfig: the rule's flows go to the proxy.
func (*TerminateAction) Compile(c *Compiler) (Action, error) {
	c.proxy()
	return terminateAct{}, nil
}

// interceptAct and terminateAct act in the proxy, not on packets.
type interceptAct struct{ cfg *InterceptAction }

func (interceptAct) Effect() Effect            { return EffectIntercept }
func (interceptAct) Apply(*Act) packet.Verdict { return packet.Verdict{} }

type terminateAct struct{}

func (terminateAct) Effect() Effect            { return EffectHold }
func (terminateAct) Apply(*Act) packet.Verdict { return packet.Verdict{} }
