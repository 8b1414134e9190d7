package border

import (
	"fmt"
	"math"
	"net/netip"
	"strconv"
	"time"

	"github.com/splinter-lab/splinter/packet"
	"github.com/splinter-lab/splinter/policy"
)

// ActionActiveProbe is the kind of ActiveProbeAction.
const ActionActiveProbe ActionKind = "active-probe"

// ProbeType names a kind of active probe, as "How China Detects and Blocks
// Shadowsocks" (IMC 2020, §3.2) does.
type ProbeType string

// Probe types. Replays derive from the first data packet of the flow that
// raised suspicion; the others are random bytes.
const (
	ProbeR1  ProbeType = "r1"  // identical replay
	ProbeR2  ProbeType = "r2"  // replay, byte 0 changed
	ProbeR3  ProbeType = "r3"  // replay, bytes 0-7 and 62-63 changed
	ProbeR4  ProbeType = "r4"  // replay, byte 16 changed
	ProbeR5  ProbeType = "r5"  // replay, bytes 6 and 16 changed
	ProbeNR1 ProbeType = "nr1" // random, of a length in the trios around 8, 12, 16, 22, 33, 41, 49
	ProbeNR2 ProbeType = "nr2" // random, exactly 221 bytes
)

// nr1Centers are the centres of the NR1 length trios (IMC 2020, Figure 2).
var nr1Centers = []int{8, 12, 16, 22, 33, 41, 49}

// ProbeAfter says when probes of a kind are sent.
type ProbeAfter string

// Probe stages. The zero value means AfterTrigger.
const (
	// AfterTrigger: from the suspicious flow on.
	AfterTrigger ProbeAfter = "trigger"
	// AfterClose: once the server closed a probe at once (RST or FIN).
	// [inferred] NR1 probes reached real Shadowsocks servers, which reset
	// replays, but never the sink servers of IMC 2020 §4.2, which answer
	// nothing, nor the responding ones, which answer data.
	AfterClose ProbeAfter = "close"
	// AfterData: once the server answered a replay (r1, r2) with data: R3,
	// R4 and R5 probes came only to servers that did (IMC 2020 §4.2).
	AfterData ProbeAfter = "data"
)

// ProbeSpec is one kind of probe the prober sends, how many, and when.
type ProbeSpec struct {
	Type  ProbeType  `yaml:"type"`
	Count int        `yaml:"count"`
	After ProbeAfter `yaml:"after"`
}

// DelayPoint is a point of a delay distribution: a share P of the probes
// is sent within At of the trigger (or of the stage that releases it).
type DelayPoint struct {
	P  float64       `yaml:"p"`
	At time.Duration `yaml:"at"`
}

// ProbeBlockKey says what a server judged a proxy loses.
type ProbeBlockKey string

// Block keys: "Some were blocked by dropping all traffic from a specific
// server port (block by port), and some by dropping traffic from all ports
// (block by IP address). In either case, only the server-to-client
// direction was blocked." (IMC 2020 §6). The zero value means by port.
const (
	BlockServerPort ProbeBlockKey = "server-port"
	BlockServerIP   ProbeBlockKey = "server-ip"
)

// ProbeBlock is what happens to a server judged a proxy.
type ProbeBlock struct {
	Key ProbeBlockKey `yaml:"key"`
	// Duration of the block; IMC 2020 §6 saw a server unblocked "more than
	// a week" after it was blocked, without probes in between.
	Duration time.Duration `yaml:"duration"`
	// Probability that a server judged a proxy is blocked at all: few of
	// the probed servers of IMC 2020 were, and a human decision is one of
	// its hypotheses. nil means 1.
	Probability *float64 `yaml:"probability"`
}

// ActiveProbeAction makes the border probe the server of a suspicious flow
// from addresses of its own jurisdiction, and block the server when its
// reactions fit a proxy: the GFW against Shadowsocks (IMC 2020; the
// trigger is the rule's, a first data packet of 160-700 bytes that looks
// fully encrypted). The probes (replays of the flow's first data packet,
// identical or with the published bytes changed, and random payloads of
// the published lengths) leave at delays drawn from Delay on the engine's
// clock; each is a TCP connection the border opens on its middlebox stack
// (prober.go), and its reaction is recorded: data, RST, FIN or timeout, and
// after how many bytes sent. Once every probe has reacted the server is
// judged (see prober.go, classify) and, if it fits, blocked for
// server-to-client traffic. Decisions for the trigger, every probe and the
// block carry the triggering flow's id.
//
// The registered default has the published figures: the delay
// distribution of Figure 5 (shortest 0.28 s, 20% within 1 s, 50% within a
// minute, 75% within 15 minutes, longest 570 hours), source ports
// 32768-60999 (about 90% of probes, §3.4), a prober that gives up after
// 10 s ("The GFW usually times out in less than 10 seconds", §5.2), the
// reaction thresholds of Figure 10 and Table 3, and a block by port for a
// week. From, the prober addresses, is required.
type ActiveProbeAction struct {
	// From are the prober addresses: they must be routed to the border
	// from the servers probed (the jurisdiction's space, for servers
	// abroad; IMC 2020 saw 12,300 addresses, all in China).
	From []netip.Prefix `yaml:"from"`
	// SourcePorts of the probe connections.
	SourcePorts policy.PortRange `yaml:"source-ports"`
	// Delay is the distribution of the delay before each probe, as points
	// of its CDF from P 0 to P 1, interpolated log-linearly between them.
	Delay []DelayPoint `yaml:"delay"`
	// Probes are the probes sent for each suspicious server.
	Probes []ProbeSpec `yaml:"probes"`
	// Timeout is how long a probe waits for the server's reaction.
	Timeout time.Duration `yaml:"timeout"`
	// CloseThresholds are the numbers of bytes after which proxies close a
	// connection they cannot authenticate, having waited for shorter
	// probes: stream ciphers with an 8, 12 or 16-byte IV reset from IV+1
	// bytes (9, 13, 17), AEAD with a 16, 24 or 32-byte salt from salt+35
	// (51, 59, 67), OutlineVPN 1.0.6 closes at exactly 50 (IMC 2020,
	// Figure 10).
	CloseThresholds []int `yaml:"close-thresholds"`
	// ReplayData judges a proxy a server that answers an identical replay
	// with data but no random probe: one without a replay filter
	// (OutlineVPN 1.0.6-1.0.8, IMC 2020 Table 3).
	ReplayData bool `yaml:"replay-data"`
	// Block is what a server judged a proxy loses.
	Block ProbeBlock `yaml:"block"`
	// MaxSuspects bounds the servers under probing at once; triggers
	// beyond it are ignored.
	MaxSuspects int `yaml:"max-suspects"`
}

// DefaultActiveProbe returns the action with the figures of IMC 2020 and
// no prober addresses.
func DefaultActiveProbe() *ActiveProbeAction {
	return &ActiveProbeAction{
		SourcePorts: policy.PortRange{Lo: 32768, Hi: 60999},
		Delay: []DelayPoint{{0, 280 * time.Millisecond}, {0.2, time.Second}, {0.5, time.Minute},
			{0.75, 15 * time.Minute}, {1, 570 * time.Hour}},
		Probes: []ProbeSpec{
			{Type: ProbeR1, Count: 2}, {Type: ProbeR2, Count: 2}, {Type: ProbeNR2, Count: 6},
			{Type: ProbeNR1, Count: 7, After: AfterClose},
			{Type: ProbeR3, Count: 1, After: AfterData}, {Type: ProbeR4, Count: 1, After: AfterData}, {Type: ProbeR5, Count: 1, After: AfterData},
		},
		Timeout:         10 * time.Second,
		CloseThresholds: []int{9, 13, 17, 50, 51, 59, 67},
		ReplayData:      true,
		Block:           ProbeBlock{Key: BlockServerPort, Duration: 7 * 24 * time.Hour},
		MaxSuspects:     1024,
	}
}

func init() {
	RegisterAction(string(ActionActiveProbe), "Probe the flow's server from the jurisdiction (replays and random payloads at the published delays), judge its reactions, and block a server that fits a proxy (server-to-client).",
		func() ActionConfig { return DefaultActiveProbe() })
}

// Kind implements policy.Action.
func (*ActiveProbeAction) Kind() string { return string(ActionActiveProbe) }

// Validate implements policy.Action.
func (a *ActiveProbeAction) Validate(c *policy.Checker) {
	if len(a.From) == 0 {
		c.Errorf("from", "active-probe needs prober addresses (prefixes routed to the border)")
	}
	for i, p := range a.From {
		if !p.IsValid() {
			c.Errorf("from["+strconv.Itoa(i)+"]", "invalid prefix %q", p)
		}
	}
	if a.SourcePorts.Lo == 0 || a.SourcePorts.Lo > a.SourcePorts.Hi {
		c.Errorf("source-ports", "invalid port range %q", a.SourcePorts)
	}
	validateDelay(c, "delay", a.Delay)
	if len(a.Probes) == 0 {
		c.Errorf("probes", "active-probe needs probes")
	}
	for i, p := range a.Probes {
		f := "probes[" + strconv.Itoa(i) + "]"
		policy.OneOf(c, f+".type", p.Type, false, ProbeR1, ProbeR2, ProbeR3, ProbeR4, ProbeR5, ProbeNR1, ProbeNR2)
		policy.OneOf(c, f+".after", p.After, true, AfterTrigger, AfterClose, AfterData)
		if p.Count < 1 || p.Count > 1000 {
			c.Errorf(f+".count", "count %d: want 1 to 1000", p.Count)
		}
	}
	if a.Timeout <= 0 {
		c.Errorf("timeout", "active-probe needs a positive timeout")
	}
	for i, t := range a.CloseThresholds {
		if t < 1 {
			c.Errorf("close-thresholds["+strconv.Itoa(i)+"]", "threshold %d: want at least 1 byte", t)
		}
	}
	policy.OneOf(c, "block.key", a.Block.Key, true, BlockServerPort, BlockServerIP)
	if a.Block.Duration <= 0 {
		c.Errorf("block.duration", "the block needs a positive duration")
	}
	c.Probability("block.probability", a.Block.Probability)
	if a.MaxSuspects < 1 {
		c.Errorf("max-suspects", "max-suspects %d: want at least 1", a.MaxSuspects)
	}
}

func validateDelay(c *policy.Checker, field string, pts []DelayPoint) {
	if len(pts) < 2 {
		c.Errorf(field, "a delay distribution needs at least two points, from p 0 to p 1")
		return
	}
	if pts[0].P != 0 || pts[len(pts)-1].P != 1 {
		c.Errorf(field, "a delay distribution runs from p 0 to p 1")
	}
	for i, p := range pts {
		f := field + "[" + strconv.Itoa(i) + "]"
		if p.At <= 0 {
			c.Errorf(f+".at", "delay %v: want a positive delay", p.At)
		}
		if i > 0 && (p.P < pts[i-1].P || p.At < pts[i-1].At) {
			c.Errorf(f, "points must rise in both p and delay")
		}
	}
}

// SampleDelay draws a delay from the distribution pts with u, a uniform
// draw in [0, 1): log-linear between the points.
func SampleDelay(pts []DelayPoint, u float64) time.Duration {
	for i := 1; i < len(pts); i++ {
		lo, hi := pts[i-1], pts[i]
		if u > hi.P && i < len(pts)-1 {
			continue
		}
		if hi.P <= lo.P {
			return hi.At
		}
		f := (u - lo.P) / (hi.P - lo.P)
		f = max(0, min(1, f))
		l0, l1 := math.Log(float64(lo.At)), math.Log(float64(hi.At))
		return time.Duration(math.Exp(l0 + f*(l1-l0)))
	}
	return pts[len(pts)-1].At
}

// Compile implements ActionConfig.
func (a *ActiveProbeAction) Compile(*Compiler) (Action, error) {
	if len(a.From) == 0 {
		return nil, fmt.Errorf("active-probe: no prober addresses")
	}
	return &probeAct{cfg: a}, nil
}

type probeAct struct{ cfg *ActiveProbeAction }

// Effect: the suspicious flow itself is left alone; what the probes bring
// about is recorded by the prober.
func (*probeAct) Effect() Effect { return EffectNone }

func (pa *probeAct) Apply(a *Act) packet.Verdict {
	if a.f.proto != packet.TCP || len(a.p.Payload) == 0 {
		return packet.Verdict{}
	}
	a.e.suspect(pa.cfg, a.r, a.f.info(), a.p.Payload, a.ev, a.inject)
	return packet.Verdict{}
}
