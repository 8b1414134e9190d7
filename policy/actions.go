package policy

import (
	"net/netip"
	"strconv"
	"time"

	"github.com/splinter-lab/splinter/internal/userfile"
)

// The built-in action kinds. Each is a config struct registered under its
// kind name; NewAction returns it with the kind's defaults, which are also
// what its zero value means unless its doc says otherwise.

// Peer names an end of a flow, as a target of injected packets.
type Peer string

// Peers. The zero value means the action's default.
const (
	Client Peer = "client"
	Server Peer = "server"
	ToBoth Peer = "both"
)

// FlowDir is a direction within a flow.
type FlowDir string

// Flow directions. The zero value means the action's default.
const (
	ClientToServer FlowDir = "client-to-server"
	ServerToClient FlowDir = "server-to-client"
	BothWays       FlowDir = "both"
)

// Fingerprint is the IP header fingerprint of injected packets. Its zero
// value leaves every field to the engine's stack (TTL 64, DF clear, its own
// IP-ID).
type Fingerprint struct {
	// TTL is the initial IP TTL; 0 means the engine's default.
	TTL uint8 `yaml:"ttl"`
	// CopyProbeTTL sets the TTL to the triggering packet's TTL (one GFW DNS
	// injector does).
	CopyProbeTTL bool `yaml:"copy-probe-ttl"`
	// DF sets the Don't Fragment bit.
	DF bool `yaml:"df"`
	// IPID is the IP identification: "zero", "random", a number or a range.
	IPID IPID `yaml:"ipid"`
}

func (f *Fingerprint) validate(c *Checker, field string) {
	if f.CopyProbeTTL && f.TTL != 0 {
		c.Errorf(field+".ttl", "ttl %d contradicts copy-probe-ttl", f.TTL)
	}
}

// DropAction drops packets: the triggering packet only, or with Flow the
// rest of the flow in Direction. Its zero value drops the triggering packet.
type DropAction struct {
	Flow      bool    `yaml:"flow"`
	Direction FlowDir `yaml:"direction"`
}

func (*DropAction) Kind() string { return "drop" }

func (a *DropAction) Validate(c *Checker) {
	OneOf(c, "direction", a.Direction, true, ClientToServer, ServerToClient, BothWays)
	if a.Direction != "" && !a.Flow {
		c.Errorf("direction", "direction %q needs flow: true", a.Direction)
	}
}

// DNSInjectAction races forged DNS answers against the real one; the query
// itself is not dropped. Several injectors may fire for one query, each
// with its own list, fingerprint and answers (the GFW's three). It needs at
// least one injector.
type DNSInjectAction struct {
	Injectors []Injector `yaml:"injectors"`
}

// Injector is one DNS injector. The zero value is not usable: it needs a
// name and an answer.
type Injector struct {
	Name string `yaml:"name"`
	// List, if set, restricts this injector to query names in the list
	// (compared in Mode); otherwise the rule's match decides.
	List string     `yaml:"list"`
	Mode DomainMode `yaml:"mode"`
	// Fingerprint of the answer's IP header; AA sets the DNS AA bit.
	Fingerprint Fingerprint `yaml:"fingerprint"`
	AA          bool        `yaml:"aa"`
	Answer      Answer      `yaml:"answer"`
	// AForAnyQType answers an A record for every query type except AAAA
	// (the Wallbleed injector).
	AForAnyQType bool `yaml:"a-for-any-qtype"`
	// RRTTL is the answer record's TTL, drawn from [Min, Max] and
	// truncated to seconds: "60s" or "60s-300s". Zero means 60s.
	RRTTL DurationRange `yaml:"rr-ttl"`
	// Count is how many forged responses are sent; 0 means 1.
	Count int `yaml:"count"`
	// Delay before the answer leaves; zero means at once.
	Delay DurationRange `yaml:"delay"`
}

// Answer is what a forged DNS response says: exactly one of Pool, Addrs or
// NXDomain.
type Answer struct {
	// Pool is an ordered pool of addresses handed out round-robin, one per
	// response, IPv4 for A and IPv6 for AAAA.
	Pool []netip.Addr `yaml:"pool"`
	// Addrs are fixed addresses, all of the query's family in every answer.
	Addrs []netip.Addr `yaml:"addrs"`
	// NXDomain answers "no such name".
	NXDomain bool `yaml:"nxdomain"`
}

func (*DNSInjectAction) Kind() string { return "dns-inject" }

func (a *DNSInjectAction) Validate(c *Checker) {
	if len(a.Injectors) == 0 {
		c.Errorf("injectors", "dns-inject needs at least one injector")
	}
	names := map[string]bool{}
	for i := range a.Injectors {
		in := &a.Injectors[i]
		ic := c.Sub("injectors[" + strconv.Itoa(i) + "]")
		if in.Name == "" {
			ic.Errorf("name", "an injector needs a name")
		} else if names[in.Name] {
			ic.Errorf("name", "injector name %q is used twice", in.Name)
		}
		names[in.Name] = true
		if in.List != "" || in.Mode != "" {
			checkNameList(ic, "list", in.List, true, in.Mode)
		}
		in.Fingerprint.validate(ic, "fingerprint")
		n := 0
		if len(in.Answer.Pool) > 0 {
			n++
		}
		if len(in.Answer.Addrs) > 0 {
			n++
		}
		if in.Answer.NXDomain {
			n++
		}
		if n != 1 {
			ic.Errorf("answer", "an answer needs exactly one of pool, addrs and nxdomain")
		}
		for j, ad := range in.Answer.Pool {
			if !ad.IsValid() {
				ic.Errorf("answer.pool["+strconv.Itoa(j)+"]", "invalid address")
			}
		}
		for j, ad := range in.Answer.Addrs {
			if !ad.IsValid() {
				ic.Errorf("answer.addrs["+strconv.Itoa(j)+"]", "invalid address")
			}
		}
		if in.Count < 0 {
			ic.Errorf("count", "count %d is negative", in.Count)
		}
		if in.RRTTL.Max > time.Duration(1<<31-1)*time.Second {
			ic.Errorf("rr-ttl", "rr-ttl %s is too long", in.RRTTL)
		}
	}
}

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
	To Peer `yaml:"to"`
	// Count is the number of resets sent to each end; 0 means
	// len(SeqOffsets), or 1.
	Count int `yaml:"count"`
	// Flags are rst or rst-ack; 0 means rst.
	Flags TCPFlags `yaml:"flags"`
	// SeqOffsets are added to the expected sequence number of successive
	// resets ([0, 1460, 4380]); empty means all at offset 0.
	SeqOffsets []uint32 `yaml:"seq-offsets"`
	// Fingerprint of the resets' IP header.
	Fingerprint Fingerprint `yaml:"fingerprint"`
	// Payload carried by the resets (Henan: 01 02 ... 09 00).
	Payload HexBytes `yaml:"payload"`
	// Window is the TCP window; nil copies the connection's.
	Window *uint16 `yaml:"window"`
	// Seq, when set, is the resets' absolute sequence number instead of
	// the connection's (Turkmenistan's RSTs carry sequence 0).
	Seq *uint32 `yaml:"seq"`
	// Delay after the trigger (GFW: 12ms-445ms).
	Delay DurationRange `yaml:"delay"`
	// When the resets are sent.
	When RSTWhen `yaml:"when"`
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

func (*RSTAction) Kind() string { return "rst" }

func (a *RSTAction) Validate(c *Checker) {
	OneOf(c, "to", a.To, true, Client, Server, ToBoth)
	OneOf(c, "when", a.When, true, OnTrigger, AfterNextClientRecord)
	if a.Count < 0 {
		c.Errorf("count", "count %d is negative", a.Count)
	}
	if a.Count > 0 && len(a.SeqOffsets) > 0 && a.Count != len(a.SeqOffsets) {
		c.Errorf("seq-offsets", "%d seq-offsets for count %d", len(a.SeqOffsets), a.Count)
	}
	if a.Flags != 0 && a.Flags != FlagRST && a.Flags != FlagRST|FlagACK {
		c.Errorf("flags", "flags %q: want rst or rst-ack", a.Flags)
	}
	a.Fingerprint.validate(c, "fingerprint")
}

// BlockpageAction answers an HTTP request with a block page in place of the
// server. It needs a status and a body (or body file).
type BlockpageAction struct {
	// Status is the HTTP status code (200, 403).
	Status int `yaml:"status"`
	// Headers are extra response headers.
	Headers map[string]string `yaml:"headers"`
	// Body is the page; BodyFile, relative to the policy file, is read by
	// Load into Body.
	Body     string `yaml:"body"`
	BodyFile string `yaml:"body-file"`
	// Flags of the segment carrying the page; 0 means psh-ack. Iran sends
	// it with rst; Kazakhstan and Airtel with fin-psh-ack.
	Flags TCPFlags `yaml:"flags"`
	// ThenRST follows the page with a RST (Airtel).
	ThenRST bool `yaml:"then-rst"`
	// Hold delays the page, holding the flow meanwhile (Kazakhstan: 15s).
	Hold time.Duration `yaml:"hold"`
	// Fingerprint of the page's IP header.
	Fingerprint Fingerprint `yaml:"fingerprint"`
	// DropRequest keeps the request from reaching the server.
	DropRequest bool `yaml:"drop-request"`
}

func (*BlockpageAction) Kind() string { return "blockpage" }

func (a *BlockpageAction) Validate(c *Checker) {
	if a.Status < 100 || a.Status > 599 {
		c.Errorf("status", "status %d is not an HTTP status", a.Status)
	}
	if a.Body == "" && a.BodyFile == "" {
		c.Errorf("body", "blockpage needs a body or a body-file")
	}
	if a.BodyFile != "" {
		if err := userfile.CheckRef(a.BodyFile); err != nil {
			c.Errorf("body-file", "body file %q must lie in the policy's folder; it %s", a.BodyFile, err.(*userfile.Error).Detail)
		}
	}
	if a.Hold < 0 {
		c.Errorf("hold", "hold %s is negative", a.Hold)
	}
	a.Fingerprint.validate(c, "fingerprint")
}

// ThrottleAction limits a flow's rate by dropping what exceeds it (Russia,
// 2021). It needs a rate.
type ThrottleAction struct {
	// Rate in bits per second ("150kbit").
	Rate Rate `yaml:"rate"`
	// Burst is the bucket size; 0 means one second of Rate.
	Burst ByteSize `yaml:"burst"`
	// IdleTimeout ends the throttling state after that long without
	// packets; 0 means never.
	IdleTimeout time.Duration `yaml:"idle-timeout"`
	// Direction throttled; "" means both.
	Direction FlowDir `yaml:"direction"`
}

func (*ThrottleAction) Kind() string { return "throttle" }

func (a *ThrottleAction) Validate(c *Checker) {
	if a.Rate <= 0 {
		c.Errorf("rate", "throttle needs a positive rate")
	}
	if a.Burst < 0 || a.IdleTimeout < 0 {
		c.Errorf("", "burst and idle-timeout must not be negative")
	}
	OneOf(c, "direction", a.Direction, true, ClientToServer, ServerToClient, BothWays)
}

// Enforce says how a residual block treats later traffic.
type Enforce string

// Residual enforcement. The zero value means EnforceDrop.
const (
	// EnforceRST resets follow-up connections once the client sends data.
	EnforceRST Enforce = "rst"
	// EnforceDrop drops follow-up packets.
	EnforceDrop Enforce = "drop"
)

// ResidualAction keeps blocking a tuple after the trigger. It needs a
// duration; NewAction gives Tuple 3.
type ResidualAction struct {
	// Tuple is 3 (client IP, server IP, server port) or 4 (adds the client
	// port).
	Tuple int `yaml:"tuple"`
	// Duration of the block (GFW HTTP: 90s; ESNI: 120s or 180s).
	Duration time.Duration `yaml:"duration"`
	// Restart restarts the timer on each blocked packet.
	Restart bool `yaml:"restart"`
	// Enforce is how blocked traffic is treated; "" means drop.
	Enforce Enforce `yaml:"enforce"`
	// Direction of the packets blocked; "" means both.
	Direction FlowDir `yaml:"direction"`
	// HitProbability is the chance a follow-up flow is hit (about half for
	// the GFW's HTTP residual); nil means 1.
	HitProbability *float64 `yaml:"hit-probability"`
	// StartDelay is how long after the trigger the block starts (QUIC:
	// about 110ms).
	StartDelay DurationRange `yaml:"start-delay"`
}

func (*ResidualAction) Kind() string { return "residual" }

func (a *ResidualAction) Validate(c *Checker) {
	if a.Tuple != 3 && a.Tuple != 4 {
		c.Errorf("tuple", "tuple %d: want 3 or 4", a.Tuple)
	}
	if a.Duration <= 0 {
		c.Errorf("duration", "residual needs a positive duration")
	}
	OneOf(c, "enforce", a.Enforce, true, EnforceRST, EnforceDrop)
	OneOf(c, "direction", a.Direction, true, ClientToServer, ServerToClient, BothWays)
	c.Probability("hit-probability", a.HitProbability)
}

// RouteKey says what a null route covers.
type RouteKey string

// Null-route keys. The zero value means Key4Tuple.
const (
	KeyDstIP  RouteKey = "dst-ip"
	Key3Tuple RouteKey = "3-tuple"
	Key4Tuple RouteKey = "4-tuple"
)

// NullRouteAction silently discards all traffic of a key in both directions
// (Iran after a block page: the 4-tuple for 180s, restarted by new
// packets). It needs a duration.
type NullRouteAction struct {
	Key      RouteKey      `yaml:"key"`
	Duration time.Duration `yaml:"duration"`
	Restart  bool          `yaml:"restart"`
}

func (*NullRouteAction) Kind() string { return "null-route" }

func (a *NullRouteAction) Validate(c *Checker) {
	OneOf(c, "key", a.Key, true, KeyDstIP, Key3Tuple, Key4Tuple)
	if a.Duration <= 0 {
		c.Errorf("duration", "null-route needs a positive duration")
	}
}

// DelayAction holds the flow's packets for a while before they go on
// (Turkmenistan's block fires 5-29 s after the trigger). It needs a delay.
type DelayAction struct {
	Delay DurationRange `yaml:"delay"`
}

func (*DelayAction) Kind() string { return "delay" }

func (a *DelayAction) Validate(c *Checker) {
	if a.Delay.Max <= 0 {
		c.Errorf("delay", "delay needs a positive delay")
	}
}

// InterceptAction terminates TLS at the border with a certificate issued by
// a national CA (Kazakhstan, 2019). It needs a CA name, which the scenario
// resolves to a CA it created.
type InterceptAction struct {
	CA string `yaml:"ca"`
}

func (*InterceptAction) Kind() string { return "intercept" }

func (a *InterceptAction) Validate(c *Checker) {
	if a.CA == "" {
		c.Errorf("ca", "intercept needs a ca")
	}
}

// TerminateAction makes the border a TCP-terminating proxy for the rule's
// scope (Reliance Jio): the border completes every handshake itself, even to
// an address nobody answers; a flow the rule's matchers hold on its first
// bytes is then held silently (the client's TLS times out), and the others
// are spliced to the server. Its zero value is usable.
type TerminateAction struct{}

func (*TerminateAction) Kind() string { return "terminate" }

// Validate has nothing to check.
func (*TerminateAction) Validate(*Checker) {}

func init() {
	RegisterAction("terminate", "Terminate TCP at the border (a transparent proxy): every handshake completes; matching flows are then held, others spliced to the server.",
		func() Action { return &TerminateAction{} })
	RegisterAction("drop", "Drop the triggering packet, or the rest of the flow in a direction.",
		func() Action { return &DropAction{} })
	RegisterAction("dns-inject", "Race forged DNS answers (pool round-robin, fixed addresses or NXDOMAIN) from one or more fingerprinted injectors.",
		func() Action { return &DNSInjectAction{} })
	RegisterAction("rst", "Inject TCP resets to client, server or both, with count, flags, sequence offsets, fingerprint, payload and delay.",
		func() Action { return &RSTAction{} })
	RegisterAction("blockpage", "Answer an HTTP request with a block page, with chosen TCP flags, optional RST and hold time.",
		func() Action { return &BlockpageAction{} })
	RegisterAction("throttle", "Limit the flow's rate by dropping what exceeds it.",
		func() Action { return &ThrottleAction{} })
	RegisterAction("residual", "Keep blocking the 3- or 4-tuple for a duration after the trigger.",
		func() Action { return &ResidualAction{Tuple: 3} })
	RegisterAction("null-route", "Discard all traffic of the destination, 3- or 4-tuple for a duration.",
		func() Action { return &NullRouteAction{} })
	RegisterAction("delay", "Hold the flow's packets for a fixed or random delay.",
		func() Action { return &DelayAction{} })
	RegisterAction("intercept", "Intercept TLS with a certificate from a national CA.",
		func() Action { return &InterceptAction{} })
}
