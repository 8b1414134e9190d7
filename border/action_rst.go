package border

import (
	"fmt"

	"github.com/splinter-lab/splinter/packet"
	"github.com/splinter-lab/splinter/policy"
)

// ActionRST is the kind of RSTAction.
const ActionRST ActionKind = "rst"

// RSTWhen says when an rst action fires.
type RSTWhen string

// RST timings. The zero value means OnTrigger.
const (
	// OnTrigger sends on the triggering packet (GFW MB-RA).
	OnTrigger RSTWhen = "on-trigger"
	// AfterNextClientRecord waits for the client's next TLS record (GFW MB-R).
	AfterNextClientRecord RSTWhen = "after-next-client-record"
)

// RSTAction injects TCP resets. Its zero value sends one RST to both ends at
// the current sequence number, at once, with the stack's fingerprint.
type RSTAction struct {
	// To is the end(s) reset; "" means both.
	To policy.Peer `yaml:"to"`
	// Count is the number of resets sent to each end; 0 means
	// len(SeqOffsets), or 1.
	Count int `yaml:"count"`
	// Flags are rst or rst-ack; 0 means rst.
	Flags policy.TCPFlags `yaml:"flags"`
	// SeqOffsets are added to the expected sequence number of successive
	// resets ([0, 1460, 4380]); empty means all at offset 0.
	SeqOffsets []uint32 `yaml:"seq-offsets"`
	// Fingerprint of the resets' IP header.
	Fingerprint policy.Fingerprint `yaml:"fingerprint"`
	// Payload carried by the resets (Henan: 01 02 ... 09 00).
	Payload policy.HexBytes `yaml:"payload"`
	// Window is the TCP window; nil copies the connection's.
	Window *uint16 `yaml:"window"`
	// WindowStep and TTLStep are added to the window and to the IP TTL of
	// each reset after the first: the GFW's unconditional port-443 block of
	// 2025-08-20 sent three RST+ACKs with windows 1980, 1981, 1982 (or
	// 3293, 3294, 3295) and rising TTLs (GFW Report, net4people/bbs#511).
	WindowStep uint16 `yaml:"window-step"`
	TTLStep    uint8  `yaml:"ttl-step"`
	// Seq, when set, is the resets' absolute sequence number instead of
	// the connection's (Turkmenistan's RSTs carry sequence 0).
	Seq *uint32 `yaml:"seq"`
	// Delay after the trigger (GFW: 12ms-445ms).
	Delay policy.DurationRange `yaml:"delay"`
	// When the resets are sent.
	When RSTWhen `yaml:"when"`
}

func init() {
	RegisterAction(string(ActionRST), "Inject TCP resets to client, server or both, with count, flags, sequence offsets, fingerprint, payload and delay.",
		func() ActionConfig { return &RSTAction{} })
}

// N returns the number of resets sent to each end.
func (a *RSTAction) N() int {
	switch {
	case a.Count > 0:
		return a.Count
	case len(a.SeqOffsets) > 0:
		return len(a.SeqOffsets)
	}
	return 1
}

// Kind implements policy.Action.
func (*RSTAction) Kind() string { return string(ActionRST) }

// Validate implements policy.Action.
func (a *RSTAction) Validate(c *policy.Checker) {
	policy.OneOf(c, "to", a.To, true, policy.Client, policy.Server, policy.ToBoth)
	policy.OneOf(c, "when", a.When, true, OnTrigger, AfterNextClientRecord)
	if a.Count < 0 {
		c.Errorf("count", "count %d is negative", a.Count)
	}
	if a.Count > 0 && len(a.SeqOffsets) > 0 && a.Count != len(a.SeqOffsets) {
		c.Errorf("seq-offsets", "%d seq-offsets for count %d", len(a.SeqOffsets), a.Count)
	}
	if a.Flags != 0 && a.Flags != policy.FlagRST && a.Flags != policy.FlagRST|policy.FlagACK {
		c.Errorf("flags", "flags %q: want rst or rst-ack", a.Flags)
	}
	a.Fingerprint.Validate(c, "fingerprint")
	if a.WindowStep != 0 && a.Window == nil {
		c.Errorf("window-step", "window-step needs a window to start from")
	}
}

// Compile implements ActionConfig.
func (a *RSTAction) Compile(*Compiler) (Action, error) {
	to := a.To
	if to == "" {
		to = policy.ToBoth
	}
	flags := "rst"
	if a.Flags == policy.FlagRST|policy.FlagACK {
		flags = "rst+ack"
	}
	return &rstAct{cfg: a, detail: fmt.Sprintf("%d %s to %s", a.N(), flags, to)}, nil
}

type rstAct struct {
	cfg    *RSTAction
	detail string
}

func (*rstAct) Effect() Effect { return EffectReset }

func (r *rstAct) Apply(a *Act) packet.Verdict {
	if a.f.proto != packet.TCP {
		return packet.Verdict{}
	}
	if r.cfg.When == AfterNextClientRecord {
		a.f.pending = append(a.f.pending, pendingRST{r: a.r, act: r, ev: append([]Evidence(nil), a.ev...)})
		return packet.Verdict{}
	}
	r.fire(a.e, a.r, a.f, a.p, a.ev, a.inject)
	return packet.Verdict{}
}

// pendingRST is a reset armed to fire on the client's next data.
type pendingRST struct {
	r   *rule
	act *rstAct
	ev  []Evidence
}

// fire injects the resets now or after the action's delay, and logs it.
func (r *rstAct) fire(e *Engine, ru *rule, f *flow, p *packet.IP, ev []Evidence, inject func([]byte)) {
	var pkts [][]byte
	collect := func(b []byte) { pkts = append(pkts, append([]byte(nil), b...)) }
	e.sendRSTs(f, p, r.cfg.To, r.cfg, collect)
	detail := r.detail
	dl := e.duration(r.cfg.Delay)
	if dl > 0 {
		detail += fmt.Sprintf(" after %v", dl)
	}
	e.record(ru, ActionRST, EffectReset, false, f, ev, detail, nil)
	send := func() {
		for _, b := range pkts {
			inject(b)
		}
	}
	if dl > 0 {
		e.clock.AfterFunc(dl, send)
		return
	}
	send()
}
